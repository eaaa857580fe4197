#include "fleettwin/ledger/crosscheck.h"

#include "absl/strings/str_cat.h"
#include "fleettwin/ledger/merkle.h"
#include "fleettwin/ledger/note.h"

namespace fleettwin::ledger {

absl::StatusOr<CrossCheckReport> CrossCheck(const LedgerReader& fleet, const LedgerReader& agent) {
  absl::StatusOr<SignedCheckpoint> latest = agent.LatestCheckpoint();
  if (!latest.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the agent ledger has no checkpoint: ", latest.status().message()));
  }
  CrossCheckReport report;
  report.origin = latest->checkpoint.origin;
  report.agent_size = agent.Size();
  absl::StatusOr<Hash> current_root = agent.RootAt(report.agent_size);
  if (!current_root.ok()) return current_root.status();
  absl::Status failure;
  absl::Status scanned = fleet.Scan(0, fleet.Size(), [&](const Entry& entry, const std::string&) {
    if (entry.kind != kAnchorKind) return true;
    // The note's body is everything before the blank line.
    const size_t split = entry.payload.find("\n\n");
    if (split == std::string::npos) {
      failure = absl::InvalidArgumentError(
          absl::StrCat("fleet entry ", entry.index, ": the anchor is not a signed note"));
      return false;
    }
    absl::StatusOr<Checkpoint> anchored =
        ParseCheckpointBody(std::string_view(entry.payload).substr(0, split + 1));
    if (!anchored.ok()) {
      failure = absl::InvalidArgumentError(
          absl::StrCat("fleet entry ", entry.index, ": ", anchored.status().message()));
      return false;
    }
    if (anchored->origin != report.origin) return true;  // Another agent's.
    ++report.anchors;
    report.largest_anchored = std::max(report.largest_anchored, anchored->size);
    const auto differs = [&](const std::string& what) {
      return absl::DataLossError(absl::StrCat(
          report.origin, ": fleet entry ", entry.index, " anchored size ", anchored->size, ", ",
          what, " (the agent ledger has ", report.agent_size, " entries)"));
    };
    if (anchored->size > report.agent_size) {
      failure = differs("but the agent ledger is shorter");
      return false;
    }
    absl::StatusOr<Hash> root = agent.RootAt(anchored->size);
    if (!root.ok()) {
      failure = root.status();
      return false;
    }
    if (*root != anchored->root) {
      failure = differs("whose root differs from the agent ledger's at that size");
      return false;
    }
    absl::StatusOr<std::vector<Hash>> proof = agent.ProveConsistency(anchored->size, report.agent_size);
    if (!proof.ok()) {
      failure = proof.status();
      return false;
    }
    if (!VerifyConsistency(anchored->size, report.agent_size, anchored->root, *current_root, *proof)
             .ok()) {
      failure = differs("that the agent ledger's current tree does not extend");
      return false;
    }
    return true;
  });
  if (!scanned.ok()) return scanned;
  if (!failure.ok()) return failure;
  if (report.anchors == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("the fleet ledger anchors no checkpoint of ", report.origin));
  }
  return report;
}

}  // namespace fleettwin::ledger
