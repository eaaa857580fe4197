#include "fleettwin/ledger/ledger.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "fleettwin/ledger/verify.h"
#include "ledger_test_util.h"
#include "naive_merkle.h"

namespace fleettwin::ledger {
namespace {

using testing::KeyFromByte;
using testing::Record;
using testing::TempDir;

constexpr char kOrigin[] = "fleettwin.test/ledger";

class LedgerTest : public ::testing::Test {
 protected:
  absl::StatusOr<std::unique_ptr<Ledger>> Open(size_t group = 64) {
    LedgerOptions options;
    options.directory = dir_.path() / "db";
    options.origin = kOrigin;
    options.group_commit_entries = group;
    return OpenLedger(options, clock_, key_);
  }

  TempDir dir_;
  FakeClock clock_{1'700'000'000'000'000'000};
  SignerKey key_ = KeyFromByte(kOrigin, 1);
};

TEST_F(LedgerTest, AppendsChainsAndReadsBack) {
  auto ledger = Open();
  ASSERT_TRUE(ledger.ok()) << ledger.status();
  EXPECT_EQ((*ledger)->Size(), 0u);
  EXPECT_EQ((*ledger)->LatestCheckpoint().status().code(), absl::StatusCode::kNotFound);
  for (uint64_t i = 0; i < 10; ++i) {
    clock_.Advance(1000);
    absl::StatusOr<uint64_t> index = (*ledger)->Append(Record(i));
    ASSERT_TRUE(index.ok()) << index.status();
    EXPECT_EQ(*index, i);
  }
  EXPECT_EQ((*ledger)->Size(), 10u);
  Hash prev{};
  for (uint64_t i = 0; i < 10; ++i) {
    absl::StatusOr<Entry> e = (*ledger)->Get(i);
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_EQ(e->index, i);
    EXPECT_EQ(e->kind, "test.record");
    EXPECT_EQ(e->revision, i);
    EXPECT_EQ(e->payload, "payload #" + std::to_string(i));
    EXPECT_EQ(e->wall_time_nanos, 1'700'000'000'000'000'000 + 1000 * static_cast<int64_t>(i + 1));
    EXPECT_EQ(e->prev_hash, prev);  // The chain.
    absl::StatusOr<std::string> leaf = (*ledger)->GetLeaf(i);
    ASSERT_TRUE(leaf.ok());
    EXPECT_EQ(*leaf, EncodeLeaf(*e));
    prev = Sha256(AsBytes(*leaf));
  }
  EXPECT_EQ((*ledger)->Get(10).status().code(), absl::StatusCode::kOutOfRange);
  // One append, one group commit, one checkpoint.
  absl::StatusOr<std::vector<uint64_t>> sizes = (*ledger)->CheckpointSizes();
  ASSERT_TRUE(sizes.ok());
  EXPECT_EQ(*sizes, (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
}

TEST_F(LedgerTest, RejectsBadOptionsAndEntries) {
  LedgerOptions options;
  options.directory = dir_.path() / "x";
  options.origin = "two\nlines";
  EXPECT_EQ(OpenLedger(options, clock_, key_).status().code(), absl::StatusCode::kInvalidArgument);
  options.origin = "";
  EXPECT_EQ(OpenLedger(options, clock_, key_).status().code(), absl::StatusCode::kInvalidArgument);
  auto ledger = Open();
  ASSERT_TRUE(ledger.ok());
  EXPECT_EQ((*ledger)->Append(NewEntry{"", "a", 0, 0, "p"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*ledger)->AppendBatch({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*ledger)->Size(), 0u);
}

TEST_F(LedgerTest, CheckpointsAreSignedAndMatchTheTree) {
  auto ledger = Open();
  ASSERT_TRUE(ledger.ok());
  naive::Leaves leaves;
  for (uint64_t i = 0; i < 37; ++i) {
    ASSERT_TRUE((*ledger)->Append(Record(i)).ok());
    leaves.push_back(*(*ledger)->GetLeaf(i));
    absl::StatusOr<SignedCheckpoint> cp = (*ledger)->LatestCheckpoint();
    ASSERT_TRUE(cp.ok());
    absl::StatusOr<Checkpoint> opened = OpenCheckpoint(cp->note, key_.Verifier());
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_EQ(opened->origin, kOrigin);
    EXPECT_EQ(opened->size, i + 1);
    EXPECT_EQ(opened->root, naive::Mth(leaves, 0, i + 1));
    EXPECT_EQ(*(*ledger)->RootAt(i + 1), opened->root);
  }
}

TEST_F(LedgerTest, ProofsMatchTheNaiveImplementationAndVerify) {
  auto ledger = Open(16);
  ASSERT_TRUE(ledger.ok());
  std::vector<NewEntry> batch;
  for (uint64_t i = 0; i < 75; ++i) batch.push_back(Record(i));
  ASSERT_TRUE((*ledger)->AppendBatch(batch).ok());
  naive::Leaves leaves;
  for (uint64_t i = 0; i < 75; ++i) leaves.push_back(*(*ledger)->GetLeaf(i));
  for (uint64_t size : {1, 2, 5, 16, 17, 33, 64, 75}) {
    const Hash root = naive::Mth(leaves, 0, size);
    ASSERT_EQ(*(*ledger)->RootAt(size), root);
    for (uint64_t i = 0; i < size; i += 3) {
      absl::StatusOr<std::vector<Hash>> proof = (*ledger)->ProveInclusion(i, size);
      ASSERT_TRUE(proof.ok()) << proof.status();
      EXPECT_EQ(*proof, naive::Path(i, leaves, 0, size));
      EXPECT_TRUE(VerifyInclusion(LeafHash(AsBytes(leaves[i])), i, size, *proof, root).ok());
    }
    for (uint64_t old_size = 1; old_size <= size; old_size += 4) {
      absl::StatusOr<std::vector<Hash>> proof = (*ledger)->ProveConsistency(old_size, size);
      ASSERT_TRUE(proof.ok());
      EXPECT_EQ(*proof, naive::Proof(old_size, leaves, size));
      EXPECT_TRUE(
          VerifyConsistency(old_size, size, naive::Mth(leaves, 0, old_size), root, *proof).ok());
    }
  }
  EXPECT_EQ((*ledger)->ProveInclusion(0, 76).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ((*ledger)->ProveInclusion(75, 75).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(LedgerTest, OneWritersBatchIsOneGroupInOrder) {
  auto ledger = Open(16);
  ASSERT_TRUE(ledger.ok());
  std::vector<NewEntry> batch;
  for (uint64_t i = 0; i < 40; ++i) batch.push_back(Record(i));
  absl::StatusOr<uint64_t> first = (*ledger)->AppendBatch(batch);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, 0u);
  // A single writer's batch is never split: it lands in one group, one checkpoint.
  EXPECT_EQ(*(*ledger)->CheckpointSizes(), std::vector<uint64_t>{40});
  for (uint64_t i = 0; i < 40; ++i) EXPECT_EQ((*ledger)->Get(i)->revision, i);
}

TEST_F(LedgerTest, ConcurrentAppendersShareGroupCommits) {
  auto ledger = Open(1024);
  ASSERT_TRUE(ledger.ok());
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  std::vector<std::vector<uint64_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        NewEntry e{"test.concurrent", "thread-" + std::to_string(t), static_cast<uint64_t>(i), 0,
                   "x"};
        absl::StatusOr<uint64_t> index = (*ledger)->Append(e);
        ASSERT_TRUE(index.ok()) << index.status();
        got[t].push_back(*index);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<uint64_t> all;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_TRUE(std::is_sorted(got[t].begin(), got[t].end()));  // Per-writer order kept.
    for (uint64_t i : got[t]) {
      all.insert(i);
      absl::StatusOr<Entry> e = (*ledger)->Get(i);
      ASSERT_TRUE(e.ok());
      EXPECT_EQ(e->author, "thread-" + std::to_string(t));  // Index returned is the entry's.
    }
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(*all.rbegin(), static_cast<uint64_t>(kThreads * kPerThread - 1));
  // Fewer checkpoints than entries: appenders shared synced batches.
  const size_t checkpoints = (*ledger)->CheckpointSizes()->size();
  EXPECT_LT(checkpoints, static_cast<size_t>(kThreads * kPerThread));
  std::cout << "[ info ] " << kThreads * kPerThread << " concurrent appends used " << checkpoints
            << " group commits\n";
  ledger->reset();
  absl::StatusOr<VerifyReport> report =
      VerifyLedger(dir_.path() / "db", key_.Verifier(), VerifyOptions{});
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok()) << report->reason;
}

TEST_F(LedgerTest, ReadersSeeConsistentStateWhileAppendsGoOn) {
  auto ledger = Open(256);
  ASSERT_TRUE(ledger.ok());
  std::atomic<bool> done{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < 3; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        ASSERT_TRUE((*ledger)->Append(NewEntry{"test.rw", absl::StrCat("w", t), 0, 0, "x"}).ok());
      }
    });
  }
  int checks = 0;
  std::thread reader([&] {
    while (!done.load()) {
      // Every checkpoint a reader can see is signed, matches the tree, and proves entries.
      absl::StatusOr<SignedCheckpoint> cp = (*ledger)->LatestCheckpoint();
      if (!cp.ok()) continue;  // Nothing appended yet.
      absl::StatusOr<Checkpoint> opened = OpenCheckpoint(cp->note, key_.Verifier());
      ASSERT_TRUE(opened.ok()) << opened.status();
      const uint64_t size = opened->size;
      ASSERT_LE(size, (*ledger)->Size());
      ASSERT_EQ(*(*ledger)->RootAt(size), opened->root);
      const uint64_t index = size / 2;
      absl::StatusOr<std::vector<Hash>> proof = (*ledger)->ProveInclusion(index, size);
      ASSERT_TRUE(proof.ok()) << proof.status();
      const std::string leaf = *(*ledger)->GetLeaf(index);
      ASSERT_TRUE(VerifyInclusion(LeafHash(AsBytes(leaf)), index, size, *proof, opened->root).ok());
      ++checks;
    }
  });
  for (auto& w : writers) w.join();
  done = true;
  reader.join();
  EXPECT_EQ((*ledger)->Size(), 900u);
  EXPECT_GT(checks, 0);
}

TEST_F(LedgerTest, ReopenResumesChainAndTree) {
  {
    auto ledger = Open();
    ASSERT_TRUE(ledger.ok());
    for (uint64_t i = 0; i < 21; ++i) ASSERT_TRUE((*ledger)->Append(Record(i)).ok());
  }
  auto ledger = Open();
  ASSERT_TRUE(ledger.ok()) << ledger.status();
  EXPECT_EQ((*ledger)->Size(), 21u);
  for (uint64_t i = 21; i < 40; ++i) ASSERT_EQ(*(*ledger)->Append(Record(i)), i);
  const std::string leaf20 = *(*ledger)->GetLeaf(20);
  EXPECT_EQ((*ledger)->Get(21)->prev_hash, Sha256(AsBytes(leaf20)));
  ledger->reset();
  absl::StatusOr<VerifyReport> report = VerifyLedger(dir_.path() / "db", key_.Verifier());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok()) << report->reason;
  EXPECT_EQ(report->entries, 40u);
  EXPECT_EQ(report->checkpoints, 40u);
}

TEST_F(LedgerTest, ReopenWithAnotherKeyOrOriginIsRefused) {
  {
    auto ledger = Open();
    ASSERT_TRUE(ledger.ok());
    ASSERT_TRUE((*ledger)->Append(Record(0)).ok());
  }
  LedgerOptions options;
  options.directory = dir_.path() / "db";
  options.origin = kOrigin;
  const SignerKey other = KeyFromByte(kOrigin, 2);
  EXPECT_EQ(OpenLedger(options, clock_, other).status().code(),
            absl::StatusCode::kFailedPrecondition);
  options.origin = "another/origin";
  EXPECT_EQ(OpenLedger(options, clock_, key_).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(LedgerTest, ReadOnlyReaderSeesCommittedEntriesAndRefusesWrites) {
  {
    auto ledger = Open();
    ASSERT_TRUE(ledger.ok());
    for (uint64_t i = 0; i < 5; ++i) ASSERT_TRUE((*ledger)->Append(Record(i)).ok());
  }
  auto reader = OpenLedgerReadOnly(dir_.path() / "db");
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->Size(), 5u);
  std::vector<uint64_t> seen;
  ASSERT_TRUE((*reader)
                  ->Scan(1, 100,
                         [&](const Entry& e, const std::string&) {
                           seen.push_back(e.index);
                           return true;
                         })
                  .ok());
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3, 4}));
  absl::StatusOr<SignedCheckpoint> cp = (*reader)->LatestCheckpoint();
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->checkpoint.size, 5u);
  EXPECT_TRUE(OpenCheckpoint(cp->note, key_.Verifier()).ok());
  EXPECT_EQ(OpenLedgerReadOnly(dir_.path() / "missing").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace fleettwin::ledger
