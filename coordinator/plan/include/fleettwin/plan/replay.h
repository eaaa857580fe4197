// Re-solving a ledgered plan: an auditor takes a committed plan's JSON from the fleet ledger
// (entry kind "plan.commit"; docs/ledger.md), solves its bids again with this build's solver and
// checks that every asset gets the same slot and crew.
#ifndef FLEETTWIN_PLAN_REPLAY_H_
#define FLEETTWIN_PLAN_REPLAY_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace fleettwin::plan {

struct ReplayReport {
  std::string negotiation;
  std::string solver;  // The solver the plan was made with.
  int assets = 0;
  int maintained = 0;
};

// Errors: InvalidArgument (not a plan's JSON), FailedPrecondition (the plan was made by another
// solver version: this build cannot judge it), DataLoss (the re-solved plan differs; the
// message names the first asset that differs).
absl::StatusOr<ReplayReport> ReplayMaintenancePlan(std::string_view plan_json);

}  // namespace fleettwin::plan

#endif  // FLEETTWIN_PLAN_REPLAY_H_
