#include "fleettwin/agent/calibration.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <iterator>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "fleettwin/sim/distributions.h"
#include "json_depth.h"

namespace fleettwin::agent {
namespace {

using sim::GammaQuantile;
using sim::PoissonTwoSidedPValue;
using sim::StudentTQuantile;

constexpr double kInf = std::numeric_limits<double>::infinity();

// ---- JSON ----

using Json = nlohmann::json;

// Calibration records are flat: nesting beyond pairs in a list is refused before parsing.
constexpr int kMaxNesting = 3;

}  // namespace

double FailureProbabilityPerStep(double rate) { return -std::expm1(-rate); }

double RateFromFailureProbability(double probability) { return -std::log1p(-probability); }

// ---- FailureRateEstimator ----

absl::Status ValidateFailureRateOptions(const FailureRateOptions& options) {
  if (!(options.prior_shape > 0) || !std::isfinite(options.prior_shape)) {
    return absl::InvalidArgumentError("prior_shape: must be finite and > 0");
  }
  if (!(options.prior_rate > 0) || !std::isfinite(options.prior_rate)) {
    return absl::InvalidArgumentError("prior_rate: must be finite and > 0");
  }
  if (!(options.forgetting > 0 && options.forgetting <= 1)) {
    return absl::InvalidArgumentError("forgetting: must be in (0, 1]");
  }
  return absl::OkStatus();
}

FailureRateEstimator::FailureRateEstimator(const FailureRateOptions& options) : options_(options) {
  assert(ValidateFailureRateOptions(options).ok());
}

absl::Status FailureRateEstimator::Observe(double exposure, int64_t failures) {
  if (!(exposure >= 0) || !std::isfinite(exposure)) {
    return absl::InvalidArgumentError(
        absl::StrCat("exposure must be finite and >= 0, got ", exposure));
  }
  if (failures < 0) {
    return absl::InvalidArgumentError(absl::StrCat("failures must be >= 0, got ", failures));
  }
  if (options_.forgetting < 1 && exposure > 0) {
    const double keep = std::pow(options_.forgetting, exposure);
    evidence_failures_ *= keep;
    evidence_exposure_ *= keep;
  }
  evidence_failures_ += static_cast<double>(failures);
  evidence_exposure_ += exposure;
  failures_ += failures;
  exposure_ += exposure;
  return absl::OkStatus();
}

double FailureRateEstimator::stddev() const { return std::sqrt(shape()) / rate(); }

Interval FailureRateEstimator::CredibleInterval(double level) const {
  assert(level > 0 && level < 1);
  const double tail = (1 - level) / 2;
  return {GammaQuantile(shape(), rate(), tail), GammaQuantile(shape(), rate(), 1 - tail)};
}

// ---- RepairTimeEstimator ----

absl::Status ValidateRepairTimeOptions(const RepairTimeOptions& options) {
  if (!(options.default_repair_time > 0) || !std::isfinite(options.default_repair_time)) {
    return absl::InvalidArgumentError("default_repair_time: must be finite and > 0");
  }
  if (options.max_support < 1) return absl::InvalidArgumentError("max_support: must be >= 1");
  return absl::OkStatus();
}

RepairTimeEstimator::RepairTimeEstimator(const RepairTimeOptions& options) : options_(options) {
  assert(ValidateRepairTimeOptions(options).ok());
}

absl::Status RepairTimeEstimator::Observe(double duration) {
  if (!(duration > 0) || !std::isfinite(duration)) {
    return absl::InvalidArgumentError(
        absl::StrCat("repair duration must be finite and > 0, got ", duration));
  }
  ++count_;
  const double n = static_cast<double>(count_);
  const double d = duration - mean_;
  mean_ += d / n;
  m2_ += d * (duration - mean_);
  const double log_duration = std::log(duration);
  const double dl = log_duration - log_mean_;
  log_mean_ += dl / n;
  log_m2_ += dl * (log_duration - log_mean_);

  support_[duration] += 1;
  if (support_.size() > options_.max_support) {
    // Merge the closest neighbours; their weighted mean lies strictly between them, so it cannot
    // collide with another kept duration.
    auto best = support_.begin();
    double best_gap = kInf;
    for (auto it = support_.begin(); std::next(it) != support_.end(); ++it) {
      const double gap = std::next(it)->first - it->first;
      if (gap < best_gap) {
        best_gap = gap;
        best = it;
      }
    }
    const auto second = std::next(best);
    const double weight = best->second + second->second;
    const double merged = (best->first * best->second + second->first * second->second) / weight;
    support_.erase(best, std::next(second));
    support_[merged] += weight;
  }
  return absl::OkStatus();
}

RepairTimeFit RepairTimeEstimator::Fit(double level) const {
  assert(level > 0 && level < 1);
  RepairTimeFit fit;
  fit.count = count_;
  if (count_ < 2) {
    fit.mean = options_.default_repair_time;
    fit.mean_ci = {fit.mean, fit.mean};
    fit.log_mu = std::log(fit.mean);
    return fit;
  }
  const double n = static_cast<double>(count_);
  fit.fitted = true;
  fit.mean = mean_;
  fit.stddev = std::sqrt(std::max(0.0, m2_) / (n - 1));
  fit.std_error = fit.stddev / std::sqrt(n);
  const double t = StudentTQuantile(count_ - 1, (1 + level) / 2);
  fit.mean_ci = {std::max(0.0, mean_ - t * fit.std_error), mean_ + t * fit.std_error};
  fit.log_mu = log_mean_;
  fit.log_sigma = std::sqrt(std::max(0.0, log_m2_) / n);
  return fit;
}

std::vector<std::pair<double, double>> RepairTimeEstimator::Distribution() const {
  std::vector<std::pair<double, double>> out;
  out.reserve(support_.size());
  const double total = static_cast<double>(count_);
  for (const auto& [value, weight] : support_) out.emplace_back(value, weight / total);
  return out;
}

double RepairTimeEstimator::Sample(double uniform01) const {
  if (support_.empty()) return options_.default_repair_time;
  const double u = std::isnan(uniform01) ? 0 : std::clamp(uniform01, 0.0, 1.0);
  const double target = u * static_cast<double>(count_);
  double cumulative = 0;
  for (const auto& [value, weight] : support_) {
    cumulative += weight;
    if (target < cumulative) return value;
  }
  return support_.rbegin()->first;  // u = 1, or rounding in the sum.
}

// ---- Calibration ----

std::string Calibration::Encode() const {
  Json distribution = Json::array();
  for (const auto& [value, probability] : repair_distribution) {
    distribution.push_back(Json::array({value, probability}));
  }
  // nlohmann::json keeps object keys sorted and prints the shortest round-trip form of a double.
  const Json doc = {
      {"exposure", exposure},
      {"failure_probability_per_step", failure_probability_per_step},
      {"failure_rate", failure_rate},
      {"failure_rate_ci_high", failure_rate_ci_high},
      {"failure_rate_ci_low", failure_rate_ci_low},
      {"failure_rate_std", failure_rate_std},
      {"failures", failures},
      {"level", level},
      {"posterior_rate", posterior_rate},
      {"posterior_shape", posterior_shape},
      {"repair_distribution", std::move(distribution)},
      {"repair_fitted", repair_fitted},
      {"repair_log_mu", repair_log_mu},
      {"repair_log_sigma", repair_log_sigma},
      {"repair_time_ci_high", repair_time_ci_high},
      {"repair_time_ci_low", repair_time_ci_low},
      {"repair_time_mean", repair_time_mean},
      {"repair_time_std", repair_time_std},
      {"repairs", repairs},
  };
  return doc.dump(-1, ' ', false, Json::error_handler_t::replace);
}

absl::StatusOr<Calibration> Calibration::Decode(std::string_view text) {
  constexpr size_t kMaxText = 1 << 20;  // Far above any max_support a twin would use.
  if (text.size() > kMaxText) return absl::InvalidArgumentError("calibration: too long");
  if (JsonNestedDeeperThan(text, kMaxNesting)) {
    return absl::InvalidArgumentError("calibration: nested too deeply");
  }
  const Json doc = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError("calibration: not a JSON object");
  }
  Calibration c;
  struct NumberField {
    const char* key;
    double* target;
  };
  const NumberField numbers[] = {
      {"exposure", &c.exposure},
      {"failure_probability_per_step", &c.failure_probability_per_step},
      {"failure_rate", &c.failure_rate},
      {"failure_rate_ci_high", &c.failure_rate_ci_high},
      {"failure_rate_ci_low", &c.failure_rate_ci_low},
      {"failure_rate_std", &c.failure_rate_std},
      {"level", &c.level},
      {"posterior_rate", &c.posterior_rate},
      {"posterior_shape", &c.posterior_shape},
      {"repair_log_mu", &c.repair_log_mu},
      {"repair_log_sigma", &c.repair_log_sigma},
      {"repair_time_ci_high", &c.repair_time_ci_high},
      {"repair_time_ci_low", &c.repair_time_ci_low},
      {"repair_time_mean", &c.repair_time_mean},
      {"repair_time_std", &c.repair_time_std},
  };
  constexpr size_t kKeys = std::size(numbers) + 4;  // + failures, repairs, fitted, distribution.
  if (doc.size() != kKeys) {
    return absl::InvalidArgumentError(
        absl::StrCat("calibration: expected ", kKeys, " keys, got ", doc.size()));
  }
  auto missing = [](const char* key) {
    return absl::InvalidArgumentError(absl::StrCat("calibration: ", key, ": missing or mistyped"));
  };
  for (const NumberField& field : numbers) {
    const auto it = doc.find(field.key);
    if (it == doc.end() || !it->is_number()) return missing(field.key);
    *field.target = it->get<double>();
    if (!std::isfinite(*field.target)) {
      return absl::InvalidArgumentError(absl::StrCat("calibration: ", field.key, ": not finite"));
    }
  }
  struct CountField {
    const char* key;
    int64_t* target;
  };
  for (const CountField& field : {CountField{"failures", &c.failures}, {"repairs", &c.repairs}}) {
    const char* key = field.key;
    const auto it = doc.find(key);
    if (it == doc.end() || !it->is_number_unsigned() ||
        it->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return absl::InvalidArgumentError(
          absl::StrCat("calibration: ", key, ": must be a non-negative integer"));
    }
    *field.target = static_cast<int64_t>(it->get<uint64_t>());
  }
  const auto fitted = doc.find("repair_fitted");
  if (fitted == doc.end() || !fitted->is_boolean()) return missing("repair_fitted");
  c.repair_fitted = fitted->get<bool>();
  const auto distribution = doc.find("repair_distribution");
  if (distribution == doc.end() || !distribution->is_array()) return missing("repair_distribution");
  for (const Json& pair : *distribution) {
    if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number() || !pair[1].is_number()) {
      return absl::InvalidArgumentError(
          "calibration: repair_distribution: entries must be [duration, probability]");
    }
    const double probability = pair[1].get<double>();
    if (!std::isfinite(pair[0].get<double>()) || !(probability >= 0 && probability <= 1)) {
      return absl::InvalidArgumentError(
          "calibration: repair_distribution: bad duration or probability");
    }
    c.repair_distribution.emplace_back(pair[0].get<double>(), probability);
  }
  if (!(c.level > 0 && c.level < 1)) {
    return absl::InvalidArgumentError("calibration: level: must be in (0, 1)");
  }
  if (c.exposure < 0) return absl::InvalidArgumentError("calibration: exposure: must be >= 0");
  return c;
}

// ---- ConveyorHistoryObserver ----

absl::Status ValidateConveyorHistoryOptions(const ConveyorHistoryOptions& options) {
  if (absl::Status s = ValidateFailureRateOptions(options.failure_rate); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("failure_rate.", s.message()));
  }
  if (absl::Status s = ValidateRepairTimeOptions(options.repair_time); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("repair_time.", s.message()));
  }
  if (!(options.level > 0 && options.level < 1)) {
    return absl::InvalidArgumentError("level: must be in (0, 1)");
  }
  if (!(options.max_gap > 0)) return absl::InvalidArgumentError("max_gap: must be > 0");
  return absl::OkStatus();
}

ConveyorHistoryObserver::ConveyorHistoryObserver(const ConveyorHistoryOptions& options)
    : options_(options), failure_rate_(options.failure_rate), repair_time_(options.repair_time) {
  assert(ValidateConveyorHistoryOptions(options).ok());
}

bool ConveyorHistoryObserver::Observe(double time, int state, bool failure_event) {
  if (!std::isfinite(time) || (has_previous_ && !(time > previous_time_)) ||
      (state != kConveyorWorking && state != kConveyorFailed && state != kConveyorRepairing)) {
    ++ignored_samples_;
    return false;
  }
  const bool working = state == kConveyorWorking;
  if (!has_previous_) {
    has_previous_ = true;
    spell_measurable_ = false;  // A history that starts mid-repair hides the spell's start.
  } else {
    const double dt = time - previous_time_;
    const bool was_working = previous_state_ == kConveyorWorking;
    if (dt > options_.max_gap) {
      // Unknown state in between: drop the interval whole. Dropping it whatever it holds keeps the
      // rate estimate unbiased; a spell touching it has an unknown length.
      spell_measurable_ = false;
    } else if (was_working) {
      const int64_t failed = (!working || failure_event) ? 1 : 0;
      // Both arguments are valid by construction.
      failure_rate_.Observe(dt, failed).IgnoreError();
      if (!working) {
        spell_start_ = time;
        spell_measurable_ = true;
      }
    } else if (working && spell_measurable_) {
      repair_time_.Observe(time - spell_start_).IgnoreError();
    }
  }
  previous_time_ = time;
  previous_state_ = state;
  return true;
}

Calibration ConveyorHistoryObserver::Snapshot() const {
  Calibration c;
  c.level = options_.level;
  c.failure_rate = failure_rate_.mean();
  c.failure_rate_std = failure_rate_.stddev();
  const Interval rate_ci = failure_rate_.CredibleInterval(options_.level);
  c.failure_rate_ci_low = rate_ci.low;
  c.failure_rate_ci_high = rate_ci.high;
  c.posterior_shape = failure_rate_.shape();
  c.posterior_rate = failure_rate_.rate();
  c.failure_probability_per_step = FailureProbabilityPerStep(c.failure_rate);
  const RepairTimeFit fit = repair_time_.Fit(options_.level);
  c.repair_fitted = fit.fitted;
  c.repair_time_mean = fit.mean;
  c.repair_time_std = fit.stddev;
  c.repair_time_ci_low = fit.mean_ci.low;
  c.repair_time_ci_high = fit.mean_ci.high;
  c.repair_log_mu = fit.log_mu;
  c.repair_log_sigma = fit.log_sigma;
  c.repair_distribution = repair_time_.Distribution();
  c.failures = failure_rate_.failures();
  c.repairs = repair_time_.count();
  c.exposure = failure_rate_.exposure();
  return c;
}

// ---- PredictionQualityTracker ----

absl::Status ValidatePredictionQualityOptions(const PredictionQualityOptions& options) {
  if (options.failure_window < 1) return absl::InvalidArgumentError("failure_window: must be >= 1");
  if (!(options.failure_block > 0) || !std::isfinite(options.failure_block)) {
    return absl::InvalidArgumentError("failure_block: must be finite and > 0");
  }
  if (!(options.rul_error_scale >= 0) || !std::isfinite(options.rul_error_scale)) {
    return absl::InvalidArgumentError("rul_error_scale: must be finite and >= 0");
  }
  if (options.rul_scale_samples < 1) {
    return absl::InvalidArgumentError("rul_scale_samples: must be >= 1");
  }
  if (!(options.clip > 0) || !std::isfinite(options.clip)) {
    return absl::InvalidArgumentError("clip: must be finite and > 0");
  }
  if (!(options.delta >= 0) || !std::isfinite(options.delta)) {
    return absl::InvalidArgumentError("delta: must be finite and >= 0");
  }
  if (!(options.lambda > options.clip - options.delta) || !std::isfinite(options.lambda)) {
    return absl::InvalidArgumentError("lambda: must be finite and > clip - delta");
  }
  return absl::OkStatus();
}

PredictionQualityTracker::PredictionQualityTracker(const PredictionQualityOptions& options)
    : options_(options) {
  assert(ValidatePredictionQualityOptions(options).ok());
  rul_scale_ = options_.rul_error_scale;
}

void PredictionQualityTracker::Feed(PageHinkley& test, double z) {
  const double clipped = std::clamp(z, -options_.clip, options_.clip);
  ++test.count;
  // The cumulative sum minus its running minimum (the minimum includes the empty sum), kept in
  // the equivalent recursive form.
  test.up = std::max(0.0, test.up + clipped - options_.delta);
  test.down = std::max(0.0, test.down - clipped - options_.delta);
  if (test.count >= options_.min_samples && test.Statistic() > options_.lambda) test.raised = true;
}

absl::Status PredictionQualityTracker::ObserveFailures(double expected, int64_t observed) {
  if (!(expected >= 0) || !std::isfinite(expected)) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected failures must be finite and >= 0, got ", expected));
  }
  if (observed < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("observed failures must be >= 0, got ", observed));
  }
  total_expected_ += expected;
  total_observed_ += observed;

  window_.emplace_back(expected, observed);
  window_expected_ += expected;
  window_observed_ += observed;
  if (window_.size() > options_.failure_window) {
    window_expected_ -= window_.front().first;
    window_observed_ -= window_.front().second;
    window_.pop_front();
    // Re-add from scratch now and then, so rounding in the running difference cannot build up.
    if (++pops_since_resum_ >= options_.failure_window) {
      pops_since_resum_ = 0;
      window_expected_ = 0;
      for (const auto& step : window_) window_expected_ += step.first;
    }
  }
  window_expected_ = std::max(0.0, window_expected_);

  block_expected_ += expected;
  block_observed_ += observed;
  ++block_steps_;
  if (block_expected_ >= options_.failure_block || block_steps_ >= options_.failure_window) {
    const double o = static_cast<double>(block_observed_);
    if (block_expected_ > 0) {
      Feed(failure_test_, (o - block_expected_) / std::sqrt(block_expected_));
    } else if (block_observed_ > 0) {
      Feed(failure_test_, options_.clip);  // Failures where none were predicted at all.
    }
    block_expected_ = 0;
    block_observed_ = 0;
    block_steps_ = 0;
  }
  return absl::OkStatus();
}

void PredictionQualityTracker::FeedRul(double error) {
  // A perfect warm-up would give scale 0; any later error is then far out, as it should be.
  Feed(rul_test_, error / std::max(rul_scale_, std::numeric_limits<double>::min()));
}

absl::Status PredictionQualityTracker::ObserveRulError(double predicted, double actual) {
  if (!std::isfinite(predicted) || !std::isfinite(actual)) {
    return absl::InvalidArgumentError("RUL values must be finite");
  }
  const double error = predicted - actual;
  ++rul_count_;
  rul_sum_ += error;
  rul_sum_sq_ += error * error;
  if (rul_scale_ > 0) {
    FeedRul(error);
    return absl::OkStatus();
  }
  rul_pending_.push_back(error);
  if (rul_pending_.size() >= options_.rul_scale_samples) {
    double sum_sq = 0;
    for (const double e : rul_pending_) sum_sq += e * e;
    rul_scale_ = std::sqrt(sum_sq / static_cast<double>(rul_pending_.size()));
    if (!(rul_scale_ > 0)) rul_scale_ = std::numeric_limits<double>::min();
    for (const double e : rul_pending_) FeedRul(e);
    rul_pending_.clear();
  }
  return absl::OkStatus();
}

double PredictionQualityTracker::failure_z() const {
  if (!(window_expected_ > 0)) return 0;
  return (static_cast<double>(window_observed_) - window_expected_) / std::sqrt(window_expected_);
}

double PredictionQualityTracker::failure_p_value() const {
  return PoissonTwoSidedPValue(window_observed_, window_expected_);
}

double PredictionQualityTracker::rul_rmse() const {
  return rul_count_ == 0 ? 0 : std::sqrt(rul_sum_sq_ / static_cast<double>(rul_count_));
}

double PredictionQualityTracker::rul_bias() const {
  return rul_count_ == 0 ? 0 : rul_sum_ / static_cast<double>(rul_count_);
}

void PredictionQualityTracker::Reset() { *this = PredictionQualityTracker(options_); }

}  // namespace fleettwin::agent
