// Offline verification. The index space is cut into aligned chunks of 2^13 entries that the
// workers check independently (entries, leaf hashes, the chain inside the chunk, every tree
// node below the chunk's root, checkpoint signatures); one sequential pass then joins the
// chunks (chain links at the seams, nodes above chunk level, checkpoint roots, metadata).
#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "fleettwin/ledger/entry.h"
#include "fleettwin/ledger/merkle.h"
#include "fleettwin/ledger/verify.h"
#include "leaf_check.h"
#include "rocksdb_store.h"
#include "verifier_internal.h"

namespace fleettwin::ledger {

using internal::RocksStore;
using internal::Verifier;

namespace internal {

absl::StatusOr<VerifyReport> Verifier::Run(const std::vector<std::string>& families) {
  VerifyReport report;
  // Metadata.
  auto format = store_.Get(store_.meta(), internal::kFormatKey);
  auto origin = store_.Get(store_.meta(), internal::kOriginKey);
  auto size_value = store_.Get(store_.meta(), internal::kSizeKey);
  if (!format.ok()) return format.status();
  if (!origin.ok()) return origin.status();
  if (!size_value.ok()) return size_value.status();
  origin_ = origin->value_or("");
  report.origin = origin_;
  // Plain values rather than std::optional: gcc 12 warns falsely about the latter here.
  const std::optional<uint64_t> decoded_size =
      size_value->has_value() ? DecodeU64(**size_value) : std::nullopt;
  const bool has_meta_size = decoded_size.has_value();
  const uint64_t meta_size = decoded_size.value_or(0);

  // What is stored decides what is scanned, and only where something is stored: the chunks
  // holding at least one entry key are found by seeking, so neither a forged size nor a stray
  // key far away makes the verifier allocate or loop beyond what the disk holds.
  std::vector<uint64_t> chunk_ids;
  uint64_t stored = 0;  // Last well-formed entry key + 1.
  {
    std::unique_ptr<rocksdb::Iterator> it = store_.PointIterator(store_.entries());
    for (it->Seek(EntryKey(0)); it->Valid();) {
      const std::optional<uint64_t> index = DecodeU64(it->key());
      if (!index) {  // Malformed keys are reported by the scans; step over them here.
        it->Next();
        continue;
      }
      if (*index >= kMaxEntries) break;
      const uint64_t chunk = *index / kChunk;
      chunk_ids.push_back(chunk);
      it->SeekForPrev(EntryKey((chunk + 1) * kChunk - 1));
      for (; it->Valid() && !DecodeU64(it->key()); it->Prev()) {
      }
      if (it->Valid()) stored = *DecodeU64(it->key()) + 1;
      it->Seek(EntryKey((chunk + 1) * kChunk));
    }
    if (!it->status().ok()) {
      Add(0, std::max<uint64_t>(stored, 1), absl::StrCat("entries: ", it->status().ToString()));
    }
  }
  uint64_t claimed = meta_size;
  {
    std::unique_ptr<rocksdb::Iterator> cp = store_.PointIterator(store_.checkpoints());
    cp->SeekToLast();
    if (cp->Valid()) {
      if (std::optional<uint64_t> last = DecodeU64(cp->key())) claimed = std::max(claimed, *last);
    }
  }
  total_ = stored;
  report.entries = stored;
  const uint64_t everything = std::max<uint64_t>(stored, 1);
  if (!format->has_value() || **format != internal::kFormatValue) {
    Add(0, everything, "metadata: format is missing or unknown");
  }
  if (origin_.empty()) Add(0, everything, "metadata: origin is missing");
  if (!has_meta_size) {
    Add(0, everything, "metadata: size is missing or damaged");
  } else if (meta_size != stored) {
    Add(std::min(meta_size, stored), std::max(meta_size, stored),
        absl::StrCat("metadata says ", meta_size, " entries, ", stored, " are stored"));
  }
  if (claimed > stored) {
    AddAt(stored, absl::StrCat("entry ", stored, " is missing: the ledger claims ", claimed,
                               " entries but stores ", stored));
  }
  for (const std::string& name : families) {
    if (name != rocksdb::kDefaultColumnFamilyName && name != "entries" && name != "nodes" &&
        name != "checkpoints") {
      Add(0, everything, absl::StrCat("unexpected column family '", name, "'"));
    }
  }
  // Nothing but the three metadata keys.
  {
    std::unique_ptr<rocksdb::Iterator> it = store_.PointIterator(store_.meta());
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view k = it->key().ToStringView();
      if (k != internal::kFormatKey && k != internal::kOriginKey && k != internal::kSizeKey) {
        Add(0, std::max<uint64_t>(total_, 1),
            absl::StrCat("metadata: unexpected key '", std::string(k), "'"));
      }
    }
  }

  // Chunks in parallel.
  const uint64_t chunks = chunk_ids.size();
  const uint64_t scanned_end = chunks == 0 ? 0 : (chunk_ids.back() + 1) * kChunk;
  std::vector<ChunkResult> results(chunks);
  unsigned threads = options_.threads != 0 ? options_.threads : std::thread::hardware_concurrency();
  threads = static_cast<unsigned>(std::clamp<uint64_t>(threads, 1, std::max<uint64_t>(chunks, 1)));
  std::atomic<uint64_t> next{0};
  auto work = [&] {
    for (uint64_t c = next.fetch_add(1); c < chunks; c = next.fetch_add(1)) {
      CheckChunk(chunk_ids[c], results[c]);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();

  // Keys outside every range the chunks looked at.
  CheckStrayKeys(store_.entries(), std::string(), EntryKey(0), "entry", 0);
  CheckStrayKeys(store_.entries(), EntryKey(scanned_end), std::string(), "entry", total_);
  CheckStrayKeys(store_.nodes(), std::string(), NodeKey(1, 0), "tree node", 0);
  CheckStrayKeys(store_.checkpoints(), std::string(), CheckpointKey(1), "checkpoint", 0);
  CheckStrayKeys(store_.checkpoints(), CheckpointKey(scanned_end + 1), std::string(), "checkpoint",
                 total_);
  for (int level = 1; level <= kChunkLevel; ++level) {
    CheckStrayKeys(store_.nodes(), NodeKey(level, scanned_end >> level), NodeKey(level + 1, 0),
                   "tree node", total_);
  }
  // Runs of chunks without a single entry: the entries there are missing, and nothing else may
  // be stored for them either.
  uint64_t expected_chunk = 0;
  for (uint64_t c : chunk_ids) {
    if (c > expected_chunk) {
      const uint64_t gap_begin = expected_chunk * kChunk;
      const uint64_t gap_end = c * kChunk;
      // The first missing entry is known exactly: a precise finding.
      AddAt(gap_begin, absl::StrCat("entries ", gap_begin, " to ", gap_end - 1, " are missing"));
      CheckStrayKeys(store_.checkpoints(), CheckpointKey(gap_begin + 1), CheckpointKey(gap_end + 1),
                     "checkpoint", gap_begin);
      for (int level = 1; level <= kChunkLevel; ++level) {
        CheckStrayKeys(store_.nodes(), NodeKey(level, gap_begin >> level),
                       NodeKey(level, gap_end >> level), "tree node", gap_begin);
      }
    }
    expected_chunk = c + 1;
  }

  // Seams and everything above chunk level.
  CompactRange range;
  std::map<std::pair<int, uint64_t>, Hash> upper;
  // The tree above chunk level is built while the chunks run contiguously from 0, full; past
  // a gap (already a finding) roots cannot be recomputed.
  std::vector<std::optional<std::vector<Hash>>> prefix(chunks);
  bool contiguous = true;
  for (uint64_t i = 0; i < chunks; ++i) {
    const uint64_t c = chunk_ids[i];
    ChunkResult& r = results[i];
    report.nodes += r.nodes;
    contiguous = contiguous && c == i;
    if (i > 0 && chunk_ids[i - 1] + 1 == c && r.first_prev_hash && results[i - 1].last_chain_hash &&
        *r.first_prev_hash != *results[i - 1].last_chain_hash) {
      AddAt(c * kChunk,
            absl::StrCat("entry ", c * kChunk, "'s prev_hash does not match the hash of entry ",
                         c * kChunk - 1));
    }
    if (!contiguous) continue;
    prefix[i] = range.hashes();
    if (total_ - c * kChunk >= kChunk) {
      range.AppendSubtree(kChunkLevel, r.root, [&](int level, uint64_t index, const Hash& h) {
        if (internal::IsStoredLevel(level)) upper[{level, index}] = h;
      });
    } else {
      contiguous = false;  // The last, partial chunk ends the perfect prefix.
    }
  }
  for (int level = kChunkLevel + 1; level <= kMaxLevel; ++level) {
    std::unique_ptr<rocksdb::Iterator> it = store_.ScanIterator(store_.nodes());
    const std::string end_key = NodeKey(level + 1, 0);
    for (it->Seek(NodeKey(level, 0)); it->Valid(); it->Next()) {
      const rocksdb::Slice key = it->key();
      if (key.compare(rocksdb::Slice(end_key)) >= 0) break;
      std::optional<uint64_t> index =
          key.size() == 9 ? DecodeU64(rocksdb::Slice(key.data() + 1, 8)) : std::nullopt;
      if (!index) {
        Add(0, total_ + 1, "malformed tree node key");
        continue;
      }
      ++report.nodes;
      const uint64_t lo = *index << level;
      auto found = upper.find({level, *index});
      if (found == upper.end()) {
        Add(std::max(lo, total_), std::max(lo, total_) + 1,
            absl::StrCat("tree node (level ", level, ", index ", *index,
                         ") is not a node the ledger stores"));
        continue;
      }
      const rocksdb::Slice value = it->value();
      if (value.size() != 32 || std::memcmp(value.data(), found->second.data(), 32) != 0) {
        Add(lo, lo + (uint64_t{1} << level),
            absl::StrCat("tree node (level ", level, ", index ", *index,
                         ") does not match the recomputed tree"));
      }
      upper.erase(found);
    }
  }
  for (const auto& [node, hash] : upper) {
    const uint64_t lo = node.second << node.first;
    Add(lo, lo + (uint64_t{1} << node.first),
        absl::StrCat("tree node (level ", node.first, ", index ", node.second, ") is missing"));
  }
  CheckStrayKeys(store_.nodes(), NodeKey(kMaxLevel + 1, 0), std::string(), "tree node", 0);

  // Checkpoints, in size order: each must hold; a bad one leaves the entries since the last
  // good one unvouched for.
  uint64_t last_good = 0;
  for (uint64_t c = 0; c < chunks; ++c) {
    for (CheckpointResult& cp : results[c].checkpoints) {
      ++report.checkpoints;
      std::string error = cp.error;
      if (error.empty() && !prefix[c]) {
        error = "its root cannot be recomputed: entries before it are missing";
      }
      if (error.empty()) {
        std::vector<Hash> hashes = *prefix[c];
        hashes.insert(hashes.end(), cp.partial.begin(), cp.partial.end());
        if (CompactRange(cp.size, std::move(hashes)).Root() != cp.claimed_root) {
          error = "its root does not match the recomputed tree";
        }
      }
      if (!error.empty()) {
        Add(last_good, cp.size, absl::StrCat("checkpoint for size ", cp.size, ": ", error));
        continue;
      }
      last_good = cp.size;
      report.latest = Checkpoint{origin_, cp.size, cp.claimed_root};
    }
  }
  // The auditor's checkpoints: the tree they vouch for must still be here, unchanged.
  for (const Checkpoint& t : trusted_) {
    if (t.size > total_) {
      AddAt(total_,
            absl::StrCat("entry ", total_, " is missing: a trusted checkpoint vouches for ", t.size,
                         " entries, the ledger holds ", total_, " (truncated or rolled back)"));
      continue;
    }
    for (uint64_t c = 0; c < chunks; ++c) {
      for (const CheckpointResult& r : results[c].trusted) {
        if (r.size != t.size || !prefix[c]) continue;
        std::vector<Hash> hashes = *prefix[c];
        hashes.insert(hashes.end(), r.partial.begin(), r.partial.end());
        if (CompactRange(r.size, std::move(hashes)).Root() != r.claimed_root) {
          Add(0, r.size,
              absl::StrCat("the first ", r.size,
                           " entries differ from the tree a "
                           "trusted checkpoint vouches for (history rewritten)"));
        }
      }
    }
  }
  if (last_good < total_) {
    Add(last_good, total_,
        absl::StrCat("entries from ", last_good,
                     " on are not covered by a checkpoint that verifies"));
  }
  Resolve(report);
  return report;
}

void Verifier::Resolve(VerifyReport& report) {
  // A precise finding explains any range finding that contains it.
  std::vector<const Finding*> precise;
  for (const Finding& f : findings_) {
    if (f.precise()) precise.push_back(&f);
  }
  const Finding* best = nullptr;
  for (const Finding& f : findings_) {
    if (!f.precise()) {
      const bool explained = std::any_of(precise.begin(), precise.end(), [&](const Finding* p) {
        return p->lo >= f.lo && p->lo < f.hi;
      });
      if (explained) continue;
    }
    if (best == nullptr || f.lo < best->lo ||
        (f.lo == best->lo && f.precise() && !best->precise())) {
      best = &f;
    }
  }
  if (best != nullptr) {
    report.first_bad_index = best->lo;
    report.reason = best->reason;
  }
}

}  // namespace internal

absl::StatusOr<VerifyReport> VerifyLedger(const std::filesystem::path& directory,
                                          const VerifierKey& key, const VerifyOptions& options) {
  absl::StatusOr<std::unique_ptr<RocksStore>> store =
      RocksStore::Open(directory, /*read_only=*/true, /*create=*/false);
  if (!store.ok()) return store.status();
  absl::StatusOr<std::vector<std::string>> families = RocksStore::ListColumnFamilies(directory);
  if (!families.ok()) return families.status();
  std::vector<Checkpoint> trusted;
  for (const std::string& note : options.trusted_checkpoints) {
    absl::StatusOr<Checkpoint> cp = OpenCheckpoint(note, key);
    if (!cp.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("a trusted checkpoint does not open with the key: ", cp.status().message()));
    }
    trusted.push_back(*cp);
  }
  std::sort(trusted.begin(), trusted.end(),
            [](const Checkpoint& a, const Checkpoint& b) { return a.size < b.size; });
  Verifier verifier(**store, key, options, std::move(trusted));
  return verifier.Run(*families);
}

}  // namespace fleettwin::ledger
