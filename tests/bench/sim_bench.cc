// sim_bench: the conveyor fleet of issue 4 on the discrete-event engine. For N = 1, 100, 1000
// and 10000 twins (twin i: capacity 10 - (i mod 8), failure_rate 0.02, repair_time 3; every 5
// units failure_rate := uniform(0.01, 0.05), repair_time := randint(2, 5)) it prints events/s
// (one event = one process resumed, i.e. one timeout or wake-up), twin-steps/s (one twin
// advancing one time unit) and the heap bytes per idle twin, counted by a replaced global
// operator new. Each configuration runs --repeats times; medians are printed. It also runs the
// N = 10000 fleet split over two simulations on two threads. Exits 0 whatever the speed and
// non-zero only if a run is wrong (no events, availability far from the closed form).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <thread>
#include <vector>

#include "fleettwin/sim/models.h"
#include "fleettwin/sim/random.h"
#include "fleettwin/sim/simulation.h"

// ---- Heap accounting: live bytes through operator new/delete (sized and unsized). ----
namespace {
std::atomic<int64_t> g_live_bytes{0};
struct Header {
  size_t size;
  size_t pad;  // Keeps the returned pointer 16-byte aligned.
};
void* CountedAlloc(size_t size) {
  void* raw = std::malloc(size + sizeof(Header));
  if (raw == nullptr) throw std::bad_alloc();
  static_cast<Header*>(raw)->size = size;
  g_live_bytes.fetch_add(static_cast<int64_t>(size), std::memory_order_relaxed);
  return static_cast<Header*>(raw) + 1;
}
void CountedFree(void* p) {
  if (p == nullptr) return;
  Header* h = static_cast<Header*>(p) - 1;
  g_live_bytes.fetch_sub(static_cast<int64_t>(h->size), std::memory_order_relaxed);
  std::free(h);
}
}  // namespace

void* operator new(size_t size) { return CountedAlloc(size); }
void* operator new[](size_t size) { return CountedAlloc(size); }
void operator delete(void* p) noexcept { CountedFree(p); }
void operator delete[](void* p) noexcept { CountedFree(p); }
void operator delete(void* p, size_t) noexcept { CountedFree(p); }
void operator delete[](void* p, size_t) noexcept { CountedFree(p); }

namespace fs = fleettwin::sim;

namespace {

constexpr double kSimPyEventsPerSecond = 200000;  // The figure for SimPy 4.1 here.
constexpr double kEventsTarget = 100 * kSimPyEventsPerSecond;
constexpr double kBytesTarget = 200;

std::vector<fs::ConveyorParams> FleetParams(size_t n) {
  std::vector<fs::ConveyorParams> params;
  for (size_t i = 0; i < n; ++i) {
    params.push_back({.capacity = static_cast<int32_t>(10 - (i % 8)), .failure_rate = 0.02f,
                      .repair_time = 3});
  }
  return params;
}

struct RunResult {
  double seconds = 0;
  uint64_t events = 0;
  double twin_steps = 0;
  double availability = 0;
};

RunResult RunFleet(size_t n, double units, bool per_belt_feed, uint64_t seed) {
  fs::Simulation sim;
  fs::Random rng(seed);
  fs::RandomConveyorFeed feed(rng);
  fs::ConveyorFleet fleet(sim, FleetParams(n), rng, &feed,
                          {.feed_period = 5, .per_belt_feed = per_belt_feed});
  const auto start = std::chrono::steady_clock::now();
  RunResult r;
  r.events = sim.Run(units);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.twin_steps = static_cast<double>(n) * units;
  r.availability = fleet.MeanAvailability();
  return r;
}

// Two independent halves of the fleet, one simulation per thread.
RunResult RunFleetTwoThreads(size_t n, double units, uint64_t seed) {
  RunResult halves[2];
  const auto start = std::chrono::steady_clock::now();
  std::thread other([&] { halves[1] = RunFleet(n - n / 2, units, true, seed + 1); });
  halves[0] = RunFleet(n / 2, units, true, seed);
  other.join();
  RunResult r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.events = halves[0].events + halves[1].events;
  r.twin_steps = halves[0].twin_steps + halves[1].twin_steps;
  r.availability = (halves[0].availability + halves[1].availability) / 2;
  return r;
}

// Heap bytes per twin of a fleet whose processes are all suspended (after a few units).
double BytesPerIdleTwin(size_t n, bool per_belt_feed) {
  const int64_t before = g_live_bytes.load();
  double per_twin;
  {
    fs::Simulation sim;
    fs::Random rng(1);
    fs::RandomConveyorFeed feed(rng);
    fs::ConveyorFleet fleet(sim, FleetParams(n), rng, &feed,
                            {.feed_period = 5, .per_belt_feed = per_belt_feed});
    sim.Run(20);
    per_twin = static_cast<double>(g_live_bytes.load() - before) / static_cast<double>(n);
  }
  return per_twin;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sim_bench: the conveyor fleet on the discrete-event engine (events/s, "
               "twin-steps/s, bytes per idle twin)"};
  double events_per_run = 3e7;
  int repeats = 3;
  bool quick = false;
  app.add_option("--events", events_per_run, "Approximate events per run")->capture_default_str();
  app.add_option("--repeats", repeats, "Runs per configuration; medians are printed")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_flag("--quick", quick, "A short smoke run of every configuration (CI)");
  CLI11_PARSE(app, argc, argv);
  if (quick) {
    events_per_run = 2e5;
    repeats = 1;
  }

  bool ok = true;
  const double closed_form = 1 / (1 + 0.03 * 3.5);  // Mean feed parameters.
  std::printf("%-26s %8s %10s %12s %14s %8s\n", "configuration", "twins", "units", "events/s",
              "twin-steps/s", "avail");
  double worst_events = 1e300;  // Over N, feed process per twin (the model as specified).
  for (bool per_belt : {true, false}) {
    for (size_t n : {size_t{1}, size_t{100}, size_t{1000}, size_t{10000}}) {
      const double events_per_unit = per_belt ? 1.2 * n : n + 0.2;
      const double units = std::max(50.0, std::ceil(events_per_run / events_per_unit));
      std::vector<double> eps, sps;
      RunResult last;
      for (int r = 0; r < repeats; ++r) {
        last = RunFleet(n, units, per_belt, 100 + r);
        eps.push_back(static_cast<double>(last.events) / last.seconds);
        sps.push_back(last.twin_steps / last.seconds);
      }
      if (last.events == 0) ok = false;
      if (n >= 100 && units >= 1000 && std::abs(last.availability - closed_form) > 0.02) {
        std::printf("availability %.4f far from %.4f\n", last.availability, closed_form);
        ok = false;
      }
      if (per_belt) worst_events = std::min(worst_events, Median(eps));
      std::printf("%-26s %8zu %10.0f %12.3e %14.3e %8.4f\n",
                  per_belt ? "feed process per twin" : "one feed process", n, units, Median(eps),
                  Median(sps), last.availability);
    }
  }
  {
    const size_t n = 10000;
    const double units = std::max(50.0, std::ceil(events_per_run / (1.2 * n)));
    std::vector<double> eps, sps;
    for (int r = 0; r < repeats; ++r) {
      const RunResult res = RunFleetTwoThreads(n, units, 200 + r);
      eps.push_back(static_cast<double>(res.events) / res.seconds);
      sps.push_back(res.twin_steps / res.seconds);
    }
    std::printf("%-26s %8zu %10.0f %12.3e %14.3e\n", "per twin, 2 threads", n, units, Median(eps),
                Median(sps));
  }
  const double bytes_per_belt = BytesPerIdleTwin(quick ? 1000 : 10000, true);
  const double bytes_shared = BytesPerIdleTwin(quick ? 1000 : 10000, false);
  std::printf("\nheap bytes per idle twin (belt process + its feed process): %.1f\n",
              bytes_per_belt);
  std::printf("heap bytes per idle twin (belt process, one fleet feed):     %.1f\n", bytes_shared);
  std::printf("\nevents/s, feed process per twin, slowest N, 1 thread: %.3e  (target >= %.1e "
              "= 100 x SimPy's %.1e)  %s\n",
              worst_events, kEventsTarget, kSimPyEventsPerSecond,
              worst_events >= kEventsTarget ? "PASS" : "MISS");
  std::printf("bytes per idle twin, one fleet feed: %.1f  (target <= %.0f)  %s\n", bytes_shared,
              kBytesTarget, bytes_shared <= kBytesTarget ? "PASS" : "MISS");
  std::printf("bytes per idle twin, feed process per twin: %.1f  (target <= %.0f)  %s\n",
              bytes_per_belt, kBytesTarget, bytes_per_belt <= kBytesTarget ? "PASS" : "MISS");
  return ok ? 0 : 1;
}
