#include "fleettwin/sim/models.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace fleettwin::sim {
namespace {

TEST(ConveyorTest, AWorkingBeltProcessesMinOfCapacityAndLoadPerUnit) {
  Simulation sim;
  Random rng(1);
  ConveyorBelt small{{.capacity = 3, .failure_rate = 0, .repair_time = 3}, {}};
  ConveyorBelt big{{.capacity = 8, .failure_rate = 0, .repair_time = 3}, {}};
  sim.Start(RunConveyorBelt(sim, small, rng));
  sim.Start(RunConveyorBelt(sim, big, rng));
  sim.Run(100);
  EXPECT_EQ(small.stats.items, 300);
  EXPECT_EQ(big.stats.items, 500);
  EXPECT_EQ(big.stats.working, 100);
  EXPECT_EQ(big.stats.failures, 0u);
}

TEST(ConveyorTest, AFailedBeltIsDownForTheRepairTime) {
  Simulation sim;
  Random rng(1);
  ConveyorBelt belt{{.capacity = 5, .failure_rate = 1, .repair_time = 4}, {}};
  sim.Start(RunConveyorBelt(sim, belt, rng));
  sim.Run(50);  // Work 1, repair 4: ten cycles.
  EXPECT_EQ(belt.stats.failures, 10u);
  EXPECT_EQ(belt.stats.working, 10);
  EXPECT_EQ(belt.stats.first_failure, 1);
  EXPECT_EQ(belt.stats.DownUntil(50), 40);
  sim.Run(52);  // Mid-repair: the running repair counts up to now.
  EXPECT_EQ(belt.stats.DownUntil(52), 41);
}

// Long-run availability against the renewal-reward closed form 1 / (1 + p * E[repair]).
TEST(ConveyorTest, FleetAvailabilityMatchesTheClosedForm) {
  Simulation sim;
  Random rng(2024);
  std::vector<ConveyorParams> params(200, ConveyorParams{.capacity = 5, .failure_rate = 0.02f,
                                                         .repair_time = 3});
  ConveyorFleet fleet(sim, params, rng, nullptr);
  sim.Run(5000);
  const double closed_form = 1 / (1 + 0.02 * 3);
  EXPECT_NEAR(fleet.MeanAvailability(), closed_form, 0.003);
}

// With the benchmark's live feed the parameters change every 5 units; the long-run
// availability then matches the closed form at the mean parameters to first order.
TEST(ConveyorTest, LiveFeedChangesParametersAndKeepsTheRunDeterministic) {
  auto run = [](uint64_t seed, bool per_belt) {
    Simulation sim;
    Random rng(seed);
    RandomConveyorFeed feed(rng);
    std::vector<ConveyorParams> params;
    for (int i = 0; i < 100; ++i) {
      params.push_back({.capacity = 10 - (i % 8), .failure_rate = 0.02f, .repair_time = 3});
    }
    ConveyorFleet fleet(sim, params, rng, &feed, {.feed_period = 5, .per_belt_feed = per_belt});
    sim.Run(2000);
    std::vector<double> items;
    for (const ConveyorBelt& b : fleet.belts()) items.push_back(b.stats.items);
    for (const ConveyorBelt& b : fleet.belts()) {
      EXPECT_GE(b.params.failure_rate, 0.01f);
      EXPECT_LT(b.params.failure_rate, 0.05f);
      EXPECT_GE(b.params.repair_time, 2);
      EXPECT_LE(b.params.repair_time, 5);
    }
    return std::make_pair(items, fleet.MeanAvailability());
  };
  const auto a = run(9, true);
  EXPECT_EQ(a, run(9, true));
  EXPECT_NE(a.first, run(10, true).first);
  // E[p] = 0.03, E[repair] = 3.5: about 1 / (1 + 0.105).
  EXPECT_NEAR(a.second, 1 / (1 + 0.03 * 3.5), 0.01);
  EXPECT_NEAR(run(9, false).second, 1 / (1 + 0.03 * 3.5), 0.01);
}

TEST(TurbofanTest, AMaintenanceAfterAFailureIsCalledOff) {
  // Life about 10 cycles, maintenance planned at 50: the engine fails first, is repaired and
  // renewed, and the preventive maintenance no longer happens.
  TurbofanParams params{.rul_mean = 10, .rul_std = 0.5, .maintenance_at = 50,
                        .renewed_life_mean = 1000, .renewed_life_std = 1};
  Simulation sim;
  Random rng(5);
  TurbofanOutcome outcome;
  StartTurbofan(sim, params, outcome, rng);
  sim.Run(100);
  EXPECT_EQ(outcome.failures, 1u);
  EXPECT_EQ(outcome.maintenances, 0u);
  EXPECT_EQ(outcome.life_at_maintenance, -1);
  // Planned before the failure, it happens and throws the rest of the life away.
  params.maintenance_at = 4;
  Simulation sim2;
  TurbofanOutcome before;
  StartTurbofan(sim2, params, before, rng);
  sim2.Run(100);
  EXPECT_EQ(before.failures, 0u);
  EXPECT_EQ(before.maintenances, 1u);
  EXPECT_GT(before.life_at_maintenance, 4);
}

TEST(TurbofanTest, WithoutMaintenanceTheEngineFailsAtItsDrawnLife) {
  TurbofanParams params{.rul_mean = 50, .rul_std = 5};
  Random draw(3);
  const double life = DrawLife(draw, 50, 5);
  Simulation sim;
  Random rng(3);
  TurbofanOutcome outcome;
  StartTurbofan(sim, params, outcome, rng);
  sim.Run(60);
  EXPECT_EQ(outcome.failures, 1u);
  EXPECT_DOUBLE_EQ(outcome.first_failure, life);
  EXPECT_EQ(outcome.maintenances, 0u);
  EXPECT_DOUBLE_EQ(outcome.DownUntil(60), 60 - life);
}

TEST(TurbofanTest, MaintenanceBeforeTheFailureInterruptsItAndRenewsTheEngine) {
  TurbofanParams params{.rul_mean = 100, .rul_std = 1, .maintenance_at = 30,
                        .maintenance_duration = 5, .renewed_life_mean = 500,
                        .renewed_life_std = 1};
  Simulation sim;
  Random rng(4);
  TurbofanOutcome outcome;
  StartTurbofan(sim, params, outcome, rng);
  sim.Run(200);
  EXPECT_EQ(outcome.failures, 0u);
  EXPECT_EQ(outcome.maintenances, 1u);
  EXPECT_NEAR(outcome.life_at_maintenance, 70, 5);
  EXPECT_EQ(outcome.down, 5);
  EXPECT_EQ(outcome.OperatingUntil(200), 195);
}

TEST(TurbofanTest, MaintenanceDuringARepairIsCoveredByTheRepair) {
  TurbofanParams params{.rul_mean = 10, .rul_std = 0.01, .maintenance_at = 15,
                        .repair_duration = 20, .renewed_life_mean = 500,
                        .renewed_life_std = 1};
  Simulation sim;
  Random rng(5);
  TurbofanOutcome outcome;
  StartTurbofan(sim, params, outcome, rng);
  sim.Run(100);
  EXPECT_EQ(outcome.failures, 1u);
  EXPECT_EQ(outcome.maintenances, 0u);
  EXPECT_NEAR(outcome.down, 20, 1e-9);
}

}  // namespace
}  // namespace fleettwin::sim
