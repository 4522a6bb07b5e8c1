#!/bin/bash
# run_env.sh LIB ENVCHECK VAR VALUE EXPECT POLICY THRESHOLD
#
# Runs `ENVCHECK POLICY THRESHOLD` under LD_PRELOAD=LIB with VAR=VALUE (and
# no other GLASSHEAP_* variable), and checks its stderr:
#   EXPECT = none          nothing at all on stderr
#   EXPECT = exact:LINE    exactly that one line
#   EXPECT = prefix:TEXT   exactly one line, starting with TEXT and naming
#                          the accepted values ("(accepted: ...)")
# The program must exit 0 (it checks the policy and threshold in force).
set -u
lib=$1 prog=$2 var=$3 value=$4 expect=$5 policy=$6 threshold=$7
expect=${expect//\{SC\}/;} # CMake lists cannot carry a semicolon
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

unset_args=()
for v in $(env | sed -n 's/^\(GLASSHEAP_[A-Z_]*\)=.*/\1/p'); do unset_args+=(-u "$v"); done
env "${unset_args[@]}" GLASSHEAP_SHM=0 "$var=$value" LD_PRELOAD="$lib" \
    "$prog" "$policy" "$threshold" >"$tmp/out" 2>"$tmp/err"
rc=$?
echo "$var='$value': exit status $rc"
echo "--- stdout ---"; cat "$tmp/out"
echo "--- stderr ---"; cat "$tmp/err"; echo "--------------"
status=0
if [ $rc -ne 0 ] || ! grep -qx ok "$tmp/out"; then
    echo "FAIL: the program did not run correctly (status $rc)"
    status=1
fi
lines=$(wc -l <"$tmp/err")
got=$(head -n 1 "$tmp/err")
case $expect in
none)
    if [ -s "$tmp/err" ]; then echo "FAIL: expected nothing on stderr"; status=1; fi ;;
exact:*)
    want=${expect#exact:}
    if [ "$lines" -ne 1 ] || [ "$got" != "$want" ]; then
        echo "FAIL: expected exactly one line on stderr:"
        echo "  $want"
        status=1
    fi ;;
prefix:*)
    want=${expect#prefix:}
    if [ "$lines" -ne 1 ] || [ "${got#"$want"}" = "$got" ] || [[ $got != *"(accepted: "*")"* ]]; then
        echo "FAIL: expected exactly one line on stderr starting with:"
        echo "  $want"
        echo "and naming the accepted values"
        status=1
    fi ;;
*) echo "run_env.sh: bad EXPECT '$expect'"; status=2 ;;
esac
exit $status
