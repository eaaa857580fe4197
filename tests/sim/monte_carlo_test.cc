#include "fleettwin/sim/monte_carlo.h"

#include <cmath>

#include "gtest/gtest.h"

namespace fleettwin::sim {
namespace {

TEST(MonteCarloTest, SameSeedSameAnswerWhateverTheThreads) {
  auto replicate = [](uint64_t, Random& rng, std::span<double> out) {
    out[0] = rng.Exponential(0.25);
    out[1] = rng.Bernoulli(0.3);
  };
  MonteCarloOptions one{.replications = 5000, .threads = 1, .seed = 11};
  MonteCarloOptions two = one;
  two.threads = 2;
  const auto a = RunMonteCarlo(one, {MetricKind::kMean, MetricKind::kProportion}, replicate);
  const auto b = RunMonteCarlo(two, {MetricKind::kMean, MetricKind::kProportion}, replicate);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(*a, *b);
  EXPECT_NEAR((*a)[0].mean, 4, 0.3);
  EXPECT_LT((*a)[0].ci_low, 4);
  EXPECT_GT((*a)[0].ci_high, 4);
  EXPECT_NEAR((*a)[1].mean, 0.3, 0.03);
}

TEST(MonteCarloTest, TheQuestionsAnswerTheSameWhateverTheThreads) {
  ConveyorQuestion c;
  c.params = {.capacity = 4, .failure_rate = 0.03f, .repair_time = 4};
  c.failure_rate_shape = 20;  // Posterior draws too.
  TurbofanQuestion t;
  t.params.maintenance_at = 12;
  for (int threads : {2, 3, 7}) {
    const auto c1 = AskConveyor(c, {.replications = 300, .threads = 1, .seed = 4});
    const auto cn = AskConveyor(c, {.replications = 300, .threads = threads, .seed = 4});
    ASSERT_TRUE(c1.ok() && cn.ok());
    EXPECT_EQ(c1->downtime, cn->downtime);
    EXPECT_EQ(c1->items, cn->items);
    EXPECT_EQ(c1->p_failure_before, cn->p_failure_before);
    const auto t1 = AskTurbofan(t, {.replications = 300, .threads = 1, .seed = 4});
    const auto tn = AskTurbofan(t, {.replications = 300, .threads = threads, .seed = 4});
    ASSERT_TRUE(t1.ok() && tn.ok());
    EXPECT_EQ(t1->cost, tn->cost);
    EXPECT_EQ(t1->p_failure_before, tn->p_failure_before);
  }
}

TEST(MonteCarloTest, BadOptionsAndFailingReplicationsAreErrors) {
  auto ok = [](uint64_t, Random&, std::span<double> out) { out[0] = 1; };
  EXPECT_FALSE(RunMonteCarlo({.replications = 1}, {MetricKind::kMean}, ok).ok());
  EXPECT_FALSE(RunMonteCarlo({.threads = 0}, {MetricKind::kMean}, ok).ok());
  EXPECT_FALSE(RunMonteCarlo({.confidence = 1}, {MetricKind::kMean}, ok).ok());
  EXPECT_FALSE(RunMonteCarlo({}, {}, ok).ok());
  auto throwing = [](uint64_t i, Random&, std::span<double> out) {
    if (i == 17 || i == 400) throw std::runtime_error("bad model");
    out[0] = 1;
  };
  const auto r = RunMonteCarlo({.replications = 500}, {MetricKind::kMean}, throwing);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(r.status().message().find("replication 17 failed: bad model"), std::string::npos);
}

// The conveyor's availability over a long horizon is known in closed form; the 95% interval of
// the Monte Carlo mean must cover it in about 95% of independent runs. A tighter check than one
// run: 40 runs with different seeds, coverage between 85% and 100%.
TEST(MonteCarloTest, ConveyorIntervalsCoverTheClosedFormAvailability) {
  // Started in the working state, the belt's expected availability over a finite horizon is a
  // little above the stationary value; 20000 units make that bias negligible (< 1e-4).
  const double p = 0.02, repair = 3;
  const double closed_form = 1 / (1 + p * repair);
  int covered = 0;
  constexpr int kRuns = 40;
  for (int run = 0; run < kRuns; ++run) {
    ConveyorQuestion q;
    q.params = {.capacity = 5,
                .failure_rate = static_cast<float>(p),
                .repair_time = static_cast<float>(repair)};
    q.horizon = 20000;
    q.failure_before = 100;
    const auto answer =
        AskConveyor(q, {.replications = 40, .seed = 1000 + static_cast<uint64_t>(run)});
    ASSERT_TRUE(answer.ok()) << answer.status();
    if (answer->availability.ci_low <= closed_form && closed_form <= answer->availability.ci_high) {
      ++covered;
    }
  }
  EXPECT_GE(covered, 34);  // P(covered <= 33 | 0.95) < 0.3%.
}

// The conveyor model's second process: a feed from the live twin every 5 units. A twin that
// does not change leaves every answer exactly as without the feed (posterior draws included).
TEST(MonteCarloTest, ALiveFeedThatNeverChangesLeavesTheAnswerAsItWas) {
  ConveyorQuestion q;
  q.params = {.capacity = 4, .failure_rate = 0.03f, .repair_time = 4};
  q.failure_rate_shape = 20;
  const auto fixed = AskConveyor(q, {.replications = 2000, .seed = 9});
  q.live = [](double) { return ConveyorLive{.failure_rate = 0.03f, .repair_time = 4}; };
  q.live_failure_rate = q.live_repair_time = true;
  for (int threads : {1, 2}) {
    const auto live = AskConveyor(q, {.replications = 2000, .threads = threads, .seed = 9});
    ASSERT_TRUE(fixed.ok() && live.ok());
    EXPECT_EQ(fixed->downtime, live->downtime);
    EXPECT_EQ(fixed->items, live->items);
    EXPECT_EQ(fixed->availability, live->availability);
    EXPECT_EQ(fixed->failures, live->failures);
    EXPECT_EQ(fixed->p_failure_before, live->p_failure_before);
  }
}

// What the live twin says reaches the simulated belt within one feed period, and from then on
// the belt runs on it: availability is the time-weighted closed form of both halves.
TEST(MonteCarloTest, ALiveRecalibrationReachesTheBeltWithinAFeedPeriod) {
  ConveyorQuestion q;
  q.params = {.capacity = 5, .failure_rate = 0, .repair_time = 3};
  q.horizon = 200;
  q.live = [](double now) {
    return ConveyorLive{.failure_rate = now >= 98 ? 1.0 : 0.0, .repair_time = 3};
  };
  q.live_failure_rate = true;
  q.failure_before = 98;  // Never failed before the twin said so...
  auto a = AskConveyor(q, {.replications = 200, .seed = 1});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->p_failure_before.mean, 0);
  q.failure_before = 98 + 5 + 1;  // ...and always within a feed period (and one working unit).
  a = AskConveyor(q, {.replications = 200, .seed = 1});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->p_failure_before.mean, 1);

  // 0.02 and 3 units per repair for 1000 units, then 0.2 and 6: availability
  // (1/(1 + 0.06) + 1/(1 + 1.2)) / 2. Only what is marked live moves.
  q.params = {.capacity = 5, .failure_rate = 0.02f, .repair_time = 3};
  q.horizon = 2000;
  q.failure_before = 100;
  q.live = [](double now) {
    return now < 1000 ? ConveyorLive{.failure_rate = 0.02f, .repair_time = 3}
                      : ConveyorLive{.failure_rate = 0.2, .repair_time = 6};
  };
  q.live_repair_time = true;
  a = AskConveyor(q, {.replications = 2000, .seed = 2});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_NEAR(a->availability.mean, (1 / 1.06 + 1 / 2.2) / 2, 0.01);
  q.live_failure_rate = false;  // The repair time alone: (1/(1 + 0.06) + 1/(1 + 0.12)) / 2.
  a = AskConveyor(q, {.replications = 2000, .seed = 2});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_NEAR(a->availability.mean, (1 / 1.06 + 1 / 1.12) / 2, 0.01);

  q.horizon = 4;  // Shorter than a feed period: the feed never fires, which is fine.
  q.failure_before = 2;
  EXPECT_TRUE(AskConveyor(q, {.replications = 10}).ok());
  q.feed_period = 0;
  EXPECT_EQ(AskConveyor(q, {.replications = 10}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// P(first failure within t units) = 1 - (1 - p)^t for a belt that starts working.
TEST(MonteCarloTest, FailureProbabilityIntervalCoversTheClosedForm) {
  ConveyorQuestion q;
  q.params = {.capacity = 8, .failure_rate = 0.02f, .repair_time = 3};
  q.horizon = 500;
  q.failure_before = 30;
  const auto answer = AskConveyor(q, {.replications = 20000, .seed = 5});
  ASSERT_TRUE(answer.ok()) << answer.status();
  const double closed_form = 1 - std::pow(1 - static_cast<double>(0.02f), 30);
  EXPECT_LE(answer->p_failure_before.ci_low, closed_form);
  EXPECT_GE(answer->p_failure_before.ci_high, closed_form);
  EXPECT_LT(answer->p_failure_before.ci_high - answer->p_failure_before.ci_low, 0.02);
  // Items: 5 per working unit.
  EXPECT_NEAR(answer->items.mean, 5 * answer->availability.mean * 500, 1e-6 * 500);
}

TEST(MonteCarloTest, RaisingCapacityRaisesItemsOnlyUpToTheLoad) {
  ConveyorQuestion q;
  q.params = {.capacity = 3, .failure_rate = 0.02f, .repair_time = 3};
  const auto low = AskConveyor(q, {.replications = 500, .seed = 1});
  q.params.capacity = 8;
  const auto high = AskConveyor(q, {.replications = 500, .seed = 1});
  ASSERT_TRUE(low.ok() && high.ok());
  EXPECT_NEAR(high->items.mean / low->items.mean, 5.0 / 3.0, 1e-9);  // Same seeds, same failures.
  EXPECT_EQ(high->downtime, low->downtime);
}

TEST(MonteCarloTest, TurbofanFailureProbabilityMatchesTheLifeDistribution) {
  TurbofanQuestion q;
  q.params.rul_mean = 40;
  q.params.rul_std = 10;
  q.failure_before = 30;
  q.horizon = 150;
  const auto answer = AskTurbofan(q, {.replications = 20000, .seed = 3});
  ASSERT_TRUE(answer.ok()) << answer.status();
  // Gamma(shape 16, scale 2.5): P(X <= 30) = P(Poisson(12) >= 16).
  double poisson_below = 0, term = std::exp(-12.0);
  for (int k = 0; k < 16; ++k) {
    poisson_below += term;
    term *= 12.0 / (k + 1);
  }
  const double closed_form = 1 - poisson_below;
  EXPECT_LE(answer->p_failure_before.ci_low, closed_form);
  EXPECT_GE(answer->p_failure_before.ci_high, closed_form);
}

TEST(MonteCarloTest, EarlyMaintenanceIsCheaperThanRunningToFailureForAWornEngine) {
  TurbofanQuestion q;
  q.params.rul_mean = 20;
  q.params.rul_std = 5;
  q.horizon = 150;
  const auto run_to_failure = AskTurbofan(q, {.replications = 2000, .seed = 1});
  q.params.maintenance_at = 5;
  const auto maintained = AskTurbofan(q, {.replications = 2000, .seed = 1});
  ASSERT_TRUE(run_to_failure.ok() && maintained.ok());
  EXPECT_LT(maintained->cost.ci_high, run_to_failure->cost.ci_low);
  EXPECT_LT(maintained->p_failure_before.mean, run_to_failure->p_failure_before.mean);
}

TEST(MonteCarloTest, QuestionsOutsideTheirDomainAreRefused) {
  ConveyorQuestion q;
  q.params.failure_rate = 2;
  EXPECT_EQ(AskConveyor(q, {}).status().code(), absl::StatusCode::kInvalidArgument);
  q.params.failure_rate = 0.1f;
  q.horizon = -1;
  EXPECT_EQ(AskConveyor(q, {}).status().code(), absl::StatusCode::kInvalidArgument);
  TurbofanQuestion t;
  t.params.rul_std = 0;
  EXPECT_EQ(AskTurbofan(t, {}).status().code(), absl::StatusCode::kInvalidArgument);
  t.params.rul_std = std::nan("");
  EXPECT_EQ(AskTurbofan(t, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(MonteCarloTest, AScheduleQuestionCostsEveryStartWithTheSameDrawsAsSingleQuestions) {
  TurbofanQuestion q;
  q.params.rul_mean = 40;
  q.params.rul_std = 12;
  q.params.maintenance_at = 99;  // Ignored by the schedule question.
  const std::vector<double> starts = {0, 10, 20, 30, 45, 60};
  const MonteCarloOptions options{.replications = 500, .threads = 2, .seed = 5};
  absl::StatusOr<std::vector<Estimate>> schedule = AskTurbofanSchedule(q, starts, options);
  ASSERT_TRUE(schedule.ok()) << schedule.status();
  ASSERT_EQ(schedule->size(), starts.size() + 1);
  // Replication i replays stream i for every option, exactly as a single question does.
  for (size_t k = 0; k < starts.size(); ++k) {
    q.params.maintenance_at = starts[k];
    EXPECT_EQ((*schedule)[k], AskTurbofan(q, options)->cost) << "start " << starts[k];
  }
  q.params.maintenance_at.reset();
  EXPECT_EQ(schedule->back(), AskTurbofan(q, options)->cost);
  // Early maintenance wastes life, late maintenance risks failure: the cheapest start is inside.
  size_t best = 0;
  for (size_t k = 1; k < starts.size(); ++k) {
    if ((*schedule)[k].mean < (*schedule)[best].mean) best = k;
  }
  EXPECT_GT(best, 0u);
  EXPECT_LT(best, starts.size() - 1);
  EXPECT_LT((*schedule)[best].mean, schedule->back().mean);
  // Bad starts are refused.
  const std::vector<double> negative = {-1};
  EXPECT_EQ(AskTurbofanSchedule(q, negative, options).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<double> nan = {std::nan("")};
  EXPECT_EQ(AskTurbofanSchedule(q, nan, options).status().code(),
            absl::StatusCode::kInvalidArgument);
  const std::vector<double> many(4097, 1.0);
  EXPECT_EQ(AskTurbofanSchedule(q, many, options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Failures at rate λ only while working W units, each costing an exponential repair of mean m:
// the number of failures is Poisson(λW), so E[completion] = W (1 + λ m) and P(completion > W)
// = 1 - exp(-λW).
TEST(TaskCompletionTest, IntervalsCoverTheClosedForm) {
  TaskQuestion q;
  q.backlog = 20;
  q.travel = 5;
  q.duration = 25;  // W = 50.
  q.deadline = 50;
  q.late_cost = 100;
  q.failure_rate = 0.02;
  q.repair_mean = 10;
  absl::StatusOr<TaskAnswer> a = AskTaskCompletion(q, {.replications = 20000, .seed = 3});
  ASSERT_TRUE(a.ok()) << a.status();
  const double completion = 50 * (1 + 0.02 * 10), p_late = 1 - std::exp(-0.02 * 50);
  EXPECT_LE(a->completion.ci_low, completion);
  EXPECT_GE(a->completion.ci_high, completion);
  EXPECT_LE(a->p_late.ci_low, p_late);
  EXPECT_GE(a->p_late.ci_high, p_late);
  EXPECT_LE(a->failures.ci_low, 1.0);
  EXPECT_GE(a->failures.ci_high, 1.0);
  EXPECT_NEAR(a->cost.mean, a->completion.mean + 100 * a->p_late.mean, 1e-6);
}

TEST(TaskCompletionTest, WithoutFailuresTheTaskEndsOnTimeAndAWornAgentBidsHigher) {
  TaskQuestion q;
  q.backlog = 10;
  q.duration = 30;
  q.deadline = 45;
  q.late_cost = 50;
  absl::StatusOr<TaskAnswer> healthy = AskTaskCompletion(q, {.replications = 200});
  ASSERT_TRUE(healthy.ok());
  EXPECT_DOUBLE_EQ(healthy->completion.mean, 40);
  EXPECT_DOUBLE_EQ(healthy->p_late.mean, 0);
  q.has_life = true;  // About to fail: a remaining life of 15 ± 3 units.
  q.life_mean = 15;
  q.life_std = 3;
  q.repair_mean = 20;
  absl::StatusOr<TaskAnswer> worn = AskTaskCompletion(q, {.replications = 2000});
  ASSERT_TRUE(worn.ok());
  EXPECT_GT(worn->failures.mean, 0.95);
  EXPECT_GT(worn->p_late.mean, 0.5);
  EXPECT_GT(worn->cost.mean, healthy->cost.mean + 30);
  q.duration = -1;
  EXPECT_EQ(AskTaskCompletion(q, {}).status().code(), absl::StatusCode::kInvalidArgument);
  q.duration = 1;
  q.failure_rate = -0.1;
  EXPECT_EQ(AskTaskCompletion(q, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fleettwin::sim
