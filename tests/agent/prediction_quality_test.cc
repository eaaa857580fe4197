// The twin's online prediction-quality record: expected vs observed failures, RUL errors, and
// the latched drift flag.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>

#include "fleettwin/agent/calibration.h"

namespace fleettwin::agent {
namespace {

using sim::PoissonTwoSidedPValue;

// Uniform in [0, 1) from the top 53 bits: the same on every platform, unlike std distributions.
double Uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// A standard normal draw by Box-Muller.
double Normal(std::mt19937_64& rng) {
  const double u1 = 1 - Uniform(rng);  // In (0, 1].
  const double u2 = Uniform(rng);
  return std::sqrt(-2 * std::log(u1)) * std::cos(2 * 3.14159265358979323846 * u2);
}

// Steps until drift with true per-step failure probability `truth` and prediction `predicted`;
// -1 if none within `steps`.
int64_t StepsToFailureDrift(uint64_t seed, double truth, double predicted, int64_t steps,
                            PredictionQualityTracker& tracker) {
  std::mt19937_64 rng(seed);
  for (int64_t i = 0; i < steps; ++i) {
    EXPECT_TRUE(tracker.ObserveStep(predicted, Uniform(rng) < truth).ok());
    if (tracker.drift()) return i + 1;
  }
  return -1;
}

TEST(PredictionQualityTest, CalibratedPredictorDoesNotDriftOverALongRun) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    PredictionQualityTracker tracker;
    EXPECT_EQ(StepsToFailureDrift(seed, 0.02, 0.02, 200'000, tracker), -1) << "seed " << seed;
    EXPECT_NEAR(tracker.total_expected(), 4000, 1e-6);
    EXPECT_NEAR(static_cast<double>(tracker.total_observed()), 4000, 4 * std::sqrt(4000.0));
    EXPECT_NEAR(tracker.window_expected(), 20, 1e-9);
    EXPECT_LT(std::abs(tracker.failure_z()), 4.5);
    EXPECT_LT(tracker.failure_statistic(), 16);
  }
  // Calibrated RUL errors with a known and with a learned scale.
  for (const double scale : {0.0, 15.0}) {
    PredictionQualityTracker tracker({.rul_error_scale = scale});
    std::mt19937_64 rng(17);
    for (int i = 0; i < 20'000; ++i) {
      const double actual = 200 * Uniform(rng);
      ASSERT_TRUE(tracker.ObserveRulError(actual + 15 * Normal(rng), actual).ok());
    }
    EXPECT_FALSE(tracker.drift()) << "scale " << scale;
    EXPECT_NEAR(tracker.rul_rmse(), 15, 0.5);
    EXPECT_NEAR(tracker.rul_bias(), 0, 0.5);
    EXPECT_EQ(tracker.rul_count(), 20'000);
  }
}

TEST(PredictionQualityTest, PredictorOffByFactorTwoDriftsWithinBoundedSteps) {
  int64_t worst_under = 0;
  int64_t worst_over = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    PredictionQualityTracker under;  // Predicts half the true rate.
    const int64_t n_under = StepsToFailureDrift(seed, 0.04, 0.02, 100'000, under);
    ASSERT_GT(n_under, 0) << "seed " << seed;
    EXPECT_TRUE(under.failure_drift());
    EXPECT_FALSE(under.rul_drift());
    PredictionQualityTracker over;  // Predicts twice the true rate.
    const int64_t n_over = StepsToFailureDrift(seed, 0.02, 0.04, 100'000, over);
    ASSERT_GT(n_over, 0) << "seed " << seed;
    worst_under = std::max(worst_under, n_under);
    worst_over = std::max(worst_over, n_over);
  }
  std::cout << "steps to drift (worst of 20 seeds): under-prediction " << worst_under
            << ", over-prediction " << worst_over << "\n";
  EXPECT_LE(worst_under, 6'000);
  EXPECT_LE(worst_over, 10'000);

  // A window's Poisson test sees it too.
  PredictionQualityTracker tracker;
  StepsToFailureDrift(1, 0.04, 0.02, 5'000, tracker);
  EXPECT_LT(tracker.failure_p_value(), 1e-3);
  EXPECT_GT(tracker.failure_z(), 3);
}

TEST(PredictionQualityTest, SingleOutliersDoNotRaiseDrift) {
  PredictionQualityTracker tracker({.rul_error_scale = 10});
  std::mt19937_64 rng(5);
  for (int i = 0; i < 20'000; ++i) {
    ASSERT_TRUE(tracker.ObserveStep(0.02, Uniform(rng) < 0.02).ok());
    if (i == 10'000) {
      ASSERT_TRUE(tracker.ObserveFailures(0.02, 50).ok());  // 50 at once.
    }
    if (i % 10 == 0) {
      const double error = i == 5'000 ? 1e6 : 10 * Normal(rng);  // One absurd RUL error.
      ASSERT_TRUE(tracker.ObserveRulError(100 + error, 100).ok());
    }
  }
  EXPECT_FALSE(tracker.drift());
  // An outlier where nothing at all was predicted does not either.
  PredictionQualityTracker zero;
  for (int i = 0; i < 5'000; ++i) ASSERT_TRUE(zero.ObserveFailures(0, i == 100 ? 1 : 0).ok());
  EXPECT_FALSE(zero.drift());
}

TEST(PredictionQualityTest, SustainedRulBiasDriftsAndResetClears) {
  PredictionQualityTracker tracker({.rul_error_scale = 10});
  std::mt19937_64 rng(8);
  int n = 0;
  for (; n < 10'000 && !tracker.drift(); ++n) {
    ASSERT_TRUE(tracker.ObserveRulError(100 + 10 + 10 * Normal(rng), 100).ok());  // +1 sigma.
  }
  EXPECT_TRUE(tracker.rul_drift());
  EXPECT_FALSE(tracker.failure_drift());
  EXPECT_LE(n, 80);
  EXPECT_GE(n, 5);  // min_samples
  EXPECT_GT(tracker.rul_bias(), 0);
  // Latched: calibrated errors afterwards do not lower it.
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(tracker.ObserveRulError(100, 100).ok());
  EXPECT_TRUE(tracker.drift());

  tracker.Reset();
  EXPECT_FALSE(tracker.drift());
  EXPECT_EQ(tracker.rul_count(), 0);
  EXPECT_EQ(tracker.rul_statistic(), 0);
  EXPECT_EQ(tracker.total_expected(), 0);
  EXPECT_EQ(tracker.window_observed(), 0);
  EXPECT_EQ(tracker.failure_p_value(), 1);
  for (int i = 0; i < 1'000; ++i) {
    ASSERT_TRUE(tracker.ObserveRulError(100 + 10 * Normal(rng), 100).ok());
  }
  EXPECT_FALSE(tracker.drift());

  // A learned scale: a constant bias is large against it and drifts.
  PredictionQualityTracker learned;
  for (int i = 0; i < 200 && !learned.drift(); ++i) {
    ASSERT_TRUE(learned.ObserveRulError(130 + Normal(rng), 100).ok());
  }
  EXPECT_TRUE(learned.rul_drift());
}

TEST(PredictionQualityTest, BadInputIsRefusedAndOptionsValidated) {
  PredictionQualityTracker tracker;
  EXPECT_EQ(tracker.ObserveFailures(-0.1, 0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tracker.ObserveFailures(std::nan(""), 0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tracker.ObserveFailures(0.1, -1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tracker.ObserveRulError(std::nan(""), 1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tracker.ObserveRulError(1, std::numeric_limits<double>::infinity()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tracker.total_expected(), 0);
  EXPECT_EQ(tracker.rul_count(), 0);
  EXPECT_EQ(tracker.failure_z(), 0);
  EXPECT_TRUE(ValidatePredictionQualityOptions({}).ok());
  EXPECT_FALSE(ValidatePredictionQualityOptions({.failure_window = 0}).ok());
  EXPECT_FALSE(ValidatePredictionQualityOptions({.failure_block = 0}).ok());
  EXPECT_FALSE(ValidatePredictionQualityOptions({.rul_error_scale = -1}).ok());
  EXPECT_FALSE(ValidatePredictionQualityOptions({.clip = 4, .delta = 0.5, .lambda = 3}).ok());
}

TEST(PredictionQualityTest, SlidingWindowKeepsTheLastSteps) {
  PredictionQualityTracker tracker({.failure_window = 10});
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(tracker.ObserveFailures(0.5, i >= 20 ? 2 : 0).ok());
  EXPECT_DOUBLE_EQ(tracker.window_expected(), 5);
  EXPECT_EQ(tracker.window_observed(), 10);
  EXPECT_DOUBLE_EQ(tracker.failure_z(), 5 / std::sqrt(5.0));
  EXPECT_DOUBLE_EQ(tracker.failure_p_value(), PoissonTwoSidedPValue(10, 5));
  EXPECT_DOUBLE_EQ(tracker.total_expected(), 12.5);
  EXPECT_EQ(tracker.total_observed(), 10);
}

}  // namespace
}  // namespace fleettwin::agent
