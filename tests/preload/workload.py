# workload.py - a Python allocation workout for the preload suite.
# Builds and drops a few million objects (dicts, lists, tuples, strings, big
# ints, bytes), sorts, round-trips JSON, and prints checksums.  Deterministic
# when run with PYTHONHASHSEED=0 (the suite sets it); nothing here depends on
# addresses or on set/dict iteration order of hashed strings.
import hashlib
import json
import random
import sys
import zlib

rng = random.Random(20240601)
sys.set_int_max_str_digits(0)
# Optional argument: the size in percent of the full workload (default 100).
PERCENT = int(sys.argv[1]) if len(sys.argv) > 1 else 100


def scaled(n):
    return max(1, n * PERCENT // 100)



def crc(obj):
    return zlib.crc32(repr(obj).encode()) & 0xFFFFFFFF


# 1. Many small dicts in a list, then a sort on a composite key.
recs = []
for i in range(scaled(150000)):
    recs.append({"id": i, "name": "user%07d" % rng.randrange(10**7),
                 "score": rng.random(), "tags": [i % 7, i % 11, i % 13]})
recs.sort(key=lambda r: (r["tags"][0], r["name"], r["id"]))
print("recs", len(recs), recs[0]["id"], recs[-1]["id"], crc([r["id"] for r in recs[:1000]]))

# 2. JSON round trip of the whole list.
text = json.dumps(recs, sort_keys=True)
back = json.loads(text)
assert back == recs
print("json", len(text), hashlib.sha256(text.encode()).hexdigest()[:16])
del back, text

# 3. Strings: build, split, join, replace, a dict of word counts.
words = ["".join(chr(97 + rng.randrange(26)) for _ in range(rng.randrange(2, 9)))
         for _ in range(scaled(200000))]
big = " ".join(words)
counts = {}
for w in big.split():
    counts[w] = counts.get(w, 0) + 1
top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
print("words", len(words), len(big), len(counts), top)
up = big.upper().replace("A", "<a>")
print("upper", len(up), zlib.crc32(up.encode()) & 0xFFFFFFFF)
del words, big, up

# 4. Big integers: factorial, powers, a Fibonacci chain, digit sums.
f = 1
for i in range(2, 4000):
    f *= i
fibs = [0, 1]
for i in range(6000):
    fibs.append(fibs[-1] + fibs[-2])
p = pow(3, 50000) - pow(7, 20000)
print("bigint", len(str(f)), sum(map(int, str(fibs[-1]))), p % 1000000007, p.bit_length())
del f, fibs, p

# 5. Churn: lists of tuples and bytes created and dropped in waves.
total = 0
keep = []
for wave in range(scaled(30)):
    chunk = [(j, str(j) * (j % 5 + 1), bytes(j % 64)) for j in range(wave * 100, wave * 100 + 20000)]
    total += sum(len(t[1]) + len(t[2]) for t in chunk)
    keep.append(chunk[wave::997])
    if len(keep) > 8:
        keep.pop(0)
print("churn", total, sum(len(k) for k in keep))

# 6. A dict of lists keyed by ints, nested sorting, sets of tuples.
groups = {}
for i in range(scaled(300000)):
    groups.setdefault((i * 2654435761) % 1009, []).append(i)
sizes = sorted((len(v), k) for k, v in groups.items())
pairs = {(i % 1000, i % 777) for i in range(200000)}
print("groups", len(groups), sizes[0], sizes[-1], len(pairs), sum(a * b for a, b in sorted(pairs)[-100:]))
print("done")
