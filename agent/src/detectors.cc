#include "fleettwin/agent/detectors.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace fleettwin::agent {
namespace {

// Median of `v` (reorders it). REQUIRES: !v.empty().
double Median(std::vector<double>& v) {
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  double m = v[mid];
  if (v.size() % 2 == 0) {
    m = (m + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid))) / 2;
  }
  return m;
}

// 1.4826 * MAD estimates a normal standard deviation; a constant channel has none, so a floor
// relative to its level keeps scores finite (any change of it is then a large score).
double ScaleFloor(double level) { return 1e-6 * std::max(1.0, std::abs(level)); }

}  // namespace

AnomalyDetector::AnomalyDetector(const AnomalySpec& spec)
    : spec_(spec), alpha_(2.0 / (static_cast<double>(spec.window) + 1.0)) {}

double AnomalyDetector::Update(double value) {
  score_ = 0;
  anomalous_ = false;
  if (spec_.method == AnomalyMethod::kMedianMad) {
    if (window_.size() >= std::max<size_t>(spec_.warmup, 3)) {
      std::vector<double> v(window_.begin(), window_.end());
      const double median = Median(v);
      for (double& x : v) x = std::abs(x - median);
      const double scale = std::max(1.4826 * Median(v), ScaleFloor(median));
      score_ = std::abs(value - median) / scale;
      anomalous_ = score_ > spec_.threshold;
    }
    window_.push_back(value);
    if (window_.size() > spec_.window) window_.pop_front();
    ++seen_;
    return score_;
  }
  // EWMA of level and of absolute deviation; sqrt(pi/2) * mean |dev| estimates a normal sigma.
  if (seen_ == 0) {
    level_ = value;
    abs_dev_ = 0;
  } else {
    const double scale = std::max(1.2533 * abs_dev_, ScaleFloor(level_));
    const double deviation = value - level_;
    if (seen_ >= spec_.warmup) {
      score_ = std::abs(deviation) / scale;
      anomalous_ = score_ > spec_.threshold;
    }
    const double limit = spec_.threshold * scale;
    const double clipped = seen_ >= spec_.warmup ? std::clamp(deviation, -limit, limit) : deviation;
    level_ += alpha_ * clipped;
    abs_dev_ += alpha_ * (std::abs(clipped) - abs_dev_);
  }
  ++seen_;
  return score_;
}

bool DriftDetector::Update(double value) {
  if (!ready_) {
    warmup_values_.push_back(value);
    if (warmup_values_.size() < spec_.warmup) return drifting_;
    std::vector<double> v(warmup_values_.begin(), warmup_values_.end());
    reference_ = Median(v);
    for (double& x : v) x = std::abs(x - reference_);
    scale_ = std::max(1.4826 * Median(v), ScaleFloor(reference_));
    warmup_values_.clear();
    ready_ = true;
    return drifting_;
  }
  const double z = (value - reference_) / scale_;
  ++n_;
  mean_ += (z - mean_) / static_cast<double>(n_);
  up_sum_ += z - mean_ - spec_.delta;
  up_min_ = std::min(up_min_, up_sum_);
  down_sum_ += z - mean_ + spec_.delta;
  down_max_ = std::max(down_max_, down_sum_);
  const double up = up_sum_ - up_min_;
  const double down = down_max_ - down_sum_;
  statistic_ = std::max(up, down);
  if (!drifting_ && statistic_ > spec_.lambda) {
    drifting_ = true;
    direction_ = up >= down ? 1 : -1;
  }
  return drifting_;
}

void DriftDetector::Reset() { *this = DriftDetector(spec_); }

}  // namespace fleettwin::agent
