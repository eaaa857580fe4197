// A decode of leaf bytes that checks canonical form and extracts only what verification needs,
// without copying the payload.
#ifndef FLEETTWIN_LEDGER_SRC_LEAF_CHECK_H_
#define FLEETTWIN_LEDGER_SRC_LEAF_CHECK_H_

#include <cstdint>

#include "absl/status/status.h"
#include "fleettwin/common/crypto.h"

namespace fleettwin::ledger::internal {

// OK if `leaf` is the canonical encoding of an Entry with a 32-byte prev_hash; sets *index and
// *prev_hash. Errors: DataLoss. Thread-safe.
absl::Status CheckLeaf(Bytes leaf, uint64_t* index, Hash* prev_hash);

}  // namespace fleettwin::ledger::internal

#endif  // FLEETTWIN_LEDGER_SRC_LEAF_CHECK_H_
