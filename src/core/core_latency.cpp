// The cross-core round trip (see core_latency.hpp): a ping-pong on one cache line.
#include "mlptrain/core/core_latency.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

namespace mlptrain {
namespace {

using Clock = std::chrono::steady_clock;

inline void spin_pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

// Pins the calling thread to `cpu`; where the OS refuses, the thread runs where it is put
// (the figure then describes that placement).
void pin_to(int cpu) {
    if (cpu < 0 || cpu >= CPU_SETSIZE) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

// One line, alone in its cache line: the ping-pong counter. The initiator writes odd values,
// the peer answers with the next even one; -1 stops the peer.
struct alignas(64) Line {
    std::atomic<std::int64_t> value{0};
};

// Round trips between `a` and `b`: 10 untimed ones first, then up to `trips` timed ones
// within `max_seconds`. Returns nanoseconds per round trip (0 if none finished).
double ping_pong(int a, int b, int trips, double max_seconds) {
    Line line;
    std::thread peer([&] {
        pin_to(b);
        for (std::int64_t i = 0;; ++i) {
            std::int64_t expected = 2 * i + 1, seen;
            while ((seen = line.value.load(std::memory_order_acquire)) != expected) {
                if (seen < 0) return;
                spin_pause();
            }
            // Not a plain store: the initiator may have given up (-1) since the load, and
            // overwriting that would leave this thread waiting for ever.
            if (!line.value.compare_exchange_strong(expected, 2 * i + 2, std::memory_order_acq_rel))
                return;
        }
    });
    double ns = 0.0;
    std::thread initiator([&] {
        pin_to(a);
        const Clock::time_point deadline =
            Clock::now() +
            std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(max_seconds));
        constexpr std::int64_t untimed = 10;
        // The clock is read every 64 trips (and when a trip is late), not at every trip: a
        // reading costs a tenth of a round trip. A late trip is not counted: the figure is
        // then the trips up to the last reading.
        Clock::time_point start = Clock::now(), last = start;
        std::int64_t timed = 0, counted = 0;
        for (std::int64_t i = 0; i < untimed + trips; ++i) {
            if (i == untimed) start = last = Clock::now();
            line.value.store(2 * i + 1, std::memory_order_release);
            bool late = false;
            for (std::int64_t spins = 0; line.value.load(std::memory_order_acquire) != 2 * i + 2;
                 ++spins) {
                spin_pause();
                if ((spins & 1023) == 1023 && Clock::now() > deadline) {
                    late = true;
                    break;
                }
            }
            if (late) break;
            if (i < untimed) continue;
            ++timed;
            if ((timed & 63) == 0 || timed == trips) {
                last = Clock::now();
                counted = timed;
                if (last > deadline) break;
            }
        }
        if (counted > 0)
            ns = std::chrono::duration<double>(last - start).count() /
                 static_cast<double>(counted) * 1e9;
        line.value.store(-1, std::memory_order_release);
    });
    initiator.join();
    peer.join();
    return ns;
}

}  // namespace

std::vector<int> affinity_cpus() {
    std::vector<int> cpus;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
    for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &set)) cpus.push_back(c);
    return cpus;
}

double measure_core_round_trip_ns(int threads, const std::vector<int>& cpus, int trips,
                                  double max_seconds) {
    const int n = std::min<int>(threads, static_cast<int>(cpus.size()));
    std::vector<double> round_trips;
    for (int j = 1; j < n; ++j) {
        const double ns = ping_pong(cpus[0], cpus[static_cast<std::size_t>(j)], trips, max_seconds);
        if (ns > 0.0) round_trips.push_back(ns);
    }
    if (round_trips.empty()) return 0.0;
    std::sort(round_trips.begin(), round_trips.end());
    return round_trips[round_trips.size() / 2];
}

}  // namespace mlptrain
