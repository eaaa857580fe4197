// Calibration of the what-if simulator from an asset's observed history, and online tracking of
// how well the twin's predictions match what then happens:
// - FailureRateEstimator: conjugate Gamma-Poisson posterior of a failure rate;
// - RepairTimeEstimator: lognormal fit, mean with a confidence interval and an empirical
//   distribution of repair durations;
// - ConveyorHistoryObserver: turns the conveyor belt's (time, state) samples into evidence for
//   both and snapshots a Calibration, the value the twin ledgers as a twin update;
// - PredictionQualityTracker: predicted vs observed failures and RUL errors, with a latched drift
//   flag raised by a sustained mismatch.
// Pure computation: no I/O, no threads, no clock and no randomness of its own (sampling takes the
// caller's uniform variate). Not thread-safe; each object belongs to one twin. Leaves out the
// ledgering itself, running the simulator and the failure model. See docs/calibration.md.
#ifndef FLEETTWIN_AGENT_CALIBRATION_H_
#define FLEETTWIN_AGENT_CALIBRATION_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fleettwin/sim/distributions.h"

namespace fleettwin::agent {

// The distribution functions behind the estimators (GammaQuantile, StudentTQuantile,
// PoissonTwoSidedPValue, ...) are in fleettwin/sim/distributions.h.

// The probability that a unit with constant failure hazard `rate` (per time unit) fails within
// one time unit: 1 - exp(-rate), what a per-step simulator uses for such a unit. (For a process
// that is itself one Bernoulli draw per step, the rate estimate is already that probability; see
// docs/calibration.md.)
double FailureProbabilityPerStep(double rate);
// The inverse: -log(1 - probability).
double RateFromFailureProbability(double probability);

struct Interval {
  double low = 0;
  double high = 0;
  bool operator==(const Interval&) const = default;
};

// ---- Failure rate ----

struct FailureRateOptions {
  // Prior Gamma(shape, rate) of the failure rate λ, in failures per time unit at risk. The default
  // weighs like half a failure in 50 units: mean 0.01, coefficient of variation 1.41. It is
  // proper (the posterior always exists) and weak: a few hundred units of history outweigh it.
  double prior_shape = 0.5;
  double prior_rate = 50.0;
  // Weight kept by evidence per time unit at risk, in (0, 1]: evidence `t` units of exposure old
  // counts forgetting^t, so the estimate follows a changing rate with a memory of about
  // 1 / (1 - forgetting) units. 1 keeps all evidence. The prior is never forgotten.
  double forgetting = 1.0;
};

// InvalidArgument naming the field unless prior_shape > 0, prior_rate > 0 (both finite) and
// 0 < forgetting <= 1.
absl::Status ValidateFailureRateOptions(const FailureRateOptions& options);

// Conjugate Gamma-Poisson estimate of a constant failure rate: failures in exposure time t are
// Poisson(λ t), so the posterior after k failures in T units is Gamma(α0 + k, β0 + T).
class FailureRateEstimator final {
 public:
  // REQUIRES: ValidateFailureRateOptions(options).ok().
  explicit FailureRateEstimator(const FailureRateOptions& options = {});

  // Adds `failures` failures seen during `exposure` time units at risk (working time, not repair
  // time); older evidence is first discounted by forgetting^exposure. InvalidArgument, with nothing
  // changed, for a negative or non-finite exposure or negative failures.
  absl::Status Observe(double exposure, int64_t failures);

  // The posterior Gamma(shape, rate); equal to the prior before any evidence.
  double shape() const { return options_.prior_shape + evidence_failures_; }
  double rate() const { return options_.prior_rate + evidence_exposure_; }
  double mean() const { return shape() / rate(); }
  double stddev() const;
  // Equal-tailed credible interval holding `level` of the posterior mass (e.g. 0.95).
  // REQUIRES: 0 < level < 1.
  Interval CredibleInterval(double level) const;

  // Totals since construction, not discounted.
  int64_t failures() const { return failures_; }
  double exposure() const { return exposure_; }

 private:
  FailureRateOptions options_;
  double evidence_failures_ = 0;  // Discounted.
  double evidence_exposure_ = 0;  // Discounted.
  int64_t failures_ = 0;
  double exposure_ = 0;
};

// ---- Repair time ----

struct RepairTimeOptions {
  double default_repair_time = 1.0;  // Reported until two repairs were seen. > 0.
  // Distinct durations kept by the empirical distribution; past that, the two closest neighbours
  // merge into their weighted mean, so memory stays bounded and integer durations stay exact.
  size_t max_support = 64;
};

// InvalidArgument naming the field unless default_repair_time is finite and > 0 and
// max_support >= 1.
absl::Status ValidateRepairTimeOptions(const RepairTimeOptions& options);

struct RepairTimeFit {
  bool fitted = false;  // At least two repairs; otherwise the fields below hold the default.
  int64_t count = 0;
  double mean = 0;       // Sample mean.
  double stddev = 0;     // Sample standard deviation (n - 1 denominator).
  double std_error = 0;  // Of the mean: stddev / sqrt(n).
  Interval mean_ci;      // Student-t interval for the mean, clamped at 0.
  double log_mu = 0;     // Lognormal maximum likelihood: mean of log durations,
  double log_sigma = 0;  // and their standard deviation with the n denominator.
};

// Fits the distribution of repair durations.
class RepairTimeEstimator final {
 public:
  // REQUIRES: ValidateRepairTimeOptions(options).ok().
  explicit RepairTimeEstimator(const RepairTimeOptions& options = {});

  // Adds one repair duration. InvalidArgument, with nothing changed, unless it is finite and > 0
  // (a lognormal needs positive values).
  absl::Status Observe(double duration);

  // The fit, with the mean's interval at confidence `level`. REQUIRES: 0 < level < 1.
  RepairTimeFit Fit(double level) const;
  int64_t count() const { return count_; }

  // The empirical distribution: distinct durations in increasing order with their probabilities
  // (summing to 1). Empty before the first repair.
  std::vector<std::pair<double, double>> Distribution() const;
  // A draw from the empirical distribution by inverting its CDF at `uniform01` (clamped to
  // [0, 1)); the default repair time before the first repair. Randomness stays with the caller.
  double Sample(double uniform01) const;

 private:
  RepairTimeOptions options_;
  int64_t count_ = 0;
  double mean_ = 0;  // Welford accumulators of the durations and of their logarithms.
  double m2_ = 0;
  double log_mean_ = 0;
  double log_m2_ = 0;
  std::map<double, double> support_;  // Duration -> number of repairs (merged ones add up).
};

// ---- The calibration record ----

// The simulator's parameters estimated from history, with their uncertainty. A plain value; each
// recalibration is ledgered as Encode().
struct Calibration {
  double level = 0.95;  // Of both intervals below.
  // Failure rate λ in failures per time unit at risk: posterior mean, standard deviation, equal-
  // tailed credible interval, and the posterior Gamma(shape, rate) itself.
  double failure_rate = 0;
  double failure_rate_std = 0;
  double failure_rate_ci_low = 0;
  double failure_rate_ci_high = 0;
  double posterior_shape = 0;
  double posterior_rate = 0;
  // 1 - exp(-failure_rate): the probability of failing within one time unit of work.
  double failure_probability_per_step = 0;
  // Repair time: see RepairTimeFit; `repair_fitted` false means the defaults are reported.
  bool repair_fitted = false;
  double repair_time_mean = 0;
  double repair_time_std = 0;
  double repair_time_ci_low = 0;
  double repair_time_ci_high = 0;
  double repair_log_mu = 0;
  double repair_log_sigma = 0;
  // Empirical repair-time distribution: (duration, probability), durations increasing.
  std::vector<std::pair<double, double>> repair_distribution;
  // Evidence behind the estimates, not discounted.
  int64_t failures = 0;
  int64_t repairs = 0;
  double exposure = 0;

  bool operator==(const Calibration&) const = default;

  // A compact JSON object with sorted keys and round-trip number formatting, so equal values give
  // equal bytes and Decode(Encode()) == *this. REQUIRES: finite numbers (JSON has no others).
  std::string Encode() const;
  // Parses Encode()'s format strictly. InvalidArgument for anything else: bad JSON, a missing,
  // unknown or mistyped key, a negative count, a level outside (0, 1), a malformed distribution.
  static absl::StatusOr<Calibration> Decode(std::string_view text);
};

// ---- Conveyor belt history ----

struct ConveyorHistoryOptions {
  FailureRateOptions failure_rate;
  RepairTimeOptions repair_time;
  double level = 0.95;  // Of the intervals in Snapshot(); in (0, 1).
  // Intervals between consecutive samples longer than this are no evidence (the state in between
  // is unknown): no exposure, no failure, and a repair spell touching one is not measured.
  double max_gap = std::numeric_limits<double>::infinity();
};

// InvalidArgument naming the field unless both estimators' options are valid, 0 < level < 1 and
// max_gap > 0.
absl::Status ValidateConveyorHistoryOptions(const ConveyorHistoryOptions& options);

// Conveyor belt states, as in kinds/conveyor-belt.json's `state` channel.
inline constexpr int kConveyorWorking = 0;
inline constexpr int kConveyorFailed = 1;
inline constexpr int kConveyorRepairing = 2;

// Extracts failure and repair evidence from the conveyor belt's samples, one at a time. A sample's
// state holds until the next sample: the time between a working sample and the next one is
// exposure; a working sample followed by a failed or repairing one is a failure; a spell of
// non-working samples that ends with a working one is a repair lasting from the spell's first
// sample to that working sample. Spells whose start was not seen (history starting mid-repair, a
// gap) are not measured.
class ConveyorHistoryObserver final {
 public:
  // REQUIRES: ValidateConveyorHistoryOptions(options).ok().
  explicit ConveyorHistoryObserver(const ConveyorHistoryOptions& options = {});

  // Adds a sample; `failure_event` is the optional `failure` channel (1 = the belt failed). It
  // only matters between two working samples, where it counts a failure repaired before the next
  // sample (a spell shorter than the sampling period; its duration is unknown). The `repair`
  // channel is implied by the return to working and not needed. Returns false and ignores the
  // sample for a non-finite time, a time not after the previous sample's, or an unknown state.
  bool Observe(double time, int state, bool failure_event = false);

  // The current calibration.
  Calibration Snapshot() const;

  const FailureRateEstimator& failure_rate() const { return failure_rate_; }
  const RepairTimeEstimator& repair_time() const { return repair_time_; }
  int64_t ignored_samples() const { return ignored_samples_; }

 private:
  ConveyorHistoryOptions options_;
  FailureRateEstimator failure_rate_;
  RepairTimeEstimator repair_time_;
  bool has_previous_ = false;
  double previous_time_ = 0;
  int previous_state_ = kConveyorWorking;
  double spell_start_ = 0;
  bool spell_measurable_ = false;  // The current non-working spell began at a seen transition.
  int64_t ignored_samples_ = 0;
};

// ---- Prediction quality ----

struct PredictionQualityOptions {
  // Steps (ObserveFailures calls) in the sliding window of the Poisson test.
  size_t failure_window = 1000;
  // Predicted failures per standardized failure error fed to the drift test: the steps are
  // grouped into blocks of this many expected failures (or failure_window steps, whichever comes
  // first) and each block gives (observed - expected) / sqrt(expected).
  double failure_block = 5.0;
  // Standard deviation of a calibrated predictor's RUL errors, e.g. the failure model's validation
  // RMSE. 0 learns it as the root mean square of the first `rul_scale_samples` errors (which then
  // enter the test too); a scale learned low makes false alarms likelier, so prefer giving it.
  double rul_error_scale = 0;
  size_t rul_scale_samples = 100;
  // Page-Hinkley test, per stream, on standardized errors clipped to ±clip. For calibrated
  // N(0, 1) errors the defaults raise a false alarm about once in 10^7 errors (2 of 200 runs of
  // 10^5 errors did), and they detect a sustained shift of one standard deviation after about
  // 32 errors on average.
  double clip = 4.0;       // > 0.
  double delta = 0.5;      // Tolerated shift per error, >= 0.
  double lambda = 16.0;    // Alarm threshold; > clip - delta, so no single error lifts a statistic
                           // at rest to the threshold.
  size_t min_samples = 5;  // Standardized errors a stream needs before it may raise drift.
};

// InvalidArgument naming the field unless the constraints noted above hold.
absl::Status ValidatePredictionQualityOptions(const PredictionQualityOptions& options);

// Tracks the twin's prediction quality as it lives: (a) predicted expected failures vs observed
// failures, (b) predicted vs later-revealed RUL, and (c) a latched drift flag. The drift test is
// Page-Hinkley with the reference mean fixed at 0: the errors are standardized against the
// prediction itself, so a calibrated predictor has mean 0, and a mismatch present from the first
// step is caught (the running-mean variant would absorb it).
class PredictionQualityTracker final {
 public:
  // REQUIRES: ValidatePredictionQualityOptions(options).ok().
  explicit PredictionQualityTracker(const PredictionQualityOptions& options = {});

  // One prediction step: the model expected `expected` failures (the sum of the per-step failure
  // probabilities it predicted) and `observed` happened. InvalidArgument, with nothing changed,
  // for a negative or non-finite expected value or negative observed.
  absl::Status ObserveFailures(double expected, int64_t observed);
  // ObserveFailures for one step with failure probability `probability`.
  absl::Status ObserveStep(double probability, bool failed) {
    return ObserveFailures(probability, failed ? 1 : 0);
  }
  // A predicted RUL and the true one, revealed later (the asset failed at T: the true RUL of a
  // prediction made at t is T - t). The error is predicted - actual: positive is optimistic.
  // Consecutive predictions of one unit have correlated errors; feed decorrelated ones (e.g. one
  // per unit and horizon) or expect more false alarms. InvalidArgument for non-finite values.
  absl::Status ObserveRulError(double predicted, double actual);

  // Failures in the sliding window.
  double window_expected() const { return window_expected_; }
  int64_t window_observed() const { return window_observed_; }
  // (observed - expected) / sqrt(expected) over the window; 0 with nothing expected.
  double failure_z() const;
  // PoissonTwoSidedPValue over the window.
  double failure_p_value() const;
  // Since construction or Reset().
  double total_expected() const { return total_expected_; }
  int64_t total_observed() const { return total_observed_; }

  int64_t rul_count() const { return rul_count_; }
  double rul_rmse() const;
  double rul_bias() const;  // Mean error.

  // Latched until Reset(): either stream's Page-Hinkley statistic exceeded lambda.
  bool drift() const { return failure_test_.raised || rul_test_.raised; }
  bool failure_drift() const { return failure_test_.raised; }
  bool rul_drift() const { return rul_test_.raised; }
  // Each stream's larger one-sided statistic, in standardized units.
  double failure_statistic() const { return failure_test_.Statistic(); }
  double rul_statistic() const { return rul_test_.Statistic(); }

  // Forgets everything (after a recalibration), including a learned RUL scale; keeps options.
  void Reset();

 private:
  struct PageHinkley {
    size_t count = 0;
    double up = 0;    // Cumulative sum of (z - delta) above its running minimum.
    double down = 0;  // Cumulative sum of (-z - delta) above its running minimum.
    bool raised = false;
    double Statistic() const { return up > down ? up : down; }
  };
  void Feed(PageHinkley& test, double z);
  void FeedRul(double error);

  PredictionQualityOptions options_;
  std::deque<std::pair<double, int64_t>> window_;
  double window_expected_ = 0;
  int64_t window_observed_ = 0;
  size_t pops_since_resum_ = 0;
  double total_expected_ = 0;
  int64_t total_observed_ = 0;
  double block_expected_ = 0;
  int64_t block_observed_ = 0;
  size_t block_steps_ = 0;
  int64_t rul_count_ = 0;
  double rul_sum_ = 0;
  double rul_sum_sq_ = 0;
  double rul_scale_ = 0;             // 0 until known.
  std::vector<double> rul_pending_;  // Errors waiting for the scale to be learned.
  PageHinkley failure_test_;
  PageHinkley rul_test_;
};

}  // namespace fleettwin::agent

#endif  // FLEETTWIN_AGENT_CALIBRATION_H_
