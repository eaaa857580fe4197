#include "fleettwin/coordinator/rolling_plan.h"

#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "fleettwin/protocol/messages.h"

namespace fleettwin::coordinator {
namespace {

using nlohmann::json;

bool Cancelled(const std::atomic<bool>* cancel) { return cancel != nullptr && cancel->load(); }

// Sleeps until `until`, waking every 50 ms to look at `cancel`. False once cancelled.
bool SleepUntil(std::chrono::steady_clock::time_point until, const std::atomic<bool>* cancel) {
  while (std::chrono::steady_clock::now() < until) {
    if (Cancelled(cancel)) return false;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(50), until - std::chrono::steady_clock::now()));
  }
  return !Cancelled(cancel);
}

}  // namespace

std::string MaintenanceRequest(const std::string& id, const MaintenanceCallOptions& call,
                               const std::string& replaces) {
  json request = {{"command", "plan.maintenance"},
                  {"id", id},
                  {"horizon", call.horizon},
                  {"duration", call.duration},
                  {"crews", call.crews},
                  {"failure_cost", call.failure_cost},
                  {"preventive_cost", call.preventive_cost},
                  {"wasted_life_cost", call.wasted_life_cost},
                  {"bid_window_ms", call.bid_window_ms},
                  {"reply_timeout_ms", call.reply_timeout_ms}};
  if (!replaces.empty()) request["replaces"] = replaces;
  return request.dump();
}

absl::StatusOr<uint32_t> RunRollingPlan(const RollingPlanOptions& o,
                                        const ControlConnector& connect,
                                        const std::function<void(const RollingStep&)>& on_step,
                                        const std::atomic<bool>* cancel) {
  if (o.id_prefix.empty() || o.id_prefix.size() > 100 ||
      o.id_prefix.find('#') != std::string::npos || !protocol::IsUtf8(o.id_prefix)) {
    return absl::InvalidArgumentError("the id prefix must be 1-100 bytes of UTF-8 without '#'");
  }
  if (o.call.duration == 0 || o.call.horizon < o.call.duration) {
    return absl::InvalidArgumentError("the horizon must hold at least one maintenance duration");
  }
  if (o.slot <= std::chrono::milliseconds(0)) {
    return absl::InvalidArgumentError("a slot must last longer than 0");
  }
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
      o.call_timeout + std::chrono::milliseconds(o.call.bid_window_ms) +
      3 * std::chrono::milliseconds(o.call.reply_timeout_ms));
  absl::StatusOr<std::unique_ptr<ControlClient>> client = connect();
  if (!client.ok()) return client.status();
  // A plan by id, on a new connection when the last one lost an answer.
  auto find_plan = [&](const std::string& id) -> absl::StatusOr<json> {
    absl::StatusOr<std::string> got =
        (*client)->Call(json{{"command", "plan"}, {"id", id}}.dump(), o.call_timeout, cancel);
    if (!got.ok()) return got.status();
    json plan = json::parse(*got, nullptr, false);
    if (plan.is_discarded() || !plan.is_object()) {
      return absl::InternalError("the coordinator's answer is not a plan");
    }
    return plan;
  };
  std::string standing = o.replaces;
  uint32_t committed = 0, tried = 0, k = 0, skipped = 0;
  const auto start = std::chrono::steady_clock::now();
  while (o.slots == 0 || tried < o.slots) {
    const uint64_t used = static_cast<uint64_t>(k) * o.call.duration;
    if (used + o.call.duration > o.call.horizon) break;
    if (Cancelled(cancel)) return absl::CancelledError("interrupted");
    // Someone else may have cancelled the standing plan: replacing it would be refused in every
    // slot from now on.
    if (!standing.empty()) {
      absl::StatusOr<json> plan = find_plan(standing);
      if (!plan.ok()) {
        if (Cancelled(cancel)) return absl::CancelledError("interrupted");
        return plan.status();  // NotFound: nothing to replace; or the coordinator is gone.
      }
      if (plan->value("cancelled", false)) {
        return absl::FailedPreconditionError(absl::StrCat("plan ", standing, " was cancelled (",
                                                          plan->value("cancel_reason", ""),
                                                          "): nothing left to replace"));
      }
    }
    RollingStep step;
    step.index = k;
    step.skipped = skipped;
    step.id = absl::StrCat(o.id_prefix, "-", k);
    step.horizon = static_cast<uint32_t>(o.call.horizon - used);
    MaintenanceCallOptions call = o.call;
    call.horizon = step.horizon;
    absl::StatusOr<std::string> answer =
        (*client)->Call(MaintenanceRequest(step.id, call, standing), timeout, cancel);
    if (!answer.ok() && Cancelled(cancel)) return absl::CancelledError("interrupted");
    if (!answer.ok()) {
      const absl::StatusCode code = answer.status().code();
      if (code == absl::StatusCode::kDeadlineExceeded || code == absl::StatusCode::kUnavailable ||
          code == absl::StatusCode::kCancelled) {
        // The answer was lost (a timeout, the coordinator stopping): a restarted coordinator
        // resumes the negotiation, so ask on a new connection whether the plan committed.
        const absl::Status lost = answer.status();
        client = connect();
        if (!client.ok()) return client.status();
        absl::StatusOr<json> found = find_plan(step.id);
        if (found.ok()) {
          answer = found->dump();
          step.error = absl::UnavailableError(absl::StrCat("the answer was lost (", lost.message(),
                                                           "); the plan was found committed"));
        } else if (found.status().code() != absl::StatusCode::kNotFound) {
          if (Cancelled(cancel)) return absl::CancelledError("interrupted");
          return absl::UnavailableError(
              absl::StrCat("the coordinator stopped answering (", lost.message(), "); plan ",
                           step.id, " may still commit: see `fleetctl plan list`"));
        }
      } else if (code == absl::StatusCode::kInvalidArgument ||
                 code == absl::StatusCode::kAlreadyExists || code == absl::StatusCode::kNotFound) {
        return answer.status();  // Would be refused in every slot.
      }
    }
    if (!answer.ok()) {
      step.error = answer.status();  // Not committed: the standing plan stays.
    } else {
      const json plan = json::parse(*answer, nullptr, false);
      if (plan.is_discarded() || !plan.is_object()) {
        return absl::InternalError("the coordinator's answer is not a plan");
      }
      if (!standing.empty() && plan.value("replaces", std::string()) == standing &&
          !plan.value("replaced", false)) {
        step.error = absl::FailedPreconditionError(
            absl::StrCat("plan ", step.id, " committed but ", standing,
                         " was not cancelled: ", plan.value("replace_error", std::string())));
      }
      step.plan = *answer;
      step.committed = true;
      standing = step.id;
      ++committed;
    }
    on_step(step);
    ++tried;
    // The next slot by the clock: a negotiation that overran skips the slots it overlapped.
    const auto elapsed = std::chrono::steady_clock::now() - start;
    const uint64_t current = static_cast<uint64_t>(elapsed / o.slot);
    const uint64_t next = std::max<uint64_t>(k + 1, current);
    if ((o.slots != 0 && tried >= o.slots) ||
        next * o.call.duration + o.call.duration > o.call.horizon) {
      break;
    }
    skipped = static_cast<uint32_t>(next - (k + 1));
    k = static_cast<uint32_t>(next);
    if (!SleepUntil(start + k * o.slot, cancel)) return absl::CancelledError("interrupted");
  }
  return committed;
}

}  // namespace fleettwin::coordinator
