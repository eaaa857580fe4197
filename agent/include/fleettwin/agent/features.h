// Derived features of a twin: rolling mean, standard deviation and slope over the last N
// accepted values of a channel, updated in O(1) per value.
#ifndef FLEETTWIN_AGENT_FEATURES_H_
#define FLEETTWIN_AGENT_FEATURES_H_

#include <cstddef>
#include <vector>

#include "fleettwin/agent/asset_kind.h"
#include "fleettwin/agent/validation.h"

namespace fleettwin::agent {

// The last `capacity` (time, value) pairs and their running sums. Sums are kept relative to a
// shift (the oldest time and value at the last rebuild) and rebuilt from the buffer every
// `capacity` additions, so long runs and large timestamps cost no precision.
class RollingWindow final {
 public:
  // REQUIRES: capacity >= 2.
  explicit RollingWindow(size_t capacity);

  void Add(double time, double value);

  size_t size() const { return count_; }
  // Mean of the values held; NaN if none.
  double Mean() const;
  // Sample standard deviation (n - 1); NaN with fewer than 2 values.
  double Std() const;
  // Least-squares slope of value over time; NaN with fewer than 2 values or a single time.
  double Slope() const;

 private:
  void Rebuild();

  std::vector<double> times_;
  std::vector<double> values_;
  size_t head_ = 0;  // Next slot to write.
  size_t count_ = 0;
  size_t since_rebuild_ = 0;
  double t0_ = 0;  // Shifts.
  double x0_ = 0;
  double st_ = 0, sx_ = 0, stt_ = 0, sxx_ = 0, stx_ = 0;
};

// Every feature of a kind, fed with accepted samples. Not thread-safe.
class FeatureSet final {
 public:
  // `kind` must outlive this.
  explicit FeatureSet(const AssetKind& kind);

  // Adds the sample's values to the windows (absent optional channels are skipped).
  void Add(const Sample& sample);

  // One value per kind.features entry, in order; NaN while a window cannot say yet.
  std::vector<double> Values() const;
  void ValuesInto(std::vector<double>& out) const;  // Values() without an allocation.

 private:
  const AssetKind& kind_;
  std::vector<size_t> channel_of_;  // Channel index of each feature.
  std::vector<RollingWindow> windows_;
};

}  // namespace fleettwin::agent

#endif  // FLEETTWIN_AGENT_FEATURES_H_
