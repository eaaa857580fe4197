// Cross-anchoring (docs/ledger.md): the coordinator writes each agent's latest signed
// checkpoint into the fleet ledger ("agent.checkpoint" entries, author = the asset, payload =
// the note). An agent ledger is consistent with what the fleet saw when, for every anchored
// checkpoint of its origin, it has the same root at that size and its current tree extends it.
#ifndef FLEETTWIN_LEDGER_CROSSCHECK_H_
#define FLEETTWIN_LEDGER_CROSSCHECK_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "fleettwin/ledger/ledger.h"

namespace fleettwin::ledger {

inline constexpr char kAnchorKind[] = "agent.checkpoint";

struct CrossCheckReport {
  std::string origin;         // The agent ledger's origin.
  uint64_t agent_size = 0;    // Its entries now.
  uint64_t anchors = 0;       // Anchored checkpoints of it in the fleet ledger.
  uint64_t largest_anchored = 0;  // The largest anchored size.
};

// Checks `agent` against every checkpoint of its origin anchored in `fleet`: the agent
// ledger must hold at least that many entries, have the anchored root at that size, and prove
// consistency from it to its current tree (RFC 9162, verified here). Errors: DataLoss (the agent
// ledger's history differs from what the fleet saw; the message names the fleet entry and the
// sizes), FailedPrecondition (the fleet ledger anchors nothing of this origin, or the agent
// ledger is empty), InvalidArgument (an anchor whose note does not parse).
absl::StatusOr<CrossCheckReport> CrossCheck(const LedgerReader& fleet, const LedgerReader& agent);

}  // namespace fleettwin::ledger

#endif  // FLEETTWIN_LEDGER_CROSSCHECK_H_
