#!/bin/bash
# misuse_table.sh BUILD_DIR [POLICY] - run every misuse case of
# CMakeLists.txt's GH_HARDEN_CASES under the default and the hardened mode
# and print one Markdown row per case: what each mode did (the stderr line,
# a signal, or the driver's last line).  The source of docs/hardening.md's
# table; not a test (the death tests are).
set -u
build=$1 policy=${2:-best}
dir=$(dirname "${BASH_SOURCE[0]}")
ulimit -c 0
outcome() {
    local out err rc
    out=$(GLASSHEAP_SHM=0 GLASSHEAP_POLICY=$policy "$@" 2>/tmp/gh_table_err.$$)
    rc=$?
    err=$(head -n 1 /tmp/gh_table_err.$$ | sed 's/0x[0-9a-f]*/P/g')
    rm -f /tmp/gh_table_err.$$
    case $rc in
    134) echo "SIGABRT: \`$err\`" ;;
    139) echo "SIGSEGV" ;;
    0) echo "exit 0: $(echo "$out" | tail -n 1 | sed 's/0x[0-9a-f]*/P/g')" ;;
    *) echo "status $rc ${err:+: \`$err\`}" ;;
    esac
}
echo "| case | default | GLASSHEAP_HARDEN=1 |"
echo "|---|---|---|"
grep -oE '^  "[a-z0-9_]+\|harden_[a-z]+' "$dir/CMakeLists.txt" | tr -d '" ' | while IFS='|' read -r name drv; do
    d=$(outcome "$build/tests/harden/$drv" "$name")
    h=$(GLASSHEAP_HARDEN=1 outcome "$build/tests/harden/$drv" "$name")
    echo "| $name | $d | $h |"
done
