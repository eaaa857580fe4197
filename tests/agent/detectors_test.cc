#include "fleettwin/agent/detectors.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace fleettwin::agent {
namespace {

// Gaussian noise with spikes at known places: each method flags the spikes and almost nothing
// else.
void ExpectSpikesFound(AnomalyMethod method) {
  AnomalySpec spec;
  spec.method = method;
  spec.window = 50;
  spec.threshold = 6;
  spec.warmup = 20;
  const std::set<int> spikes = {300, 301, 302, 650, 900};
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    AnomalyDetector detector(spec);
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> noise(0, 1);
    int false_alarms = 0;
    for (int i = 0; i < 1000; ++i) {
      const double x = 100 + noise(rng) + (spikes.count(i) ? 15.0 : 0.0);
      detector.Update(x);
      if (spikes.count(i)) {
        EXPECT_TRUE(detector.anomalous())
            << "seed " << seed << " spike at " << i << " score " << detector.score();
      } else if (detector.anomalous()) {
        ++false_alarms;
      }
    }
    EXPECT_LE(false_alarms, 2) << "seed " << seed;
  }
}

TEST(AnomalyDetectorTest, EwmaFindsSpikes) { ExpectSpikesFound(AnomalyMethod::kEwma); }
TEST(AnomalyDetectorTest, MedianMadFindsSpikes) { ExpectSpikesFound(AnomalyMethod::kMedianMad); }

TEST(AnomalyDetectorTest, NoScoresDuringWarmupAndConstantChannelsStayFinite) {
  AnomalySpec spec;
  spec.warmup = 10;
  AnomalyDetector d(spec);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(d.Update(i % 2 ? 1000 : -1000), 0);
  AnomalyDetector constant(spec);
  for (int i = 0; i < 100; ++i) constant.Update(14.62);
  EXPECT_FALSE(constant.anomalous());
  constant.Update(14.63);  // Any change of a constant sensor stands out.
  EXPECT_TRUE(constant.anomalous());
  EXPECT_TRUE(std::isfinite(constant.score()));
}

// A shift of the mean at a known point, over 20 seeds: detected soon after it, never before.
TEST(DriftDetectorTest, FindsAKnownChangePointInBothDirections) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    for (const double shift : {+2.0, -2.0}) {
      DriftSpec spec;
      spec.delta = 0.25;
      spec.lambda = 50;
      spec.warmup = 50;
      DriftDetector d(spec);
      std::mt19937_64 rng(seed);
      std::normal_distribution<double> noise(0, 3);
      int detected_at = -1;
      for (int i = 0; i < 2000; ++i) {
        const double x = 500 + noise(rng) + (i >= 1000 ? shift * 3 : 0);  // A 2-sigma shift.
        if (d.Update(x) && detected_at < 0) detected_at = i;
      }
      ASSERT_GE(detected_at, 1000) << "false alarm, seed " << seed << " shift " << shift;
      EXPECT_LT(detected_at, 1060) << "seed " << seed << " shift " << shift;
      EXPECT_EQ(d.direction(), shift > 0 ? 1 : -1);
      d.Reset();
      EXPECT_FALSE(d.drifting());
    }
  }
}

TEST(DriftDetectorTest, StationarySeriesRaisesNoFlag) {
  DriftSpec spec;
  spec.delta = 0.25;
  spec.lambda = 50;
  DriftDetector d(spec);
  std::mt19937_64 rng(8);
  std::normal_distribution<double> noise(0, 1);
  for (int i = 0; i < 20000; ++i) d.Update(noise(rng));
  EXPECT_FALSE(d.drifting()) << d.statistic();
}

}  // namespace
}  // namespace fleettwin::agent
