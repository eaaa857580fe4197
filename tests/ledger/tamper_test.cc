// The tamper suite: every way of changing stored bytes that the issue lists, applied to a real
// ledger through RocksDB directly (the layout of docs/ledger.md), must make verification fail
// and name the right index.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <random>

#include "fleettwin/common/encoding.h"
#include "fleettwin/ledger/ledger.h"
#include "fleettwin/ledger/verify.h"
#include "ledger_test_util.h"

namespace fleettwin::ledger {
namespace {

using testing::KeyFromByte;
using testing::Record;
using testing::TempDir;

constexpr char kOrigin[] = "fleettwin.test/tamper";

VerifyOptions Options(unsigned threads, std::vector<std::string> trusted = {}) {
  VerifyOptions options;
  options.threads = threads;
  options.trusted_checkpoints = std::move(trusted);
  return options;
}
constexpr uint64_t kEntries = 300;
constexpr uint64_t kBatch = 10;  // Checkpoints at 10, 20, ..., 300.

std::string Key8(uint64_t v) {
  std::string k(8, '\0');
  PutBigEndian64(v, reinterpret_cast<uint8_t*>(k.data()));
  return k;
}
std::string NodeKey(int level, uint64_t index) {
  return std::string(1, static_cast<char>(level)) + Key8(index);
}

// Raw access to the ledger's RocksDB, as an attacker with disk access has.
class RawDb {
 public:
  explicit RawDb(const std::filesystem::path& dir) {
    std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {rocksdb::kDefaultColumnFamilyName, {}},
        {"entries", {}},
        {"nodes", {}},
        {"checkpoints", {}}};
    rocksdb::DB* db = nullptr;
    rocksdb::Status s =
        rocksdb::DB::Open(rocksdb::Options(), dir.string(), families, &handles_, &db);
    EXPECT_TRUE(s.ok()) << s.ToString();
    db_.reset(db);
  }
  ~RawDb() {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    db_->Close();
  }
  rocksdb::ColumnFamilyHandle* meta() { return handles_[0]; }
  rocksdb::ColumnFamilyHandle* entries() { return handles_[1]; }
  rocksdb::ColumnFamilyHandle* nodes() { return handles_[2]; }
  rocksdb::ColumnFamilyHandle* checkpoints() { return handles_[3]; }
  std::string Get(rocksdb::ColumnFamilyHandle* cf, const std::string& key) {
    std::string value;
    EXPECT_TRUE(db_->Get({}, cf, key, &value).ok());
    return value;
  }
  void Put(rocksdb::ColumnFamilyHandle* cf, const std::string& key, const std::string& value) {
    ASSERT_TRUE(db_->Put({}, cf, key, value).ok());
  }
  void Delete(rocksdb::ColumnFamilyHandle* cf, const std::string& key) {
    ASSERT_TRUE(db_->Delete({}, cf, key).ok());
  }
  std::vector<std::pair<std::string, std::string>> All(rocksdb::ColumnFamilyHandle* cf) {
    std::vector<std::pair<std::string, std::string>> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, cf));
    for (it->SeekToFirst(); it->Valid(); it->Next())
      out.emplace_back(it->key().ToString(), it->value().ToString());
    return out;
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

class TamperTest : public ::testing::Test {
 protected:
  void SetUp() override { Build(db_path_, key_, kEntries, "original"); }

  // Writes `count` records in batches of kBatch; entries [0, 200) are the same whatever the
  // key, so two ledgers built this way share their first 200 leaves.
  void Build(const std::filesystem::path& path, const SignerKey& key, uint64_t count,
             const std::string& tail_tag) {
    LedgerOptions options;
    options.directory = path;
    options.origin = kOrigin;
    auto ledger = OpenLedger(options, clock_, key);
    ASSERT_TRUE(ledger.ok()) << ledger.status();
    for (uint64_t start = 0; start < count; start += kBatch) {
      std::vector<NewEntry> batch;
      for (uint64_t i = start; i < start + kBatch; ++i) {
        NewEntry e = Record(i);
        if (i >= 200) e.payload += " " + tail_tag;
        batch.push_back(e);
      }
      ASSERT_TRUE((*ledger)->AppendBatch(batch).ok());
    }
  }

  VerifyReport Verify(const VerifierKey& key, unsigned threads = 2) {
    absl::StatusOr<VerifyReport> report = VerifyLedger(db_path_, key, Options(threads));
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : VerifyReport{};
  }
  VerifyReport Verify() { return Verify(key_.Verifier()); }

  void ExpectBadAt(uint64_t index) {
    for (unsigned threads : {1u, 2u}) {
      VerifyReport report = Verify(key_.Verifier(), threads);
      ASSERT_FALSE(report.ok()) << "tamper went undetected";
      EXPECT_EQ(*report.first_bad_index, index) << report.reason;
      std::cout << "[ info ] detected at " << *report.first_bad_index << ": " << report.reason
                << "\n";
    }
  }

  TempDir dir_;
  std::filesystem::path db_path_ = dir_.path() / "ledger";
  FakeClock clock_{1'700'000'000'000'000'000};
  SignerKey key_ = KeyFromByte(kOrigin, 1);
};

TEST_F(TamperTest, UntouchedLedgerVerifiesWithOneAndTwoThreads) {
  for (unsigned threads : {1u, 2u}) {
    VerifyReport report = Verify(key_.Verifier(), threads);
    EXPECT_TRUE(report.ok()) << report.reason;
    EXPECT_EQ(report.entries, kEntries);
    EXPECT_EQ(report.checkpoints, kEntries / kBatch);
    // Complete subtrees of 300 leaves at the stored levels 4 and 8: 300/16 + 300/256.
    EXPECT_EQ(report.nodes, 18u + 1u);
    ASSERT_TRUE(report.latest.has_value());
    EXPECT_EQ(report.latest->size, kEntries);
  }
}

TEST_F(TamperTest, BitFlipInAnEntryIsNamed) {
  RawDb raw(db_path_);
  std::string value = raw.Get(raw.entries(), Key8(137));
  value[value.size() - 20] ^= 0x04;  // Inside the leaf bytes.
  raw.Put(raw.entries(), Key8(137), value);
  ExpectBadAt(137);
}

TEST_F(TamperTest, BitFlipInAnEntrysStoredLeafHashIsNamed) {
  RawDb raw(db_path_);
  std::string value = raw.Get(raw.entries(), Key8(64));
  value[3] ^= 0x80;
  raw.Put(raw.entries(), Key8(64), value);
  ExpectBadAt(64);
}

TEST_F(TamperTest, DeletedEntryIsNamed) {
  RawDb raw(db_path_);
  raw.Delete(raw.entries(), Key8(150));
  ExpectBadAt(150);
}

TEST_F(TamperTest, SwappedEntriesAreNamed) {
  RawDb raw(db_path_);
  const std::string a = raw.Get(raw.entries(), Key8(40));
  const std::string b = raw.Get(raw.entries(), Key8(41));
  raw.Put(raw.entries(), Key8(40), b);
  raw.Put(raw.entries(), Key8(41), a);
  ExpectBadAt(40);
}

TEST_F(TamperTest, TruncatedTailIsNamed) {
  RawDb raw(db_path_);
  for (uint64_t i = 290; i < kEntries; ++i) raw.Delete(raw.entries(), Key8(i));
  ExpectBadAt(290);
}

TEST_F(TamperTest, TruncatedValueIsNamed) {
  RawDb raw(db_path_);
  const std::string value = raw.Get(raw.entries(), Key8(222));
  raw.Put(raw.entries(), Key8(222), value.substr(0, value.size() - 8));
  ExpectBadAt(222);
}

TEST_F(TamperTest, RewrittenTailWithForgedCheckpointIsNamed) {
  // The forger rebuilds the log from entry 200 on with their own key, keeping the genuine
  // checkpoints up to 200 so that the prefix still looks vouched for.
  const std::filesystem::path forged = dir_.path() / "forged";
  const SignerKey forger = KeyFromByte(kOrigin, 66);
  Build(forged, forger, kEntries, "rewritten");  // Forger-signed checkpoints throughout.
  {
    RawDb genuine(db_path_);
    RawDb raw(forged);
    for (const auto& [key, note] : genuine.All(genuine.checkpoints())) {
      if (GetBigEndian64(reinterpret_cast<const uint8_t*>(key.data())) <= 200) {
        raw.Put(raw.checkpoints(), key, note);
      }
    }
  }
  db_path_ = forged;
  ExpectBadAt(200);
  // The forger's key accepts the tail but not the genuine prefix checkpoints.
  VerifyReport with_forger_key = Verify(forger.Verifier());
  ASSERT_FALSE(with_forger_key.ok());
  EXPECT_EQ(*with_forger_key.first_bad_index, 0u);
}

TEST_F(TamperTest, AlteredCheckpointIsNamed) {
  RawDb raw(db_path_);
  std::string note = raw.Get(raw.checkpoints(), Key8(150));
  // Change one character of the root line.
  const size_t root_at = note.find('\n', note.find('\n') + 1) + 1;
  note[root_at] = note[root_at] == 'A' ? 'B' : 'A';
  raw.Put(raw.checkpoints(), Key8(150), note);
  ExpectBadAt(140);
}

TEST_F(TamperTest, AlteredLatestCheckpointIsNamed) {
  RawDb raw(db_path_);
  std::string note = raw.Get(raw.checkpoints(), Key8(kEntries));
  note.back() = ' ';  // Break the signature line's final newline.
  raw.Put(raw.checkpoints(), Key8(kEntries), note);
  ExpectBadAt(290);
}

TEST_F(TamperTest, WrongVerifierKeyFailsFromTheStart) {
  VerifyReport report = Verify(KeyFromByte(kOrigin, 9).Verifier());
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(*report.first_bad_index, 0u);
}

TEST_F(TamperTest, AlteredNodeMetadataAndStrayKeysAreDetected) {
  {
    RawDb raw(db_path_);
    std::string node = raw.Get(raw.nodes(), NodeKey(4, 2));
    node[0] ^= 1;
    raw.Put(raw.nodes(), NodeKey(4, 2), node);
  }
  ExpectBadAt(32);  // Node (4, 2) covers entries 32..47.
  {
    RawDb raw(db_path_);
    std::string node = raw.Get(raw.nodes(), NodeKey(4, 2));
    node[0] ^= 1;
    raw.Put(raw.nodes(), NodeKey(4, 2), node);
    raw.Put(raw.nodes(), NodeKey(0, 3), std::string(32, 'x'));
  }
  EXPECT_FALSE(Verify().ok());
  {
    // A node at a level the ledger never stores, even with the right hash.
    RawDb raw(db_path_);
    raw.Delete(raw.nodes(), NodeKey(0, 3));
    raw.Put(raw.nodes(), NodeKey(2, 3), std::string(32, 'y'));
  }
  ExpectBadAt(12);
  {
    RawDb raw(db_path_);
    raw.Delete(raw.nodes(), NodeKey(2, 3));
    raw.Put(raw.nodes(), NodeKey(0, 3), std::string(32, 'x'));
  }
  {
    RawDb raw(db_path_);
    raw.Delete(raw.nodes(), NodeKey(0, 3));
    raw.Put(raw.meta(), "size", Key8(299));
  }
  EXPECT_FALSE(Verify().ok());
  {
    RawDb raw(db_path_);
    raw.Put(raw.meta(), "size", Key8(300));
    raw.Put(raw.meta(), "comment", "hello");
  }
  EXPECT_FALSE(Verify().ok());
  {
    RawDb raw(db_path_);
    raw.Delete(raw.meta(), "comment");
    raw.Put(raw.checkpoints(), Key8(0), "junk");
  }
  EXPECT_FALSE(Verify().ok());
  {
    RawDb raw(db_path_);
    raw.Delete(raw.checkpoints(), Key8(0));
  }
  EXPECT_TRUE(Verify().ok());  // Restored: the checks above were about the tampering.
}

TEST_F(TamperTest, StrayEntryFarBeyondTheEndIsBoundedWork) {
  // A single forged key at 2^40 (or 2^60) must not make the verifier scan or allocate up to it.
  for (uint64_t far : {uint64_t{1} << 40, uint64_t{1} << 60}) {
    {
      RawDb raw(db_path_);
      raw.Put(raw.entries(), Key8(far), raw.Get(raw.entries(), Key8(5)));
    }
    ExpectBadAt(300);
    RawDb raw(db_path_);
    raw.Delete(raw.entries(), Key8(far));
  }
  EXPECT_TRUE(Verify().ok());
}

TEST(TamperGapTest, MissingWholeChunkIsNamedAndBounded) {
  testing::TempDir dir;
  const std::filesystem::path path = dir.path() / "ledger";
  FakeClock clock(1);
  const SignerKey key = KeyFromByte(kOrigin, 1);
  {
    LedgerOptions options;
    options.directory = path;
    options.origin = kOrigin;
    auto ledger = OpenLedger(options, clock, key);
    ASSERT_TRUE(ledger.ok());
    for (uint64_t start = 0; start < 30000; start += 1000) {
      std::vector<NewEntry> batch;
      for (uint64_t i = start; i < start + 1000; ++i) batch.push_back(Record(i));
      ASSERT_TRUE((*ledger)->AppendBatch(batch).ok());
    }
  }
  {
    RawDb raw(path);
    for (uint64_t i = 8192; i < 16384; ++i) raw.Delete(raw.entries(), Key8(i));
  }
  for (unsigned threads : {1u, 2u}) {
    absl::StatusOr<VerifyReport> report = VerifyLedger(path, key.Verifier(), Options(threads));
    ASSERT_TRUE(report.ok()) << report.status();
    ASSERT_FALSE(report->ok());
    EXPECT_EQ(*report->first_bad_index, 8192u) << report->reason;
  }
}

// A clean truncation back to a checkpoint leaves a valid ledger (docs/ledger.md 8.4); an
// auditor holding a later checkpoint still catches it.
TEST_F(TamperTest, CleanTruncationIsCaughtByATrustedCheckpoint) {
  std::string trusted;
  {
    RawDb raw(db_path_);
    trusted = raw.Get(raw.checkpoints(), Key8(kEntries));
    for (uint64_t i = 250; i < kEntries; ++i) raw.Delete(raw.entries(), Key8(i));
    for (uint64_t size = 260; size <= kEntries; size += kBatch) {
      raw.Delete(raw.checkpoints(), Key8(size));
    }
    // Nodes at stored levels that need entries >= 250.
    for (int level : {4, 8}) {
      for (uint64_t j = 0; ((j + 1) << level) <= kEntries; ++j) {
        if (((j + 1) << level) > 250) raw.Delete(raw.nodes(), NodeKey(level, j));
      }
    }
    raw.Put(raw.meta(), "size", Key8(250));
  }
  EXPECT_TRUE(Verify().ok()) << "a clean truncation is a valid ledger on its own";
  absl::StatusOr<VerifyReport> report =
      VerifyLedger(db_path_, key_.Verifier(), Options(2, {trusted}));
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_FALSE(report->ok());
  EXPECT_EQ(*report->first_bad_index, 250u) << report->reason;
}

TEST_F(TamperTest, TrustedCheckpointsCheckTheTreeAndTheirOwnSignature) {
  std::string at_100;
  {
    RawDb raw(db_path_);
    at_100 = raw.Get(raw.checkpoints(), Key8(100));
  }
  absl::StatusOr<VerifyReport> fine = VerifyLedger(db_path_, key_.Verifier(), Options(2, {at_100}));
  ASSERT_TRUE(fine.ok());
  EXPECT_TRUE(fine->ok()) << fine->reason;
  // A trusted checkpoint from a different history: the key holder wrote another ledger whose
  // entry 42 differs (a fork).
  std::string forked;
  {
    LedgerOptions options;
    options.directory = dir_.path() / "fork";
    options.origin = kOrigin;
    auto ledger = OpenLedger(options, clock_, key_);
    ASSERT_TRUE(ledger.ok());
    for (uint64_t i = 0; i < 100; ++i) {
      NewEntry e = Record(i);
      if (i == 42) e.payload = "a different past";
      ASSERT_TRUE((*ledger)->Append(e).ok());
    }
    forked = (*(*ledger)->LatestCheckpoint()).note;
  }
  absl::StatusOr<VerifyReport> report =
      VerifyLedger(db_path_, key_.Verifier(), Options(2, {forked}));
  ASSERT_TRUE(report.ok());
  ASSERT_FALSE(report->ok());
  EXPECT_EQ(*report->first_bad_index, 0u) << report->reason;
  EXPECT_NE(report->reason.find("trusted checkpoint"), std::string::npos) << report->reason;
  // Not signed by the key: the auditor's input is refused, not the ledger.
  EXPECT_EQ(VerifyLedger(db_path_, key_.Verifier(),
                         Options(2, {SignCheckpoint({kOrigin, 5, {}}, KeyFromByte(kOrigin, 3))}))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(TamperTest, ReadsRefuseEntriesThatDisagreeWithTheirLeafHash) {
  {
    RawDb raw(db_path_);
    std::string value = raw.Get(raw.entries(), Key8(5));
    value[value.size() - 40] ^= 0x01;  // Inside the payload: still decodes.
    raw.Put(raw.entries(), Key8(5), value);
  }
  auto reader = OpenLedgerReadOnly(db_path_);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->Get(5).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ((*reader)->GetLeaf(5).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ((*reader)->Scan(0, 10, [](const Entry&, const std::string&) { return true; }).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_TRUE((*reader)->Get(4).ok());
}

TEST_F(TamperTest, ExtraColumnFamilyIsDetected) {
  {
    rocksdb::DB* db = nullptr;
    std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {rocksdb::kDefaultColumnFamilyName, {}},
        {"entries", {}},
        {"nodes", {}},
        {"checkpoints", {}}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    ASSERT_TRUE(
        rocksdb::DB::Open(rocksdb::Options(), db_path_.string(), families, &handles, &db).ok());
    rocksdb::ColumnFamilyHandle* extra = nullptr;
    ASSERT_TRUE(db->CreateColumnFamily(rocksdb::ColumnFamilyOptions(), "extra", &extra).ok());
    ASSERT_TRUE(db->Put({}, extra, "k", "v").ok());
    handles.push_back(extra);
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    delete db;
  }
  VerifyReport report = Verify();
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(*report.first_bad_index, 0u);
  EXPECT_NE(report.reason.find("extra"), std::string::npos) << report.reason;
}

TEST_F(TamperTest, NoSingleByteChangeAnywhereGoesUndetected) {
  std::mt19937_64 rng(2026);
  std::vector<std::pair<int, std::string>> targets;
  {
    RawDb raw(db_path_);
    rocksdb::ColumnFamilyHandle* cfs[] = {raw.meta(), raw.entries(), raw.nodes(),
                                          raw.checkpoints()};
    for (int c = 0; c < 4; ++c) {
      for (const auto& [key, value] : raw.All(cfs[c])) targets.emplace_back(c, key);
    }
  }
  for (int round = 0; round < 60; ++round) {
    const auto& [cf_index, key] = targets[rng() % targets.size()];
    std::string original;
    {
      RawDb raw(db_path_);
      rocksdb::ColumnFamilyHandle* cfs[] = {raw.meta(), raw.entries(), raw.nodes(),
                                            raw.checkpoints()};
      original = raw.Get(cfs[cf_index], key);
      std::string changed = original;
      if (changed.empty()) changed = "x";
      changed[rng() % changed.size()] ^= static_cast<char>(1 + rng() % 255);
      raw.Put(cfs[cf_index], key, changed);
    }
    VerifyReport report = Verify();
    EXPECT_FALSE(report.ok()) << "undetected change in column family " << cf_index << " key "
                              << HexEncode(AsBytes(key));
    {
      RawDb raw(db_path_);
      rocksdb::ColumnFamilyHandle* cfs[] = {raw.meta(), raw.entries(), raw.nodes(),
                                            raw.checkpoints()};
      raw.Put(cfs[cf_index], key, original);
    }
  }
  EXPECT_TRUE(Verify().ok());
}

}  // namespace
}  // namespace fleettwin::ledger
