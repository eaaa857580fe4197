// The verifier's internals, shared by verifier.cc (the run and its sequential join) and
// verifier_chunk.cc (the per-chunk checks that the workers run).
#ifndef FLEETTWIN_LEDGER_SRC_VERIFIER_INTERNAL_H_
#define FLEETTWIN_LEDGER_SRC_VERIFIER_INTERNAL_H_

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "fleettwin/ledger/merkle.h"
#include "fleettwin/ledger/note.h"
#include "fleettwin/ledger/verify.h"
#include "rocksdb_store.h"

namespace fleettwin::ledger::internal {

constexpr int kChunkLevel = 13;
constexpr uint64_t kChunk = uint64_t{1} << kChunkLevel;
constexpr int kMaxLevel = 63;
// Larger indices are treated as stray keys (keeps chunk arithmetic far from overflow).
constexpr uint64_t kMaxEntries = uint64_t{1} << 56;

// Evidence that entries [lo, hi) cannot be trusted. Precise findings name one entry.
struct Finding {
  uint64_t lo = 0;
  uint64_t hi = 0;
  std::string reason;
  bool precise() const { return hi == lo + 1; }
};

struct CheckpointResult {
  uint64_t size = 0;
  std::string error;  // Empty if signature, origin and size hold.
  Hash claimed_root{};
  std::vector<Hash> partial;  // Compact range of [chunk start, size).
};

struct ChunkResult {
  std::optional<Hash> first_prev_hash;  // prev_hash field of the chunk's first entry.
  std::optional<Hash> last_chain_hash;  // ChainHash of the chunk's last entry.
  Hash root{};                          // Valid for full chunks.
  std::vector<CheckpointResult> checkpoints;
  std::vector<CheckpointResult> trusted;  // The auditor's own checkpoints in this chunk.
  uint64_t nodes = 0;
};

class Verifier {
 public:
  Verifier(RocksStore& store, const VerifierKey& key, const VerifyOptions& options,
           std::vector<Checkpoint> trusted)
      : store_(store), key_(key), options_(options), trusted_(std::move(trusted)) {}

  // `families`: every column family the database holds.
  absl::StatusOr<VerifyReport> Run(const std::vector<std::string>& families);

 private:
  void Add(uint64_t lo, uint64_t hi, std::string reason) {
    std::lock_guard lock(mu_);
    findings_.push_back({lo, hi, std::move(reason)});
  }
  void AddAt(uint64_t index, std::string reason) { Add(index, index + 1, std::move(reason)); }

  void CheckChunk(uint64_t chunk, ChunkResult& out);
  void CheckNodeLevel(int level, uint64_t first, uint64_t end_complete, uint64_t end_range,
                      const std::vector<Hash>& computed, ChunkResult& out);
  // Any key at a level that is never stored, within [first, end_range), is a finding.
  void CheckUnstoredLevel(int level, uint64_t first, uint64_t end_range);
  void CheckStrayKeys(rocksdb::ColumnFamilyHandle* cf, const std::string& from,
                      const std::string& to, const std::string& what, uint64_t blame);
  void Resolve(VerifyReport& report);

  RocksStore& store_;
  const VerifierKey& key_;
  const VerifyOptions& options_;
  const std::vector<Checkpoint> trusted_;  // Sorted by size.
  std::string origin_;
  uint64_t total_ = 0;
  std::atomic<uint64_t> done_{0};
  std::mutex mu_;
  std::vector<Finding> findings_;
};

}  // namespace fleettwin::ledger::internal

#endif  // FLEETTWIN_LEDGER_SRC_VERIFIER_INTERNAL_H_
