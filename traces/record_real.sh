#!/bin/sh
# record_real.sh - record the real-program traces shipped in traces/.
#
#   traces/record_real.sh GLASSHEAP [OUT_DIR]
#
# GLASSHEAP is the glassheap command of a build (build/tools/glassheap/glassheap;
# it finds libglassheap.so next to it).  Each program runs under
# `glassheap record` (policy best, the default); the trace of the process of
# interest is converted to malloc-lab text (.rep) in OUT_DIR (default: the
# folder of this script):
#
#   python3-json.rep  /usr/bin/python3 building, dumping, parsing and sorting
#                     a small JSON document (the interpreter's start-up included)
#   perl-wordfreq.rep perl counting the words of 1500 generated lines
#   cc1-hello.rep     cc1, the compiler proper of `gcc -O2 -c` on a small C file
#
# The files depend on the versions of python3, perl and gcc that ran
# them: re-recording on another system gives similar, not identical, traces.
set -eu

GH=${1:?usage: record_real.sh GLASSHEAP [OUT_DIR]}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${2:-$HERE}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
export GLASSHEAP_SHM=0 LC_ALL=C

# The trace file among $TMP/$1.* whose recorded command line matches $2.
pick() {
    for f in "$TMP/$1".*; do
        if "$GH" trace-stats --json "$f" | grep -q "\"cmdline\":\"[^\"]*$2"; then
            echo "$f"
            return 0
        fi
    done
    echo "record_real.sh: no trace of $2 among $TMP/$1.*" >&2
    return 1
}

# python3
"$GH" record -o "$TMP/py.%p" -- /usr/bin/python3 -c '
import json
d = {str(i): [i] * (i % 11) + ["v" * (i % 30)] for i in range(1500)}
s = json.dumps(d, sort_keys=True)
t = json.loads(s)
print(len(t), len(sorted(s.split(","))))
' >/dev/null
"$GH" convert "$(pick py python3)" "$OUT/python3-json.rep"

# perl: word frequencies (an associative array that grows, strings that die young)
i=0
x=12345
: >"$TMP/words"
while [ $i -lt 1500 ]; do
    x=$(( (x * 1103515245 + 12345) % 2147483648 ))
    echo "w$(( x % 997 )) w$(( x % 89 )) v$(( (x / 7) % 1409 )) $i" >>"$TMP/words"
    i=$((i + 1))
done
"$GH" record -o "$TMP/perl.%p" -- perl -ne 'for my $w (split) { $n{$w}++ } END { for my $w (sort keys %n) { print "$w $n{$w}\n" if $n{$w} > 20 } }' "$TMP/words" >/dev/null
"$GH" convert "$(pick perl perl)" "$OUT/perl-wordfreq.rep"

# gcc: cc1 is the process that does the work
cat >"$TMP/hello.c" <<'EOF'
#include <stdio.h>
#include <string.h>
struct point { double x, y; };
static double dot(const struct point *a, const struct point *b) { return a->x * b->x + a->y * b->y; }
int main(int argc, char **argv)
{
    struct point p[16];
    for (int i = 0; i < 16; i++) {
        p[i].x = i * 0.5;
        p[i].y = (double)strlen(argv[0]) - i;
    }
    double s = 0;
    for (int i = 1; i < 16; i++)
        s += dot(&p[i - 1], &p[i]);
    printf("%d %f\n", argc, s);
    return 0;
}
EOF
"$GH" record -o "$TMP/gcc.%p" -- gcc -O2 -c "$TMP/hello.c" -o "$TMP/hello.o"
"$GH" convert "$(pick gcc cc1)" "$OUT/cc1-hello.rep"
ls -l "$OUT"/python3-json.rep "$OUT"/perl-wordfreq.rep "$OUT"/cc1-hello.rep
