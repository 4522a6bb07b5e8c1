#!/bin/bash
# run_death.sh DRIVER CASE FN WHAT [WHAT...]
#
# Runs `DRIVER CASE` (gh_misuse), which prints on stdout the pointer it is
# about to misuse, and expects: death by SIGABRT, and a stderr of exactly one
# line "glassheap: FN(): WHAT 0x<that pointer>".  With several WHATs any one
# may match (the first is the expected one; the script says which matched).
set -u
drv=$1 case=$2 fn=$3
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ulimit -c 0

"$drv" "$case" >"$tmp/out" 2>"$tmp/err"
rc=$?
ptr=$(head -n 1 "$tmp/out")
status=0

echo "case $case: exit status $rc, misused pointer '$ptr'"
echo "--- stderr ---"; cat "$tmp/err"; echo "--------------"

if ! [[ $ptr =~ ^0x[0-9a-f]+$ ]]; then
    echo "FAIL: the driver printed no pointer (stdout: $(cat "$tmp/out"))"
    exit 1
fi
if grep -qx overlap "$tmp/out"; then
    echo "FAIL: malloc returned memory over a live block"
    status=1
fi
if grep -qx survived "$tmp/out"; then
    echo "FAIL: the program survived the misuse (no abort)"
    status=1
fi
if [ "$rc" -ne 134 ]; then
    echo "FAIL: expected death by SIGABRT (status 134), got $rc"
    status=1
fi
lines=$(wc -l <"$tmp/err")
bytes=$(wc -c <"$tmp/err")
if [ "$lines" -ne 1 ] || [ "$(tail -c 1 "$tmp/err" | od -An -c | tr -d ' ')" != '\n' ]; then
    echo "FAIL: expected exactly one newline-terminated line on stderr, got $lines line(s), $bytes bytes"
    status=1
fi
got=$(head -n 1 "$tmp/err")
matched=
for what in "$@"; do
    if [ "$got" = "glassheap: $fn(): $what $ptr" ]; then
        matched=$what
        break
    fi
done
if [ -z "$matched" ]; then
    echo "FAIL: stderr line does not match; expected:"
    for what in "$@"; do echo "  glassheap: $fn(): $what $ptr"; done
    echo "got:"
    echo "  $got"
    status=1
else
    echo "matched: glassheap: $fn(): $matched $ptr"
fi
exit $status
