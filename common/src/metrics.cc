#include "fleettwin/common/metrics.h"

#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"

namespace fleettwin {
namespace {

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.9g", value);
  return buffer;
}

// Label values escape backslash, double quote and newline.
void AppendEscaped(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(bounds_.size() + 1) {}

std::vector<double> Histogram::LatencyBounds() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,    0.1,    0.25,    0.5,    1,     2.5,    5,     10};
}

void Histogram::Observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  if (value > 0 && std::isfinite(value)) {
    sum_micros_.fetch_add(static_cast<uint64_t>(std::llround(value * 1e6)),
                          std::memory_order_relaxed);
  }
}

uint64_t Histogram::cumulative(size_t i) const {
  uint64_t total = 0;
  for (size_t b = 0; b <= i && b < buckets_.size(); ++b) {
    total += buckets_[b].load(std::memory_order_relaxed);
  }
  return total;
}

double Histogram::sum() const {
  return static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6;
}

void PrometheusWriter::Family(std::string_view name, std::string_view type, std::string_view help) {
  // Debian's Abseil has its own string_view: append std::string_view pieces directly.
  text_.append("# HELP ").append(name).append(" ");
  for (char c : help) text_ += c == '\n' ? ' ' : c;
  text_.append("\n# TYPE ").append(name).append(" ").append(type).append("\n");
}

void PrometheusWriter::Sample(std::string_view name, const MetricLabels& labels, double value) {
  text_.append(name);
  if (!labels.empty()) {
    text_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) text_ += ',';
      text_.append(labels[i].first);
      text_ += "=\"";
      AppendEscaped(text_, labels[i].second);
      text_ += '"';
    }
    text_ += '}';
  }
  absl::StrAppend(&text_, " ", FormatValue(value), "\n");
}

void PrometheusWriter::Histogram(std::string_view name, const MetricLabels& labels,
                                 const fleettwin::Histogram& histogram) {
  const std::string base(name);
  const std::string bucket = base + "_bucket";
  // Read the buckets once, so le="+Inf" and _count agree within one scrape.
  uint64_t running = 0;
  for (size_t i = 0; i <= histogram.bounds().size(); ++i) {
    running = histogram.cumulative(i);
    const std::string le =
        i < histogram.bounds().size() ? FormatValue(histogram.bounds()[i]) : "+Inf";
    MetricLabels with_le = labels;
    with_le.emplace_back("le", le);
    Sample(bucket, with_le, static_cast<double>(running));
  }
  Sample(base + "_sum", labels, histogram.sum());
  Sample(base + "_count", labels, static_cast<double>(running));
}

}  // namespace fleettwin
