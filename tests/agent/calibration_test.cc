#include "fleettwin/agent/calibration.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <iostream>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace fleettwin::agent {
namespace {

using sim::GammaQuantile;

// Reference values below were computed with 30-digit arbitrary-precision arithmetic.

// Uniform in [0, 1) from the top 53 bits: the same on every platform, unlike std distributions.
double Uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// A standard normal draw by Box-Muller, independent of the quantile functions under test.
double Normal(std::mt19937_64& rng) {
  const double u1 = 1 - Uniform(rng);  // In (0, 1].
  const double u2 = Uniform(rng);
  return std::sqrt(-2 * std::log(u1)) * std::cos(2 * 3.14159265358979323846 * u2);
}

void ExpectRelativelyNear(double actual, double expected, double tolerance) {
  EXPECT_LE(std::abs(actual - expected), tolerance * std::abs(expected))
      << "actual " << actual << " expected " << expected;
}

TEST(FailureRateEstimatorTest, WithoutDataThePosteriorIsThePrior) {
  FailureRateOptions options;
  options.prior_shape = 2;
  options.prior_rate = 100;
  FailureRateEstimator estimator(options);
  EXPECT_EQ(estimator.shape(), 2);
  EXPECT_EQ(estimator.rate(), 100);
  EXPECT_DOUBLE_EQ(estimator.mean(), 0.02);
  EXPECT_DOUBLE_EQ(estimator.stddev(), std::sqrt(2.0) / 100);
  const Interval ci = estimator.CredibleInterval(0.9);
  EXPECT_DOUBLE_EQ(ci.low, GammaQuantile(2, 100, 0.05));
  EXPECT_DOUBLE_EQ(ci.high, GammaQuantile(2, 100, 0.95));
  // Zero exposure and no failures change nothing.
  ASSERT_TRUE(estimator.Observe(0, 0).ok());
  EXPECT_EQ(estimator.shape(), 2);
  EXPECT_EQ(estimator.rate(), 100);

  // The default prior is weak and proper.
  FailureRateEstimator by_default;
  EXPECT_DOUBLE_EQ(by_default.mean(), 0.01);
  EXPECT_GT(by_default.stddev() / by_default.mean(), 1);
}

TEST(FailureRateEstimatorTest, ConjugateUpdateAndBadEvidence) {
  FailureRateEstimator estimator;
  ASSERT_TRUE(estimator.Observe(1000, 20).ok());
  ASSERT_TRUE(estimator.Observe(500.5, 3).ok());
  EXPECT_DOUBLE_EQ(estimator.shape(), 0.5 + 23);
  EXPECT_DOUBLE_EQ(estimator.rate(), 50 + 1500.5);
  EXPECT_EQ(estimator.failures(), 23);
  EXPECT_DOUBLE_EQ(estimator.exposure(), 1500.5);
  const Interval ci = estimator.CredibleInterval(0.95);
  EXPECT_LT(ci.low, estimator.mean());
  EXPECT_GT(ci.high, estimator.mean());

  EXPECT_EQ(estimator.Observe(-1, 0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(estimator.Observe(std::nan(""), 0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(estimator.Observe(std::numeric_limits<double>::infinity(), 0).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(estimator.Observe(1, -1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(estimator.failures(), 23);

  EXPECT_TRUE(ValidateFailureRateOptions({}).ok());
  EXPECT_FALSE(ValidateFailureRateOptions({.prior_shape = 0}).ok());
  EXPECT_FALSE(ValidateFailureRateOptions({.prior_rate = -1}).ok());
  EXPECT_FALSE(ValidateFailureRateOptions({.forgetting = 0}).ok());
  EXPECT_FALSE(ValidateFailureRateOptions({.forgetting = 1.01}).ok());
}

TEST(FailureRateEstimatorTest, ForgettingFollowsARateChange) {
  FailureRateEstimator forgetting({.forgetting = 0.999});
  FailureRateEstimator keeping;
  // 20 000 units at 2 failures per 100, then 8 000 at 5 per 100.
  for (int i = 0; i < 400; ++i) {
    ASSERT_TRUE(forgetting.Observe(50, 1).ok());
    ASSERT_TRUE(keeping.Observe(50, 1).ok());
  }
  EXPECT_NEAR(forgetting.mean(), 0.02, 0.001);
  for (int i = 0; i < 400; ++i) {
    ASSERT_TRUE(forgetting.Observe(20, 1).ok());
    ASSERT_TRUE(keeping.Observe(20, 1).ok());
  }
  EXPECT_NEAR(forgetting.mean(), 0.05, 0.002);
  EXPECT_NEAR(keeping.mean(), 800.5 / 28'050, 1e-12);
  // The memory is about 1000 units: ~50 failures' worth of evidence, not 1200.
  EXPECT_LT(forgetting.shape(), 60);
  EXPECT_EQ(forgetting.failures(), 800);
}

TEST(FailureRateEstimatorTest, PerStepProbability) {
  ExpectRelativelyNear(FailureProbabilityPerStep(0.02), 1 - std::exp(-0.02), 1e-14);
  EXPECT_DOUBLE_EQ(RateFromFailureProbability(FailureProbabilityPerStep(0.02)), 0.02);
  EXPECT_EQ(FailureProbabilityPerStep(0), 0);
  ExpectRelativelyNear(FailureProbabilityPerStep(1e-12), 1e-12, 1e-12);
}

// The conveyor as the simulator defines it: a belt working during unit [t, t+1) fails at its end
// with probability p, shows failed, then repairing, for the repair time, and works again.
struct ConveyorTruth {
  Calibration calibration;
  int64_t failures = 0;
};

template <typename RepairDraw>
ConveyorTruth SimulateConveyor(uint64_t seed, double p, int64_t units, RepairDraw draw_repair) {
  std::mt19937_64 rng(seed);
  ConveyorHistoryObserver observer;
  ConveyorTruth truth;
  int64_t spell_start = -1;
  int64_t back_at = 0;  // First working time after the current spell.
  for (int64_t t = 0; t < units; ++t) {
    int state = kConveyorWorking;
    if (t < back_at) state = t == spell_start ? kConveyorFailed : kConveyorRepairing;
    EXPECT_TRUE(observer.Observe(static_cast<double>(t), state));
    if (state == kConveyorWorking && Uniform(rng) < p) {
      spell_start = t + 1;
      back_at = spell_start + draw_repair(rng);
      if (spell_start < units) ++truth.failures;
    }
  }
  truth.calibration = observer.Snapshot();
  return truth;
}

int64_t FixedThree(std::mt19937_64&) { return 3; }
int64_t TwoToFive(std::mt19937_64& rng) { return 2 + static_cast<int64_t>(Uniform(rng) * 4); }

TEST(ConveyorCalibrationTest, RecoversFailureRateAndFixedRepairTime) {
  const ConveyorTruth run = SimulateConveyor(7, 0.02, 200'000, FixedThree);
  const Calibration& c = run.calibration;
  EXPECT_EQ(c.failures, run.failures);
  EXPECT_NEAR(c.failure_rate, 0.02, 0.02 * 0.05);
  EXPECT_NEAR(c.failure_probability_per_step, 0.02, 0.02 * 0.05);
  EXPECT_LE(c.failure_rate_ci_low, 0.02);
  EXPECT_GE(c.failure_rate_ci_high, 0.02);
  EXPECT_TRUE(c.repair_fitted);
  EXPECT_GE(c.repairs, c.failures - 1);  // The last spell may still be running.
  EXPECT_DOUBLE_EQ(c.repair_time_mean, 3);
  EXPECT_DOUBLE_EQ(c.repair_time_std, 0);
  EXPECT_DOUBLE_EQ(c.repair_time_ci_low, 3);
  EXPECT_DOUBLE_EQ(c.repair_time_ci_high, 3);
  EXPECT_DOUBLE_EQ(c.repair_log_mu, std::log(3.0));
  EXPECT_NEAR(c.repair_log_sigma, 0, 1e-12);
  ASSERT_EQ(c.repair_distribution.size(), 1u);
  EXPECT_EQ(c.repair_distribution[0], std::make_pair(3.0, 1.0));
  // Exposure is working time only: units minus the down time.
  EXPECT_NEAR(c.exposure, 200'000 - 3.0 * static_cast<double>(c.failures), 3);
}

TEST(ConveyorCalibrationTest, RecoversUniformRepairTimeDistribution) {
  const Calibration c = SimulateConveyor(11, 0.02, 200'000, TwoToFive).calibration;
  EXPECT_NEAR(c.failure_rate, 0.02, 0.02 * 0.05);
  EXPECT_NEAR(c.repair_time_mean, 3.5, 0.1);
  EXPECT_NEAR(c.repair_time_std, std::sqrt(1.25), 0.1);  // Variance of a uniform on 4 values.
  EXPECT_LE(c.repair_time_ci_low, 3.5);
  EXPECT_GE(c.repair_time_ci_high, 3.5);
  ASSERT_EQ(c.repair_distribution.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(c.repair_distribution[i].first, 2 + i);
    EXPECT_NEAR(c.repair_distribution[i].second, 0.25, 0.04);
  }
}

// Over 200 seeds of 50 000 units the 95% intervals cover the true values about 95% of the time.
// The count per working unit estimates the simulator's per-unit probability p, which is the
// value checked; the continuous hazard -log(1 - p) lies 1% higher and is covered almost as often.
TEST(ConveyorCalibrationTest, CredibleIntervalCoverageIsNominal) {
  constexpr int kSeeds = 200;
  constexpr double kP = 0.02;
  int rate_covered = 0;
  int hazard_covered = 0;
  int repair_covered = 0;
  double relative_error_sum = 0;
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    const Calibration c = SimulateConveyor(seed * 7919, kP, 50'000, TwoToFive).calibration;
    rate_covered += c.failure_rate_ci_low <= kP && kP <= c.failure_rate_ci_high;
    const double hazard = RateFromFailureProbability(kP);
    hazard_covered += c.failure_rate_ci_low <= hazard && hazard <= c.failure_rate_ci_high;
    repair_covered += c.repair_time_ci_low <= 3.5 && 3.5 <= c.repair_time_ci_high;
    relative_error_sum += std::abs(c.failure_rate - kP) / kP;
  }
  const double rate_coverage = static_cast<double>(rate_covered) / kSeeds;
  const double hazard_coverage = static_cast<double>(hazard_covered) / kSeeds;
  const double repair_coverage = static_cast<double>(repair_covered) / kSeeds;
  RecordProperty("rate_coverage", std::to_string(rate_coverage));
  RecordProperty("hazard_coverage", std::to_string(hazard_coverage));
  RecordProperty("repair_coverage", std::to_string(repair_coverage));
  std::cout << "coverage: rate " << rate_coverage << ", hazard " << hazard_coverage
            << ", repair mean " << repair_coverage << "; mean |relative error| "
            << relative_error_sum / kSeeds << "\n";
  EXPECT_GE(rate_coverage, 0.90);
  EXPECT_LE(rate_coverage, 0.99);
  EXPECT_GE(hazard_coverage, 0.88);
  EXPECT_GE(repair_coverage, 0.90);
  EXPECT_LE(repair_coverage, 0.99);
  EXPECT_LT(relative_error_sum / kSeeds, 0.04);  // ~2.7% standard error at ~940 failures.
}

TEST(ConveyorCalibrationTest, IgnoresNonIncreasingTimesAndUnknownStates) {
  ConveyorHistoryObserver observer;
  EXPECT_TRUE(observer.Observe(0, kConveyorWorking));
  EXPECT_TRUE(observer.Observe(1, kConveyorWorking));
  EXPECT_FALSE(observer.Observe(1, kConveyorFailed));    // Same time.
  EXPECT_FALSE(observer.Observe(0.5, kConveyorFailed));  // Back in time.
  EXPECT_FALSE(observer.Observe(std::nan(""), kConveyorFailed));
  EXPECT_FALSE(observer.Observe(std::numeric_limits<double>::infinity(), kConveyorWorking));
  EXPECT_FALSE(observer.Observe(2, 7));
  EXPECT_FALSE(observer.Observe(2, -1));
  EXPECT_EQ(observer.ignored_samples(), 6);
  EXPECT_TRUE(observer.Observe(2, kConveyorFailed));
  EXPECT_TRUE(observer.Observe(3, kConveyorRepairing));
  EXPECT_TRUE(observer.Observe(4.5, kConveyorWorking));
  const Calibration c = observer.Snapshot();
  EXPECT_EQ(c.failures, 1);
  EXPECT_DOUBLE_EQ(c.exposure, 2);
  EXPECT_EQ(c.repairs, 1);
  EXPECT_FALSE(c.repair_fitted);  // One repair is not a fit.
  ASSERT_EQ(c.repair_distribution.size(), 1u);
  EXPECT_EQ(c.repair_distribution[0].first, 2.5);
}

TEST(ConveyorCalibrationTest, GapsAndUnseenSpellStartsAreNoEvidence) {
  ConveyorHistoryOptions options;
  options.max_gap = 5;
  ConveyorHistoryObserver observer(options);
  // Starts mid-repair: that spell's length is unknown.
  observer.Observe(0, kConveyorRepairing);
  observer.Observe(1, kConveyorWorking);
  observer.Observe(2, kConveyorWorking);
  // A gap ending in a failure: neither the exposure nor the failure counts.
  observer.Observe(20, kConveyorFailed);
  observer.Observe(21, kConveyorWorking);
  // A spell measured normally.
  observer.Observe(22, kConveyorFailed);
  observer.Observe(24, kConveyorWorking);
  // A spell interrupted by a gap is not measured.
  observer.Observe(25, kConveyorFailed);
  observer.Observe(40, kConveyorRepairing);
  observer.Observe(41, kConveyorWorking);
  const Calibration c = observer.Snapshot();
  EXPECT_EQ(c.failures, 2);
  EXPECT_DOUBLE_EQ(c.exposure, 1 + 1 + 1);
  EXPECT_EQ(c.repairs, 1);
  ASSERT_EQ(c.repair_distribution.size(), 1u);
  EXPECT_EQ(c.repair_distribution[0].first, 2);
}

TEST(ConveyorCalibrationTest, FailureEventBetweenWorkingSamplesCountsOnce) {
  ConveyorHistoryObserver observer;
  observer.Observe(0, kConveyorWorking);
  observer.Observe(10, kConveyorWorking, /*failure_event=*/true);  // Failed and repaired between.
  observer.Observe(20, kConveyorFailed, /*failure_event=*/true);   // Seen in the state as well.
  observer.Observe(30, kConveyorWorking);
  const Calibration c = observer.Snapshot();
  EXPECT_EQ(c.failures, 2);
  EXPECT_DOUBLE_EQ(c.exposure, 20);
  EXPECT_EQ(c.repairs, 1);  // Only the spell whose length was seen.
}

TEST(ConveyorCalibrationTest, OptionsAreValidated) {
  EXPECT_TRUE(ValidateConveyorHistoryOptions({}).ok());
  ConveyorHistoryOptions bad_level;
  bad_level.level = 1;
  EXPECT_FALSE(ValidateConveyorHistoryOptions(bad_level).ok());
  ConveyorHistoryOptions bad_gap;
  bad_gap.max_gap = 0;
  EXPECT_FALSE(ValidateConveyorHistoryOptions(bad_gap).ok());
  ConveyorHistoryOptions bad_prior;
  bad_prior.failure_rate.prior_rate = 0;
  EXPECT_EQ(ValidateConveyorHistoryOptions(bad_prior).message(),
            "failure_rate.prior_rate: must be finite and > 0");
  ConveyorHistoryOptions bad_repair;
  bad_repair.repair_time.default_repair_time = -2;
  EXPECT_FALSE(ValidateConveyorHistoryOptions(bad_repair).ok());
}

TEST(RepairTimeEstimatorTest, RecoversLognormalParameters) {
  constexpr double kMu = 1.2;
  constexpr double kSigma = 0.6;
  std::mt19937_64 rng(42);
  RepairTimeEstimator estimator;
  for (int i = 0; i < 20'000; ++i) {
    ASSERT_TRUE(estimator.Observe(std::exp(kMu + kSigma * Normal(rng))).ok());
  }
  const RepairTimeFit fit = estimator.Fit(0.95);
  EXPECT_TRUE(fit.fitted);
  EXPECT_EQ(fit.count, 20'000);
  // Standard errors: sigma / sqrt(n) = 0.004 for mu, sigma / sqrt(2n) = 0.003 for sigma.
  EXPECT_NEAR(fit.log_mu, kMu, 0.015);
  EXPECT_NEAR(fit.log_sigma, kSigma, 0.012);
  const double true_mean = std::exp(kMu + kSigma * kSigma / 2);
  EXPECT_LE(fit.mean_ci.low, true_mean);
  EXPECT_GE(fit.mean_ci.high, true_mean);
  EXPECT_NEAR(fit.std_error, fit.stddev / std::sqrt(20'000.0), 1e-12);
  // The sample standard deviation of a lognormal: mean * sqrt(exp(sigma²) - 1).
  EXPECT_NEAR(fit.stddev, true_mean * std::sqrt(std::expm1(kSigma * kSigma)), 0.1);
  // Bounded support that still follows the distribution's median.
  const auto distribution = estimator.Distribution();
  EXPECT_LE(distribution.size(), 64u);
  double below_median = 0;
  for (const auto& [value, probability] : distribution) {
    if (value < std::exp(kMu)) below_median += probability;
  }
  EXPECT_NEAR(below_median, 0.5, 0.05);
}

TEST(RepairTimeEstimatorTest, FewRepairsGiveTheDefaultAndBadOnesAreRefused) {
  RepairTimeEstimator estimator({.default_repair_time = 4});
  RepairTimeFit fit = estimator.Fit(0.95);
  EXPECT_FALSE(fit.fitted);
  EXPECT_EQ(fit.mean, 4);
  EXPECT_EQ(fit.mean_ci, (Interval{4, 4}));
  EXPECT_DOUBLE_EQ(fit.log_mu, std::log(4.0));
  EXPECT_EQ(estimator.Sample(0.3), 4);
  EXPECT_TRUE(estimator.Distribution().empty());
  ASSERT_TRUE(estimator.Observe(2).ok());
  EXPECT_FALSE(estimator.Fit(0.95).fitted);
  EXPECT_EQ(estimator.Observe(0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(estimator.Observe(-3).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(estimator.Observe(std::nan("")).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(estimator.Observe(6).ok());
  fit = estimator.Fit(0.95);
  EXPECT_TRUE(fit.fitted);
  EXPECT_EQ(fit.count, 2);
  EXPECT_DOUBLE_EQ(fit.mean, 4);
  EXPECT_DOUBLE_EQ(fit.stddev, std::sqrt(8.0));
  // t(1) at 97.5% is 12.7: a very wide interval from two repairs, clamped at 0.
  EXPECT_EQ(fit.mean_ci.low, 0);
  EXPECT_NEAR(fit.mean_ci.high, 4 + 12.706204736174693 * 2, 1e-9);
  EXPECT_DOUBLE_EQ(fit.log_mu, (std::log(2.0) + std::log(6.0)) / 2);
  EXPECT_DOUBLE_EQ(fit.log_sigma, (std::log(6.0) - std::log(2.0)) / 2);
  EXPECT_FALSE(ValidateRepairTimeOptions({.max_support = 0}).ok());
}

TEST(RepairTimeEstimatorTest, SamplesTheEmpiricalDistributionFromAnInjectedUniform) {
  RepairTimeEstimator estimator;
  for (double d : {2.0, 3.0, 3.0, 5.0}) ASSERT_TRUE(estimator.Observe(d).ok());
  const std::vector<std::pair<double, double>> expected = {{2, 0.25}, {3, 0.5}, {5, 0.25}};
  EXPECT_EQ(estimator.Distribution(), expected);
  EXPECT_EQ(estimator.Sample(0), 2);
  EXPECT_EQ(estimator.Sample(0.2499), 2);
  EXPECT_EQ(estimator.Sample(0.25), 3);
  EXPECT_EQ(estimator.Sample(0.7499), 3);
  EXPECT_EQ(estimator.Sample(0.75), 5);
  EXPECT_EQ(estimator.Sample(0.999999), 5);
  EXPECT_EQ(estimator.Sample(1), 5);
  EXPECT_EQ(estimator.Sample(-1), 2);
  EXPECT_EQ(estimator.Sample(std::nan("")), 2);
  // Frequencies over many injected draws match the probabilities.
  std::mt19937_64 rng(3);
  int threes = 0;
  for (int i = 0; i < 10'000; ++i) threes += estimator.Sample(Uniform(rng)) == 3;
  EXPECT_NEAR(threes / 10'000.0, 0.5, 0.02);
}

TEST(RepairTimeEstimatorTest, SupportMergesClosestNeighboursPreservingTheMean) {
  RepairTimeEstimator estimator({.max_support = 3});
  for (double d : {1.0, 1.1, 5.0, 9.0}) ASSERT_TRUE(estimator.Observe(d).ok());
  const auto distribution = estimator.Distribution();
  ASSERT_EQ(distribution.size(), 3u);
  EXPECT_DOUBLE_EQ(distribution[0].first, 1.05);
  EXPECT_DOUBLE_EQ(distribution[0].second, 0.5);
  double mean = 0;
  for (const auto& [value, probability] : distribution) mean += value * probability;
  EXPECT_DOUBLE_EQ(mean, estimator.Fit(0.95).mean);
}

Calibration SampleCalibration() { return SimulateConveyor(5, 0.03, 5'000, TwoToFive).calibration; }

TEST(CalibrationTest, EncodeDecodeRoundTripIsExact) {
  Calibration c = SampleCalibration();
  ASSERT_GT(c.repairs, 10);
  auto decoded = Calibration::Decode(c.Encode());
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, c);
  // Awkward doubles survive too.
  c.failure_rate = 0.1;
  c.failure_rate_std = 1.0 / 3;
  c.failure_rate_ci_low = 5e-324;
  c.failure_rate_ci_high = 1.7976931348623157e308;
  c.repair_log_mu = -0.0;
  c.exposure = 123456789.123456789;
  c.failures = std::numeric_limits<int64_t>::max();
  c.repair_distribution.emplace_back(2.0000000000000004, 1e-17);
  decoded = Calibration::Decode(c.Encode());
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, c);
  EXPECT_EQ(decoded->Encode(), c.Encode());
  EXPECT_TRUE(std::signbit(decoded->repair_log_mu));
}

TEST(CalibrationTest, EncodingIsCompactDeterministicAndSorted) {
  const Calibration c;
  const std::string text = c.Encode();
  EXPECT_EQ(text.find(' '), std::string::npos);
  EXPECT_EQ(text.find('\n'), std::string::npos);
  EXPECT_EQ(text.rfind("{\"exposure\":0.0,\"failure_probability_per_step\":0.0,", 0), 0u) << text;
  EXPECT_NE(text.find("\"repair_distribution\":[],\"repair_fitted\":false,"), std::string::npos);
  EXPECT_EQ(SampleCalibration().Encode(), SampleCalibration().Encode());
}

TEST(CalibrationTest, DecodeRefusesBadInput) {
  const std::string good = SampleCalibration().Encode();
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return at == std::string::npos ? s : s.replace(at, from.size(), to);
  };
  const std::vector<std::string> bad = {
      "",
      "{",
      "null",
      "[]",
      "{}",
      "\xff\xfe",
      std::string(1, '\0'),
      good.substr(0, good.size() / 2),
      replaced("\"failures\":", "\"failures_\":"),
      replaced("{", "{\"extra\":1,"),
      replaced("\"failures\":", "\"failures\":-"),
      replaced("\"failures\":", "\"failures\":0.5,\"x\":"),
      replaced("\"level\":0.95", "\"level\":1.0"),
      replaced("\"level\":0.95", "\"level\":\"0.95\""),
      replaced("\"level\":0.95", "\"level\":1e999"),
      replaced("\"repair_fitted\":true", "\"repair_fitted\":1"),
      replaced("\"repair_distribution\":[[", "\"repair_distribution\":[[1,2,3],["),
      replaced("\"repair_distribution\":[[", "\"repair_distribution\":[[1,-0.5],["),
      replaced("\"repair_distribution\":[[", "\"repair_distribution\":[[[1],0.5],["),
      replaced("\"repair_distribution\":[", "\"repair_distribution\":{\"a\":"),
      std::string(100'000, '[') + std::string(100'000, ']'),
      "{\"a\":" + std::string(5'000, '{'),
      std::string(2 << 20, ' ') + good,
  };
  for (const std::string& text : bad) {
    const auto decoded = Calibration::Decode(text);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << text.substr(0, 200);
  }
  // Random corruption never crashes; what decodes re-encodes to what it decoded.
  std::mt19937_64 rng(99);
  for (int i = 0; i < 3'000; ++i) {
    std::string text = good;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      text[rng() % text.size()] = static_cast<char>(rng() % 256);
    }
    const auto decoded = Calibration::Decode(text);
    if (decoded.ok()) {
      const auto again = Calibration::Decode(decoded->Encode());
      ASSERT_TRUE(again.ok());
      EXPECT_EQ(*again, *decoded);
    } else {
      EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace fleettwin::agent
