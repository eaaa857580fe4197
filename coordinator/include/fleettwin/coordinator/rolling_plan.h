// Re-planning maintenance every slot from the operator's side (`fleetctl plan rolling`): each
// slot a plan is negotiated over the rest of the horizon and replaces the one before it, so
// only the maintenances that start now are final and every later one is decided again with the
// twins' estimates of that moment (docs/planning.md: what it gains over a plan committed once).
// The coordinator has no fleet clock, so a slot is a span of wall time the operator chooses:
// the time the assets take to run one maintenance duration of cycles.
#ifndef FLEETTWIN_COORDINATOR_ROLLING_PLAN_H_
#define FLEETTWIN_COORDINATOR_ROLLING_PLAN_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "fleettwin/coordinator/control_client.h"

namespace fleettwin::coordinator {

// One maintenance negotiation as the control socket's `plan.maintenance` takes it.
struct MaintenanceCallOptions {
  uint32_t horizon = 150;
  uint32_t duration = 5;  // Cycles per maintenance (= per slot when re-planning).
  uint32_t crews = 2;
  double failure_cost = 100, preventive_cost = 20, wasted_life_cost = 0.5;
  int64_t bid_window_ms = 5000, reply_timeout_ms = 5000;
};

// The control request (JSON text) negotiating plan `id`; with `replaces`, it re-plans that one.
std::string MaintenanceRequest(const std::string& id, const MaintenanceCallOptions& call,
                               const std::string& replaces = {});

struct RollingPlanOptions {
  std::string id_prefix;        // Plans are PREFIX-0, PREFIX-1, ... (each id must be new).
  MaintenanceCallOptions call;  // Its horizon is the first slot's.
  std::chrono::milliseconds slot{60'000};  // Wall time per slot, from one slot's start.
  uint32_t slots = 0;                      // At most this many plans; 0: until the horizon ends.
  std::string replaces;                    // A committed plan the first one replaces (optional).
  std::chrono::milliseconds call_timeout{5'000};  // Added to the negotiation's own windows.
};

// One slot's negotiation: its slot index (slots that went by while the previous negotiation
// overran are skipped, `skipped` of them), the plan's id and horizon; `plan` is the committed
// plan as the control socket answers it (JSON; empty when none was committed and the standing
// plan stays), `error` why it was not committed, or — with a plan — why the standing plan could
// not be cancelled (both then stand) or that the answer was lost and the plan found committed.
struct RollingStep {
  uint32_t index = 0;
  uint32_t skipped = 0;
  std::string id;
  uint32_t horizon = 0;
  bool committed = false;
  std::string plan;
  absl::Status error;
};

// Opens a control connection (a new one after a timeout: the socket cannot be reused).
using ControlConnector = std::function<absl::StatusOr<std::unique_ptr<ControlClient>>()>;

// Negotiates a plan at the start of every slot until the horizon is used up (the last plan's
// horizon is at least one duration), `slots` plans were tried or `cancel` is set, reporting
// each to `on_step` as it ends. A plan refused for the state of the fleet (no agent, or the
// replacement would leave out an agent the standing plan maintains) leaves the standing plan,
// and the next slot tries again to replace it. When an answer is lost (the coordinator timed
// out or restarted), a new connection asks whether the plan committed. Returns the number of
// plans committed. Errors: InvalidArgument (bad options, or a request the coordinator refuses
// as such), NotFound / FailedPrecondition (the plan to replace does not exist or was cancelled
// by someone else), Cancelled (`cancel` set), DeadlineExceeded / Unavailable (the coordinator
// stopped answering; the plan being negotiated may still commit).
absl::StatusOr<uint32_t> RunRollingPlan(const RollingPlanOptions& options,
                                        const ControlConnector& connect,
                                        const std::function<void(const RollingStep&)>& on_step,
                                        const std::atomic<bool>* cancel = nullptr);

}  // namespace fleettwin::coordinator

#endif  // FLEETTWIN_COORDINATOR_ROLLING_PLAN_H_
