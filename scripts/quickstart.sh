#!/usr/bin/env bash
# scripts/quickstart.sh - from a fresh Debian 12 machine to a real program
# running on glassheap, in one command:
#
#   bash scripts/quickstart.sh
#
# 1. installs the packages the release build needs, if any is missing
#    (apt-get; the full CI set is installed by `bash .ci/run`);
# 2. configures and builds the `release` preset (build/release/);
# 3. runs /usr/bin/python3 with libglassheap.so preloaded: the program's own
#    output, then glassheap's exit summary (GLASSHEAP_STATS=1), which shows
#    that glassheap served its allocations.
#
# Environment: GLASSHEAP_POLICY (first|next|best|worst|buddy) is passed on to
# the demo, like every other GLASSHEAP_* variable.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# What configuring and building the release preset needs (the test and
# benchmark folders are configured too, so their libraries are here).
PACKAGES=(
  cmake ninja-build make gcc g++ libc6-dev pkg-config
  libcmocka-dev libbenchmark-dev valgrind python3
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

step "2/3 build (cmake --preset release && cmake --build --preset release --target glassheap)"
cmake --preset release >/dev/null
cmake --build --preset release --target glassheap
lib=$PWD/build/release/libglassheap.so
ls -l "$lib"

step "3/3 python3 on glassheap: PYTHONMALLOC=malloc GLASSHEAP_STATS=1 LD_PRELOAD=$lib /usr/bin/python3 -c ..."
# The program allocates a few hundred thousand objects of many sizes, frees
# most of them, and asks the library in its own address space who it is.
# PYTHONMALLOC=malloc sends every Python object to malloc (instead of
# Python's own small-object arenas), so glassheap serves all of them.
demo=$(cat <<'PY'
import ctypes, collections, json
words = [("w%d" % (i * 7919 % 100003)) * (1 + i % 9) for i in range(200000)]
counts = collections.Counter(len(w) for w in words)
blob = json.dumps({"n": len(words), "lengths": sorted(counts.items())})
del words
gh = ctypes.CDLL(None)  # the symbols already loaded, glassheap's among them
gh.glassheap_version.restype = ctypes.c_char_p
gh.glassheap_policy.restype = ctypes.c_char_p
print("python3: %d bytes of JSON, %d distinct word lengths" % (len(blob), len(counts)))
print("python3: running on glassheap %s, policy %s" % (
    gh.glassheap_version().decode(), gh.glassheap_policy().decode()))
PY
)
PYTHONMALLOC=malloc GLASSHEAP_STATS=1 LD_PRELOAD=$lib /usr/bin/python3 -c "$demo"

# --- later: the glassheap command and the heap map -------------------------
# When tools/ lands (the `glassheap` command, a later issue), this is where
# the quick start shows it:
#   build/release/glassheap run --policy best -- /usr/bin/python3 -c "$demo"
#   build/release/glassheap map ...   (a picture of the heap)
# ----------------------------------------------------------------------------

cat <<EOF

Done.  Preload glassheap into any dynamically linked program:
  LD_PRELOAD=$lib GLASSHEAP_POLICY=first <program> ...
Next: bash .ci/run   (installs the rest, builds with gcc, clang, ASan; runs every test)
EOF
