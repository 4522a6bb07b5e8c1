#!/usr/bin/env bash
# scripts/quickstart.sh - from a fresh Debian 12 machine to a real program
# running on glassheap, in one command:
#
#   bash scripts/quickstart.sh
#
# 1. installs the packages the release build needs, if any is missing
#    (apt-get; the full CI set is installed by `bash .ci/run`);
# 2. configures and builds the `release` preset (build/release/);
# 3. runs /usr/bin/python3 on glassheap with `glassheap run`, looks at its
#    heap from outside while it runs (`glassheap stat`, and `glassheap map
#    --svg docs/quickstart-map.svg`: the picture of its heap), then lets it
#    finish: the program's own output, then glassheap's exit summary, which
#    shows that glassheap served its allocations.
#
# Environment: GLASSHEAP_POLICY (first|next|best|worst|buddy) is passed on to
# the demo, like every other GLASSHEAP_* variable.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# What configuring and building the release preset needs (the test and
# benchmark folders are configured too, so their libraries are here).
PACKAGES=(
  cmake ninja-build make gcc g++ libc6-dev pkg-config
  libcmocka-dev libbenchmark-dev valgrind python3 libncurses-dev libjansson-dev
)

step() { printf '\n==> %s\n' "$*"; }

step "1/3 packages"
missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
  [[ $status == ii* ]] || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "all installed"
else
  echo "installing: ${missing[*]}"
  sudo=()
  if [[ $(id -u) != 0 ]]; then
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

step "2/3 build (cmake --preset release && cmake --build --preset release --target glassheap glassheap_cli)"
cmake --preset release >/dev/null
cmake --build --preset release --target glassheap glassheap_cli
lib=$PWD/build/release/libglassheap.so
gh=$PWD/build/release/tools/glassheap/glassheap
ls -l "$lib" "$gh"

step "3/3 python3 on glassheap: glassheap run --policy ${GLASSHEAP_POLICY:-best} --stats -- /usr/bin/python3 -c ..."
# The program allocates a few hundred thousand objects of many sizes, frees
# most of them, asks the library in its own address space who it is, then
# idles while we look at its heap from outside.  (The library answers an
# inspector on its next allocator call: a program blocked in read() would
# show its last published counters and no map.)  PYTHONMALLOC=malloc sends
# every Python object to malloc (instead of Python's own small-object
# arenas), so glassheap serves all of them.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
demo=$(cat <<'PY'
import ctypes, collections, json, os, sys
words = [("w%d" % (i * 7919 % 100003)) * (1 + i % 9) for i in range(200000)]
counts = collections.Counter(len(w) for w in words)
blob = json.dumps({"n": len(words), "lengths": sorted(counts.items())})
keep = words[::7]
del words
gh = ctypes.CDLL(None)  # the symbols already loaded, glassheap's among them
gh.glassheap_version.restype = ctypes.c_char_p
gh.glassheap_policy.restype = ctypes.c_char_p
print("python3: %d bytes of JSON, %d distinct word lengths, %d words kept" % (len(blob), len(counts), len(keep)))
print("python3: running on glassheap %s, policy %s, pid %d" % (
    gh.glassheap_version().decode(), gh.glassheap_policy().decode(), os.getpid()), flush=True)
open(sys.argv[1], "w").close()   # ready: look at me
import time                      # until told to finish; a few allocator calls each
while not os.path.exists(sys.argv[2]):  # round let glassheap answer the inspector
    time.sleep(0.02)
PY
)
PYTHONMALLOC=malloc "$gh" run --policy "${GLASSHEAP_POLICY:-best}" --stats -- \
  /usr/bin/python3 -c "$demo" "$tmp/ready" "$tmp/done" &
pid=$!
for _ in $(seq 300); do [[ -e $tmp/ready ]] && break; sleep 0.1; done

step "glassheap stat $pid   (its counters, read from outside through /dev/shm/glassheap.$pid)"
"$gh" stat "$pid" | head -n 24

step "glassheap map $pid --svg docs/quickstart-map.svg   (a picture of its heap)"
mkdir -p docs
"$gh" map "$pid" --svg docs/quickstart-map.svg
"$gh" map "$pid" --rows 8 --color=never | head -n 12

step "python3 finishes; glassheap's exit summary (--stats):"
touch "$tmp/done"
wait "$pid"

cat <<EOF

Done.  Preload glassheap into any dynamically linked program:
  LD_PRELOAD=$lib GLASSHEAP_POLICY=first <program> ...
Next: bash .ci/run   (installs the rest, builds with gcc, clang, ASan; runs every test)
EOF
