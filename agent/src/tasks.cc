// The agent's part in task allocation: bids from the twin's simulated completion of the task
// after the work it already holds, awards, and reports of tasks done or dropped.
#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "fleettwin/agent/agent_runtime.h"
#include "fleettwin/sim/monte_carlo.h"

namespace fleettwin::agent {
namespace {
constexpr size_t kMaxHeldTasks = 1024;
}  // namespace

protocol::Bid AgentRuntime::TaskBidFor(const protocol::CallForProposals& call) {
  protocol::Bid bid;
  bid.negotiation = call.negotiation;
  const protocol::TaskCall& task = call.task;
  auto decline = [&](std::string reason) {
    bid.declined = true;
    bid.decline_reason = std::move(reason);
    return bid;
  };
  if (!task.capability.empty() &&
      std::find(capabilities_.begin(), capabilities_.end(), task.capability) ==
          capabilities_.end()) {
    return decline(absl::StrCat("lacks capability '", task.capability, "'"));
  }
  if (task.has_location && !location_) return decline("the task has a location, this agent none");
  {
    std::lock_guard lock(tasks_mu_);
    // A heartbeat lists every held task (at most 4096); well below that, stop taking more.
    if (held_.size() >= kMaxHeldTasks) return decline("holds too many tasks");
  }
  TwinState state;
  {
    std::lock_guard lock(twin_mu_);
    state = twin_->twin().state();
  }
  if (std::find(state.health.begin(), state.health.end(), HealthLevel::kAlarm) !=
      state.health.end()) {
    return decline("health alarm");  // It would drop the task at its next heartbeat.
  }
  const double now = state.last_time.value_or(0);
  sim::TaskQuestion q;
  q.duration = task.duration;
  q.deadline = task.deadline;
  q.late_cost = task.late_cost;
  {
    std::lock_guard lock(tasks_mu_);
    std::array<double, 2> at = location_.value_or(std::array<double, 2>{0, 0});
    for (const HeldTask& h : held_) {
      q.backlog = std::max(q.backlog, h.end - now);
      if (h.call.has_location) at = {h.call.x, h.call.y};
    }
    if (task.has_location) q.travel = std::hypot(task.x - at[0], task.y - at[1]) / travel_speed_;
  }
  q.backlog = std::clamp(q.backlog, 0.0, 1e7);
  q.travel = std::min(q.travel, 1e7);
  // The Monte Carlo's work grows with the failures per run; the link's thread must stay free
  // to heartbeat, so an answer that would take that long is declined instead.
  constexpr double kMaxWork = 1e5, kMaxFailures = 200;
  // Failures: the RUL estimate when the twin has one, else the calibrated failure rate.
  q.repair_mean = default_repair_time_;
  if (state.calibration) {
    q.failure_rate = state.calibration->failure_rate;
    if (state.calibration->repair_fitted) q.repair_mean = state.calibration->repair_time_mean;
  }
  if (state.rul) {
    q.has_life = true;
    q.life_mean = std::max(state.rul->rul, 0.5);
    q.life_std = std::max(state.rul->rul_std, 1.0);
  }
  const double work = q.backlog + q.travel + q.duration;
  const double failures =
      q.has_life ? work / std::min(q.life_mean, q.renewed_life_mean) : work * q.failure_rate;
  if (work > kMaxWork || failures > kMaxFailures) {
    return decline(absl::StrCat("too much work to simulate (", work, " time units, about ",
                                failures, " failures per run)"));
  }
  absl::StatusOr<sim::TaskAnswer> answer = sim::AskTaskCompletion(
      q, {.replications = std::max<uint64_t>(bid_replications_, 2),
          .threads = what_if_threads_,
          .seed = 1});
  if (!answer.ok()) return decline(std::string(answer.status().message()));
  bid.is_task = true;
  bid.task = {answer->cost.mean, answer->completion.mean, answer->p_late.mean,
              static_cast<uint32_t>(answer->cost.n)};
  std::lock_guard lock(tasks_mu_);
  if (offered_.size() >= 1024) offered_.erase(offered_.begin());  // Bounded memory.
  offered_[call.negotiation] = task;
  return bid;
}

protocol::AwardReply AgentRuntime::AwardFor(const protocol::Award& award) {
  protocol::AwardReply reply;
  reply.accept = true;
  if (award.task_id.empty()) return reply;  // A maintenance award: accepted as before.
  double now = 0;
  {
    std::lock_guard lock(twin_mu_);
    now = twin_->twin().state().last_time.value_or(0);
  }
  HeldTask held;
  {
    std::lock_guard lock(tasks_mu_);
    auto it = offered_.find(award.negotiation);
    if (it == offered_.end() || it->second.task_id != award.task_id) {
      reply.accept = false;
      reply.reason = "no bid from this agent for that task";
      return reply;
    }
    held.call = it->second;
    held.auction = award.negotiation;
    offered_.erase(it);
    // Planned end without failures: after the held work, travel, then the task itself.
    double start = now;
    std::array<double, 2> at = location_.value_or(std::array<double, 2>{0, 0});
    for (const HeldTask& h : held_) {
      start = std::max(start, h.end);
      if (h.call.has_location) at = {h.call.x, h.call.y};
    }
    const double travel =
        held.call.has_location ? std::hypot(held.call.x - at[0], held.call.y - at[1]) / travel_speed_
                               : 0;
    held.end = start + travel + held.call.duration;
    held_.push_back(held);
  }
  absl::StatusOr<uint64_t> ledgered = SetDesired(absl::StrCat("task.", held.call.task_id), held.end,
                                                 absl::StrCat("auction ", held.auction));
  if (!ledgered.ok()) {
    std::lock_guard lock(tasks_mu_);
    held_.pop_back();
    reply.accept = false;
    reply.reason = absl::StrCat("cannot ledger the task: ", ledgered.status().message());
  }
  return reply;
}

std::vector<protocol::TaskReport> AgentRuntime::TaskReports() {
  double now = 0;
  bool alarm = false;
  {
    std::lock_guard lock(twin_mu_);
    const TwinState& state = twin_->twin().state();
    now = state.last_time.value_or(0);
    alarm = std::find(state.health.begin(), state.health.end(), HealthLevel::kAlarm) !=
            state.health.end();
  }
  std::vector<HeldTask> ended;
  {
    std::lock_guard lock(tasks_mu_);
    // Finished ones are done, alarm or not; in an alarm the rest are dropped.
    auto keep = std::stable_partition(held_.begin(), held_.end(), [&](const HeldTask& h) {
      return !alarm && h.end > now;
    });
    ended.assign(keep, held_.end());
    held_.erase(keep, held_.end());
  }
  std::vector<protocol::TaskReport> out;
  for (const HeldTask& h : ended) {
    const bool done = h.end <= now;
    const std::string reason = done ? "" : "health alarm";
    SetDesired(absl::StrCat("task.", h.call.task_id), -1,
               absl::StrCat("auction ", h.auction, done ? " done" : " dropped: health alarm"))
        .IgnoreError();  // A failed ledger shows in /healthz; the report still goes out.
    out.push_back({h.call.task_id, h.auction, done, reason});
  }
  return out;
}

void AgentRuntime::RevokeTask(const protocol::TaskRevoke& revoke) {
  std::optional<HeldTask> revoked;
  {
    std::lock_guard lock(tasks_mu_);
    auto it = std::find_if(held_.begin(), held_.end(),
                           [&](const HeldTask& h) { return h.auction == revoke.auction; });
    if (it == held_.end()) return;  // Not held (any more): nothing to do.
    revoked = *it;
    held_.erase(it);
  }
  SetDesired(absl::StrCat("task.", revoked->call.task_id), -1,
             absl::StrCat("auction ", revoked->auction, " revoked: ",
                          protocol::Utf8Prefix(revoke.reason, 200)))
      .IgnoreError();  // A failed ledger shows in /healthz.
}

}  // namespace fleettwin::agent
