#include "fleettwin/federated/strategy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace fleettwin::federated {
namespace {

std::vector<ClientUpdate> Views(const std::vector<std::vector<float>>& values,
                                const std::vector<double>& examples) {
  std::vector<ClientUpdate> out;
  for (size_t i = 0; i < values.size(); ++i) out.push_back({values[i], examples[i]});
  return out;
}

AggregateOptions With(Strategy s) {
  AggregateOptions o;
  o.strategy = s;
  return o;
}

TEST(StrategyTest, FedAvgWeightsByExamples) {
  const std::vector<std::vector<float>> v = {{1, 10}, {3, 20}};
  const auto out = Aggregate({}, Views(v, {1, 3}), With(Strategy::kFedAvg));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_FLOAT_EQ((*out)[0], 2.5f);  // (1*1 + 3*3) / 4
  EXPECT_FLOAT_EQ((*out)[1], 17.5f);
  // FedProx aggregates like FedAvg (its difference is on the nodes).
  EXPECT_EQ(*Aggregate({}, Views(v, {1, 3}), With(Strategy::kFedProx)), *out);
}

TEST(StrategyTest, MedianOfOddAndEvenCounts) {
  const std::vector<std::vector<float>> odd = {{5}, {1}, {3}};
  EXPECT_FLOAT_EQ((*Aggregate({}, Views(odd, {1, 1, 1}), With(Strategy::kMedian)))[0], 3.0f);
  const std::vector<std::vector<float>> even = {{5}, {1}, {3}, {100}};
  EXPECT_FLOAT_EQ((*Aggregate({}, Views(even, {1, 1, 1, 1}), With(Strategy::kMedian)))[0], 4.0f);
}

TEST(StrategyTest, TrimmedMeanDropsTheExtremesOfEachCoordinate) {
  // Ten values per coordinate, 20 % trimmed: the two smallest and two largest go.
  std::vector<std::vector<float>> v;
  for (int i = 0; i < 10; ++i) v.push_back({static_cast<float>(i), static_cast<float>(-i)});
  v[0][0] = -1000;  // An outlier at each end of coordinate 0.
  v[9][0] = 1000;
  const auto out = Aggregate({}, Views(v, std::vector<double>(10, 1)),
                             With(Strategy::kTrimmedMean));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_FLOAT_EQ((*out)[0], (2 + 3 + 4 + 5 + 6 + 7) / 6.0f);
  EXPECT_FLOAT_EQ((*out)[1], -(2 + 3 + 4 + 5 + 6 + 7) / 6.0f);
}

// Two of ten updates scaled by -10 around the honest value: the robust strategies stay near
// it, the weighted mean does not.
TEST(StrategyTest, RobustStrategiesResistTwoPoisonedUpdates) {
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0, 0.05f);
  std::vector<std::vector<float>> v(10, std::vector<float>(1000));
  for (size_t i = 0; i < v.size(); ++i) {
    for (float& x : v[i]) x = (i < 2 ? -10.0f : 1.0f) + noise(rng);
  }
  const std::vector<double> examples(10, 100);
  auto max_error = [&](Strategy s) {
    const std::vector<float> out = *Aggregate({}, Views(v, examples), With(s));
    double worst = 0;
    for (float x : out) worst = std::max(worst, std::abs(double{x} - 1.0));
    return worst;
  };
  EXPECT_LT(max_error(Strategy::kMedian), 0.1);
  EXPECT_LT(max_error(Strategy::kTrimmedMean), 0.1);
  EXPECT_GT(max_error(Strategy::kFedAvg), 2.0);
}

TEST(StrategyTest, ResultsDoNotDependOnThreadsAndNoiseIsSeeded) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<std::vector<float>> v(7, std::vector<float>(100000));
  for (auto& x : v) for (float& f : x) f = u(rng);
  const std::vector<float> global(100000, 0.0f);
  const std::vector<double> examples = {1, 2, 3, 4, 5, 6, 7};
  const std::vector<ClientUpdate> updates = Views(v, examples);
  // Noise only with the mean (the order statistics refuse it).
  auto options = [](Strategy s, int threads, uint64_t seed) {
    AggregateOptions o = With(s);
    o.threads = threads;
    o.clip_norm = 50;
    o.noise_multiplier = s == Strategy::kFedAvg ? 1.0 : 0.0;
    o.seed = seed;
    return o;
  };
  for (Strategy s : {Strategy::kFedAvg, Strategy::kMedian, Strategy::kTrimmedMean}) {
    const absl::StatusOr<std::vector<float>> one = Aggregate(global, updates, options(s, 1, 11));
    const absl::StatusOr<std::vector<float>> two = Aggregate(global, updates, options(s, 2, 11));
    ASSERT_TRUE(one.ok() && two.ok()) << StrategyName(s) << one.status() << two.status();
    EXPECT_EQ(*one, *two) << StrategyName(s);
    if (s == Strategy::kFedAvg) {
      const absl::StatusOr<std::vector<float>> other = Aggregate(global, updates, options(s, 2, 12));
      ASSERT_TRUE(other.ok());
      EXPECT_NE(*one, *other);
    }
  }
}

TEST(StrategyTest, ClippingBoundsEachUpdatesInfluenceAndNoiseHasTheStatedSpread) {
  const size_t n = 200000;
  const std::vector<float> global(n, 1.0f);
  // One update far away (norm 1000 * sqrt(n)), one equal to the global model.
  const std::vector<std::vector<float>> v = {std::vector<float>(n, 1001.0f), global};
  AggregateOptions o = With(Strategy::kFedAvg);
  o.clip_norm = 2.0;
  const auto clipped = Aggregate(global, Views(v, {1, 1000}), o);
  ASSERT_TRUE(clipped.ok()) << clipped.status();
  // Clipped to norm 2, averaged with fixed weights 1/2: the mean moves by norm 1 in total.
  double sq = 0;
  for (size_t j = 0; j < n; ++j) sq += std::pow((*clipped)[j] - 1.0, 2);
  EXPECT_NEAR(std::sqrt(sq), 1.0, 1e-3);

  o.noise_multiplier = 500;  // sigma = 500 * 2 / 2 = 500.
  const auto noisy = Aggregate(global, Views(v, {1, 1000}), o);
  ASSERT_TRUE(noisy.ok());
  double mean = 0, var = 0;
  for (size_t j = 0; j < n; ++j) mean += ((*noisy)[j] - (*clipped)[j]) / n;
  for (size_t j = 0; j < n; ++j) var += std::pow((*noisy)[j] - (*clipped)[j] - mean, 2) / n;
  EXPECT_NEAR(mean, 0.0, 5.0);  // 500 / sqrt(200000) ~ 1.1 standard error.
  EXPECT_NEAR(std::sqrt(var), 500.0, 5.0);
}

TEST(StrategyTest, RefusesBadInput) {
  const std::vector<std::vector<float>> v = {{1, 2}, {3}};
  EXPECT_FALSE(Aggregate({}, {}, With(Strategy::kFedAvg)).ok());
  EXPECT_FALSE(Aggregate({}, Views(v, {1, 1}), With(Strategy::kFedAvg)).ok());
  const std::vector<std::vector<float>> nan = {{1, std::nanf("")}, {3, 4}};
  for (Strategy s : {Strategy::kFedAvg, Strategy::kMedian, Strategy::kTrimmedMean}) {
    const auto out = Aggregate({}, Views(nan, {1, 0}), With(s));
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << StrategyName(s);
  }
  const std::vector<std::vector<float>> ok = {{1, 2}, {3, 4}};
  EXPECT_FALSE(Aggregate({}, Views(ok, {-1, 2}), With(Strategy::kFedAvg)).ok());
  EXPECT_FALSE(Aggregate({}, Views(ok, {0, 0}), With(Strategy::kFedAvg)).ok());
  AggregateOptions noise_only = With(Strategy::kFedAvg);
  noise_only.noise_multiplier = 1;
  EXPECT_FALSE(Aggregate({}, Views(ok, {1, 1}), noise_only).ok());
  AggregateOptions clip = With(Strategy::kFedAvg);
  clip.clip_norm = 1;
  EXPECT_FALSE(Aggregate({}, Views(ok, {1, 1}), clip).ok()) << "clipping without the global model";
  AggregateOptions noisy_median = With(Strategy::kMedian);
  noisy_median.clip_norm = 1;
  noisy_median.noise_multiplier = 1;
  EXPECT_FALSE(Aggregate(std::vector<float>{0, 0}, Views(ok, {1, 1}), noisy_median).ok())
      << "DP noise is calibrated to the mean only";
  AggregateOptions trim = With(Strategy::kTrimmedMean);
  trim.trim_fraction = 0.5;
  EXPECT_FALSE(Aggregate({}, Views(ok, {1, 1}), trim).ok());
}

TEST(StrategyTest, StrategyNamesRoundTrip) {
  for (Strategy s : {Strategy::kFedAvg, Strategy::kFedProx, Strategy::kMedian,
                     Strategy::kTrimmedMean}) {
    EXPECT_EQ(*ParseStrategy(StrategyName(s)), s);
  }
  const auto bad = ParseStrategy("krum");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("trimmed-mean"), std::string::npos);
}

TEST(StrategyTest, LayoutFlattensAndRestoresArrays) {
  const std::vector<float> w = {1, 2, 3, 4, 5, 6}, b = {7, 8};
  const std::vector<NpyArray> arrays = {MakeNpy<float>({2, 3}, absl::MakeConstSpan(w)),
                                        MakeNpy<float>({2}, absl::MakeConstSpan(b))};
  const auto flat = ParameterLayout::Flatten(arrays);
  ASSERT_TRUE(flat.ok()) << flat.status();
  EXPECT_EQ(flat->first.size(), 8u);
  EXPECT_EQ(flat->second, (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}));
  const auto back = flat->first.Unflatten(flat->second);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(*back == arrays);
  EXPECT_FALSE(flat->first.Unflatten(absl::MakeConstSpan(w)).ok());
  const std::vector<double> d = {1.0};
  const auto wrong = ParameterLayout::Flatten({MakeNpy<double>({1}, absl::MakeConstSpan(d))});
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("float32"), std::string::npos);
}

}  // namespace
}  // namespace fleettwin::federated
