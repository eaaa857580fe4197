// ledger_bench: what the ledger's guarantees cost, measured against plain RocksDB doing the
// same I/O on the same records. Append: Ledger::AppendBatch versus synced WriteBatches of the
// same leaf bytes under the same 8-byte big-endian keys, same batch size. Verify: VerifyLedger
// with 1 and 2 threads versus a full iterator scan of the raw database. Prints the median of
// --repeats runs, the ratios and their targets; exits 0 whatever the speed (benchmarks never
// gate on time) and non-zero only if something does not work (an error, a ledger that does
// not verify, a scan that finds the wrong number of records).
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fleettwin/common/clock.h"
#include "fleettwin/common/encoding.h"
#include "fleettwin/ledger/entry.h"
#include "fleettwin/ledger/ledger.h"
#include "fleettwin/ledger/note.h"
#include "fleettwin/ledger/verify.h"

namespace fl = fleettwin::ledger;
namespace fs = std::filesystem;

namespace {

constexpr char kOrigin[] = "fleettwin.bench/ledger_bench";
constexpr double kAppendTarget = 0.5;  // Ledger append >= 0.5 x raw synced batch writes.
constexpr double kVerifyTarget = 0.5;  // Verify with 2 threads >= 0.5 x raw scan.

struct BenchOptions {
  uint64_t entries = 300000;
  size_t batch = 1000;
  size_t payload = 200;
  int repeats = 3;
  std::string dir;  // Parent of the scratch directory; empty: the system temp directory.
};

// Removes the scratch directory on every exit path, errors included.
class ScratchDir final {
 public:
  static absl::StatusOr<ScratchDir> Create(const fs::path& parent) {
    std::error_code ec;
    fs::create_directories(parent, ec);
    std::string pattern = (parent / "ledger_bench.XXXXXX").string();
    if (ec || mkdtemp(pattern.data()) == nullptr) {
      return absl::UnavailableError("cannot create a scratch directory under " + parent.string());
    }
    return ScratchDir(pattern);
  }
  ScratchDir(ScratchDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ScratchDir& operator=(ScratchDir&&) = delete;
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  explicit ScratchDir(fs::path path) : path_(std::move(path)) {}
  fs::path path_;
};

class Stopwatch final {
 public:
  double Seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

absl::Status FromRocks(const rocksdb::Status& status, const std::string& what) {
  if (status.ok()) return absl::OkStatus();
  return absl::UnavailableError(what + ": " + status.ToString());
}

// The same options the ledger gives RocksDB (ledger/src/rocksdb_store.cc), so that the ratios
// measure the ledger's own work rather than a difference in tuning.
rocksdb::Options RawOptions() {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.paranoid_checks = true;
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  options.IncreaseParallelism(2);
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  options.keep_log_file_num = 2;
  return options;
}

// As the verifier reads: checksums verified, no block-cache pollution, readahead.
rocksdb::ReadOptions ScanReadOptions() {
  rocksdb::ReadOptions read;
  read.verify_checksums = true;
  read.fill_cache = false;
  read.readahead_size = 2 << 20;
  return read;
}

std::string RawKey(uint64_t index) {
  std::string key(8, '\0');
  fleettwin::PutBigEndian64(index, reinterpret_cast<uint8_t*>(key.data()));
  return key;
}

// Random payload bytes: compressible ones would let RocksDB's compression flatter both sides.
std::vector<fl::NewEntry> MakeEntries(const BenchOptions& options) {
  std::mt19937_64 rng(42);
  std::vector<fl::NewEntry> entries(options.entries);
  for (uint64_t i = 0; i < options.entries; ++i) {
    fl::NewEntry& e = entries[i];
    e.kind = "twin.update";
    e.author = "asset-" + std::to_string(i % 64);
    e.revision = i / 64;
    e.payload.resize(options.payload);
    for (size_t at = 0; at < e.payload.size(); at += 8) {
      const uint64_t word = rng();
      std::memcpy(e.payload.data() + at, &word, std::min<size_t>(8, e.payload.size() - at));
    }
  }
  return entries;
}

// The leaves the ledger would store for `entries` (same fields, index and chain), so the raw
// side writes byte-for-byte comparable records. Built before timing: encoding is ledger work.
std::vector<std::string> MakeLeaves(const std::vector<fl::NewEntry>& entries, int64_t now) {
  std::vector<std::string> leaves;
  leaves.reserve(entries.size());
  fleettwin::Hash chain{};
  for (uint64_t i = 0; i < entries.size(); ++i) {
    const fl::NewEntry& in = entries[i];
    leaves.push_back(
        fl::EncodeLeaf(fl::Entry{i, in.kind, in.author, in.revision, now, in.payload, chain}));
    chain = fl::ChainHash(fleettwin::AsBytes(leaves.back()));
  }
  return leaves;
}

// Seconds to append everything, one AppendBatch (so one group commit) per batch.
absl::StatusOr<double> LedgerAppend(const fs::path& dir, const std::vector<fl::NewEntry>& entries,
                                    size_t batch, const fleettwin::Clock& clock,
                                    const fl::SignerKey& signer) {
  fl::LedgerOptions options;
  options.directory = dir;
  options.origin = kOrigin;
  absl::StatusOr<std::unique_ptr<fl::Ledger>> ledger = fl::OpenLedger(options, clock, signer);
  if (!ledger.ok()) return ledger.status();
  const absl::Span<const fl::NewEntry> all(entries);
  Stopwatch watch;
  for (size_t begin = 0; begin < all.size(); begin += batch) {
    absl::StatusOr<uint64_t> first = (*ledger)->AppendBatch(all.subspan(begin, batch));
    if (!first.ok()) return first.status();
    if (*first != begin) return absl::InternalError("AppendBatch returned an unexpected index");
  }
  const double seconds = watch.Seconds();
  if ((*ledger)->Size() != entries.size()) return absl::InternalError("ledger size is wrong");
  return seconds;
}

// Seconds to write the same leaves into a plain database in synced batches.
absl::StatusOr<double> RawAppend(const fs::path& dir, const std::vector<std::string>& leaves,
                                 size_t batch) {
  rocksdb::DB* raw = nullptr;
  if (absl::Status s = FromRocks(rocksdb::DB::Open(RawOptions(), dir.string(), &raw), "open raw");
      !s.ok()) {
    return s;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions write;
  write.sync = true;
  Stopwatch watch;
  for (size_t begin = 0; begin < leaves.size(); begin += batch) {
    rocksdb::WriteBatch wb;
    for (size_t i = begin; i < std::min(begin + batch, leaves.size()); ++i) {
      wb.Put(RawKey(i), leaves[i]);
    }
    if (absl::Status s = FromRocks(db->Write(write, &wb), "raw write"); !s.ok()) return s;
  }
  const double seconds = watch.Seconds();
  if (absl::Status s = FromRocks(db->Close(), "close raw"); !s.ok()) return s;
  return seconds;
}

// Seconds for a full verification, which opens the database itself.
absl::StatusOr<double> TimeVerify(const fs::path& dir, const fl::VerifierKey& key, unsigned threads,
                                  uint64_t expected) {
  fl::VerifyOptions options;
  options.threads = threads;
  Stopwatch watch;
  absl::StatusOr<fl::VerifyReport> report = fl::VerifyLedger(dir, key, options);
  const double seconds = watch.Seconds();
  if (!report.ok()) return report.status();
  if (!report->ok()) {
    return absl::DataLossError("the ledger does not verify at entry " +
                               std::to_string(*report->first_bad_index) + ": " + report->reason);
  }
  if (report->entries != expected || !report->latest || report->latest->size != expected) {
    return absl::DataLossError("verification saw " + std::to_string(report->entries) +
                               " entries, expected " + std::to_string(expected));
  }
  return seconds;
}

// Seconds to open the raw database read-only (as the verifier does) and read every record.
absl::StatusOr<double> TimeRawScan(const fs::path& dir, uint64_t expected) {
  Stopwatch watch;
  rocksdb::DB* raw = nullptr;
  if (absl::Status s = FromRocks(rocksdb::DB::OpenForReadOnly(RawOptions(), dir.string(), &raw),
                                 "open raw read-only");
      !s.ok()) {
    return s;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  uint64_t count = 0;
  uint64_t touched = 0;
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ScanReadOptions()));
    // Touching sizes and one byte of each is enough to make RocksDB hand over every record;
    // per-byte work on top would be the ledger's work, which this baseline leaves out.
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const rocksdb::Slice key = it->key();
      const rocksdb::Slice value = it->value();
      touched += key.size() + value.size() + static_cast<uint8_t>(value.empty() ? 0 : value[0]);
      ++count;
    }
    if (absl::Status s = FromRocks(it->status(), "raw scan"); !s.ok()) return s;
  }
  if (absl::Status s = FromRocks(db->Close(), "close raw"); !s.ok()) return s;
  const double seconds = watch.Seconds();
  if (count != expected || touched == 0) {
    return absl::DataLossError("raw scan read " + std::to_string(count) + " records, expected " +
                               std::to_string(expected));
  }
  return seconds;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

// Entries per second from the run times, as "median (run, run, ...)"; returns the median.
double PrintRate(const char* label, uint64_t entries, const std::vector<double>& seconds) {
  std::vector<double> rates;
  rates.reserve(seconds.size());
  for (double s : seconds) rates.push_back(static_cast<double>(entries) / s);
  const double median = Median(rates);
  std::printf("%-38s %12.0f entries/s  (runs:", label, median);
  for (double r : rates) std::printf(" %.0f", r);
  std::printf(")\n");
  return median;
}

void PrintRatio(const char* label, double ratio, double target) {
  std::printf("%-38s %12.2f            target >= %.2f  %s\n", label, ratio, target,
              ratio >= target ? "PASS" : "MISS");
}

struct Timings {
  std::vector<double> ledger_append, raw_append, verify1, verify2, raw_scan;
};

absl::Status Run(const BenchOptions& options) {
  std::error_code ec;
  const fs::path parent = options.dir.empty() ? fs::temp_directory_path(ec) : fs::path(options.dir);
  if (ec) return absl::UnavailableError("no temporary directory: " + ec.message());
  absl::StatusOr<ScratchDir> scratch = ScratchDir::Create(parent);
  if (!scratch.ok()) return scratch.status();

  fleettwin::SystemClock clock;
  std::array<uint8_t, 32> seed{};
  seed.fill(7);
  absl::StatusOr<fl::SignerKey> signer = fl::SignerKeyFromSeed("ledger-bench", seed);
  if (!signer.ok()) return signer.status();
  const std::vector<fl::NewEntry> entries = MakeEntries(options);
  const std::vector<std::string> leaves = MakeLeaves(entries, clock.NowUnixNanos());

  std::printf(
      "ledger_bench: %llu entries, %zu-byte payloads (%zu-byte leaves), batch %zu "
      "(one AppendBatch each; group_commit_entries %zu), %d repeat(s), median shown\n"
      "  scratch %s\n",
      static_cast<unsigned long long>(options.entries), options.payload, leaves.front().size(),
      options.batch, fl::LedgerOptions{}.group_commit_entries, options.repeats,
      scratch->path().c_str());
  std::fflush(stdout);

  Timings t;
  const fs::path ledger_dir = scratch->path() / "ledger";
  const fs::path raw_dir = scratch->path() / "raw";
  for (int r = 0; r < options.repeats; ++r) {
    // Every append run starts from empty databases; a grown LSM tree would slow later runs.
    fs::remove_all(ledger_dir, ec);
    fs::remove_all(raw_dir, ec);
    // Alternate who goes first, so neither side always runs while the disk is still
    // writing back the other's files.
    for (int side = 0; side < 2; ++side) {
      if ((side + r) % 2 == 0) {
        absl::StatusOr<double> s = LedgerAppend(ledger_dir, entries, options.batch, clock, *signer);
        if (!s.ok()) return s.status();
        t.ledger_append.push_back(*s);
      } else {
        absl::StatusOr<double> s = RawAppend(raw_dir, leaves, options.batch);
        if (!s.ok()) return s.status();
        t.raw_append.push_back(*s);
      }
    }
    // Each read phase opens its database afresh; the page cache stays warm for both alike.
    absl::StatusOr<double> v1 = TimeVerify(ledger_dir, signer->Verifier(), 1, options.entries);
    if (!v1.ok()) return v1.status();
    absl::StatusOr<double> v2 = TimeVerify(ledger_dir, signer->Verifier(), 2, options.entries);
    if (!v2.ok()) return v2.status();
    absl::StatusOr<double> scan = TimeRawScan(raw_dir, options.entries);
    if (!scan.ok()) return scan.status();
    t.verify1.push_back(*v1);
    t.verify2.push_back(*v2);
    t.raw_scan.push_back(*scan);
  }

  const uint64_t n = options.entries;
  const double append = PrintRate("append  Ledger::AppendBatch", n, t.ledger_append);
  const double raw_append = PrintRate("append  raw RocksDB synced batch", n, t.raw_append);
  PrintRatio("append  ratio ledger/raw", append / raw_append, kAppendTarget);
  PrintRate("verify  VerifyLedger, 1 thread", n, t.verify1);
  const double verify2 = PrintRate("verify  VerifyLedger, 2 threads", n, t.verify2);
  const double scan = PrintRate("scan    raw RocksDB iterator", n, t.raw_scan);
  PrintRatio("verify  ratio verify(2 threads)/scan", verify2 / scan, kVerifyTarget);
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "ledger_bench: ledger append and verify throughput against raw RocksDB on the same "
      "records. Exit 0 whatever the speed; 1 if anything fails to work."};
  BenchOptions options;
  bool quick = false;
  app.add_option("--entries", options.entries, "Entries per run")->check(CLI::PositiveNumber);
  app.add_option("--batch", options.batch, "Entries per synced batch (ledger and raw)")
      ->check(CLI::PositiveNumber);
  app.add_option("--payload", options.payload, "Payload bytes per entry");
  app.add_option("--repeats", options.repeats, "Runs per figure; the median is reported")
      ->check(CLI::PositiveNumber);
  app.add_option(
      "--dir", options.dir,
      "Where to create the scratch directory (removed at exit); default: $TMPDIR or /tmp");
  app.add_flag("--quick", quick, "CI smoke run: 20000 entries, 1 repeat");
  CLI11_PARSE(app, argc, argv);
  if (quick) {
    options.entries = 20000;
    options.repeats = 1;
  }

  if (absl::Status s = Run(options); !s.ok()) {
    std::fprintf(stderr, "ledger_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
