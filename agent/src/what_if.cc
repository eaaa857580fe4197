#include "fleettwin/agent/what_if.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <variant>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace fleettwin::agent {
namespace {

using Json = nlohmann::ordered_json;

// The latest maintenance record that renewed the asset (inspections after it do not count).
const MaintenanceRecord* LastRenewal(const TwinState& state) {
  for (auto it = state.maintenance.rbegin(); it != state.maintenance.rend(); ++it) {
    if (it->renews) return &*it;
  }
  return nullptr;
}

absl::Status NotFinite(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(std::string(what), " must be a finite number"));
}

}  // namespace

std::optional<sim::ConveyorLive> LiveConveyorOf(const TwinState& state) {
  if (!state.calibration) return std::nullopt;
  return sim::ConveyorLive{.failure_rate = std::min(1.0, state.calibration->failure_rate),
                           .repair_time = state.calibration->repair_time_mean};
}

absl::StatusOr<sim::ConveyorQuestion> ConveyorQuestionFor(const AssetKind& kind,
                                                          const TwinState& state,
                                                          const ConveyorWhatIf& what_if) {
  if (kind.simulator.model != SimulatorModel::kConveyor) {
    return absl::InvalidArgumentError(
        absl::StrCat("kind '", kind.name, "' has no conveyor simulator"));
  }
  sim::ConveyorQuestion q;
  q.horizon = what_if.horizon;
  q.failure_before = what_if.failure_before;
  const Calibration* c = state.calibration ? &*state.calibration : nullptr;
  // The belt draws one failure chance per working unit, so failures per working unit — what the
  // calibration estimates — is that chance itself (docs/calibration.md).
  if (what_if.failure_rate) {
    if (!std::isfinite(*what_if.failure_rate) || *what_if.failure_rate < 0 ||
        *what_if.failure_rate > 1) {
      return absl::InvalidArgumentError("failure_rate must be in [0, 1]");
    }
    q.params.failure_rate = static_cast<float>(*what_if.failure_rate);
  } else if (c != nullptr) {
    q.params.failure_rate = static_cast<float>(LiveConveyorOf(state)->failure_rate);
    q.failure_rate_shape = c->posterior_shape;  // Carries the estimate's uncertainty along.
    q.live_failure_rate = true;
  } else {
    return absl::FailedPreconditionError(
        "the twin has no calibration yet: give failure_rate and repair_time");
  }
  if (what_if.repair_time) {
    q.params.repair_time = static_cast<float>(*what_if.repair_time);
  } else if (c != nullptr) {
    q.params.repair_time = static_cast<float>(LiveConveyorOf(state)->repair_time);
    q.live_repair_time = true;
  } else {
    return absl::FailedPreconditionError("the twin has no calibration yet: give repair_time");
  }
  if (what_if.capacity) {
    q.params.capacity = *what_if.capacity;
  } else {
    const std::optional<size_t> channel = kind.ChannelIndex(kind.simulator.capacity_channel);
    const double reported = channel ? state.reported[*channel] : std::nan("");
    if (std::isnan(reported)) {
      return absl::FailedPreconditionError("no capacity reported yet: give capacity");
    }
    q.params.capacity = static_cast<int>(std::clamp(reported, 0.0, 1e6));
  }
  return q;
}

absl::StatusOr<sim::TurbofanQuestion> TurbofanQuestionFor(const AssetKind& kind,
                                                          const TwinState& state,
                                                          const TurbofanWhatIf& what_if) {
  if (kind.simulator.model != SimulatorModel::kTurbofan) {
    return absl::InvalidArgumentError(
        absl::StrCat("kind '", kind.name, "' has no turbofan simulator"));
  }
  sim::TurbofanQuestion q;
  if (what_if.rul && what_if.rul_std) {
    q.params.rul_mean = *what_if.rul;
    q.params.rul_std = *what_if.rul_std;
  } else if (state.rul) {
    q.params.rul_mean = what_if.rul.value_or(state.rul->rul);
    q.params.rul_std = what_if.rul_std.value_or(state.rul->rul_std);
  } else if (const MaintenanceRecord* renewal = LastRenewal(state);
             renewal != nullptr && (!state.last_time || *state.last_time <= renewal->time)) {
    // Renewed and not run since: a new engine's life, the kind's renewed-life distribution
    // (the failure model has nothing to say until the next sample).
    q.params.rul_mean = what_if.rul.value_or(kind.simulator.renewed_life_mean);
    q.params.rul_std = what_if.rul_std.value_or(kind.simulator.renewed_life_std);
  } else {
    return absl::FailedPreconditionError(
        "the twin has no RUL estimate yet (no failure model loaded, or too few cycles): give "
        "rul and rul_std");
  }
  // A worn-out estimate of 0 still has a distribution: a life of at least a tenth of a cycle.
  q.params.rul_mean = std::max(q.params.rul_mean, 0.1);
  q.params.rul_std = std::max(q.params.rul_std, 0.1);
  q.params.maintenance_at = what_if.maintenance_at;
  q.params.maintenance_duration = what_if.maintenance_duration;
  q.params.repair_duration = what_if.repair_duration;
  q.params.renewed_life_mean = kind.simulator.renewed_life_mean;
  q.params.renewed_life_std = kind.simulator.renewed_life_std;
  q.horizon = what_if.horizon;
  q.failure_before = what_if.failure_before;
  q.failure_cost = what_if.failure_cost;
  q.preventive_cost = what_if.preventive_cost;
  q.wasted_life_cost = what_if.wasted_life_cost;
  return q;
}

namespace {

// Reads the request's fields strictly.
class Fields {
 public:
  explicit Fields(const Json& j) : j_(j) {}
  absl::Status OnlyKeys(std::initializer_list<std::string_view> keys) {
    for (const auto& [key, value] : j_.items()) {
      bool known = false;
      for (std::string_view k : keys) known = known || key == k;
      if (!known) return absl::InvalidArgumentError(absl::StrCat("unknown key '", key, "'"));
    }
    return absl::OkStatus();
  }
  absl::Status Number(const char* key, double& out) {
    auto it = j_.find(key);
    if (it == j_.end()) return absl::OkStatus();
    if (!it->is_number() || !std::isfinite(it->get<double>())) return NotFinite(key);
    out = it->get<double>();
    return absl::OkStatus();
  }
  absl::Status Optional(const char* key, std::optional<double>& out) {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return absl::OkStatus();
    double v = 0;
    if (absl::Status s = Number(key, v); !s.ok()) return s;
    out = v;
    return absl::OkStatus();
  }
  absl::Status Whole(const char* key, uint64_t max, uint64_t& out) {
    auto it = j_.find(key);
    if (it == j_.end()) return absl::OkStatus();
    if (!it->is_number_unsigned() || it->get<uint64_t>() > max) {
      return absl::InvalidArgumentError(
          absl::StrCat(key, " must be a whole number from 0 to ", max));
    }
    out = it->get<uint64_t>();
    return absl::OkStatus();
  }

 private:
  const Json& j_;
};

// Bounds one question's work (replications x horizon time units; a conveyor unit is about one
// event): about 7 s on two cores, a quarter more when the belt follows the live twin.
constexpr double kMaxWork = 2e8;

absl::Status CheckWork(uint64_t replications, double horizon) {
  if (static_cast<double>(replications) * horizon > kMaxWork) {
    return absl::InvalidArgumentError(absl::StrCat("replications x horizon must be at most ",
                                                   kMaxWork, " (a bounded question); got ",
                                                   static_cast<double>(replications) * horizon));
  }
  return absl::OkStatus();
}

Json EstimateJson(const sim::Estimate& e) {
  return {{"mean", e.mean}, {"ci", {e.ci_low, e.ci_high}}, {"stddev", e.stddev}};
}

}  // namespace

absl::StatusOr<WhatIfRequest> ParseWhatIfJson(const AssetKind& kind, std::string_view request) {
  Json j = Json::parse(request, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("the question must be a JSON object");
  }
  Fields f(j);
  WhatIfRequest out;
  sim::MonteCarloOptions& mc = out.monte_carlo;
  if (absl::Status s = f.Whole("replications", 1'000'000, mc.replications); !s.ok()) return s;
  if (absl::Status s = f.Whole("seed", UINT64_MAX, mc.seed); !s.ok()) return s;
  if (absl::Status s = f.Number("confidence", mc.confidence); !s.ok()) return s;
  if (kind.simulator.model == SimulatorModel::kConveyor) {
    if (absl::Status s = f.OnlyKeys({"replications", "seed", "confidence", "capacity",
                                     "failure_rate", "repair_time", "horizon", "failure_before"});
        !s.ok()) {
      return s;
    }
    ConveyorWhatIf w;
    std::optional<double> capacity;
    absl::Status s = f.Optional("capacity", capacity);
    if (s.ok()) s = f.Optional("failure_rate", w.failure_rate);
    if (s.ok()) s = f.Optional("repair_time", w.repair_time);
    if (s.ok()) s = f.Number("horizon", w.horizon);
    if (s.ok()) s = f.Number("failure_before", w.failure_before);
    if (!s.ok()) return s;
    if (capacity) {
      if (*capacity < 0 || *capacity > 1e6 || *capacity != std::floor(*capacity)) {
        return absl::InvalidArgumentError("capacity must be a whole number from 0 to 1000000");
      }
      w.capacity = static_cast<int>(*capacity);
    }
    if (absl::Status work = CheckWork(mc.replications, w.horizon); !work.ok()) return work;
    out.question = w;
  } else if (kind.simulator.model == SimulatorModel::kTurbofan) {
    if (absl::Status s =
            f.OnlyKeys({"replications", "seed", "confidence", "rul", "rul_std", "maintenance_at",
                        "horizon", "failure_before", "maintenance_duration", "repair_duration",
                        "failure_cost", "preventive_cost", "wasted_life_cost"});
        !s.ok()) {
      return s;
    }
    TurbofanWhatIf w;
    absl::Status s = f.Optional("rul", w.rul);
    if (s.ok()) s = f.Optional("rul_std", w.rul_std);
    if (s.ok()) s = f.Optional("maintenance_at", w.maintenance_at);
    for (auto [key, field] :
         {std::pair{"horizon", &w.horizon}, std::pair{"failure_before", &w.failure_before},
          std::pair{"maintenance_duration", &w.maintenance_duration},
          std::pair{"repair_duration", &w.repair_duration},
          std::pair{"failure_cost", &w.failure_cost},
          std::pair{"preventive_cost", &w.preventive_cost},
          std::pair{"wasted_life_cost", &w.wasted_life_cost}}) {
      if (s.ok()) s = f.Number(key, *field);
    }
    if (!s.ok()) return s;
    if (absl::Status work = CheckWork(mc.replications, w.horizon); !work.ok()) return work;
    out.question = w;
  } else {
    return absl::FailedPreconditionError(
        absl::StrCat("kind '", kind.name, "' has no simulator (see its \"simulator\" section)"));
  }
  return out;
}

absl::StatusOr<std::string> AnswerWhatIfJson(const AssetKind& kind, const TwinState& state,
                                             std::string_view request, int threads,
                                             sim::ConveyorLiveSource live) {
  absl::StatusOr<WhatIfRequest> parsed = ParseWhatIfJson(kind, request);
  if (!parsed.ok()) return parsed.status();
  sim::MonteCarloOptions mc = parsed->monte_carlo;
  mc.threads = threads;
  Json answer;
  answer["asset"] = state.asset;
  answer["revision"] = state.revision;
  if (const ConveyorWhatIf* conveyor = std::get_if<ConveyorWhatIf>(&parsed->question)) {
    const ConveyorWhatIf& w = *conveyor;
    absl::StatusOr<sim::ConveyorQuestion> q = ConveyorQuestionFor(kind, state, w);
    if (!q.ok()) return q.status();
    if (live && (q->live_failure_rate || q->live_repair_time)) q->live = std::move(live);
    absl::StatusOr<sim::ConveyorAnswer> a = sim::AskConveyor(*q, mc);
    if (!a.ok()) return a.status();
    answer["model"] = "conveyor";
    answer["parameters"] = {{"capacity", q->params.capacity},
                            {"failure_rate", q->params.failure_rate},
                            {"failure_rate_shape", q->failure_rate_shape},
                            {"repair_time", q->params.repair_time},
                            {"horizon", q->horizon},
                            {"failure_before", q->failure_before}};
    answer["parameters"]["live_feed"] = q->live ? Json{{"period", q->feed_period},
                                                       {"failure_rate", q->live_failure_rate},
                                                       {"repair_time", q->live_repair_time}}
                                                : Json(nullptr);
    answer["replications"] = mc.replications;
    answer["seed"] = mc.seed;
    answer["confidence"] = mc.confidence;
    answer["answers"] = {{"downtime", EstimateJson(a->downtime)},
                         {"items", EstimateJson(a->items)},
                         {"availability", EstimateJson(a->availability)},
                         {"failures", EstimateJson(a->failures)},
                         {"p_failure_before", EstimateJson(a->p_failure_before)}};
  } else {
    const TurbofanWhatIf& w = std::get<TurbofanWhatIf>(parsed->question);
    absl::StatusOr<sim::TurbofanQuestion> q = TurbofanQuestionFor(kind, state, w);
    if (!q.ok()) return q.status();
    absl::StatusOr<sim::TurbofanAnswer> a = sim::AskTurbofan(*q, mc);
    if (!a.ok()) return a.status();
    answer["model"] = "turbofan";
    answer["parameters"] = {
        {"rul", q->params.rul_mean},
        {"rul_std", q->params.rul_std},
        {"maintenance_at", q->params.maintenance_at ? Json(*q->params.maintenance_at) : Json()},
        {"horizon", q->horizon},
        {"failure_before", q->failure_before},
        {"maintenance_duration", q->params.maintenance_duration},
        {"repair_duration", q->params.repair_duration},
        {"failure_cost", q->failure_cost},
        {"preventive_cost", q->preventive_cost},
        {"wasted_life_cost", q->wasted_life_cost}};
    answer["replications"] = mc.replications;
    answer["seed"] = mc.seed;
    answer["confidence"] = mc.confidence;
    answer["answers"] = {{"cost", EstimateJson(a->cost)},
                         {"downtime", EstimateJson(a->downtime)},
                         {"failures", EstimateJson(a->failures)},
                         {"p_failure_before", EstimateJson(a->p_failure_before)}};
  }
  return answer.dump();
}

}  // namespace fleettwin::agent
