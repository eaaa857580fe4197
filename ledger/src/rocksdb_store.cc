#include "rocksdb_store.h"

#include <rocksdb/options.h>
#include <rocksdb/table.h>

#include "absl/strings/str_cat.h"
#include "fleettwin/common/encoding.h"

namespace fleettwin::ledger::internal {

std::string EncodeU64(uint64_t value) {
  std::string out(8, '\0');
  PutBigEndian64(value, reinterpret_cast<uint8_t*>(out.data()));
  return out;
}

std::string EntryKey(uint64_t index) { return EncodeU64(index); }
std::string CheckpointKey(uint64_t size) { return EncodeU64(size); }

std::string NodeKey(int level, uint64_t index) {
  std::string out(1, static_cast<char>(level));
  out += EncodeU64(index);
  return out;
}

std::optional<uint64_t> DecodeU64(const rocksdb::Slice& bytes) {
  if (bytes.size() != 8) return std::nullopt;
  return GetBigEndian64(reinterpret_cast<const uint8_t*>(bytes.data()));
}

absl::Status FromRocks(const rocksdb::Status& status, absl::string_view what) {
  if (status.ok()) return absl::OkStatus();
  const std::string message = absl::StrCat(what, ": ", status.ToString());
  if (status.IsCorruption()) return absl::DataLossError(message);
  if (status.IsNotFound()) return absl::NotFoundError(message);
  if (status.IsInvalidArgument()) return absl::InvalidArgumentError(message);
  return absl::UnavailableError(message);
}

absl::StatusOr<std::unique_ptr<RocksStore>> RocksStore::Open(const std::filesystem::path& directory,
                                                             bool read_only, bool create) {
  rocksdb::Options options;
  options.create_if_missing = create;
  options.create_missing_column_families = create;
  options.paranoid_checks = true;
  // Synced writes go through the WAL; a torn tail batch is dropped as a whole on recovery.
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  options.IncreaseParallelism(2);
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  options.keep_log_file_num = 2;
  // Bound the WAL of a long-running writer: past this, RocksDB flushes the column families
  // that pin old log files, so reopening never replays an unbounded history.
  options.max_total_wal_size = 64 << 20;

  rocksdb::ColumnFamilyOptions cf_options(options);
  // Interior nodes are SHA-256 hashes: incompressible, so compressing them only burns CPU.
  rocksdb::ColumnFamilyOptions node_options(options);
  node_options.compression = rocksdb::kNoCompression;
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, cf_options},
      {"entries", cf_options},
      {"nodes", node_options},
      {"checkpoints", cf_options},
  };
  std::unique_ptr<RocksStore> store(new RocksStore());
  rocksdb::DB* raw = nullptr;
  rocksdb::Status status =
      read_only ? rocksdb::DB::OpenForReadOnly(options, directory.string(), families,
                                               &store->handles_, &raw)
                : rocksdb::DB::Open(options, directory.string(), families, &store->handles_, &raw);
  if (!status.ok()) {
    if (!create && (status.IsInvalidArgument() || status.IsPathNotFound() || status.IsNotFound())) {
      return absl::NotFoundError(
          absl::StrCat("no ledger at ", directory.string(), ": ", status.ToString()));
    }
    return FromRocks(status, absl::StrCat("open ", directory.string()));
  }
  store->db_.reset(raw);
  store->read_only_ = read_only;
  return store;
}

absl::StatusOr<std::vector<std::string>> RocksStore::ListColumnFamilies(
    const std::filesystem::path& directory) {
  std::vector<std::string> names;
  rocksdb::Status status =
      rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), directory.string(), &names);
  if (!status.ok()) return FromRocks(status, absl::StrCat("list ", directory.string()));
  return names;
}

RocksStore::~RocksStore() {
  if (db_ == nullptr) return;
  if (!read_only_) {
    // Flush every column family so the WAL can be dropped: the small families never fill
    // their write buffers, and without this every later open (each audit) replays the whole
    // history from the log. Failure here loses nothing: the synced WAL still holds it all.
    rocksdb::FlushOptions flush;
    db_->Flush(flush, handles_);
  }
  for (rocksdb::ColumnFamilyHandle* handle : handles_) db_->DestroyColumnFamilyHandle(handle);
  handles_.clear();
  db_->Close();
}

absl::StatusOr<std::optional<std::string>> RocksStore::Get(rocksdb::ColumnFamilyHandle* cf,
                                                           const std::string& key) {
  rocksdb::ReadOptions read;
  read.verify_checksums = true;
  std::string value;
  rocksdb::Status status = db_->Get(read, cf, key, &value);
  if (status.IsNotFound()) return std::optional<std::string>();
  if (!status.ok()) return FromRocks(status, "read");
  return std::optional<std::string>(std::move(value));
}

std::unique_ptr<rocksdb::Iterator> RocksStore::ScanIterator(rocksdb::ColumnFamilyHandle* cf) {
  rocksdb::ReadOptions read;
  read.verify_checksums = true;
  read.fill_cache = false;
  read.readahead_size = 2 << 20;
  return std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(read, cf));
}

std::unique_ptr<rocksdb::Iterator> RocksStore::PointIterator(rocksdb::ColumnFamilyHandle* cf) {
  rocksdb::ReadOptions read;
  read.verify_checksums = true;
  return std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(read, cf));
}

}  // namespace fleettwin::ledger::internal
