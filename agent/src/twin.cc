#include "fleettwin/agent/twin.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "fleettwin/agent/model_catalog.h"
#include "fleettwin/model/rul_model.h"

namespace fleettwin::agent {
namespace {

// NaN has no JSON spelling: it is written as null.
nlohmann::ordered_json Number(double v) {
  return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr);
}

HealthLevel Judge(const HealthSpec& spec, double value) {
  if (std::isnan(value)) return HealthLevel::kUnknown;
  const bool alarm = spec.above ? value >= spec.alarm : value <= spec.alarm;
  const bool warn = spec.above ? value >= spec.warn : value <= spec.warn;
  return alarm ? HealthLevel::kAlarm : warn ? HealthLevel::kWarn : HealthLevel::kOk;
}

}  // namespace

std::string_view HealthLevelName(HealthLevel level) {
  switch (level) {
    case HealthLevel::kUnknown:
      return "unknown";
    case HealthLevel::kOk:
      return "ok";
    case HealthLevel::kWarn:
      return "warn";
    case HealthLevel::kAlarm:
      return "alarm";
  }
  return "unknown";
}

Twin::~Twin() = default;

Twin::Twin(const AssetKind& kind, std::string asset, const model::RulModel* model,
           const ModelCatalog* catalog)
    : kind_(kind), features_(kind), base_model_(model), catalog_(catalog) {
  state_.asset = std::move(asset);
  state_.kind = kind.name;
  const size_t channels = kind.channels.size();
  state_.reported.assign(channels, std::nan(""));
  state_.features.assign(kind.features.size(), std::nan(""));
  state_.health_values.assign(kind.health.size(), std::nan(""));
  state_.health.assign(kind.health.size(), HealthLevel::kUnknown);
  state_.anomaly_scores.assign(channels, 0);
  state_.anomalous.assign(channels, false);
  state_.drifting.assign(channels, false);
  for (size_t i = 0; i < channels; ++i) {
    anomaly_.emplace_back(kind.anomaly);
    drift_.emplace_back(kind.drift);
  }
  using SourceKind = HealthSource::Kind;
  for (const HealthSpec& spec : kind.health) {
    if (std::optional<size_t> f = kind.FeatureIndex(spec.source)) {
      health_source_.push_back({SourceKind::kFeature, *f});
    } else if (std::optional<size_t> c = kind.ChannelIndex(spec.source)) {
      health_source_.push_back({SourceKind::kChannel, *c});
    } else if (spec.source == kRulSource) {
      health_source_.push_back({SourceKind::kRul, 0});
    } else if (spec.source == kFailureProbabilitySource) {
      health_source_.push_back({SourceKind::kFailureProbability, 0});
    } else {
      health_source_.push_back({SourceKind::kNone, 0});
    }
  }
  if (kind.simulator.model == SimulatorModel::kConveyor) {
    ConveyorHistoryOptions options;
    if (kind.simulator.calibration_memory > 0) {
      options.failure_rate.forgetting = 1 - 1 / kind.simulator.calibration_memory;
    }
    observer_ = std::make_unique<ConveyorHistoryObserver>(options);
    state_channel_ = kind.ChannelIndex(kind.simulator.state_channel).value_or(kNoSource);
    failure_channel_ = kind.ChannelIndex(kind.simulator.failure_channel).value_or(kNoSource);
  }
}

void Twin::UseModel(const model::RulModel* m) {
  model_ = nullptr;
  model_inputs_.clear();
  if (m == nullptr) return;
  for (const std::string& name : m->input_channels()) {
    std::optional<size_t> c = kind_.ChannelIndex(name);
    if (!c) {
      model_inputs_.clear();
      return;
    }
    model_inputs_.push_back(*c);
  }
  model_ = m;
}

std::optional<CalibrationChange> Twin::DueCalibration() const {
  if (observer_ == nullptr) return std::nullopt;
  // Drift (predictions persistently off) asks for a recalibration at once.
  if (state_.samples - samples_at_calibration_ < kind_.simulator.recalibrate_every &&
      !state_.quality.drift) {
    return std::nullopt;
  }
  const int64_t evidence = observer_->failure_rate().failures() + observer_->repair_time().count();
  if (evidence == evidence_at_calibration_) return std::nullopt;
  return CalibrationChange{observer_->Snapshot()};
}

void Twin::ObserveConveyor(const Sample& sample) {
  if (observer_ == nullptr || state_channel_ == kNoSource) return;
  const double state_value = sample.values[state_channel_];
  if (std::isnan(state_value)) return;
  // The kind bounds the channel; an out-of-range value still must not reach the int cast.
  const int belt_state = state_value >= -1 && state_value <= 3 ? static_cast<int>(state_value) : -1;
  const bool failure_event = failure_channel_ != kNoSource && sample.values[failure_channel_] == 1;
  // Prediction quality: over a working interval, the calibrated rate expected rate * dt
  // failures; a failure is a move out of working (or a failure event between working samples).
  if (state_.calibration && previous_state_ == kConveyorWorking && previous_time_ &&
      sample.time > *previous_time_) {
    const double expected = state_.calibration->failure_rate * (sample.time - *previous_time_);
    const bool failed = belt_state != kConveyorWorking || failure_event;
    if (tracker_.ObserveFailures(expected, failed ? 1 : 0).ok()) {
      state_.quality.expected_failures = tracker_.total_expected();
      state_.quality.observed_failures = tracker_.total_observed();
      state_.quality.failure_z = tracker_.failure_z();
      state_.quality.drift = tracker_.drift();
    }
  }
  observer_->Observe(sample.time, belt_state, failure_event);
  if (!previous_time_ || sample.time > *previous_time_) {
    previous_state_ = belt_state;
    previous_time_ = sample.time;
  }
}

void Twin::PredictRul(const Sample& sample) {
  if (model_ == nullptr) return;
  std::vector<double> row;
  row.reserve(model_inputs_.size());
  for (size_t c : model_inputs_) {
    if (std::isnan(sample.values[c])) return;  // An absent input: no new row.
    row.push_back(sample.values[c]);
  }
  model_rows_.push_back({sample.time, std::move(row)});
  while (model_rows_.size() > static_cast<size_t>(model_->window())) model_rows_.pop_front();
  EstimateRul(sample.time);
}

void Twin::EstimateRul(double time) {
  std::vector<std::vector<double>> rows;
  rows.reserve(model_rows_.size());
  for (const ModelRow& r : model_rows_) rows.push_back(r.values);
  absl::StatusOr<model::RulPrediction> p = model_->Predict(rows, std::max(0.0, time - life_start_));
  if (!p.ok()) return;
  state_.rul = RulEstimate{p->rul, p->rul_std, p->p_fail, p->horizon};
  rul_history_.emplace_back(time, p->rul);
  constexpr size_t kKeptPredictions = 512;
  while (rul_history_.size() > kKeptPredictions) rul_history_.pop_front();
}

// The asset failed at `failure_time`: every tenth kept prediction is scored against the RUL it
// should have given (capped as the model's target is), so the errors fed to the drift test are
// not the strongly correlated neighbours.
void Twin::ScoreRulPredictions(double failure_time) {
  if (model_ == nullptr) return;
  size_t i = 0;
  for (const auto& [time, predicted] : rul_history_) {
    if (time > failure_time || i++ % 10 != 0) continue;
    const double actual = std::min(model_->rul_cap(), failure_time - time);
    (void)tracker_.ObserveRulError(predicted, actual);
  }
  rul_history_.clear();
  state_.quality.rul_errors = tracker_.rul_count();
  state_.quality.rul_rmse = tracker_.rul_rmse();
  state_.quality.rul_bias = tracker_.rul_bias();
  state_.quality.drift = tracker_.drift();
}

uint64_t Twin::Apply(const TwinChange& change) {
  if (const Sample* sample = std::get_if<Sample>(&change)) {
    ApplySample(*sample);
  } else if (const DesiredChange* desired = std::get_if<DesiredChange>(&change)) {
    state_.desired[desired->name] = desired->value;
  } else if (const MaintenanceRecord* m = std::get_if<MaintenanceRecord>(&change)) {
    state_.maintenance.push_back(*m);
    if (m->note == kFailureNote) ScoreRulPredictions(m->time);
    // A renewal: the asset's age restarts at its time, and the rows up to it describe the life
    // it ended. The kept predictions are dropped: they were made for that life, or (a renewal
    // back-dated before later samples, e.g. an engine that joined the fleet part-way through
    // its life and is recorded as renewed before its telemetry began) with the wrong age, so a
    // later failure must not score them. The rows after it are kept and the estimate is
    // recomputed from them with the right age; without any, it is void until the next sample.
    // An inspection changes none of that.
    if (m->renews) {
      life_start_ = m->time;
      std::erase_if(model_rows_, [&](const ModelRow& r) { return r.time <= m->time; });
      rul_history_.clear();
      state_.rul.reset();
      if (!model_rows_.empty() && model_ != nullptr) EstimateRul(model_rows_.back().time);
    }
  } else if (const CalibrationChange* c = std::get_if<CalibrationChange>(&change)) {
    state_.calibration = c->calibration;
    ++state_.calibrations;
    samples_at_calibration_ = state_.samples;
    evidence_at_calibration_ = c->calibration.failures + c->calibration.repairs;
    // A recalibration answering drift starts a clean record; a routine one keeps counting, so
    // a slowly growing mismatch still adds up.
    if (state_.quality.drift) {
      ++state_.drift_recalibrations;
      tracker_.Reset();
      state_.quality = PredictionQuality{};
    }
  } else {
    state_.model_version = std::get<ModelVersionChange>(change).version;
    // Versions are hashed once here, not per sample (a version hashes every parameter).
    const model::RulModel* m = nullptr;
    if (base_model_ != nullptr && base_model_->version() == state_.model_version) {
      m = base_model_;
    } else if (catalog_ != nullptr) {
      m = catalog_->Find(state_.model_version);
    }
    UseModel(m);
    model_rows_.clear();
    rul_history_.clear();
    state_.rul.reset();
  }
  return ++state_.revision;
}

void Twin::ApplySample(const Sample& sample) {
  ++state_.samples;
  state_.last_time = sample.time;
  for (size_t i = 0; i < sample.values.size(); ++i) {
    const double v = sample.values[i];
    if (std::isnan(v)) continue;  // An optional channel that was absent.
    state_.reported[i] = v;
    state_.anomaly_scores[i] = anomaly_[i].Update(v);
    state_.anomalous[i] = anomaly_[i].anomalous();
    state_.drifting[i] = drift_[i].Update(v);
  }
  features_.Add(sample);
  features_.ValuesInto(state_.features);
  ObserveConveyor(sample);
  PredictRul(sample);  // Before the health indicators, which may judge its output.
  using SourceKind = HealthSource::Kind;
  for (size_t h = 0; h < kind_.health.size(); ++h) {
    const HealthSpec& spec = kind_.health[h];
    const HealthSource source = health_source_[h];
    double value = std::nan("");
    switch (source.kind) {
      case SourceKind::kFeature:
        value = state_.features[source.index];
        break;
      case SourceKind::kChannel:
        value = state_.reported[source.index];
        break;
      case SourceKind::kRul:
        if (state_.rul) value = state_.rul->rul;
        break;
      case SourceKind::kFailureProbability:
        if (state_.rul) value = state_.rul->p_fail;
        break;
      case SourceKind::kNone:
        break;
    }
    state_.health_values[h] = value;
    state_.health[h] = Judge(spec, value);
  }
}

std::string Twin::StateJson() const {
  nlohmann::ordered_json doc;
  doc["asset"] = state_.asset;
  doc["kind"] = state_.kind;
  doc["revision"] = state_.revision;
  doc["samples"] = state_.samples;
  doc["last_time"] = state_.last_time ? Number(*state_.last_time) : nullptr;
  nlohmann::ordered_json reported = nlohmann::ordered_json::object();
  nlohmann::ordered_json anomaly = nlohmann::ordered_json::object();
  nlohmann::ordered_json drifting = nlohmann::ordered_json::array();
  for (size_t i = 0; i < kind_.channels.size(); ++i) {
    const std::string& name = kind_.channels[i].name;
    reported[name] = Number(state_.reported[i]);
    anomaly[name] = {{"score", Number(state_.anomaly_scores[i])},
                     {"anomalous", static_cast<bool>(state_.anomalous[i])}};
    if (state_.drifting[i]) drifting.push_back(name);
  }
  doc["reported"] = reported;
  nlohmann::ordered_json features = nlohmann::ordered_json::object();
  for (size_t i = 0; i < kind_.features.size(); ++i) {
    features[kind_.features[i].name] = Number(state_.features[i]);
  }
  doc["features"] = features;
  nlohmann::ordered_json health = nlohmann::ordered_json::object();
  for (size_t i = 0; i < kind_.health.size(); ++i) {
    health[kind_.health[i].name] = {{"level", std::string(HealthLevelName(state_.health[i]))},
                                    {"value", Number(state_.health_values[i])}};
  }
  doc["health"] = health;
  doc["anomaly"] = anomaly;
  doc["drifting"] = drifting;
  nlohmann::ordered_json desired = nlohmann::ordered_json::object();
  for (const auto& [name, value] : state_.desired) desired[name] = Number(value);
  doc["desired"] = desired;
  doc["model_version"] = state_.model_version;
  nlohmann::ordered_json maintenance = nlohmann::ordered_json::array();
  for (const MaintenanceRecord& m : state_.maintenance) {
    nlohmann::ordered_json record = {
        {"time", Number(m.time)}, {"note", m.note}, {"author", m.author}, {"renews", m.renews}};
    if (!m.id.empty()) record["id"] = m.id;  // Records without one read as before.
    maintenance.push_back(std::move(record));
  }
  doc["maintenance"] = maintenance;
  if (state_.calibration) {
    const Calibration& c = *state_.calibration;
    doc["calibration"] = {
        {"count", state_.calibrations},
        {"after_drift", state_.drift_recalibrations},
        {"failure_rate", Number(c.failure_rate)},
        {"failure_rate_ci", {Number(c.failure_rate_ci_low), Number(c.failure_rate_ci_high)}},
        {"failure_probability_per_step", Number(c.failure_probability_per_step)},
        {"repair_time_mean", Number(c.repair_time_mean)},
        {"repair_time_ci", {Number(c.repair_time_ci_low), Number(c.repair_time_ci_high)}},
        {"repair_fitted", c.repair_fitted},
        {"level", Number(c.level)},
        {"failures", c.failures},
        {"repairs", c.repairs},
        {"exposure", Number(c.exposure)}};
  } else {
    doc["calibration"] = nullptr;
  }
  if (state_.rul) {
    doc["rul"] = {{"rul", Number(state_.rul->rul)},
                  {"rul_std", Number(state_.rul->rul_std)},
                  {"p_fail", Number(state_.rul->p_fail)},
                  {"horizon", state_.rul->horizon}};
  } else {
    doc["rul"] = nullptr;
  }
  const PredictionQuality& q = state_.quality;
  doc["prediction_quality"] = {{"expected_failures", Number(q.expected_failures)},
                               {"observed_failures", q.observed_failures},
                               {"failure_z", Number(q.failure_z)},
                               {"rul_errors", q.rul_errors},
                               {"rul_rmse", Number(q.rul_rmse)},
                               {"rul_bias", Number(q.rul_bias)},
                               {"drift", q.drift}};
  return doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace fleettwin::agent
