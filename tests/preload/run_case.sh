#!/bin/bash
# run_case.sh - run one real program with and without libglassheap.so and
# prove that both runs agree and that glassheap really served the program.
#
#   run_case.sh --name NAME --lib LIB --policy P --workdir DIR [options] -- CMD ARGS...
#
# The command runs twice, each time in its own empty directory (DIR/ref and
# DIR/gh) with its own TMPDIR, stdin from --stdin FILE or /dev/null:
#   reference: LD_PRELOAD and every GLASSHEAP_* variable removed;
#   preloaded: LD_PRELOAD=LIB GLASSHEAP_POLICY=P GLASSHEAP_STATS=json
#              GLASSHEAP_STATS_FILE=DIR/summaries/gh.%p.json
# The case passes when
#   - both exit statuses are equal and neither run timed out;
#   - stdout is byte-for-byte equal, and so is every --compare FILE (a path
#     relative to the run directory) and, with --compare-stderr, stderr;
#   - the preloaded stderr has no line starting "glassheap:" (unless it
#     matches --allow-stderr REGEX);
#   - check_summaries.py accepts the summaries: every one is valid JSON
#     naming policy P, at least one counts >= --min-calls allocation calls
#     (malloc + calloc + realloc), and --summaries N / --min-summaries N hold.
#
# Other options: --env K=V (both runs; repeatable), --timeout SECONDS (per
# run, default 60), --python PATH (runs check_summaries.py; default
# /usr/bin/python3), --needs VAR=PATH (repeatable): the case needs the
# program PATH (found by CMake into cache variable VAR); when it is not an
# executable file the case prints why and exits 77, which CTest reports as
# Skipped.
# On a timeout the processes still running are dumped with gdb (every
# thread's backtrace) before they are killed; on a crash of the preloaded run
# the command is run once more under gdb for a backtrace (GH_PRELOAD_GDB=0
# turns both off).  DIR is removed when the case passes and kept otherwise.
set -u
set -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
name="" lib="" policy="" workdir="" stdin_file=/dev/null
min_calls=1 n_summaries="" min_summaries=1 timeout_s=60
python=/usr/bin/python3 allow_stderr="" compare_stderr=0
compare=() envs=() needs=()

die() { echo "run_case.sh: $*" >&2; exit 2; }

while (($#)); do
    case $1 in
    --name) name=$2; shift 2 ;;
    --lib) lib=$2; shift 2 ;;
    --policy) policy=$2; shift 2 ;;
    --workdir) workdir=$2; shift 2 ;;
    --stdin) stdin_file=$2; shift 2 ;;
    --min-calls) min_calls=$2; shift 2 ;;
    --summaries) n_summaries=$2; shift 2 ;;
    --min-summaries) min_summaries=$2; shift 2 ;;
    --compare) compare+=("$2"); shift 2 ;;
    --compare-stderr) compare_stderr=1; shift ;;
    --allow-stderr) allow_stderr=$2; shift 2 ;;
    --env) envs+=("$2"); shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --python) python=$2; shift 2 ;;
    --needs) needs+=("$2"); shift 2 ;;
    --) shift; break ;;
    *) die "unknown option '$1'" ;;
    esac
done
for need in "${needs[@]}"; do
    var=${need%%=*} path=${need#*=}
    if [[ ! -f $path || ! -x $path ]]; then
        echo "SKIPPED: $name needs $var, and '$path' is not an executable program" \
            "(install it, or point -D$var=PATH at one, and re-run cmake)"
        exit 77
    fi
done
(($#)) || die "no command given"
[[ -n $name && -n $lib && -n $policy && -n $workdir ]] ||
    die "--name, --lib, --policy and --workdir are required"
[[ -f $lib ]] || die "library '$lib' does not exist (is target glassheap built?)"
[[ -r $stdin_file ]] || die "stdin file '$stdin_file' is not readable"
cmd=("$@")

ulimit -c 0                       # no core files in the run directories
rm -rf "$workdir"
mkdir -p "$workdir"/{ref,gh,ref.tmp,gh.tmp,summaries} || die "cannot create $workdir"
workdir=$(cd "$workdir" && pwd)
summ="$workdir/summaries"

# Every variable that could change which allocator runs or what it prints.
clean_env=(-u LD_PRELOAD -u LD_LIBRARY_PATH -u MALLOC_CHECK_ -u MALLOC_PERTURB_)
while IFS='=' read -r var _; do
    [[ $var == GLASSHEAP_* ]] && clean_env+=(-u "$var")
done < <(env)

# descendants PID: PID and every process below it, parents first.
descendants() {
    local all
    all=$(ps -eo pid=,ppid=) || return
    local queue=("$1") out=() kids=() p
    while ((${#queue[@]})); do
        p=${queue[0]}; queue=("${queue[@]:1}")
        out+=("$p")
        mapfile -t kids < <(awk -v pp="$p" '$2 == pp { print $1 }' <<<"$all")
        queue+=("${kids[@]}")
    done
    echo "${out[@]}"
}

# run_one LABEL PRELOAD?  -> sets rc_<label>; 124 means timed out.
rc_ref="" rc_gh=""
run_one() {
    local label=$1 preload=$2 rundir="$workdir/$1"
    local extra=()
    if ((preload)); then
        extra=(LD_PRELOAD="$lib" GLASSHEAP_POLICY="$policy" GLASSHEAP_STATS=json
               GLASSHEAP_STATS_FILE="$summ/gh.%p.json")
    fi
    (cd "$rundir" &&
        exec env "${clean_env[@]}" TMPDIR="$workdir/$label.tmp" "${envs[@]}" "${extra[@]}" \
            "${cmd[@]}") <"$stdin_file" >"$workdir/$label.out" 2>"$workdir/$label.err" &
    local pid=$! wd rc
    # Watchdog: after timeout_s, dump every thread of every process left with
    # gdb, then kill them.  Its output goes to a file, never to our stdout
    # (ctest waits for every holder of that pipe).
    (
        trap 'kill "$s" 2>/dev/null; exit 0' TERM
        sleep "$timeout_s" & s=$!
        wait "$s"
        trap '' TERM                    # from here on, finish the job
        [[ -d /proc/$pid ]] || exit 0
        : >"$workdir/$label.timedout"
        read -r -a procs <<<"$(descendants "$pid")"
        for p in "${procs[@]}"; do
            echo "---- process $p: $(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null)"
            if [[ ${GH_PRELOAD_GDB:-1} != 0 ]] && command -v gdb >/dev/null; then
                timeout 60 gdb -nx -batch -p "$p" -ex 'set pagination off' \
                    -ex 'thread apply all bt' 2>&1 | grep -v -E '^\[(New LWP|Thread debugging)' |
                    head -n 150
            fi
        done
        kill -KILL "${procs[@]}" 2>/dev/null
    ) </dev/null >"$workdir/$label.watchdog" 2>&1 &
    wd=$!
    wait "$pid" 2>/dev/null   # (no "Killed" job notice on our stderr)
    rc=$?
    kill "$wd" 2>/dev/null
    wait "$wd" 2>/dev/null
    if [[ -e $workdir/$label.timedout ]]; then
        echo "FAIL: $label run still running after ${timeout_s}s (deadlock or far too slow):"
        cat "$workdir/$label.watchdog"
        rc=124
    fi
    printf -v "rc_$label" '%s' "$rc"
}

fail=0
failmsg() { echo "FAIL: $*"; fail=1; }

show_tail() {   # show_tail FILE TITLE
    [[ -s $1 ]] || return 0
    echo "---- $2 (last 20 lines):"
    tail -n 20 "$1" | cut -c1-300
}

echo "case $name, policy $policy: ${cmd[*]}"
t0=$SECONDS
run_one ref 0
t1=$SECONDS
run_one gh 1
t2=$SECONDS
echo "reference: exit $rc_ref in $((t1 - t0))s; glassheap: exit $rc_gh in $((t2 - t1))s"

if [[ $rc_ref == 124 ]]; then
    failmsg "the reference run (without glassheap) timed out; the case itself is broken"
fi
if [[ $rc_gh != "$rc_ref" ]]; then
    if ((rc_gh > 128 && rc_gh != 124)); then
        failmsg "preloaded run died of signal $((rc_gh - 128)) ($(kill -l $((rc_gh - 128)) 2>/dev/null)); reference exited $rc_ref"
    else
        failmsg "exit status differs: reference $rc_ref, glassheap $rc_gh"
    fi
fi

if ! cmp -s "$workdir/ref.out" "$workdir/gh.out"; then
    failmsg "stdout differs ($(wc -c <"$workdir/ref.out") bytes reference, $(wc -c <"$workdir/gh.out") bytes glassheap)"
    cmp "$workdir/ref.out" "$workdir/gh.out" 2>&1 | head -n 1
    diff <(head -c 2000000 "$workdir/ref.out") <(head -c 2000000 "$workdir/gh.out") |
        head -n 20 | cut -c1-200
fi
if ((compare_stderr)); then
    # (lines matching --allow-stderr are expected from glassheap alone)
    if [[ -n $allow_stderr ]]; then
        grep -av -E -e "$allow_stderr" "$workdir/gh.err" >"$workdir/gh.err.cmp"
    else
        cp "$workdir/gh.err" "$workdir/gh.err.cmp"
    fi
    if ! cmp -s "$workdir/ref.err" "$workdir/gh.err.cmp"; then
        failmsg "stderr differs"
        diff "$workdir/ref.err" "$workdir/gh.err.cmp" | head -n 20 | cut -c1-200
    fi
fi
for f in "${compare[@]}"; do
    if [[ ! -e $workdir/ref/$f ]]; then
        failmsg "the reference run did not produce $f"
    elif [[ ! -e $workdir/gh/$f ]]; then
        failmsg "the preloaded run did not produce $f"
    elif ! cmp "$workdir/ref/$f" "$workdir/gh/$f"; then
        failmsg "$f differs"
    fi
done

# "glassheap:" lines on stderr: bad configuration, misuse reports, checker
# complaints.  None is expected from a correct program.
gh_lines=$(grep -a '^glassheap:' "$workdir/gh.err")
if [[ -n $allow_stderr ]]; then
    gh_lines=$(grep -av -E -e "$allow_stderr" <<<"$gh_lines")
fi
if [[ -n $gh_lines ]]; then
    failmsg "the preloaded run printed glassheap lines on stderr:"
    head -n 10 <<<"$gh_lines"
fi

check=("$python" "$here/check_summaries.py" --dir "$summ" --policy "$policy"
       --min-calls "$min_calls" --min-summaries "$min_summaries")
[[ -n $n_summaries ]] && check+=(--summaries "$n_summaries")
if ! "${check[@]}"; then
    failmsg "the exit summaries do not prove that glassheap ($policy) served the program"
fi

if ((fail)); then
    show_tail "$workdir/ref.err" "reference stderr"
    show_tail "$workdir/gh.err" "glassheap stderr"
    # A crash of the preloaded run: one more run under gdb for a backtrace.
    if ((rc_gh > 128 && rc_gh != 124 && rc_ref < 128)) && [[ ${GH_PRELOAD_GDB:-1} != 0 ]] &&
        command -v gdb >/dev/null; then
        echo "---- backtrace of the top-level process under gdb (crashes in children are not followed):"
        mkdir -p "$workdir/gdb" "$workdir/gdb.tmp" "$workdir/gdb.summaries"
        (cd "$workdir/gdb" && timeout $((timeout_s * 2)) gdb -nx -batch \
            -ex 'set pagination off' \
            -ex run -ex bt -ex 'info registers rip' \
            --args env "${clean_env[@]}" TMPDIR="$workdir/gdb.tmp" "${envs[@]}" \
            LD_PRELOAD="$lib" GLASSHEAP_POLICY="$policy" GLASSHEAP_STATS=json \
            GLASSHEAP_STATS_FILE="$workdir/gdb.summaries/gh.%p.json" "${cmd[@]}") \
            <"$stdin_file" 2>&1 | grep -v -E '^\[(New|Thread|Inferior|Detaching)' | tail -n 40
    fi
    echo "kept $workdir for inspection"
    exit 1
fi
rm -rf "$workdir"
echo "PASS"
exit 0
