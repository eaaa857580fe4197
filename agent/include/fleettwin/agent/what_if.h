// What-if questions put to a twin. The simulator's parameters come from the twin's state — the
// conveyor's calibrated failure rate (with its posterior uncertainty), repair time and reported
// capacity; the turbofan's RUL estimate and its uncertainty — and a question may override any
// of them ("what if capacity were 8?"). Answers are Monte Carlo estimates with confidence
// intervals (fleettwin/sim/monte_carlo.h). This is the call the agent's HTTP API serves and the
// coordinator negotiation will use for bids.
#ifndef FLEETTWIN_AGENT_WHAT_IF_H_
#define FLEETTWIN_AGENT_WHAT_IF_H_

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "absl/status/statusor.h"
#include "fleettwin/agent/asset_kind.h"
#include "fleettwin/agent/twin.h"
#include "fleettwin/sim/monte_carlo.h"

namespace fleettwin::agent {

// Overrides of the twin-derived parameters and the question asked; unset fields come from the
// twin or the defaults noted.
struct ConveyorWhatIf {
  std::optional<int> capacity;         // Default: the reported capacity channel.
  std::optional<double> failure_rate;  // Failures per working unit, in [0, 1]. Default: the
                                       // calibrated posterior mean.
  std::optional<double> repair_time;   // Default: the calibrated mean repair time.
  double horizon = 500;
  double failure_before = 100;
};
struct TurbofanWhatIf {
  std::optional<double> rul;             // Default: the failure model's estimate.
  std::optional<double> rul_std;         // Default: its uncertainty.
  std::optional<double> maintenance_at;  // None: run to failure.
  double horizon = 150;
  double failure_before = 30;
  double maintenance_duration = 5;
  double repair_duration = 20;
  double failure_cost = 100;
  double preventive_cost = 20;
  double wasted_life_cost = 0.5;
};

// A turbofan's life comes from the question, else the twin's RUL estimate, else — right after
// a renewing maintenance record, before the next sample — the kind's renewed-life
// distribution. Errors: FailedPrecondition when the twin has no calibration / RUL estimate
// yet and the question does not supply the parameters; InvalidArgument for a kind without that
// simulator or values out of range.
absl::StatusOr<sim::ConveyorQuestion> ConveyorQuestionFor(const AssetKind& kind,
                                                          const TwinState& state,
                                                          const ConveyorWhatIf& what_if);
absl::StatusOr<sim::TurbofanQuestion> TurbofanQuestionFor(const AssetKind& kind,
                                                          const TwinState& state,
                                                          const TurbofanWhatIf& what_if);

// A parsed what-if question: which one, and the Monte Carlo options it asks for.
struct WhatIfRequest {
  std::variant<ConveyorWhatIf, TurbofanWhatIf> question;
  sim::MonteCarloOptions monte_carlo;  // threads are the caller's to set.
};
// Parses the HTTP form below for `kind`'s simulator. Errors: InvalidArgument (not a JSON object,
// an unknown key, a wrong type or a value out of range, unbounded work), FailedPrecondition (the
// kind has no simulator).
absl::StatusOr<WhatIfRequest> ParseWhatIfJson(const AssetKind& kind, std::string_view request);

// The HTTP form (POST /whatif; docs/agent.md): a JSON object with the fields above plus
// "replications" (default 1000, at most 1000000), "seed" (default 1) and "confidence"
// (default 0.95); unknown keys are refused, and so is a question whose replications x horizon
// exceeds 2e8 (its work is bounded). The answer names the parameters used and gives,
// per quantity, the mean, its confidence interval and the standard deviation of one run.
// `live` (conveyor kinds): the live twin's belt parameters; the simulated belt re-reads the
// ones the question takes from the twin (not those it sets) every 5 units from it, the
// model's feed process (sim::ConveyorQuestion::live).
absl::StatusOr<std::string> AnswerWhatIfJson(const AssetKind& kind, const TwinState& state,
                                             std::string_view request, int threads,
                                             sim::ConveyorLiveSource live = {});

// The belt parameters a conveyor twin's what-if takes from its calibration (failure rate
// capped at 1, mean repair time); nullopt before the first calibration.
std::optional<sim::ConveyorLive> LiveConveyorOf(const TwinState& state);

}  // namespace fleettwin::agent

#endif  // FLEETTWIN_AGENT_WHAT_IF_H_
