// RocksDbLedger: the Ledger on RocksDB, with LevelDB-style group commit: appenders queue, the
// one at the front leads, writes everyone's entries, their tree nodes and one signed
// checkpoint in a single synced WriteBatch, then wakes the group.
#include <rocksdb/write_batch.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "fleettwin/common/encoding.h"
#include "fleettwin/ledger/ledger.h"
#include "leaf_check.h"
#include "rocksdb_store.h"

namespace fleettwin::ledger {
namespace {

using internal::CheckpointKey;
using internal::EntryKey;
using internal::FromRocks;
using internal::kLeafHashBytes;
using internal::NodeKey;
using internal::RocksStore;

constexpr size_t kMaxTextBytes = 4096;          // kind, author, origin.
constexpr size_t kMaxPayloadBytes = 64u << 20;  // One entry's payload.

// Origins become the first line of every checkpoint: printable UTF-8, no control characters.
bool IsValidOrigin(std::string_view origin) {
  if (origin.empty() || origin.size() > kMaxTextBytes || !IsValidUtf8(origin)) return false;
  for (char c : origin) {
    const auto u = static_cast<uint8_t>(c);
    if (u < 0x20 || u == 0x7f) return false;
  }
  return true;
}

// Splits a stored note into its checkpoint body, without checking the signature.
absl::StatusOr<Checkpoint> ParseStoredNote(std::string_view note) {
  const size_t split = note.find("\n\n");
  if (split == std::string_view::npos) return absl::DataLossError("stored checkpoint has no body");
  absl::StatusOr<Checkpoint> cp = ParseCheckpointBody(note.substr(0, split + 1));
  if (!cp.ok()) return absl::DataLossError(cp.status().message());
  return cp;
}

class RocksDbLedger final : public Ledger {
 public:
  RocksDbLedger(std::unique_ptr<RocksStore> store, LedgerOptions options, const Clock* clock,
                std::optional<SignerKey> signer)
      : store_(std::move(store)),
        options_(std::move(options)),
        clock_(clock),
        signer_(std::move(signer)) {}

  // Loads size, chain head and compact range; checks the tail against the latest checkpoint.
  absl::Status Load(bool check_signature);
  // Initialises an empty database's metadata.
  absl::Status Initialise();

  uint64_t Size() const override { return size_.load(std::memory_order_acquire); }

  absl::StatusOr<Entry> Get(uint64_t index) const override {
    absl::StatusOr<std::string> leaf = GetLeaf(index);
    if (!leaf.ok()) return leaf.status();
    absl::StatusOr<Entry> entry = DecodeLeaf(AsBytes(*leaf));
    if (!entry.ok()) {
      return absl::DataLossError(absl::StrCat("entry ", index, ": ", entry.status().message()));
    }
    if (entry->index != index) {
      return absl::DataLossError(
          absl::StrCat("entry ", index, ": stored entry says index ", entry->index));
    }
    return entry;
  }

  absl::StatusOr<std::string> GetLeaf(uint64_t index) const override {
    if (index >= Size()) {
      return absl::OutOfRangeError(absl::StrCat("entry ", index, " is beyond size ", Size()));
    }
    absl::StatusOr<std::string> value = ReadEntryValue(index);
    if (!value.ok()) return value.status();
    std::string leaf = value->substr(kLeafHashBytes);
    if (absl::Status s = CheckLeafHash(index, *value, leaf); !s.ok()) return s;
    return leaf;
  }

  absl::Status Scan(
      uint64_t begin, uint64_t end,
      const std::function<bool(const Entry&, const std::string&)>& visit) const override {
    end = std::min(end, Size());
    if (begin >= end) return absl::OkStatus();
    std::unique_ptr<rocksdb::Iterator> it = store_->ScanIterator(store_->entries());
    uint64_t expected = begin;
    for (it->Seek(EntryKey(begin)); expected < end; it->Next(), ++expected) {
      if (!it->Valid()) break;
      if (it->key() != rocksdb::Slice(EntryKey(expected))) {
        return absl::DataLossError(absl::StrCat("entry ", expected, " is missing"));
      }
      const rocksdb::Slice value = it->value();
      if (value.size() <= kLeafHashBytes) {
        return absl::DataLossError(absl::StrCat("entry ", expected, " is truncated"));
      }
      std::string leaf(value.data() + kLeafHashBytes, value.size() - kLeafHashBytes);
      if (absl::Status s = CheckLeafHash(expected, value.ToStringView(), leaf); !s.ok()) return s;
      absl::StatusOr<Entry> entry = DecodeLeaf(AsBytes(leaf));
      if (!entry.ok() || entry->index != expected) {
        return absl::DataLossError(absl::StrCat("entry ", expected, " does not decode"));
      }
      if (!visit(*entry, leaf)) return absl::OkStatus();
    }
    if (!it->status().ok()) return FromRocks(it->status(), "scan");
    if (expected < end) return absl::DataLossError(absl::StrCat("entry ", expected, " is missing"));
    return absl::OkStatus();
  }

  absl::StatusOr<SignedCheckpoint> LatestCheckpoint() const override {
    const uint64_t size = Size();
    if (size == 0) return absl::NotFoundError("the ledger is empty");
    return CheckpointAt(size);
  }

  absl::StatusOr<SignedCheckpoint> CheckpointAt(uint64_t size) const override {
    absl::StatusOr<std::optional<std::string>> note =
        store_->Get(store_->checkpoints(), CheckpointKey(size));
    if (!note.ok()) return note.status();
    if (!note->has_value()) {
      return absl::NotFoundError(absl::StrCat("no checkpoint is stored for size ", size));
    }
    absl::StatusOr<Checkpoint> cp = ParseStoredNote(**note);
    if (!cp.ok()) return cp.status();
    return SignedCheckpoint{*cp, std::move(**note)};
  }

  absl::StatusOr<std::vector<uint64_t>> CheckpointSizes() const override {
    std::vector<uint64_t> sizes;
    const uint64_t limit = Size();
    std::unique_ptr<rocksdb::Iterator> it = store_->ScanIterator(store_->checkpoints());
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::optional<uint64_t> size = internal::DecodeU64(it->key());
      if (!size) return absl::DataLossError("a checkpoint key is not 8 bytes");
      if (*size > limit) break;
      sizes.push_back(*size);
    }
    if (!it->status().ok()) return FromRocks(it->status(), "checkpoint scan");
    return sizes;
  }

  absl::StatusOr<Hash> RootAt(uint64_t size) const override {
    if (size > Size()) return OutOfRange(size);
    return RangeHash(0, size, Source());
  }

  absl::StatusOr<std::vector<Hash>> ProveInclusion(uint64_t index, uint64_t size) const override {
    if (size > Size()) return OutOfRange(size);
    return InclusionProof(index, size, Source());
  }

  absl::StatusOr<std::vector<Hash>> ProveConsistency(uint64_t old_size,
                                                     uint64_t new_size) const override {
    if (new_size > Size()) return OutOfRange(new_size);
    return ConsistencyProof(old_size, new_size, Source());
  }

  absl::StatusOr<uint64_t> Append(const NewEntry& entry) override {
    return AppendBatch(absl::MakeConstSpan(&entry, 1));
  }

  absl::StatusOr<uint64_t> AppendBatch(absl::Span<const NewEntry> entries) override;

  VerifierKey verifier_key() const override { return signer_->Verifier(); }

 private:
  struct Writer {
    absl::Span<const NewEntry> entries;
    bool done = false;
    absl::StatusOr<uint64_t> result = absl::UnknownError("not written");
    std::condition_variable cv;
  };

  // Reads never hand out bytes that disagree with the leaf hash stored beside them.
  static absl::Status CheckLeafHash(uint64_t index, std::string_view value,
                                    const std::string& leaf) {
    const Hash h = LeafHash(AsBytes(leaf));
    if (std::memcmp(h.data(), value.data(), h.size()) != 0) {
      return absl::DataLossError(
          absl::StrCat("entry ", index, " does not match its stored leaf hash"));
    }
    return absl::OkStatus();
  }

  static absl::Status OutOfRange(uint64_t size) {
    return absl::OutOfRangeError(absl::StrCat("size ", size, " is beyond the ledger"));
  }

  absl::StatusOr<std::string> ReadEntryValue(uint64_t index) const {
    absl::StatusOr<std::optional<std::string>> value =
        store_->Get(store_->entries(), EntryKey(index));
    if (!value.ok()) return value.status();
    if (!value->has_value())
      return absl::DataLossError(absl::StrCat("entry ", index, " is missing"));
    if ((*value)->size() <= kLeafHashBytes) {
      return absl::DataLossError(absl::StrCat("entry ", index, " is truncated"));
    }
    return std::move(**value);
  }

  // The hash of a perfect subtree: a leaf hash from the entry's value, a stored node, or for
  // a level that is not stored, the fold of the stored hashes one stored level below.
  absl::StatusOr<Hash> Subtree(int level, uint64_t index) const {
    const int base = level - level % internal::kNodeStride;
    const int height = level - base;
    absl::StatusOr<std::vector<Hash>> hashes =
        ReadLevel(base, index << height, uint64_t{1} << height);
    if (!hashes.ok()) return hashes.status();
    std::vector<Hash>& h = *hashes;
    for (size_t n = h.size(); n > 1; n /= 2) {
      for (size_t k = 0; k < n / 2; ++k) h[k] = NodeHash(h[2 * k], h[2 * k + 1]);
    }
    return h[0];
  }

  // `count` consecutive hashes at a stored level (0: the leaf hashes kept in the entries).
  absl::StatusOr<std::vector<Hash>> ReadLevel(int level, uint64_t first, uint64_t count) const {
    rocksdb::ColumnFamilyHandle* cf = level == 0 ? store_->entries() : store_->nodes();
    auto key = [level](uint64_t i) { return level == 0 ? EntryKey(i) : NodeKey(level, i); };
    std::vector<Hash> out(count);
    std::unique_ptr<rocksdb::Iterator> it = store_->PointIterator(cf);
    it->Seek(key(first));
    for (uint64_t i = 0; i < count; ++i, it->Next()) {
      const bool present = it->Valid() && it->key() == rocksdb::Slice(key(first + i));
      const size_t size = present ? it->value().size() : 0;
      if (!present || (level == 0 ? size <= kLeafHashBytes : size != kLeafHashBytes)) {
        if (!it->status().ok()) return FromRocks(it->status(), "read tree");
        return absl::DataLossError(
            absl::StrCat(level == 0 ? "entry " : absl::StrCat("tree node (level ", level, ") "),
                         first + i, " is missing or damaged"));
      }
      std::memcpy(out[i].data(), it->value().data(), kLeafHashBytes);
    }
    return out;
  }

  SubtreeSource Source() const {
    return [this](int level, uint64_t index) { return Subtree(level, index); };
  }

  // Writes the group's entries; called by the leader without mu_ held.
  absl::Status WriteGroup(const std::vector<Writer*>& group, uint64_t& first_index);

  std::unique_ptr<RocksStore> store_;
  LedgerOptions options_;                  // origin filled in from storage when read-only.
  const Clock* clock_;                     // Not owned; null for read-only.
  const std::optional<SignerKey> signer_;  // Empty for read-only.

  std::atomic<uint64_t> size_{0};
  // Owned by the current group-commit leader (or Load before any append).
  Hash chain_hash_{};
  CompactRange range_;

  std::mutex mu_;
  std::deque<Writer*> writers_ ABSL_GUARDED_BY(mu_);
  absl::Status broken_ ABSL_GUARDED_BY(mu_);
};

absl::Status RocksDbLedger::Initialise() {
  rocksdb::WriteBatch batch;
  batch.Put(store_->meta(), internal::kFormatKey, internal::kFormatValue);
  batch.Put(store_->meta(), internal::kOriginKey, options_.origin);
  batch.Put(store_->meta(), internal::kSizeKey, internal::EncodeU64(0));
  rocksdb::WriteOptions write;
  write.sync = true;
  return FromRocks(store_->db().Write(write, &batch), "initialise ledger");
}

absl::Status RocksDbLedger::Load(bool check_signature) {
  auto format = store_->Get(store_->meta(), internal::kFormatKey);
  if (!format.ok()) return format.status();
  if (!format->has_value() || **format != internal::kFormatValue) {
    return absl::DataLossError("ledger metadata: missing or unknown format");
  }
  auto size_value = store_->Get(store_->meta(), internal::kSizeKey);
  if (!size_value.ok()) return size_value.status();
  std::optional<uint64_t> size =
      size_value->has_value() ? internal::DecodeU64(**size_value) : std::nullopt;
  if (!size) return absl::DataLossError("ledger metadata: size is missing or damaged");

  // The last stored entry must be size - 1 and nothing may follow it.
  {
    std::unique_ptr<rocksdb::Iterator> it = store_->PointIterator(store_->entries());
    it->SeekToLast();
    if (!it->status().ok()) return FromRocks(it->status(), "read last entry");
    const std::optional<uint64_t> last =
        it->Valid() ? internal::DecodeU64(it->key()) : std::nullopt;
    if ((*size == 0) != !it->Valid() || (*size > 0 && last != *size - 1)) {
      return absl::DataLossError(
          absl::StrCat("ledger metadata says ", *size, " entries but the stored entries disagree"));
    }
  }
  {
    auto origin = store_->Get(store_->meta(), internal::kOriginKey);
    if (!origin.ok()) return origin.status();
    if (!origin->has_value() || (*origin)->empty()) {
      return absl::DataLossError("ledger metadata: origin is missing");
    }
    if (options_.origin.empty()) {
      options_.origin = **origin;  // Read-only: adopt what is stored.
    } else if (options_.origin != **origin) {
      return absl::FailedPreconditionError(
          absl::StrCat("ledger origin is '", **origin, "', not '", options_.origin, "'"));
    }
  }

  std::vector<Hash> hashes;
  uint64_t position = 0;
  for (int level : CompactRangeLevels(*size)) {
    absl::StatusOr<Hash> h = Subtree(level, position >> level);
    if (!h.ok()) return h.status();
    hashes.push_back(*h);
    position += uint64_t{1} << level;
  }
  range_ = CompactRange(*size, std::move(hashes));
  chain_hash_ = Hash{};
  if (*size > 0) {
    absl::StatusOr<std::string> value = ReadEntryValue(*size - 1);
    if (!value.ok()) return value.status();
    const std::string_view leaf = std::string_view(*value).substr(kLeafHashBytes);
    if (std::memcmp(LeafHash(AsBytes(leaf)).data(), value->data(), kLeafHashBytes) != 0) {
      return absl::DataLossError(
          absl::StrCat("entry ", *size - 1, " does not match its leaf hash"));
    }
    chain_hash_ = ChainHash(AsBytes(leaf));

    auto note = store_->Get(store_->checkpoints(), CheckpointKey(*size));
    if (!note.ok()) return note.status();
    if (!note->has_value()) {
      return absl::DataLossError(absl::StrCat("no checkpoint covers the last ", *size, " entries"));
    }
    absl::StatusOr<Checkpoint> cp =
        check_signature ? OpenCheckpoint(**note, signer_->Verifier()) : ParseStoredNote(**note);
    if (!cp.ok()) {
      if (absl::IsPermissionDenied(cp.status())) {
        return absl::FailedPreconditionError(
            absl::StrCat("the latest checkpoint does not verify with key '", signer_->name,
                         "': ", cp.status().message()));
      }
      return absl::DataLossError(absl::StrCat("latest checkpoint: ", cp.status().message()));
    }
    if (cp->origin != options_.origin) {
      return absl::FailedPreconditionError(
          absl::StrCat("ledger origin is '", cp->origin, "', not '", options_.origin, "'"));
    }
    if (cp->size != *size || cp->root != range_.Root()) {
      return absl::DataLossError("the latest checkpoint does not match the stored tree");
    }
  }
  size_.store(*size, std::memory_order_release);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> RocksDbLedger::AppendBatch(absl::Span<const NewEntry> entries) {
  if (!signer_) return absl::FailedPreconditionError("the ledger is open read-only");
  if (entries.empty()) return absl::InvalidArgumentError("no entries to append");
  for (const NewEntry& e : entries) {
    if (e.kind.empty()) return absl::InvalidArgumentError("an entry's kind must not be empty");
    if (e.kind.find('\0') != std::string::npos || e.author.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError("an entry's kind and author must not contain NUL bytes");
    }
    if (e.kind.size() > kMaxTextBytes || e.author.size() > kMaxTextBytes ||
        e.payload.size() > kMaxPayloadBytes) {
      return absl::InvalidArgumentError(absl::StrCat("an entry's kind and author are limited to ",
                                                     kMaxTextBytes, " bytes, its payload to ",
                                                     kMaxPayloadBytes));
    }
  }
  Writer self;
  self.entries = entries;
  std::unique_lock lock(mu_);
  writers_.push_back(&self);
  while (!self.done && &self != writers_.front()) self.cv.wait(lock);
  if (self.done) return std::move(self.result);

  // This writer leads: take a group from the front of the queue.
  std::vector<Writer*> group;
  size_t count = 0;
  for (Writer* w : writers_) {
    if (!group.empty() && count + w->entries.size() > options_.group_commit_entries) break;
    group.push_back(w);
    count += w->entries.size();
  }
  absl::Status status = broken_;
  uint64_t first_index = 0;
  if (status.ok()) {
    lock.unlock();
    // Nothing may leave this block by exception: the group's writers are still queued and
    // would wait forever.
    try {
      status = WriteGroup(group, first_index);
    } catch (const std::exception& e) {
      status = absl::ResourceExhaustedError(absl::StrCat("ledger append failed: ", e.what()));
    }
    lock.lock();
    if (!status.ok()) broken_ = status;
  }
  uint64_t next = first_index;
  for (Writer* w : group) {
    writers_.pop_front();
    if (status.ok()) {
      w->result = next;
      next += w->entries.size();
    } else {
      w->result = status;
    }
    w->done = true;
    if (w != &self) w->cv.notify_one();
  }
  if (!writers_.empty()) writers_.front()->cv.notify_one();
  return std::move(self.result);
}

absl::Status RocksDbLedger::WriteGroup(const std::vector<Writer*>& group, uint64_t& first_index) {
  const uint64_t start = size_.load(std::memory_order_relaxed);
  first_index = start;
  uint64_t index = start;
  Hash chain = chain_hash_;
  CompactRange range = range_;
  const int64_t now = clock_->NowUnixNanos();
  // 1. Encode and chain, in order: each leaf holds the hash of the one before it. Each value
  //    is the leaf hash (filled in below) followed by the leaf.
  std::vector<std::string> values;
  size_t count = 0;
  for (const Writer* w : group) count += w->entries.size();
  values.reserve(count);
  for (const Writer* w : group) {
    for (const NewEntry& in : w->entries) {
      std::string& value = values.emplace_back();
      // One allocation: the leaf is at most 8 words of header plus padded fields.
      value.reserve(kLeafHashBytes + 96 + in.kind.size() + in.author.size() + in.payload.size());
      value.assign(kLeafHashBytes, '\0');
      internal::AppendLeaf(value, index, in.kind, in.author, in.revision,
                           in.wall_time_nanos != 0 ? in.wall_time_nanos : now, in.payload, chain);
      chain = ChainHash(AsBytes(std::string_view(value).substr(kLeafHashBytes)));
      ++index;
    }
  }
  // 2. Leaf hashes. (Splitting them over two threads was measured: no gain at 1000-entry
  //    groups, so they stay here.)
  for (std::string& value : values) {
    const Hash h = LeafHash(AsBytes(std::string_view(value).substr(kLeafHashBytes)));
    std::memcpy(value.data(), h.data(), h.size());
  }
  // 3. The tree and the batch, sized up front (a growing batch re-copies itself).
  size_t bytes = 256 + options_.origin.size();
  for (const std::string& v : values) bytes += v.size() + 24;
  rocksdb::WriteBatch batch(bytes + bytes / 8);
  auto put_node = [&](int level, uint64_t node_index, const Hash& hash) {
    if (!internal::IsStoredLevel(level)) return;
    batch.Put(store_->nodes(), NodeKey(level, node_index),
              rocksdb::Slice(reinterpret_cast<const char*>(hash.data()), hash.size()));
  };
  for (size_t i = 0; i < values.size(); ++i) {
    Hash leaf_hash;
    std::memcpy(leaf_hash.data(), values[i].data(), leaf_hash.size());
    batch.Put(store_->entries(), EntryKey(start + i), values[i]);
    range.Append(leaf_hash, put_node);
  }
  const Checkpoint checkpoint{options_.origin, index, range.Root()};
  batch.Put(store_->checkpoints(), CheckpointKey(index), SignCheckpoint(checkpoint, *signer_));
  batch.Put(store_->meta(), internal::kSizeKey, internal::EncodeU64(index));
  rocksdb::WriteOptions write;
  write.sync = true;
  rocksdb::Status s = store_->db().Write(write, &batch);
  if (!s.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "ledger write failed; reopen the ledger before appending again: ", s.ToString()));
  }
  chain_hash_ = chain;
  range_ = std::move(range);
  size_.store(index, std::memory_order_release);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Ledger>> OpenLedger(const LedgerOptions& options, const Clock& clock,
                                                   const SignerKey& signer) {
  if (options.directory.empty()) return absl::InvalidArgumentError("ledger directory is empty");
  if (!IsValidOrigin(options.origin)) {
    return absl::InvalidArgumentError("ledger origin must be one non-empty line");
  }
  if (options.group_commit_entries == 0) {
    return absl::InvalidArgumentError("group_commit_entries must be positive");
  }
  std::error_code ec;
  std::filesystem::create_directories(options.directory, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", options.directory.string(), ": ", ec.message()));
  }
  absl::StatusOr<std::unique_ptr<RocksStore>> store =
      RocksStore::Open(options.directory, /*read_only=*/false, /*create=*/true);
  if (!store.ok()) return store.status();
  // Only a database with nothing in it is new; a missing format key elsewhere is damage, and
  // initialising over it would destroy evidence.
  bool fresh = true;
  for (rocksdb::ColumnFamilyHandle* cf :
       {(*store)->meta(), (*store)->entries(), (*store)->nodes(), (*store)->checkpoints()}) {
    std::unique_ptr<rocksdb::Iterator> it = (*store)->PointIterator(cf);
    it->SeekToFirst();
    if (!it->status().ok()) return FromRocks(it->status(), "open");
    if (it->Valid()) fresh = false;
  }
  auto ledger = std::make_unique<RocksDbLedger>(std::move(*store), options, &clock, signer);
  if (fresh) {
    if (absl::Status s = ledger->Initialise(); !s.ok()) return s;
  }
  if (absl::Status s = ledger->Load(/*check_signature=*/true); !s.ok()) return s;
  return ledger;
}

absl::StatusOr<std::unique_ptr<LedgerReader>> OpenLedgerReadOnly(
    const std::filesystem::path& directory) {
  absl::StatusOr<std::unique_ptr<RocksStore>> store =
      RocksStore::Open(directory, /*read_only=*/true, /*create=*/false);
  if (!store.ok()) return store.status();
  auto ledger =
      std::make_unique<RocksDbLedger>(std::move(*store), LedgerOptions{}, nullptr, std::nullopt);
  if (absl::Status s = ledger->Load(/*check_signature=*/false); !s.ok()) return s;
  return std::unique_ptr<LedgerReader>(std::move(ledger));
}

}  // namespace fleettwin::ledger
