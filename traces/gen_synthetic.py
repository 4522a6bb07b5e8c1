#!/usr/bin/python3
"""gen_synthetic.py - write glassheap's synthetic malloc-lab (.rep) traces.

    python3 traces/gen_synthetic.py [--out DIR]      (default: this folder)

Every trace is made from a fixed seed with its own pseudo-random generator
(xorshift64*, not Python's `random`), so the files come out byte for byte the
same on any Python 3; the test suite (trace_shipped) checks that the shipped
files are what this script writes.  Each one isolates one behaviour a
placement policy meets:

  step12.rep          12 operations for `glassheap replay --step`: holes at
                      the front, a block that eats most of the top, a realloc;
                      first, next, best, worst fit and buddy all place them
                      differently
  phases.rep          ramp, peak and plateau (the program shapes Johnstone &
                      Wilson describe): a long-lived structure built up,
                      bursts of temporaries, then steady replacement
  sawtooth.rep        long-lived small blocks interleaved with short-lived
                      large ones: the large ones leave holes that only small
                      requests can reuse
  realloc-vectors.rep several arrays grown by realloc (x1.5) among small
                      short-lived allocations: in-place growth or moves
  buddy-hostile.rep   sizes just above powers of two (2^k + 1 .. 2^k + 2^k/8):
                      a buddy block is nearly twice what is asked
  random.rep          uniform sizes 1..4096, random frees, a steady state

The format (CS:APP malloc lab): four header lines (suggested heap size,
number of ids, number of operations, weight), then `a ID SIZE`, `r ID SIZE`,
`f ID`, one a line.
"""
import argparse
import os

MASK64 = (1 << 64) - 1


class Rng:
    """xorshift64*: small, fixed, the same everywhere."""

    def __init__(self, seed):
        self.s = (seed * 0x9E3779B97F4A7C15) & MASK64 or 1

    def next(self):
        s = self.s
        s ^= s >> 12
        s ^= (s << 25) & MASK64
        s ^= s >> 27
        self.s = s
        return (s * 0x2545F4914F6CDD1D) & MASK64

    def below(self, n):
        return self.next() % n

    def between(self, lo, hi):
        return lo + self.below(hi - lo + 1)


class Trace:
    """Operations on ids; a freed id is reused lowest first (reuse=False:
    every block a new id)."""

    def __init__(self, reuse=True):
        self.reuse = reuse
        self.ops = []
        self.free_ids = []
        self.next_id = 0
        self.size = {}

    def alloc(self, size):
        if self.reuse and self.free_ids:
            self.free_ids.sort()
            i = self.free_ids.pop(0)
        else:
            i = self.next_id
            self.next_id += 1
        self.size[i] = size
        self.ops.append("a %d %d" % (i, size))
        return i

    def realloc(self, i, size):
        self.size[i] = size
        self.ops.append("r %d %d" % (i, size))

    def free(self, i):
        del self.size[i]
        self.free_ids.append(i)
        self.ops.append("f %d" % i)

    def peak_live(self):
        live, peak, sizes = 0, 0, {}
        for op in self.ops:
            w = op.split()
            i = int(w[1])
            live -= sizes.pop(i, 0)
            if w[0] != "f":
                sizes[i] = int(w[2])
                live += sizes[i]
            peak = max(peak, live)
        return peak

    def text(self):
        head = [str(self.peak_live()), str(self.next_id), str(len(self.ops)), "1"]
        return "\n".join(head + self.ops) + "\n"


def step12():
    t = Trace(reuse=False)
    for _ in range(5):
        t.alloc(10000)
    t.alloc(78176)      # leaves about 15 KB of the top free
    t.free(0)
    t.free(2)
    t.alloc(10000)      # first/best: the front hole; next/worst: the top
    t.free(3)           # merges with the hole of id 2
    t.alloc(5000)
    t.realloc(1, 15000)
    return t


def phases():
    r, t = Rng(1), Trace()
    tree = []
    for _ in range(1500):                      # ramp: a structure grows
        tree.append(t.alloc(r.between(16, 160)))
        if r.below(4) == 0:
            tree.append(t.alloc(r.between(200, 1200)))
    for _ in range(12):                        # peaks: bursts of temporaries
        temp = [t.alloc(r.between(32, 6000)) for _ in range(r.between(60, 160))]
        for i in temp[::2] + temp[1::2]:
            t.free(i)
    for _ in range(2500):                      # plateau: steady replacement
        k = r.below(len(tree))
        t.free(tree[k])
        tree[k] = t.alloc(r.between(16, 400))
    for i in tree:
        t.free(i)
    return t


def sawtooth():
    r, t = Rng(2), Trace()
    keep = []
    for _ in range(40):
        big = [t.alloc(r.between(4000, 12000)) for _ in range(12)]
        keep += [t.alloc(r.between(24, 96)) for _ in range(30)]
        for i in big:
            t.free(i)
        for _ in range(20):
            j = r.below(len(keep))
            t.free(keep.pop(j))
    for i in keep:
        t.free(i)
    return t


def realloc_vectors():
    r, t = Rng(3), Trace()
    vecs = {t.alloc(64): 64 for _ in range(6)}
    small = []
    for _ in range(1200):
        v = list(vecs)[r.below(len(vecs))]
        if vecs[v] < 60000 and r.below(3) == 0:
            vecs[v] = vecs[v] * 3 // 2
            t.realloc(v, vecs[v])
        small.append(t.alloc(r.between(8, 300)))
        if len(small) > 40:
            t.free(small.pop(r.below(len(small))))
    for i in small:
        t.free(i)
    for v in vecs:
        t.free(v)
    return t


def buddy_hostile():
    r, t = Rng(4), Trace()
    live = []
    for _ in range(2000):
        k = r.between(4, 12)
        live.append(t.alloc((1 << k) + 1 + r.below(max(1, (1 << k) // 8))))
        if len(live) > 300:
            t.free(live.pop(r.below(len(live))))
    for i in live:
        t.free(i)
    return t


def random_trace():
    r, t = Rng(5), Trace()
    live = []
    for _ in range(5000):
        if live and (len(live) > 600 or r.below(5) < 2):
            t.free(live.pop(r.below(len(live))))
        else:
            live.append(t.alloc(r.between(1, 4096)))
    for i in live:
        t.free(i)
    return t


TRACES = {
    "step12.rep": step12,
    "phases.rep": phases,
    "sawtooth.rep": sawtooth,
    "realloc-vectors.rep": realloc_vectors,
    "buddy-hostile.rep": buddy_hostile,
    "random.rep": random_trace,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = ap.parse_args()
    for name, make in TRACES.items():
        with open(os.path.join(args.out, name), "w") as f:
            f.write(make().text())


if __name__ == "__main__":
    main()
