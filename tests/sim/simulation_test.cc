#include "fleettwin/sim/simulation.h"

#include <cmath>
#include <functional>
#include <limits>
#include <queue>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "fleettwin/sim/random.h"
#include "gtest/gtest.h"

namespace fleettwin::sim {
namespace {

using Log = std::vector<std::pair<double, std::string>>;

Process Ticker(Simulation& sim, Log& log, std::string name, double period, int ticks) {
  for (int i = 0; i < ticks; ++i) {
    co_await sim.Timeout(period);
    log.emplace_back(sim.now(), name);
  }
}

TEST(SimulationTest, EventsRunInTimeOrderAndSameTimeInScheduleOrder) {
  Simulation sim;
  Log log;
  sim.Start(Ticker(sim, log, "a", 2, 3));
  sim.Start(Ticker(sim, log, "b", 3, 2));
  sim.Start(Ticker(sim, log, "c", 1, 6));
  sim.RunAll();
  // At 6: b asked for it at 3, a at 4, c at 5.
  const Log expected = {{1, "c"}, {2, "a"}, {2, "c"}, {3, "b"}, {3, "c"}, {4, "a"},
                        {4, "c"}, {5, "c"}, {6, "b"}, {6, "a"}, {6, "c"}};
  EXPECT_EQ(log, expected);
  EXPECT_EQ(sim.now(), 6);
  EXPECT_EQ(sim.live_processes(), 0u);
}

TEST(SimulationTest, RunStopsAtUntilAndResumesLater) {
  Simulation sim;
  Log log;
  sim.Start(Ticker(sim, log, "a", 1.5, 4));
  EXPECT_EQ(sim.Run(3), 3u);  // Start at 0, ticks at 1.5 and 3.
  EXPECT_EQ(sim.now(), 3);
  EXPECT_EQ(log.size(), 2u);
  sim.Run(4);
  EXPECT_EQ(sim.now(), 4);  // Time moves to `until` while events remain.
  sim.RunAll();
  EXPECT_EQ(log.back().first, 6);
}

TEST(SimulationTest, ZeroDelayRunsAfterWhatIsAlreadyScheduledForNow) {
  Simulation sim;
  Log log;
  auto zero = [](Simulation& s, Log& l, std::string n) -> Process {
    l.emplace_back(s.now(), n + "0");
    co_await s.Timeout(0);
    l.emplace_back(s.now(), n + "1");
  };
  sim.Start(zero(sim, log, "x"));
  sim.Start(zero(sim, log, "y"));
  sim.RunAll();
  const Log expected = {{0, "x0"}, {0, "y0"}, {0, "x1"}, {0, "y1"}};
  EXPECT_EQ(log, expected);
}

// A model with randomness: the same seed gives the same trace, another seed another one.
std::vector<double> RandomTrace(uint64_t seed) {
  Simulation sim;
  Random rng(seed);
  std::vector<double> trace;
  auto proc = [](Simulation& s, Random& r, std::vector<double>& t, int id) -> Process {
    for (int i = 0; i < 50; ++i) {
      co_await s.Timeout(r.Exponential(1.0 + id));
      t.push_back(s.now() * 100 + id);
    }
  };
  for (int id = 0; id < 5; ++id) sim.Start(proc(sim, rng, trace, id));
  sim.RunAll();
  return trace;
}

TEST(SimulationTest, DeterministicForASeed) {
  EXPECT_EQ(RandomTrace(7), RandomTrace(7));
  EXPECT_NE(RandomTrace(7), RandomTrace(8));
  EXPECT_EQ(RandomTrace(7).size(), 250u);
}

// SimPy's machine-repair example in small: a worker is interrupted by breakdowns.
Process Worker(Simulation& sim, Log& log, int& parts) {
  double left = 10;  // Time units needed for the next part.
  while (true) {
    const double start = sim.now();
    try {
      co_await sim.Timeout(left);
      ++parts;
      log.emplace_back(sim.now(), "part");
      left = 10;
    } catch (const Interrupted& interrupt) {
      left -= sim.now() - start;
      log.emplace_back(sim.now(), "broken " + std::to_string(interrupt.cause));
    }
    if (left < 10) co_await sim.Timeout(2);  // Repair before going on.
  }
}

Process Breaker(Simulation& sim, ProcessRef worker, std::vector<double> at) {
  int cause = 0;
  for (double t : at) {
    co_await sim.Timeout(t - sim.now());
    sim.Interrupt(worker, ++cause);
  }
}

TEST(SimulationTest, InterruptWakesTheWaiterWithItsCauseAndCancelsItsWait) {
  Simulation sim;
  Log log;
  int parts = 0;
  const ProcessRef worker = sim.Start(Worker(sim, log, parts));
  sim.Start(Breaker(sim, worker, {4, 25}));
  sim.Run(40);
  // Part 1: 0..4 work, broken at 4, repair 4..6, 6 more units to 12. Part 2: 12..22.
  // Part 3: 22..25 work, broken at 25, repair to 27, 7 more units to 34.
  const Log expected = {{4, "broken 1"}, {12, "part"}, {22, "part"}, {25, "broken 2"},
                        {34, "part"}};
  EXPECT_EQ(log, expected);
  EXPECT_EQ(parts, 3);
  EXPECT_EQ(sim.pending(), 1u);  // Only the worker's next wake-up; the cancelled ones ran off.
}

TEST(SimulationTest, CancelEndsAProcessAndLaterCallsAreHarmless) {
  Simulation sim;
  Log log;
  const ProcessRef ticker = sim.Start(Ticker(sim, log, "t", 1, 100));
  sim.Run(3.5);
  EXPECT_TRUE(sim.Alive(ticker));
  sim.Cancel(ticker);
  sim.RunAll();
  EXPECT_FALSE(sim.Alive(ticker));
  EXPECT_EQ(log.size(), 3u);
  EXPECT_EQ(sim.live_processes(), 0u);
  sim.Cancel(ticker);  // Ended: no-op.
  sim.Interrupt(ticker, 1);
  sim.Start(Ticker(sim, log, "u", 1, 1));  // Reuses the slot; the old ref stays dead.
  EXPECT_FALSE(sim.Alive(ticker));
  sim.RunAll();
  EXPECT_EQ(log.back().second, "u");
}

TEST(SimulationTest, AnEscapingExceptionEndsOnlyThatProcessAndIsReported) {
  Simulation sim;
  Log log;
  auto bad = [](Simulation& s) -> Process {
    co_await s.Timeout(1);
    throw std::runtime_error("model bug");
  };
  sim.Start(bad(sim));
  sim.Start(Ticker(sim, log, "ok", 1, 3));
  sim.RunAll();
  EXPECT_EQ(log.size(), 3u);
  EXPECT_THROW(sim.RethrowProcessError(), std::runtime_error);
  EXPECT_NO_THROW(sim.RethrowProcessError());  // Reported once.
}

TEST(SimulationTest, DestroyingTheSimulationFreesSuspendedProcesses) {
  // Under AddressSanitizer this test fails on a leak or a double free.
  Log log;
  {
    Simulation sim;
    Event never(sim);
    auto waiter = [](Event& e) -> Process { co_await e; };
    for (int i = 0; i < 10; ++i) sim.Start(waiter(never));
    const ProcessRef t = sim.Start(Ticker(sim, log, "t", 1, 100));
    sim.Run(2);
    sim.Interrupt(t, 1);  // Leaves a stale entry behind a finished frame.
    sim.Run(2);
  }
  EXPECT_EQ(log.size(), 2u);
}

TEST(SimulationTest, AProcessThatInterruptsItselfIsNotWokenEarlyLater) {
  Simulation sim;
  Log log;
  ProcessRef self;
  auto p = [](Simulation& s, ProcessRef& me, Log& l) -> Process {
    s.Interrupt(me, 7);  // Delivered at its next wait.
    try {
      co_await s.Timeout(5);
      l.emplace_back(s.now(), "timeout");
    } catch (const Interrupted& i) {
      l.emplace_back(s.now(), "interrupted " + std::to_string(i.cause));
    }
    co_await s.Timeout(10);
    l.emplace_back(s.now(), "10 later");
    co_await s.Timeout(100);
    l.emplace_back(s.now(), "100 later");
  };
  self = sim.Start(p(sim, self, log));
  sim.RunAll();
  const Log expected = {{0, "interrupted 7"}, {10, "10 later"}, {110, "100 later"}};
  EXPECT_EQ(log, expected);
}

TEST(SimulationTest, ABadDelayEndsItsProcessWithAnErrorAndLeavesTheQueueIntact) {
  for (double bad : {-1.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    Simulation sim;
    Log log;
    auto p = [](Simulation& s, double d) -> Process {
      co_await s.Timeout(1);
      co_await s.Timeout(d);
    };
    sim.Start(p(sim, bad));
    sim.Start(Ticker(sim, log, "t", 1, 5));
    sim.RunAll();
    EXPECT_EQ(log.size(), 5u);  // The others run on, in order.
    EXPECT_EQ(log.back().first, 5);
    EXPECT_THROW(sim.RethrowProcessError(), std::invalid_argument);
  }
}

// The calendar queue against a reference priority queue on (time, schedule order), with few and
// many distinct times, zero delays, buckets beyond one block (510 entries) and beyond the 32
// times found by scanning.
TEST(SimulationTest, TheCalendarQueueOrdersLikeAPriorityQueue) {
  struct Rec {
    double time;
    int id;
    bool operator==(const Rec&) const = default;
  };
  auto delay = [](Random& r, int mode) {
    switch (mode) {
      case 0:
        return static_cast<double>(r.UniformInt(0, 3));
      case 1:
        return static_cast<double>(r.UniformInt(0, 200)) * 0.5;
      default:
        return r.Uniform() < 0.3 ? 0.0 : static_cast<double>(r.UniformInt(1, 100));
    }
  };
  constexpr int kSteps = 40;
  for (int mode = 0; mode < 3; ++mode) {
    for (int n : {1, 7, 40, 600, 1500}) {
      std::vector<Rec> got;
      {
        Simulation sim;
        auto p = [&delay](Simulation& s, int id, int mode, std::vector<Rec>& out) -> Process {
          Random r = Random::Stream(99, id);
          for (int i = 0; i < kSteps; ++i) {
            co_await s.Timeout(delay(r, mode));
            out.push_back({s.now(), id});
          }
        };
        for (int id = 0; id < n; ++id) sim.Start(p(sim, id, mode, got));
        sim.RunAll();
      }
      std::vector<Rec> want;
      using Entry = std::tuple<double, uint64_t, int, int>;  // time, order, id, step
      std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> queue;
      std::vector<Random> streams;
      uint64_t order = 0;
      for (int id = 0; id < n; ++id) {
        streams.push_back(Random::Stream(99, id));
        queue.push({0.0, order++, id, -1});
      }
      while (!queue.empty()) {
        const auto [time, o, id, step] = queue.top();
        queue.pop();
        if (step >= 0) want.push_back({time, id});
        if (step + 1 < kSteps) queue.push({time + delay(streams[id], mode), order++, id, step + 1});
      }
      ASSERT_EQ(got.size(), want.size());
      EXPECT_TRUE(got == want) << "mode " << mode << " n " << n;
    }
  }
}

TEST(EventTest, SucceedWakesEveryWaiterInOrder) {
  Simulation sim;
  Event go(sim);
  Log log;
  auto waiter = [](Simulation& s, Event& e, Log& l, std::string n) -> Process {
    co_await e;
    l.emplace_back(s.now(), n);
  };
  auto trigger = [](Simulation& s, Event& e) -> Process {
    co_await s.Timeout(5);
    e.Succeed();
  };
  sim.Start(waiter(sim, go, log, "first"));
  sim.Start(waiter(sim, go, log, "second"));
  sim.Start(trigger(sim, go));
  sim.RunAll();
  EXPECT_TRUE(go.triggered());
  const Log expected = {{5, "first"}, {5, "second"}};
  EXPECT_EQ(log, expected);
  // Waiting on an event that already happened continues at once.
  sim.Start(waiter(sim, go, log, "late"));
  sim.RunAll();
  EXPECT_EQ(log.back(), (std::pair<double, std::string>{5, "late"}));
}

TEST(EventTest, AnInterruptedWaiterIsNotWokenAgainByTheEvent) {
  Simulation sim;
  Event go(sim);
  Log log;
  auto waiter = [](Simulation& s, Event& e, Log& l) -> Process {
    try {
      co_await e;
      l.emplace_back(s.now(), "event");
    } catch (const Interrupted&) {
      l.emplace_back(s.now(), "interrupted");
    }
    co_await s.Timeout(10);
    l.emplace_back(s.now(), "done");
  };
  const ProcessRef w = sim.Start(waiter(sim, go, log));
  sim.Run(1);
  sim.Interrupt(w, 0);
  sim.Run(2);
  go.Succeed();
  sim.RunAll();
  const Log expected = {{1, "interrupted"}, {11, "done"}};
  EXPECT_EQ(log, expected);
}

Process Customer(Simulation& sim, Resource& counter, Log& log, std::string name, double arrive,
                 double service) {
  co_await sim.Timeout(arrive);
  co_await counter.Request();
  log.emplace_back(sim.now(), name + " served");
  co_await sim.Timeout(service);
  counter.Release();
  log.emplace_back(sim.now(), name + " leaves");
}

TEST(ResourceTest, WaitersAreServedFifoWithinCapacity) {
  Simulation sim;
  Resource counter(sim, 2);
  Log log;
  sim.Start(Customer(sim, counter, log, "a", 0, 5));
  sim.Start(Customer(sim, counter, log, "b", 1, 5));
  sim.Start(Customer(sim, counter, log, "c", 2, 1));
  sim.Start(Customer(sim, counter, log, "d", 3, 1));
  sim.Run(2.5);
  EXPECT_EQ(counter.in_use(), 2);
  EXPECT_EQ(counter.queued(), 1u);
  sim.RunAll();
  const Log expected = {{0, "a served"}, {1, "b served"}, {5, "a leaves"}, {5, "c served"},
                        {6, "b leaves"}, {6, "c leaves"}, {6, "d served"}, {7, "d leaves"}};
  EXPECT_EQ(log, expected);
  EXPECT_EQ(counter.in_use(), 0);
}

TEST(ResourceTest, AnInterruptedWaiterLeavesTheQueueWithoutTheSlot) {
  Simulation sim;
  Resource crew(sim, 1);
  Log log;
  auto impatient = [](Simulation& s, Resource& r, Log& l) -> Process {
    try {
      co_await r.Request();
      l.emplace_back(s.now(), "got it");
      r.Release();
    } catch (const Interrupted&) {
      l.emplace_back(s.now(), "gave up");
    }
  };
  sim.Start(Customer(sim, crew, log, "holder", 0, 10));
  sim.Run(1);
  const ProcessRef waiter = sim.Start(impatient(sim, crew, log));
  sim.Start(Customer(sim, crew, log, "next", 2, 1));
  sim.Run(3);
  EXPECT_EQ(crew.queued(), 2u);
  sim.Interrupt(waiter, 0);
  sim.RunAll();
  const Log expected = {{0, "holder served"}, {3, "gave up"}, {10, "holder leaves"},
                        {10, "next served"}, {11, "next leaves"}};
  EXPECT_EQ(log, expected);
  EXPECT_EQ(crew.in_use(), 0);
}

TEST(ResourceTest, AGrantAndAnInterruptInTheSameInstantGiveTheSlotBack) {
  Simulation sim;
  Resource crew(sim, 1);
  Log log;
  auto waiter = [](Simulation& s, Resource& r, Log& l) -> Process {
    try {
      co_await r.Request();
      l.emplace_back(s.now(), "got it");
    } catch (const Interrupted&) {
      l.emplace_back(s.now(), "interrupted");
    }
  };
  auto holder = [](Simulation& s, Resource& r, ProcessRef& victim) -> Process {
    co_await r.Request();
    co_await s.Timeout(5);
    r.Release();              // Grants the slot to the waiter...
    s.Interrupt(victim, 0);   // ...which is interrupted before it runs.
  };
  ProcessRef victim;
  sim.Start(holder(sim, crew, victim));
  sim.Run(1);
  victim = sim.Start(waiter(sim, crew, log));
  sim.RunAll();
  const Log expected = {{5, "interrupted"}};
  EXPECT_EQ(log, expected);
  EXPECT_EQ(crew.in_use(), 0);
}

TEST(StoreTest, GettersWaitForItemsInFifoOrder) {
  Simulation sim;
  Store<int> jobs(sim);
  std::vector<std::pair<double, int>> got;
  auto consumer = [](Simulation& s, Store<int>& st, std::vector<std::pair<double, int>>& g,
                     int n) -> Process {
    for (int i = 0; i < n; ++i) {
      const int job = co_await st.Get();
      g.emplace_back(s.now(), job);
      co_await s.Timeout(1);
    }
  };
  auto producer = [](Simulation& s, Store<int>& st) -> Process {
    for (int i = 1; i <= 4; ++i) {
      co_await s.Timeout(2);
      st.Put(i * 10);
    }
    st.Put(50);
  };
  sim.Start(consumer(sim, jobs, got, 5));
  sim.Start(producer(sim, jobs));
  sim.RunAll();
  const std::vector<std::pair<double, int>> expected = {
      {2, 10}, {4, 20}, {6, 30}, {8, 40}, {9, 50}};
  EXPECT_EQ(got, expected);
  EXPECT_EQ(jobs.size(), 0u);
}

TEST(StoreTest, AnInterruptedGetterPutsItsItemBack) {
  Simulation sim;
  Store<std::string> store(sim);
  Log log;
  auto getter = [](Simulation& s, Store<std::string>& st, Log& l, std::string n) -> Process {
    try {
      const std::string item = co_await st.Get();
      l.emplace_back(s.now(), n + " got " + item);
    } catch (const Interrupted&) {
      l.emplace_back(s.now(), n + " interrupted");
    }
  };
  const ProcessRef first = sim.Start(getter(sim, store, log, "g1"));
  sim.Start(getter(sim, store, log, "g2"));
  sim.Run(0);
  store.Put("A");  // Handed to g1...
  store.Put("B");  // ...and B to g2.
  sim.Interrupt(first, 1);  // g1 is interrupted before it runs: A goes back.
  sim.RunAll();
  EXPECT_EQ(store.size(), 1u);
  sim.Start(getter(sim, store, log, "g3"));
  sim.RunAll();
  const Log expected = {{0, "g2 got B"}, {0, "g1 interrupted"}, {0, "g3 got A"}};
  EXPECT_EQ(log, expected);
}

TEST(RandomTest, StreamsAreReproducibleAndDistributionsHaveTheirMoments) {
  Random a = Random::Stream(42, 3);
  Random b = Random::Stream(42, 3);
  Random c = Random::Stream(42, 4);
  EXPECT_EQ(a.Next(), b.Next());
  EXPECT_NE(a.Next(), c.Next());
  Random rng(1);
  constexpr int kN = 200000;
  double sum_u = 0, sum_n = 0, sum_n2 = 0, sum_g = 0, sum_e = 0;
  int counts[4] = {0, 0, 0, 0};
  for (int i = 0; i < kN; ++i) {
    sum_u += rng.Uniform();
    const double n = rng.Normal(3, 2);
    sum_n += n;
    sum_n2 += (n - 3) * (n - 3);
    sum_g += rng.Gamma(2.5, 4);
    sum_e += rng.Exponential(0.5);
    ++counts[rng.UniformInt(2, 5) - 2];
  }
  EXPECT_NEAR(sum_u / kN, 0.5, 0.005);
  EXPECT_NEAR(sum_n / kN, 3, 0.02);
  EXPECT_NEAR(std::sqrt(sum_n2 / kN), 2, 0.02);
  EXPECT_NEAR(sum_g / kN, 10, 0.1);
  EXPECT_NEAR(sum_e / kN, 2, 0.02);
  for (int c : counts) EXPECT_NEAR(c / static_cast<double>(kN), 0.25, 0.005);
}

}  // namespace
}  // namespace fleettwin::sim
