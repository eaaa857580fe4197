#include "fleettwin/common/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace fleettwin {
namespace {

TEST(HistogramTest, BucketsAreCumulativeAndInfCountsEverything) {
  Histogram h({0.1, 1, 10});
  for (double v : {0.05, 0.1, 0.5, 2.0, 20.0, 30.0}) h.Observe(v);
  EXPECT_EQ(h.cumulative(0), 2u);  // 0.05 and 0.1 (bounds are inclusive).
  EXPECT_EQ(h.cumulative(1), 3u);
  EXPECT_EQ(h.cumulative(2), 4u);
  EXPECT_EQ(h.cumulative(3), 6u);
  EXPECT_EQ(h.count(), 6u);
  EXPECT_NEAR(h.sum(), 52.65, 1e-6);
}

TEST(HistogramTest, ConcurrentObserversLoseNothing) {
  Histogram h(Histogram::LatencyBounds());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < 10000; ++i) h.Observe(0.001 * (t + 1));
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(h.count(), 40000u);
  EXPECT_EQ(h.cumulative(h.bounds().size()), 40000u);
  EXPECT_NEAR(h.sum(), 10000 * (0.001 + 0.002 + 0.003 + 0.004), 1e-6);
}

TEST(PrometheusWriterTest, WritesTheTextFormat) {
  PrometheusWriter w;
  w.Family("x_total", "counter", "Things.\nCounted.");
  w.Sample("x_total", {{"reason", "a\"b\\c\nd"}}, 3);
  w.Sample("x_total", 0.25);
  Histogram h({0.5});
  h.Observe(0.25);
  h.Observe(2);
  w.Family("lat_seconds", "histogram", "Latency.");
  w.Histogram("lat_seconds", {{"op", "append"}}, h);
  EXPECT_EQ(w.text(),
            "# HELP x_total Things. Counted.\n"
            "# TYPE x_total counter\n"
            "x_total{reason=\"a\\\"b\\\\c\\nd\"} 3\n"
            "x_total 0.25\n"
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{op=\"append\",le=\"0.5\"} 1\n"
            "lat_seconds_bucket{op=\"append\",le=\"+Inf\"} 2\n"
            "lat_seconds_sum{op=\"append\"} 2.25\n"
            "lat_seconds_count{op=\"append\"} 2\n");
}

}  // namespace
}  // namespace fleettwin
