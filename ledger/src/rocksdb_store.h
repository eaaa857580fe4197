// The RocksDB adapter shared by the writer, the reader and the verifier: the one place that
// knows column families and key layout (docs/ledger.md, "Storage"). Converts every RocksDB
// status into an absl::Status.
#ifndef FLEETTWIN_LEDGER_SRC_ROCKSDB_STORE_H_
#define FLEETTWIN_LEDGER_SRC_ROCKSDB_STORE_H_

#include <rocksdb/db.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fleettwin/common/crypto.h"

namespace fleettwin::ledger::internal {

inline constexpr char kFormatKey[] = "format";
inline constexpr char kOriginKey[] = "origin";
inline constexpr char kSizeKey[] = "size";
inline constexpr char kFormatValue[] = "fleettwin-ledger/1";

// An entries-CF value is the leaf hash followed by the leaf bytes.
inline constexpr size_t kLeafHashBytes = 32;

// Interior tree nodes are stored only at levels that are positive multiples of kNodeStride
// (about one node per 15 entries instead of one per entry, which halves the keys per group
// commit); a level in between is recomputed from at most 2^(kNodeStride-1) consecutive stored
// hashes of the stored level below it, read with one iterator.
inline constexpr int kNodeStride = 4;
inline constexpr bool IsStoredLevel(int level) { return level > 0 && level % kNodeStride == 0; }

std::string EntryKey(uint64_t index);
std::string NodeKey(int level, uint64_t index);
std::string CheckpointKey(uint64_t size);
std::string EncodeU64(uint64_t value);
// Decodes an 8-byte big-endian key or value; nullopt if the length is wrong.
std::optional<uint64_t> DecodeU64(const rocksdb::Slice& bytes);

absl::Status FromRocks(const rocksdb::Status& status, absl::string_view what);

class RocksStore final {
 public:
  // Opens `directory`. read_only: no lock, no writes, the state at open.
  // Errors: NotFound (no database and !create), Unavailable (locked, I/O).
  static absl::StatusOr<std::unique_ptr<RocksStore>> Open(const std::filesystem::path& directory,
                                                          bool read_only, bool create);
  ~RocksStore();
  RocksStore(const RocksStore&) = delete;
  RocksStore& operator=(const RocksStore&) = delete;

  // Names of every column family in the database at `directory` (ours are four).
  static absl::StatusOr<std::vector<std::string>> ListColumnFamilies(
      const std::filesystem::path& directory);

  rocksdb::DB& db() { return *db_; }
  rocksdb::ColumnFamilyHandle* meta() { return handles_[0]; }
  rocksdb::ColumnFamilyHandle* entries() { return handles_[1]; }
  rocksdb::ColumnFamilyHandle* nodes() { return handles_[2]; }
  rocksdb::ColumnFamilyHandle* checkpoints() { return handles_[3]; }

  // Point read; nullopt if absent.
  absl::StatusOr<std::optional<std::string>> Get(rocksdb::ColumnFamilyHandle* cf,
                                                 const std::string& key);
  // Iterator for a full pass: checksums verified, no cache pollution, readahead.
  std::unique_ptr<rocksdb::Iterator> ScanIterator(rocksdb::ColumnFamilyHandle* cf);
  std::unique_ptr<rocksdb::Iterator> PointIterator(rocksdb::ColumnFamilyHandle* cf);

 private:
  RocksStore() = default;
  bool read_only_ = true;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // Owned; destroyed before db_.
};

}  // namespace fleettwin::ledger::internal

#endif  // FLEETTWIN_LEDGER_SRC_ROCKSDB_STORE_H_
