#include "fleettwin/agent/twin.h"

#include <cmath>

#include <nlohmann/json.hpp>

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

Twin::Twin(const AssetKind& kind, std::string asset) : kind_(kind), features_(kind) {
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
  for (const HealthSpec& spec : kind.health) {
    if (std::optional<size_t> f = kind.FeatureIndex(spec.source)) {
      health_source_.push_back({true, *f});
    } else if (std::optional<size_t> c = kind.ChannelIndex(spec.source)) {
      health_source_.push_back({false, *c});
    } else {
      health_source_.push_back({false, kNoSource});
    }
  }
}

uint64_t Twin::Apply(const TwinChange& change) {
  if (const Sample* sample = std::get_if<Sample>(&change)) {
    ApplySample(*sample);
  } else if (const DesiredChange* desired = std::get_if<DesiredChange>(&change)) {
    state_.desired[desired->name] = desired->value;
  } else if (const MaintenanceRecord* m = std::get_if<MaintenanceRecord>(&change)) {
    state_.maintenance.push_back(*m);
  } else {
    state_.model_version = std::get<ModelVersionChange>(change).version;
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
  for (size_t h = 0; h < kind_.health.size(); ++h) {
    const HealthSpec& spec = kind_.health[h];
    const HealthSource source = health_source_[h];
    double value = std::nan("");
    if (source.index != kNoSource) {
      value = source.feature ? state_.features[source.index] : state_.reported[source.index];
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
    maintenance.push_back({{"time", Number(m.time)}, {"note", m.note}, {"author", m.author}});
  }
  doc["maintenance"] = maintenance;
  return doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace fleettwin::agent
