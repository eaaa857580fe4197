// Offline verification of a whole ledger directory, trusting nothing but the verifier key the
// auditor supplies.
#ifndef FLEETTWIN_LEDGER_VERIFY_H_
#define FLEETTWIN_LEDGER_VERIFY_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fleettwin/ledger/note.h"

namespace fleettwin::ledger {

struct VerifyOptions {
  // Worker threads; 0 means one per hardware thread.
  unsigned threads = 0;
  // Called now and then from a worker with the number of entries checked so far.
  std::function<void(uint64_t done, uint64_t total)> progress;
  // Signed checkpoints (note texts) the auditor obtained earlier, e.g. from a previous audit or
  // another party. The ledger must still contain each one's tree: this catches what a single
  // ledger cannot show by itself, a clean truncation, a rollback or a rewritten history.
  std::vector<std::string> trusted_checkpoints;
};

// What a verification saw.
struct VerifyReport {
  std::string origin;
  uint64_t entries = 0;              // Entries the ledger should hold (its largest claim).
  uint64_t checkpoints = 0;          // Stored checkpoints checked.
  uint64_t nodes = 0;                // Stored tree nodes checked.
  std::optional<Checkpoint> latest;  // The latest checkpoint that verified.
  // Empty if everything holds; else the first index that cannot be trusted and why.
  std::optional<uint64_t> first_bad_index;
  std::string reason;
  bool ok() const { return !first_bad_index.has_value(); }
};

// Recomputes the chain and the tree from the stored leaves and checks, against that
// recomputation: every entry's encoding, index and prev_hash; every stored leaf hash and
// interior node; every stored checkpoint's signature (with `key`), origin and root; the
// metadata; and that no other key is stored. Returns a report whose first_bad_index names the
// first entry that cannot be trusted (see docs/ledger.md, "Verification"). Errors (as a
// status, not a report): NotFound / Unavailable if the directory is not a readable ledger,
// InvalidArgument if a trusted checkpoint does not open with `key`.
absl::StatusOr<VerifyReport> VerifyLedger(const std::filesystem::path& directory,
                                          const VerifierKey& key,
                                          const VerifyOptions& options = {});

}  // namespace fleettwin::ledger

#endif  // FLEETTWIN_LEDGER_VERIFY_H_
