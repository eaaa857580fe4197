#include "fleettwin/agent/features.h"

#include <cmath>

namespace fleettwin::agent {

RollingWindow::RollingWindow(size_t capacity) : times_(capacity), values_(capacity) {}

void RollingWindow::Add(double time, double value) {
  const size_t capacity = times_.size();
  if (count_ == capacity) {
    // Drop the oldest from the sums.
    const double t = times_[head_] - t0_;
    const double x = values_[head_] - x0_;
    st_ -= t;
    sx_ -= x;
    stt_ -= t * t;
    sxx_ -= x * x;
    stx_ -= t * x;
  } else {
    ++count_;
  }
  if (count_ == 1) {
    t0_ = time;
    x0_ = value;
  }
  times_[head_] = time;
  values_[head_] = value;
  head_ = (head_ + 1) % capacity;
  const double t = time - t0_;
  const double x = value - x0_;
  st_ += t;
  sx_ += x;
  stt_ += t * t;
  sxx_ += x * x;
  stx_ += t * x;
  if (++since_rebuild_ >= capacity) Rebuild();
}

void RollingWindow::Rebuild() {
  since_rebuild_ = 0;
  const size_t capacity = times_.size();
  const size_t oldest = (head_ + capacity - count_) % capacity;
  t0_ = times_[oldest];
  x0_ = values_[oldest];
  st_ = sx_ = stt_ = sxx_ = stx_ = 0;
  for (size_t k = 0; k < count_; ++k) {
    const size_t i = (oldest + k) % capacity;
    const double t = times_[i] - t0_;
    const double x = values_[i] - x0_;
    st_ += t;
    sx_ += x;
    stt_ += t * t;
    sxx_ += x * x;
    stx_ += t * x;
  }
}

double RollingWindow::Mean() const {
  if (count_ == 0) return std::nan("");
  return x0_ + sx_ / static_cast<double>(count_);
}

double RollingWindow::Std() const {
  if (count_ < 2) return std::nan("");
  const double n = static_cast<double>(count_);
  const double var = (sxx_ - sx_ * sx_ / n) / (n - 1);
  return std::sqrt(std::max(0.0, var));
}

double RollingWindow::Slope() const {
  if (count_ < 2) return std::nan("");
  const double n = static_cast<double>(count_);
  const double denom = stt_ - st_ * st_ / n;
  if (!(denom > 1e-12 * std::max(1.0, stt_))) return std::nan("");
  return (stx_ - st_ * sx_ / n) / denom;
}

FeatureSet::FeatureSet(const AssetKind& kind) : kind_(kind) {
  for (const FeatureSpec& f : kind.features) {
    channel_of_.push_back(*kind.ChannelIndex(f.channel));  // Checked when the kind was loaded.
    windows_.emplace_back(f.window);
  }
}

void FeatureSet::Add(const Sample& sample) {
  for (size_t i = 0; i < windows_.size(); ++i) {
    const double value = sample.values[channel_of_[i]];
    if (!std::isnan(value)) windows_[i].Add(sample.time, value);
  }
}

std::vector<double> FeatureSet::Values() const {
  std::vector<double> out;
  ValuesInto(out);
  return out;
}

void FeatureSet::ValuesInto(std::vector<double>& out) const {
  out.resize(windows_.size());
  for (size_t i = 0; i < windows_.size(); ++i) {
    switch (kind_.features[i].op) {
      case FeatureOp::kMean:
        out[i] = windows_[i].Mean();
        break;
      case FeatureOp::kStd:
        out[i] = windows_[i].Std();
        break;
      case FeatureOp::kSlope:
        out[i] = windows_[i].Slope();
        break;
    }
  }
}

}  // namespace fleettwin::agent
