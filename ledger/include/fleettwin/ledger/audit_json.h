// The JSON documents fleet-audit prints: inclusion and consistency proofs (RFC 6962 order,
// base64 hashes) and the JSON-lines export. Formats are specified in docs/ledger.md.
#ifndef FLEETTWIN_LEDGER_AUDIT_JSON_H_
#define FLEETTWIN_LEDGER_AUDIT_JSON_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "fleettwin/ledger/ledger.h"

namespace fleettwin::ledger {

// {"index":…, "tree_size":…, "leaf_hash":"…", "hashes":[…], "checkpoint":"<note>"}.
// tree_size defaults to the latest checkpoint's size and must be a size with a stored
// checkpoint. Errors: InvalidArgument (index/size), NotFound (no checkpoint at size), DataLoss.
absl::StatusOr<std::string> InclusionProofJson(const LedgerReader& ledger, uint64_t index,
                                               std::optional<uint64_t> tree_size);

// {"old_size":…, "new_size":…, "hashes":[…]}. Errors as LedgerReader::ProveConsistency.
absl::StatusOr<std::string> ConsistencyProofJson(const LedgerReader& ledger, uint64_t old_size,
                                                 uint64_t new_size);

// One JSON object per entry in [begin, end): index, kind, author, revision, wall_time_nanos,
// payload (base64), prev_hash, leaf (base64 of the exact leaf bytes), leaf_hash.
absl::Status ExportJsonLines(const LedgerReader& ledger, uint64_t begin, uint64_t end,
                             std::ostream& out);

}  // namespace fleettwin::ledger

#endif  // FLEETTWIN_LEDGER_AUDIT_JSON_H_
