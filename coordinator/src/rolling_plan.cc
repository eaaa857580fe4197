#include "fleettwin/coordinator/rolling_plan.h"

#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

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

absl::StatusOr<uint32_t> RunRollingPlan(const RollingPlanOptions& o,
                                        const ControlConnector& connect,
                                        const std::function<void(const RollingStep&)>& on_step,
                                        const std::atomic<bool>* cancel) {
  if (o.id_prefix.empty() || o.id_prefix.size() > 100 ||
      o.id_prefix.find('#') != std::string::npos) {
    return absl::InvalidArgumentError("the id prefix must be 1-100 bytes without '#'");
  }
  if (o.duration == 0 || o.horizon < o.duration) {
    return absl::InvalidArgumentError("the horizon must hold at least one maintenance duration");
  }
  if (o.slot <= std::chrono::milliseconds(0)) {
    return absl::InvalidArgumentError("a slot must last longer than 0");
  }
  const auto timeout = o.call_timeout + std::chrono::milliseconds(o.bid_window_ms) +
                       3 * std::chrono::milliseconds(o.reply_timeout_ms);
  absl::StatusOr<std::unique_ptr<ControlClient>> client = connect();
  if (!client.ok()) return client.status();
  std::string standing = o.replaces;
  uint32_t committed = 0;
  auto slot_start = std::chrono::steady_clock::now();
  for (uint32_t k = 0; o.slots == 0 || k < o.slots; ++k) {
    const uint64_t used = static_cast<uint64_t>(k) * o.duration;
    if (Cancelled(cancel)) return absl::CancelledError("interrupted");
    RollingStep step;
    step.index = k;
    step.id = absl::StrCat(o.id_prefix, "-", k);
    step.horizon = static_cast<uint32_t>(o.horizon - used);
    json request = {{"command", "plan.maintenance"},
                    {"id", step.id},
                    {"horizon", step.horizon},
                    {"duration", o.duration},
                    {"crews", o.crews},
                    {"failure_cost", o.failure_cost},
                    {"preventive_cost", o.preventive_cost},
                    {"wasted_life_cost", o.wasted_life_cost},
                    {"bid_window_ms", o.bid_window_ms},
                    {"reply_timeout_ms", o.reply_timeout_ms}};
    if (!standing.empty()) request["replaces"] = standing;
    absl::StatusOr<std::string> answer = (*client)->Call(
        request.dump(), std::chrono::duration_cast<std::chrono::milliseconds>(timeout), cancel);
    if (!answer.ok()) {
      const absl::StatusCode code = answer.status().code();
      if (code == absl::StatusCode::kCancelled) return answer.status();
      if (code == absl::StatusCode::kDeadlineExceeded || code == absl::StatusCode::kUnavailable) {
        return answer.status();  // The coordinator is gone: there is nobody to plan with.
      }
      step.plan = answer.status();  // Not committed: the standing plan stays.
    } else {
      const json plan = json::parse(*answer, nullptr, false);
      if (plan.is_discarded() || !plan.is_object()) {
        return absl::InvalidArgumentError("the coordinator's answer is not a plan");
      }
      if (!standing.empty() && !plan.value("replaced", false)) {
        // Committed, but the old plan could not be cancelled: both stand; say so and go on
        // from the new one.
        step.plan = absl::FailedPreconditionError(
            absl::StrCat("plan ", step.id, " committed but ", standing,
                         " was not cancelled: ", plan.value("replace_error", std::string())));
      } else {
        step.plan = *answer;
      }
      standing = step.id;
      step.committed = true;
      ++committed;
    }
    on_step(step);
    const bool more = (o.slots == 0 || k + 1 < o.slots) && used + 2ull * o.duration <= o.horizon;
    if (!more) break;
    slot_start += o.slot;
    if (!SleepUntil(slot_start, cancel)) return absl::CancelledError("interrupted");
  }
  return committed;
}

}  // namespace fleettwin::coordinator
