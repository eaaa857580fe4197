// Per-channel anomaly scores and drift detection. Each detector sees one channel's accepted
// values in order; none of them changes what is stored, they only flag.
#ifndef FLEETTWIN_AGENT_DETECTORS_H_
#define FLEETTWIN_AGENT_DETECTORS_H_

#include <cstddef>
#include <deque>

#include "fleettwin/agent/asset_kind.h"

namespace fleettwin::agent {

// A robust z-score of each new value against the channel's recent history, by median/MAD over a
// window or by an EWMA of level and absolute deviation (O(1)). A value scoring above the
// threshold is anomalous; with EWMA it enters the history clipped to the threshold, so a burst
// of outliers does not drag the baseline along.
class AnomalyDetector final {
 public:
  explicit AnomalyDetector(const AnomalySpec& spec);

  // Scores `value` against the history so far, then adds it. 0 during warm-up.
  double Update(double value);
  bool anomalous() const { return anomalous_; }
  double score() const { return score_; }

 private:
  double Scale(double level) const;

  AnomalySpec spec_;
  size_t seen_ = 0;
  double score_ = 0;
  bool anomalous_ = false;
  // Median/MAD.
  std::deque<double> window_;
  // EWMA.
  double alpha_;
  double level_ = 0;
  double abs_dev_ = 0;
};

// Two-sided Page-Hinkley test for a sustained shift of a channel's mean. The first `warmup`
// values fix the reference level and a robust scale; afterwards values are standardised with
// them. Once raised, the flag stays until Reset() (recalibration decides that).
class DriftDetector final {
 public:
  explicit DriftDetector(const DriftSpec& spec) : spec_(spec) {}

  // Adds a value; returns drifting().
  bool Update(double value);
  bool drifting() const { return drifting_; }
  // +1 for a rise, -1 for a fall, 0 while not drifting.
  int direction() const { return direction_; }
  // The larger of the two test statistics, in scale units.
  double statistic() const { return statistic_; }
  // Forgets everything, including the reference level.
  void Reset();

 private:
  DriftSpec spec_;
  std::deque<double> warmup_values_;
  bool ready_ = false;
  double reference_ = 0;
  double scale_ = 1;
  size_t n_ = 0;
  double mean_ = 0;    // Running mean of standardised values.
  double up_sum_ = 0;  // Page-Hinkley cumulative sums and their extremes.
  double up_min_ = 0;
  double down_sum_ = 0;
  double down_max_ = 0;
  double statistic_ = 0;
  bool drifting_ = false;
  int direction_ = 0;
};

}  // namespace fleettwin::agent

#endif  // FLEETTWIN_AGENT_DETECTORS_H_
