#!/bin/bash
# run_misuse.sh DRIVER CASE KIND [FN WHAT [WHAT...]]
#
# Runs `DRIVER CASE` (harden_misuse, harden_cxx), which prints on stdout the
# pointer it is about to misuse, and checks the outcome KIND:
#   abort   death by SIGABRT and a stderr of exactly one line
#           "glassheap: FN(): WHAT 0x<that pointer>" (any one WHAT may match;
#           the first is the one this mode is meant to give)
#   segv    death by SIGSEGV, nothing on stderr
#   stdout  exit 0 and the last stdout line is exactly FN (the text the
#           driver prints for a case that is not a crash by nature)
# The mode (GLASSHEAP_HARDEN, GLASSHEAP_POLICY) comes from the environment.
set -u
drv=$1 case=$2 kind=$3
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ulimit -c 0

"$drv" "$case" >"$tmp/out" 2>"$tmp/err"
rc=$?
ptr=$(grep -E '^0x[0-9a-f]+$' "$tmp/out" | tail -n 1)
last=$(tail -n 1 "$tmp/out")
status=0
echo "case $case (GLASSHEAP_HARDEN=${GLASSHEAP_HARDEN:-unset}, policy ${GLASSHEAP_POLICY:-default}):" \
     "exit status $rc, misused pointer '$ptr'"
echo "--- stdout ---"; cat "$tmp/out"; echo "--- stderr ---"; cat "$tmp/err"; echo "--------------"
fail() { echo "FAIL: $*"; status=1; }

case $kind in
abort)
    fn=$1
    shift
    [ -n "$ptr" ] || fail "the driver printed no pointer"
    grep -qx survived "$tmp/out" && fail "the program survived the misuse"
    [ "$rc" -eq 134 ] || fail "expected death by SIGABRT (status 134), got $rc"
    lines=$(wc -l <"$tmp/err")
    if [ "$lines" -ne 1 ] || [ "$(tail -c 1 "$tmp/err" | od -An -c | tr -d ' ')" != '\n' ]; then
        fail "expected exactly one newline-terminated line on stderr, got $lines"
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
        fail "stderr line does not match; expected one of:"
        for what in "$@"; do echo "  glassheap: $fn(): $what $ptr"; done
    else
        echo "matched: glassheap: $fn(): $matched $ptr"
    fi
    ;;
segv)
    grep -qx survived "$tmp/out" && fail "the program survived the misuse"
    [ "$rc" -eq 139 ] || fail "expected death by SIGSEGV (status 139), got $rc"
    [ -s "$tmp/err" ] && fail "expected nothing on stderr"
    ;;
stdout)
    [ "$rc" -eq 0 ] || fail "expected exit status 0, got $rc"
    [ "$last" = "$1" ] || fail "expected the last line '$1', got '$last'"
    ;;
*)
    echo "run_misuse.sh: unknown kind '$kind'"
    exit 2
    ;;
esac
exit $status
