// bench_cxx_threads.cc - a multi-threaded C++ program for the real-program
// table (bench/programs.py): what a service built on the standard library
// does to an allocator.
//
//   bench_cxx_threads [THREADS] [ROUNDS]
//
// Each of THREADS workers builds an index (std::map of std::string to
// std::vector<int>) from generated records, queries it, erases half, and
// hands batches of strings to the next worker through a mutex-guarded
// queue, which frees them (C++ new/delete, cross-thread frees).  Prints a
// checksum so the work cannot be optimised away.
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Mailbox {
    std::mutex mu;
    std::deque<std::unique_ptr<std::vector<std::string>>> batches;
};

unsigned long work(unsigned id, unsigned rounds, std::vector<Mailbox> &boxes)
{
    unsigned long sum = 0;
    unsigned long seed = 88172645463325252ul ^ (id * 2654435761ul);
    auto next = [&seed] {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        return seed;
    };
    for (unsigned r = 0; r < rounds; r++) {
        std::map<std::string, std::vector<int>> index;
        for (int i = 0; i < 20000; i++) {
            std::string key = "user:" + std::to_string(next() % 50000) + ":" + std::to_string(i % 97);
            auto &v = index[key];
            for (unsigned k = 0, n = 1 + next() % 12; k < n; k++)
                v.push_back(static_cast<int>(next() & 0xffff));
        }
        for (int i = 0; i < 20000; i++) {
            auto it = index.lower_bound("user:" + std::to_string(next() % 50000));
            if (it != index.end())
                sum += it->second.size();
        }
        for (auto it = index.begin(); it != index.end();)
            it = (next() & 1) ? index.erase(it) : std::next(it);
        auto batch = std::make_unique<std::vector<std::string>>();
        for (auto &kv : index)
            batch->push_back(kv.first + std::string(next() % 64, 'x'));
        {
            Mailbox &out = boxes[(id + 1) % boxes.size()];
            std::lock_guard<std::mutex> g(out.mu);
            out.batches.push_back(std::move(batch));
        }
        std::unique_ptr<std::vector<std::string>> got;
        {
            Mailbox &in = boxes[id];
            std::lock_guard<std::mutex> g(in.mu);
            if (!in.batches.empty()) {
                got = std::move(in.batches.front());
                in.batches.pop_front();
            }
        }
        if (got)
            for (auto &s : *got)
                sum += s.size();
    }
    return sum;
}

} // namespace

int main(int argc, char **argv)
{
    unsigned threads = argc > 1 ? static_cast<unsigned>(std::atoi(argv[1])) : 4;
    unsigned rounds = argc > 2 ? static_cast<unsigned>(std::atoi(argv[2])) : 8;
    if (threads == 0 || threads > 256 || rounds == 0) {
        std::fprintf(stderr, "usage: bench_cxx_threads [THREADS 1-256] [ROUNDS >= 1]\n");
        return 2;
    }
    std::vector<Mailbox> boxes(threads);
    std::vector<unsigned long> sums(threads);
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; t++)
        pool.emplace_back([t, rounds, &boxes, &sums] { sums[t] = work(t, rounds, boxes); });
    unsigned long total = 0;
    for (unsigned t = 0; t < threads; t++) {
        pool[t].join();
        total += sums[t];
    }
    std::printf("checksum %lu\n", total);
    return 0;
}
