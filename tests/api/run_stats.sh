#!/bin/bash
# run_stats.sh MODE LIB WORKLOAD CHECKER [POLICY]
#
# Exit-summary tests (GLASSHEAP_STATS):
#   file    json to GLASSHEAP_STATS_FILE=<dir>/s.%p.json: the file of the
#           workload's pid exists, alone, is valid JSON and has the contract's
#           keys with plausible values
#   stderr  json to the (duplicated) stderr: stderr is exactly one JSON object
#   exit    the workload calls _exit(): no summary file is written
#   text    GLASSHEAP_STATS=text and =1: lines on stderr all start "glassheap: "
#   ls      `ls -l /usr/bin` (which closes its stderr at exit) prints valid
#           JSON with nonzero counts on stderr
set -u
mode=$1 lib=$2 workload=$3 checker=$4 policy=${5:-best}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset_args=()
for v in $(env | sed -n 's/^\(GLASSHEAP_[A-Z_]*\)=.*/\1/p'); do unset_args+=(-u "$v"); done
run() { env "${unset_args[@]}" GLASSHEAP_SHM=0 GLASSHEAP_POLICY="$policy" "$@"; }
# CHECKER validates with json.tool first, then the contract's keys and values.
status=0
case $mode in
file)
    mkdir "$tmp/d"
    run GLASSHEAP_STATS=json GLASSHEAP_STATS_FILE="$tmp/d/s.%p.json" LD_PRELOAD="$lib" \
        "$workload" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    pid=$(head -n 1 "$tmp/out")
    echo "workload pid $pid, exit status $rc; files: $(ls "$tmp/d")"
    [ -s "$tmp/err" ] && { echo "stderr:"; cat "$tmp/err"; }
    [ $rc -eq 0 ] || { echo "FAIL: workload failed"; status=1; }
    f=$tmp/d/s.$pid.json
    if [ ! -f "$f" ]; then
        echo "FAIL: no summary file s.$pid.json"; exit 1
    fi
    cat "$f"; echo
    [ "$(ls "$tmp/d" | wc -l)" -eq 1 ] || { echo "FAIL: more than one summary file"; status=1; }
    [ -s "$tmp/err" ] && { echo "FAIL: output on stderr although a file was given"; status=1; }
    "${PYTHON:-python3}" "$checker" "$f" --pid "$pid" --policy "$policy" --workload || status=1
    ;;
stderr)
    run GLASSHEAP_STATS=json LD_PRELOAD="$lib" "$workload" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    pid=$(head -n 1 "$tmp/out")
    echo "workload pid $pid, exit status $rc; stderr:"; cat "$tmp/err"; echo
    [ $rc -eq 0 ] || { echo "FAIL: workload failed"; status=1; }
    "${PYTHON:-python3}" "$checker" "$tmp/err" --pid "$pid" --policy "$policy" --workload || status=1
    ;;
exit)
    mkdir "$tmp/d"
    run GLASSHEAP_STATS=json GLASSHEAP_STATS_FILE="$tmp/d/s.%p.json" LD_PRELOAD="$lib" \
        "$workload" _exit >"$tmp/out" 2>"$tmp/err"
    rc=$?
    echo "workload exit status $rc; files: $(ls "$tmp/d")"
    [ $rc -eq 0 ] || { echo "FAIL: workload failed"; status=1; }
    if [ -n "$(ls "$tmp/d")" ]; then
        echo "FAIL: a process that _exit()s wrote a summary:"; cat "$tmp/d"/*; status=1
    fi
    ;;
text)
    for v in text 1; do
        run GLASSHEAP_STATS=$v LD_PRELOAD="$lib" "$workload" >"$tmp/out" 2>"$tmp/err"
        rc=$?
        echo "GLASSHEAP_STATS=$v: exit status $rc; stderr:"; cat "$tmp/err"
        [ $rc -eq 0 ] || { echo "FAIL: workload failed"; status=1; }
        if [ ! -s "$tmp/err" ]; then
            echo "FAIL: no summary on stderr"; status=1
        elif grep -qv '^glassheap: ' "$tmp/err"; then
            echo "FAIL: a line does not start with 'glassheap: '"; status=1
        fi
    done
    ;;
ls)
    run GLASSHEAP_STATS=json LD_PRELOAD="$lib" ls -l /usr/bin >"$tmp/out" 2>"$tmp/err"
    rc=$?
    echo "ls exit status $rc, $(wc -l <"$tmp/out") lines of output; stderr:"; cat "$tmp/err"; echo
    [ $rc -eq 0 ] || { echo "FAIL: ls failed"; status=1; }
    [ -s "$tmp/out" ] || { echo "FAIL: ls printed nothing"; status=1; }
    "${PYTHON:-python3}" "$checker" "$tmp/err" --policy "$policy" || status=1
    ;;
*) echo "run_stats.sh: unknown mode $mode"; exit 2 ;;
esac
exit $status
