#!/bin/bash
# run_memcheck.sh - run programs under valgrind's memcheck with glassheap
# kept in place, and check what memcheck reports.
#
#   run_memcheck.sh --lib LIB --policy P --valgrind VALGRIND --workdir DIR
#                   [--python PY] [--timeout S] --case EXPECT PROGRAM [--case ...]
#
# Each PROGRAM runs as
#   LD_PRELOAD=LIB GLASSHEAP_POLICY=P GLASSHEAP_STATS=json GLASSHEAP_STATS_FILE=...
#   valgrind --trace-children=no --soname-synonyms=somalloc=nouserintercepts
#            --leak-check=full --log-file=... PROGRAM
# (LD_PRELOAD is in valgrind's environment: valgrind hands it on to the
# program after its own preloads; nouserintercepts keeps memcheck from
# replacing glassheap's malloc, so glassheap serves the program and tells
# memcheck about its blocks with client requests.)
# Every case requires: exit status 0, stdout starting "allocator: glassheap"
# (the program found glassheap_version with dlsym), one exit summary naming
# policy P with allocation calls in it, no "glassheap:" line on stderr.
# EXPECT is one of
#   leak:BYTES:BLOCKS  memcheck reports "definitely lost: BYTES bytes in BLOCKS blocks";
#   clean              nothing definitely, indirectly or possibly lost, 0 errors;
#   invalid            "Invalid read of size 1" at "0 bytes after a block of
#                      size 40 alloc'd" and at "10 bytes inside a block of
#                      size 64 free'd" (memcheck_invalid.c's two reads).
# When VALGRIND is not an executable program the run prints why and exits
# 77, which CTest reports as Skipped.
set -u
here=$(cd "$(dirname "$0")" && pwd)
lib="" policy="" valgrind="" workdir="" python=/usr/bin/python3 timeout_s=120
cases=()
die() { echo "run_memcheck.sh: $*" >&2; exit 2; }
while (($#)); do
    case $1 in
    --lib) lib=$2; shift 2 ;;
    --policy) policy=$2; shift 2 ;;
    --valgrind) valgrind=$2; shift 2 ;;
    --workdir) workdir=$2; shift 2 ;;
    --python) python=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --case) cases+=("$2" "$3"); shift 3 ;;
    *) die "unknown option '$1'" ;;
    esac
done
[[ -n $lib && -n $policy && -n $valgrind && -n $workdir ]] || die "--lib, --policy, --valgrind, --workdir are required"
if [[ ! -f $valgrind || ! -x $valgrind ]]; then
    echo "SKIPPED: needs GH_VALGRIND, and '$valgrind' is not an executable program" \
        "(install valgrind, or point -DGH_VALGRIND=PATH at one, and re-run cmake)"
    exit 77
fi
[[ -f $lib ]] || die "library '$lib' does not exist"
((${#cases[@]})) || die "no --case given"
ulimit -c 0
rm -rf "$workdir"
mkdir -p "$workdir" || die "cannot create $workdir"
workdir=$(cd "$workdir" && pwd)

clean_env=(-u LD_PRELOAD -u LD_LIBRARY_PATH -u VALGRIND_OPTS)
while IFS='=' read -r var _; do
    [[ $var == GLASSHEAP_* ]] && clean_env+=(-u "$var")
done < <(env)

fail=0
failmsg() { echo "FAIL: $*"; fail=1; }

# lost KIND LOG: the byte count memcheck gives for "KIND lost:", 0 when absent.
lost() {
    local n
    n=$(sed -n "s/.*$1 lost: \([0-9,]*\) bytes.*/\1/p" "$2" | tail -n 1 | tr -d ,)
    echo "${n:-0}"
}

for ((i = 0; i < ${#cases[@]}; i += 2)); do
    expect=${cases[i]} prog=${cases[i + 1]}
    name=$(basename "$prog")
    d="$workdir/$name"
    mkdir -p "$d/summaries" "$d/tmp"
    echo "== $name under memcheck, policy $policy, expecting $expect"
    (cd "$d" && exec timeout -k 5 "$timeout_s" env "${clean_env[@]}" TMPDIR="$d/tmp" \
        LD_PRELOAD="$lib" GLASSHEAP_POLICY="$policy" GLASSHEAP_STATS=json \
        GLASSHEAP_STATS_FILE="$d/summaries/gh.%p.json" \
        "$valgrind" --trace-children=no --soname-synonyms=somalloc=nouserintercepts \
        --leak-check=full --log-file="$d/memcheck.log" "$prog") \
        </dev/null >"$d/stdout" 2>"$d/stderr"
    rc=$?
    log="$d/memcheck.log"
    cat "$d/stdout"
    [[ $rc == 0 ]] || failmsg "$name: exit status $rc under valgrind$( ((rc == 124)) && echo ' (timed out)')"
    head -n 1 "$d/stdout" | grep -q '^allocator: glassheap' ||
        failmsg "$name: glassheap_version not found with dlsym: glassheap did not serve the program"
    [[ -s $log ]] || failmsg "$name: valgrind wrote no log"
    if grep -a -q '^glassheap:' "$d/stderr"; then
        failmsg "$name: glassheap lines on stderr:"
        grep -a '^glassheap:' "$d/stderr" | head -n 5
    fi
    "$python" "$here/check_summaries.py" --dir "$d/summaries" --policy "$policy" --min-calls 3 \
        --summaries 1 || failmsg "$name: the exit summary does not show glassheap ($policy) at work"
    grep -E 'definitely lost|indirectly lost|possibly lost|ERROR SUMMARY|Invalid|block of size|no leaks' "$log" |
        sed 's/^==[0-9]*== */  memcheck: /'
    case $expect in
    leak:*)
        IFS=: read -r _ bytes blocks <<<"$expect"
        grep -q "definitely lost: $bytes bytes in $blocks blocks" "$log" ||
            failmsg "$name: memcheck did not report 'definitely lost: $bytes bytes in $blocks blocks'"
        ;;
    clean)
        for kind in definitely indirectly possibly; do
            n=$(lost "$kind" "$log")
            ((n == 0)) || failmsg "$name: memcheck reports $n bytes $kind lost in a program that frees everything"
        done
        grep -q 'ERROR SUMMARY: 0 errors' "$log" || failmsg "$name: memcheck reports errors in a correct program"
        ;;
    invalid)
        n=$(grep -c 'Invalid read of size 1' "$log")
        ((n >= 2)) || failmsg "$name: $n 'Invalid read of size 1' reports, expected 2"
        grep -q "0 bytes after a block of size 40 alloc'd" "$log" ||
            failmsg "$name: the read one byte past a 40-byte block was not reported as such"
        grep -q "10 bytes inside a block of size 64 free'd" "$log" ||
            failmsg "$name: the read of a freed 64-byte block was not reported as such"
        ;;
    *) die "unknown expectation '$expect'" ;;
    esac
    if ((fail)); then
        echo "---- memcheck log ($log), first 60 lines:"
        head -n 60 "$log"
        [[ -s $d/stderr ]] && { echo "---- stderr:"; head -n 20 "$d/stderr"; }
    fi
done
if ((fail)); then
    echo "kept $workdir for inspection"
    exit 1
fi
rm -rf "$workdir"
echo PASS
