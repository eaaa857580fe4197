// The ledger: an append-only, hash-chained log of fleet events (twin updates, rejections,
// model rounds, plan commits, manual records), stored in RocksDB, whose entries are the leaves
// of an RFC 6962 Merkle tree and whose every group commit is covered by an Ed25519-signed
// C2SP checkpoint. This header is the whole public API of the writer and reader; offline
// verification is in verify.h. The on-disk format is specified in docs/ledger.md.
//
// Not here: what payloads mean (the writers' business), replication, key rotation.
#ifndef FLEETTWIN_LEDGER_LEDGER_H_
#define FLEETTWIN_LEDGER_LEDGER_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "fleettwin/common/clock.h"
#include "fleettwin/ledger/entry.h"
#include "fleettwin/ledger/merkle.h"
#include "fleettwin/ledger/note.h"

namespace fleettwin::ledger {

struct LedgerOptions {
  // Directory of the RocksDB database. Created if missing (with its parents).
  std::filesystem::path directory;
  // The log's name in every checkpoint, e.g. "fleettwin.example/agent/engine-7". Fixed when the
  // ledger is created; reopening with another origin fails.
  std::string origin;
  // Most entries in one synced batch (one checkpoint signature per batch).
  size_t group_commit_entries = 4096;
};

// A signed checkpoint as stored, and what it says.
struct SignedCheckpoint {
  Checkpoint checkpoint;
  std::string note;  // The signed note text, byte for byte as stored.
};

// Read access, safe from any thread while appends go on. Reads see only acknowledged entries.
class LedgerReader {
 public:
  virtual ~LedgerReader() = default;

  // Number of acknowledged entries.
  virtual uint64_t Size() const = 0;

  // The entry at `index`. Errors: OutOfRange (index >= Size()), DataLoss (bad stored bytes).
  virtual absl::StatusOr<Entry> Get(uint64_t index) const = 0;
  // The exact leaf bytes at `index`. Errors as Get.
  virtual absl::StatusOr<std::string> GetLeaf(uint64_t index) const = 0;

  // Calls `visit(entry, leaf_bytes)` for entries [begin, end) in order, stopping early if it
  // returns false. end is clamped to Size(). Errors: DataLoss.
  virtual absl::Status Scan(
      uint64_t begin, uint64_t end,
      const std::function<bool(const Entry&, const std::string& leaf)>& visit) const = 0;

  // The latest signed checkpoint. Errors: NotFound for an empty ledger.
  virtual absl::StatusOr<SignedCheckpoint> LatestCheckpoint() const = 0;
  // The checkpoint stored for exactly `size` entries. Errors: NotFound (no batch ended there).
  virtual absl::StatusOr<SignedCheckpoint> CheckpointAt(uint64_t size) const = 0;
  // Sizes that have a stored checkpoint, ascending.
  virtual absl::StatusOr<std::vector<uint64_t>> CheckpointSizes() const = 0;

  // The tree head over the first `size` entries. Errors: OutOfRange (size > Size()).
  virtual absl::StatusOr<Hash> RootAt(uint64_t size) const = 0;
  // RFC 6962 inclusion proof of entry `index` in the tree of `size` entries; O(log size)
  // reads. Errors: InvalidArgument (index >= size), OutOfRange (size > Size()), DataLoss.
  virtual absl::StatusOr<std::vector<Hash>> ProveInclusion(uint64_t index, uint64_t size) const = 0;
  // RFC 6962 consistency proof between trees of `old_size` and `new_size` entries.
  // Errors: InvalidArgument (old_size > new_size), OutOfRange, DataLoss.
  virtual absl::StatusOr<std::vector<Hash>> ProveConsistency(uint64_t old_size,
                                                             uint64_t new_size) const = 0;
};

// The writer. Thread-safe: concurrent appenders share group commits.
class Ledger : public LedgerReader {
 public:
  // Appends one entry; returns its index once it is in a synced RocksDB write batch together
  // with a checkpoint covering it, signed by the ledger's key.
  // Errors: InvalidArgument (empty kind), Unavailable (storage failed; the ledger refuses
  // further appends until reopened, and nothing partial was acknowledged).
  virtual absl::StatusOr<uint64_t> Append(const NewEntry& entry) = 0;
  // Appends entries in order, contiguously; returns the first index. Same guarantees.
  virtual absl::StatusOr<uint64_t> AppendBatch(absl::Span<const NewEntry> entries) = 0;
  // The verifier key that checks this ledger's checkpoints.
  virtual VerifierKey verifier_key() const = 0;
};

// Opens (creating if needed) the ledger in options.directory, writing with `signer`.
// Reopening resumes the chain and tree after checking that the stored tail is intact.
// `clock` must outlive the ledger. Errors: InvalidArgument (options), FailedPrecondition
// (another origin or the latest checkpoint is not signed by `signer`), DataLoss (stored
// bytes are inconsistent), Unavailable (RocksDB could not open, e.g. locked by another
// process).
absl::StatusOr<std::unique_ptr<Ledger>> OpenLedger(const LedgerOptions& options, const Clock& clock,
                                                   const SignerKey& signer);

// Opens a ledger read-only, e.g. for an auditor; no key needed and nothing is checked beyond
// the layout. A writer may hold the directory meanwhile: the reader sees the state at open.
absl::StatusOr<std::unique_ptr<LedgerReader>> OpenLedgerReadOnly(
    const std::filesystem::path& directory);

}  // namespace fleettwin::ledger

#endif  // FLEETTWIN_LEDGER_LEDGER_H_
