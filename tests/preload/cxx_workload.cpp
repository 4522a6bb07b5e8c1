// cxx_workload.cpp - a C++ allocation workout for the preload suite.
//
// Every allocation here goes through operator new/delete, which libstdc++
// implements on malloc/free: std::map<std::string, std::vector<int>>,
// std::string concatenation, std::unordered_map, shared_ptr graphs with
// weak_ptr back links, exceptions thrown through frames that own heap
// objects, std::function captures, aligned new.  Output is deterministic
// (a fixed-seed generator, no addresses, unordered containers are summed or
// sorted before printing).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <new>
#include <numeric>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

uint64_t fnv(const std::string &s, uint64_t h = 1469598103934665603ULL)
{
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    return h;
}

struct Node {
    int id;
    std::string label;
    std::vector<std::shared_ptr<Node>> children;
    std::weak_ptr<Node> parent;
    static long live;
    Node(int i, std::string l) : id(i), label(std::move(l)) { ++live; }
    ~Node() { --live; }
};
long Node::live = 0;

struct alignas(64) Cacheline {
    uint64_t words[8];
};

class ParseError : public std::runtime_error {
public:
    explicit ParseError(const std::string &what) : std::runtime_error(what) {}
};

int parse_checked(const std::string &s, int depth)
{
    // Heap-owning locals on every frame the exception unwinds through.
    std::vector<std::string> trail(depth % 5 + 1, s);
    auto owned = std::make_unique<std::string>(s + "#" + std::to_string(depth));
    if (depth == 0) {
        if (s.find('7') != std::string::npos)
            throw ParseError("bad digit in '" + *owned + "'");
        return static_cast<int>(s.size() + trail.size());
    }
    return parse_checked(s, depth - 1) + 1;
}

} // namespace

int main()
{
    std::mt19937 rng(12345);
    const int N = 200000;

    // 1. map<string, vector<int>>: insertions, growth, erasure.
    std::map<std::string, std::vector<int>> index;
    for (int i = 0; i < N; i++) {
        std::string key = "k" + std::to_string(rng() % 20000);
        index[key].push_back(i);
    }
    for (auto it = index.begin(); it != index.end();) {
        if (it->second.size() % 4 == 0)
            it = index.erase(it);
        else
            ++it;
    }
    uint64_t h = 0;
    size_t total = 0;
    for (const auto &kv : index) {
        h = fnv(kv.first, h);
        total += kv.second.size();
        h ^= static_cast<uint64_t>(std::accumulate(kv.second.begin(), kv.second.end(), 0LL));
    }
    std::printf("map keys=%zu values=%zu hash=%016llx first=%s last=%s\n", index.size(), total,
                (unsigned long long)h, index.begin()->first.c_str(), index.rbegin()->first.c_str());

    // 2. String concatenation: += in a loop, operator+, ostringstream, insert/erase.
    std::string big;
    for (int i = 0; i < N; i++) {
        big += std::to_string(i * 31 % 977);
        big += (i % 10 == 0) ? "\n" : ",";
    }
    std::string doubled = big + big.substr(0, big.size() / 2);
    std::ostringstream os;
    for (int i = 0; i < 20000; i++)
        os << "[" << i << ":" << (i * 2654435761u % 1000) << "]";
    std::string s = os.str();
    for (int i = 0; i < 200; i++) {
        s.insert(static_cast<size_t>(i) * 97, "INS");
        s.erase(static_cast<size_t>(i) * 53, 2);
    }
    std::printf("strings big=%zu doubled=%zu os=%zu hash=%016llx\n", big.size(), doubled.size(), s.size(),
                (unsigned long long)(fnv(big) ^ fnv(doubled) ^ fnv(s)));

    // 3. unordered_map with rehashing and churn.
    std::unordered_map<std::string, std::string> um;
    for (int i = 0; i < N; i++)
        um["key" + std::to_string(i)] = std::string(static_cast<size_t>(i % 50), static_cast<char>('a' + i % 26));
    for (int i = 0; i < N; i += 3)
        um.erase("key" + std::to_string(i));
    um.rehash(1 << 10);
    uint64_t usum = 0;
    for (const auto &kv : um)
        usum += fnv(kv.first) ^ (kv.second.size() * 7919u);
    std::vector<std::string> ukeys;
    ukeys.reserve(um.size());
    for (const auto &kv : um)
        ukeys.push_back(kv.first);
    std::sort(ukeys.begin(), ukeys.end());
    std::printf("unordered size=%zu sum=%016llx first=%s\n", um.size(), (unsigned long long)usum,
                ukeys.front().c_str());
    um.clear();

    // 4. shared_ptr trees with weak parent links; drop them and count.
    {
        std::vector<std::shared_ptr<Node>> roots;
        for (int r = 0; r < 50; r++) {
            auto root = std::make_shared<Node>(r, "root" + std::to_string(r));
            std::vector<std::shared_ptr<Node>> frontier{root};
            int id = 0;
            while (id < 1500) {
                std::vector<std::shared_ptr<Node>> next;
                for (auto &p : frontier) {
                    for (int c = 0; c < 3 && id < 1500; c++) {
                        auto child = std::shared_ptr<Node>(new Node(++id, p->label + "/" + std::to_string(c)));
                        child->parent = p;
                        p->children.push_back(child);
                        next.push_back(child);
                    }
                }
                frontier.swap(next);
            }
            roots.push_back(root);
        }
        long depth_sum = 0;
        std::function<void(const std::shared_ptr<Node> &, int)> walk =
            [&](const std::shared_ptr<Node> &n, int d) {
                depth_sum += d;
                for (auto &c : n->children)
                    walk(c, d + 1);
            };
        for (auto &r : roots)
            walk(r, 0);
        auto leaf = roots[7];
        while (!leaf->children.empty())
            leaf = leaf->children.back();
        int up = 0;
        for (auto p = leaf->parent.lock(); p; p = p->parent.lock())
            up++;
        std::printf("trees live=%ld depth_sum=%ld leaf=%s up=%d\n", Node::live, depth_sum, leaf->label.c_str(), up);
    }
    std::printf("trees after drop live=%ld\n", Node::live);

    // 5. Exceptions thrown through frames owning heap objects.
    int thrown = 0, ok = 0;
    long okv = 0;
    std::string last;
    for (int i = 0; i < 20000; i++) {
        try {
            okv += parse_checked(std::to_string(i * 13), i % 12);
            ok++;
        } catch (const ParseError &e) {
            thrown++;
            last = e.what();
        }
    }
    try {
        std::vector<int> v(10);
        (void)v.at(99);
    } catch (const std::out_of_range &) {
        thrown++;
    }
    std::printf("exceptions thrown=%d ok=%d okv=%ld last=%s\n", thrown, ok, okv, last.c_str());

    // 6. Over-aligned new, lists and vectors of vectors.
    std::vector<std::unique_ptr<Cacheline>> lines;
    size_t misaligned = 0;
    for (int i = 0; i < 5000; i++) {
        lines.emplace_back(new Cacheline{});
        lines.back()->words[i % 8] = static_cast<uint64_t>(i);
        misaligned += reinterpret_cast<uintptr_t>(lines.back().get()) % alignof(Cacheline) != 0;
    }
    std::list<std::vector<int>> lst;
    for (int i = 0; i < 20000; i++) {
        lst.emplace_back(static_cast<size_t>(i % 40), i);
        if (i % 3 == 0)
            lst.pop_front();
    }
    long lsum = 0;
    for (auto &v : lst)
        lsum += std::accumulate(v.begin(), v.end(), 0L);
    std::printf("aligned=%zu misaligned=%zu list=%zu lsum=%ld\n", lines.size(), misaligned, lst.size(), lsum);
    return misaligned == 0 ? 0 : 1;
}
