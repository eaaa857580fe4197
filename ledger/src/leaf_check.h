// A decode of leaf bytes that checks canonical form and extracts only what verification needs,
// without copying the payload.
#ifndef FLEETTWIN_LEDGER_SRC_LEAF_CHECK_H_
#define FLEETTWIN_LEDGER_SRC_LEAF_CHECK_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "fleettwin/common/crypto.h"

namespace fleettwin::ledger::internal {

// OK if `leaf` is the canonical encoding of an Entry with a 32-byte prev_hash; sets *index and
// *prev_hash. Errors: DataLoss. Thread-safe.
absl::Status CheckLeaf(Bytes leaf, uint64_t* index, Hash* prev_hash);

// Appends the canonical leaf bytes of the entry with these fields to `out` (what EncodeLeaf
// returns), without building a Cap'n Proto message. REQUIRES: each field shorter than 2^29 - 1
// bytes.
void AppendLeaf(std::string& out, uint64_t index, std::string_view kind, std::string_view author,
                uint64_t revision, int64_t wall_time_nanos, std::string_view payload,
                const Hash& prev_hash);

}  // namespace fleettwin::ledger::internal

#endif  // FLEETTWIN_LEDGER_SRC_LEAF_CHECK_H_
