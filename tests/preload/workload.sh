# workload.sh - a bash workout for the preload suite (run as: bash workload.sh).
# Arrays, associative arrays, parameter expansion, functions with locals,
# subshells, command substitution, pipelines, a loop building a big string.
# Deterministic: RANDOM is seeded, associative keys are sorted before
# printing.
set -u
RANDOM=4242
N=${1:-9000}

declare -a arr
declare -A assoc
for ((i = 0; i < N; i++)); do
    arr+=("item$i-$RANDOM")
    assoc["k$(( (i * 7919) % 10007 ))"]+="$i,"
done
echo "arr=${#arr[@]} assoc=${#assoc[@]} last=${arr[N-1]}"

# Sum over the associative array (order does not matter for a sum).
sum=0
for k in "${!assoc[@]}"; do
    v=${assoc[$k]}
    v=${v%,}
    IFS=, read -r -a parts <<<"$v"
    for p in "${parts[@]}"; do ((sum += p)); done
done
echo "assoc sum=$sum"
printf '%s\n' "${!assoc[@]}" | LC_ALL=C sort | sed -n '1p;500p;$p'

# A big string built piece by piece, then sliced, searched and replaced.
s=""
for ((i = 0; i < N; i++)); do
    s+="${arr[i]:0:7}:$((i % 97))|"
done
echo "len=${#s}"
up=${s^^}
echo "upper=${up:0:48}"
rep=${s//item/IT}
echo "replaced len=${#rep}"
trim=${s#*|}; trim=${trim%|*}
echo "trim len=${#trim}"
printf '%s' "$s" | cksum

# Word splitting into a new array, reversal, delete from the middle.
IFS='|' read -r -a words <<<"$s"
rev=()
for ((i = ${#words[@]} - 1; i >= 0; i--)); do rev+=("${words[i]}"); done
echo "words=${#words[@]} first_rev=${rev[0]} last_rev=${rev[${#rev[@]}-1]}"
for ((i = 0; i < ${#words[@]}; i += 3)); do unset 'words[i]'; done
words=("${words[@]}")
echo "after unset=${#words[@]}"

# Functions with local arrays and recursion.
fib() {
    local n=$1
    if ((n < 2)); then echo "$n"; return; fi
    local a b
    a=$(fib $((n - 1)))
    b=$(fib $((n - 2)))
    echo $((a + b))
}
echo "fib(7)=$(fib 7)"
qsort() {   # quicksort of the arguments into the global array RES
    local -a lo=() hi=() left
    if (($# <= 1)); then RES=("$@"); return; fi
    local pivot=$1 x
    shift
    for x in "$@"; do
        if ((x < pivot)); then lo+=("$x"); else hi+=("$x"); fi
    done
    qsort "${lo[@]}"
    left=("${RES[@]}")
    qsort "${hi[@]}"
    RES=("${left[@]}" "$pivot" "${RES[@]}")
}
nums=()
for ((i = 0; i < 600; i++)); do nums+=($(( (i * 2654435761) % 100003 ))); done
qsort "${nums[@]}"
nums=("${RES[@]}")
echo "sorted: ${nums[0]} ${nums[1]} ${nums[299]} ${nums[599]}"

# Subshells and command substitution (each forks a bash that allocates).
acc=""
for ((i = 0; i < 15; i++)); do
    acc+=$(echo "$i $s" | cut -c1-8 | tr '0-9' 'a-j')
done
echo "acc=$acc"
(
    declare -A local_map
    for ((i = 0; i < 2000; i++)); do local_map[x$i]=$((i * i)); done
    echo "subshell map=${#local_map[@]} x1999=${local_map[x1999]}"
)
out=$( { for ((i = 0; i < 3000; i++)); do echo "line $i ${arr[i]}"; done; } | grep -c '7')
echo "lines with 7: $out"
mapfile -t lines < <(printf '%s\n' "${arr[@]:0:5000}" | LC_ALL=C sort -t- -k2,2n | head -n 1000)
echo "mapfile=${#lines[@]} first=${lines[0]} last=${lines[999]}"

# Drop everything and build again (freeing a large part of the heap).
unset arr assoc s up rep trim rev words
declare -A again
for ((i = 0; i < 5000; i++)); do again["$((i % 777))-$i"]=$i; done
echo "again=${#again[@]}"
echo "done"
