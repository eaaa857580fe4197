#include "fleettwin/agent/features.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>

namespace fleettwin::agent {
namespace {

// Direct recomputation over the last n points, the reference for the O(1) window.
struct Direct {
  double mean, std, slope;
};
Direct Compute(const std::vector<double>& t, const std::vector<double>& x) {
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n;
  const double mt = std::accumulate(t.begin(), t.end(), 0.0) / n;
  double sxx = 0, stt = 0, stx = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxx += (x[i] - mx) * (x[i] - mx);
    stt += (t[i] - mt) * (t[i] - mt);
    stx += (t[i] - mt) * (x[i] - mx);
  }
  return {mx, std::sqrt(sxx / (n - 1)), stx / stt};
}

TEST(RollingWindowTest, MatchesDirectComputationOverLongRuns) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> noise(0, 0.5);
  RollingWindow w(30);
  std::vector<double> ts, xs;
  // Large timestamps and a large offset: the shifted sums must keep precision.
  for (int i = 0; i < 5000; ++i) {
    const double t = 1.7e9 + 10.0 * i;
    const double x = 1589.0 + 0.002 * i + noise(rng);
    w.Add(t, x);
    ts.push_back(t);
    xs.push_back(x);
    if (i >= 1 && i % 97 == 0) {
      const size_t n = std::min<size_t>(30, xs.size());
      std::vector<double> lt(ts.end() - static_cast<long>(n), ts.end());
      std::vector<double> lx(xs.end() - static_cast<long>(n), xs.end());
      const Direct d = Compute(lt, lx);
      EXPECT_NEAR(w.Mean(), d.mean, 1e-9) << i;
      EXPECT_NEAR(w.Std(), d.std, 1e-6) << i;
      EXPECT_NEAR(w.Slope(), d.slope, 1e-7) << i;
      EXPECT_EQ(w.size(), n);
    }
  }
}

TEST(RollingWindowTest, EdgeCases) {
  RollingWindow w(4);
  EXPECT_TRUE(std::isnan(w.Mean()));
  w.Add(1, 5);
  EXPECT_EQ(w.Mean(), 5);
  EXPECT_TRUE(std::isnan(w.Std()));
  EXPECT_TRUE(std::isnan(w.Slope()));
  w.Add(2, 7);
  EXPECT_DOUBLE_EQ(w.Slope(), 2);
  EXPECT_DOUBLE_EQ(w.Std(), std::sqrt(2.0));
  for (int t = 3; t < 20; ++t) w.Add(t, 42);  // Constant: std 0, slope 0.
  EXPECT_DOUBLE_EQ(w.Mean(), 42);
  EXPECT_DOUBLE_EQ(w.Std(), 0);
  EXPECT_DOUBLE_EQ(w.Slope(), 0);
}

TEST(FeatureSetTest, ComputesTheKindsFeaturesAndSkipsAbsentValues) {
  absl::StatusOr<AssetKind> kind = ParseAssetKind(R"({
    "kind": "k", "time": {"unit": "s", "period": 1},
    "channels": [{"name": "a", "min": -100, "max": 100},
                 {"name": "b", "min": -100, "max": 100, "required": false}],
    "features": [{"name": "a_mean", "channel": "a", "op": "mean", "window": 3},
                 {"name": "a_slope", "channel": "a", "op": "slope", "window": 3},
                 {"name": "b_std", "channel": "b", "op": "std", "window": 5}]})");
  ASSERT_TRUE(kind.ok()) << kind.status();
  FeatureSet set(*kind);
  set.Add({0, {1, std::nan("")}});
  set.Add({1, {2, 10}});
  set.Add({2, {3, std::nan("")}});
  set.Add({3, {7, 14}});
  const std::vector<double> v = set.Values();
  ASSERT_EQ(v.size(), 3u);
  EXPECT_DOUBLE_EQ(v[0], 4);               // Mean of 2, 3, 7.
  EXPECT_DOUBLE_EQ(v[1], 2.5);             // Slope of (1,2) (2,3) (3,7).
  EXPECT_DOUBLE_EQ(v[2], std::sqrt(8.0));  // Std of 10, 14 only.
}

}  // namespace
}  // namespace fleettwin::agent
