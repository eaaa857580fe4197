// Ledger entries and their canonical leaf encoding (proto/ledger.capnp).
#ifndef FLEETTWIN_LEDGER_ENTRY_H_
#define FLEETTWIN_LEDGER_ENTRY_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "fleettwin/common/crypto.h"

namespace fleettwin::ledger {

// What a writer hands to Append; the ledger adds index, time (if unset) and the chain hash.
struct NewEntry {
  std::string kind;             // Non-empty, no NUL bytes, e.g. "twin.update", "manual".
  std::string author;           // Who wrote it, e.g. an asset id. No NUL bytes.
  uint64_t revision = 0;        // The author's revision counter, if it keeps one.
  int64_t wall_time_nanos = 0;  // 0: stamped with the ledger's clock on append.
  std::string payload;          // Opaque bytes.
};

// A stored entry, decoded.
struct Entry {
  uint64_t index = 0;
  std::string kind;
  std::string author;
  uint64_t revision = 0;
  int64_t wall_time_nanos = 0;
  std::string payload;
  Hash prev_hash{};  // SHA-256 of the previous entry's leaf bytes; zeros for index 0.

  bool operator==(const Entry&) const = default;
};

// The canonical Cap'n Proto encoding of `entry` (one segment, no segment table): the bytes
// that are hashed into the chain and the Merkle tree.
std::string EncodeLeaf(const Entry& entry);

// Decodes leaf bytes. Errors: DataLoss unless the bytes are exactly the canonical encoding of
// an Entry with a non-empty kind, no NUL byte in kind or author, and a 32-byte prev_hash; so
// EncodeLeaf(*DecodeLeaf(b)) == b. Never crashes on any input.
absl::StatusOr<Entry> DecodeLeaf(Bytes leaf);

// SHA-256(leaf): the value the next entry's prev_hash must carry.
inline Hash ChainHash(Bytes leaf) { return Sha256(leaf); }

}  // namespace fleettwin::ledger

#endif  // FLEETTWIN_LEDGER_ENTRY_H_
