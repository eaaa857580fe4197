// Prometheus text exposition (format 0.0.4) for the processes' /metrics endpoints: a latency
// histogram that is cheap to observe from a hot path, and a writer that gets the HELP/TYPE
// lines, label escaping and number formatting right once.
#ifndef FLEETTWIN_COMMON_METRICS_H_
#define FLEETTWIN_COMMON_METRICS_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fleettwin {

// A histogram with fixed upper bounds. Observe() is lock-free and safe from any thread;
// a scrape may see an observation in the count a moment before it is in the sum.
class Histogram final {
 public:
  // `bounds`: strictly increasing upper bounds (the +Inf bucket is implicit).
  explicit Histogram(std::vector<double> bounds);
  // Bounds from 50 µs to 10 s, for durations in seconds.
  static std::vector<double> LatencyBounds();

  void Observe(double value);

  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative count of observations <= bounds()[i]; i == bounds().size() is +Inf (= count).
  uint64_t cumulative(size_t i) const;
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const;

 private:
  const std::vector<double> bounds_;
  std::vector<std::atomic<uint64_t>> buckets_;  // Per bucket (not cumulative); last is +Inf.
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micros_{0};  // Sum in millionths, so it can be an atomic integer.
};

using MetricLabels = std::vector<std::pair<std::string_view, std::string_view>>;

// Appends metric families to a text body. Write each family's samples right after its header.
class PrometheusWriter final {
 public:
  // type: "counter", "gauge" or "histogram".
  void Family(std::string_view name, std::string_view type, std::string_view help);
  void Sample(std::string_view name, const MetricLabels& labels, double value);
  void Sample(std::string_view name, double value) { Sample(name, {}, value); }
  // The _bucket, _sum and _count samples of `histogram`.
  void Histogram(std::string_view name, const MetricLabels& labels,
                 const fleettwin::Histogram& histogram);

  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

}  // namespace fleettwin

#endif  // FLEETTWIN_COMMON_METRICS_H_
