// The agent's part in the fleet: what its coordinator link sends (the twin's summary, a
// maintenance bid from the twin's Monte Carlo) and what it records (a committed plan).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "fleettwin/agent/agent_runtime.h"
#include "fleettwin/agent/what_if.h"

namespace fleettwin::agent {

protocol::Heartbeat AgentRuntime::Summary() {
  protocol::Heartbeat h;
  {
    std::lock_guard lock(twin_mu_);
    const TwinState& state = twin_->twin().state();
    h.revision = state.revision;
    HealthLevel worst = HealthLevel::kUnknown;
    for (HealthLevel level : state.health) worst = std::max(worst, level);
    h.health = std::string(HealthLevelName(worst));
    if (state.rul) {
      h.has_rul = true;
      h.rul = state.rul->rul;
      h.rul_std = state.rul->rul_std;
      h.p_fail = state.rul->p_fail;
    }
    h.anomaly =
        std::find(state.anomalous.begin(), state.anomalous.end(), true) != state.anomalous.end();
    h.drift = state.quality.drift ||
              std::find(state.drifting.begin(), state.drifting.end(), true) != state.drifting.end();
    h.model_version = state.model_version;
  }
  {
    std::lock_guard lock(tasks_mu_);
    for (const HeldTask& t : held_) h.tasks.push_back(t.auction);
  }
  absl::StatusOr<ledger::SignedCheckpoint> checkpoint = ledger_->LatestCheckpoint();
  if (checkpoint.ok()) h.checkpoint = checkpoint->note;
  return h;
}

protocol::Bid AgentRuntime::BidFor(const protocol::CallForProposals& call) {
  if (call.is_task) return TaskBidFor(call);
  protocol::Bid bid;
  bid.negotiation = call.negotiation;
  TwinState state;
  {
    std::lock_guard lock(twin_mu_);
    state = twin_->twin().state();
  }
  const protocol::MaintenanceCall& m = call.maintenance;
  absl::StatusOr<sim::TurbofanQuestion> question = TurbofanQuestionFor(kind_, state, {});
  if (!question.ok() || m.duration == 0 || m.horizon / m.duration > 4096) {
    bid.declined = true;
    bid.decline_reason =
        question.ok() ? "the call has too many slots" : std::string(question.status().message());
    return bid;
  }
  question->horizon = m.horizon;
  question->failure_cost = m.failure_cost;
  question->preventive_cost = m.preventive_cost;
  question->wasted_life_cost = m.wasted_life_cost;
  question->params.maintenance_duration = m.duration;
  std::vector<double> starts;
  for (uint32_t k = 0; k < m.horizon / m.duration; ++k)
    starts.push_back(static_cast<double>(k) * m.duration);
  absl::StatusOr<std::vector<sim::Estimate>> costs = sim::AskTurbofanSchedule(
      *question, starts,
      {.replications = bid_replications_, .threads = what_if_threads_, .seed = 1});
  if (!costs.ok()) {
    bid.declined = true;
    bid.decline_reason = std::string(costs.status().message());
    return bid;
  }
  for (size_t k = 0; k < starts.size(); ++k) bid.maintenance.slot_cost.push_back((*costs)[k].mean);
  bid.maintenance.none_cost = costs->back().mean;
  bid.maintenance.rul = question->params.rul_mean;
  bid.maintenance.rul_std = question->params.rul_std;
  bid.maintenance.replications = bid_replications_;
  // The model's version only when the life came from its estimate (not the renewed-life prior).
  bid.maintenance.model_version = state.rul ? state.model_version : std::string();
  return bid;
}

absl::Status AgentRuntime::RecordCommit(const protocol::Commit& commit) {
  double now = 0;
  {
    std::lock_guard lock(twin_mu_);
    now = twin_->twin().state().last_time.value_or(0);
  }
  const double start = commit.slot < 0 ? -1 : now + commit.start;
  std::string hash;
  for (unsigned char c : commit.plan_hash) absl::StrAppend(&hash, absl::Hex(c, absl::kZeroPad2));
  return SetDesired("maintenance.planned_start", start,
                    absl::StrCat("plan ", commit.negotiation, " ", hash))
      .status();
}

}  // namespace fleettwin::agent
