// The checks each verification worker runs on its chunk of 2^13 entries.
#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "fleettwin/ledger/entry.h"
#include "leaf_check.h"
#include "verifier_internal.h"

namespace fleettwin::ledger::internal {

void Verifier::CheckStrayKeys(rocksdb::ColumnFamilyHandle* cf, const std::string& from,
                              const std::string& to, const std::string& what, uint64_t blame) {
  std::unique_ptr<rocksdb::Iterator> it = store_.PointIterator(cf);
  it->Seek(from);
  if (it->Valid() && (to.empty() || it->key().compare(rocksdb::Slice(to)) < 0)) {
    Add(blame, std::max(total_, blame + 1), absl::StrCat("unexpected ", what, " key"));
  }
  if (!it->status().ok()) Add(blame, total_ + 1, absl::StrCat(what, ": ", it->status().ToString()));
}

void Verifier::CheckUnstoredLevel(int level, uint64_t first, uint64_t end_range) {
  std::unique_ptr<rocksdb::Iterator> it = store_.PointIterator(store_.nodes());
  it->Seek(NodeKey(level, first));
  if (it->Valid() && it->key().compare(rocksdb::Slice(NodeKey(level, end_range))) < 0) {
    const std::optional<uint64_t> index =
        it->key().size() == 9 ? DecodeU64(rocksdb::Slice(it->key().data() + 1, 8)) : std::nullopt;
    const uint64_t lo = index.value_or(first) << level;
    Add(lo, lo + (uint64_t{1} << level),
        absl::StrCat("tree node stored at level ", level, ", a level the ledger never stores"));
  }
  if (!it->status().ok()) Add(first << level, end_range << level, it->status().ToString());
}

void Verifier::CheckNodeLevel(int level, uint64_t first, uint64_t end_complete, uint64_t end_range,
                              const std::vector<Hash>& computed, ChunkResult& out) {
  // Stored nodes at `level` with index in [first, end_range) must be exactly the computed
  // ones, indices [first, end_complete).
  // A point iterator: per level the range is small, so readahead would mostly be wasted.
  std::unique_ptr<rocksdb::Iterator> it = store_.PointIterator(store_.nodes());
  const std::string end_key = NodeKey(level, end_range);
  uint64_t expected = first;
  auto blame = [level](uint64_t index) { return index << level; };
  for (it->Seek(NodeKey(level, first)); it->Valid(); it->Next()) {
    const rocksdb::Slice key = it->key();
    if (key.compare(rocksdb::Slice(end_key)) >= 0) break;
    std::optional<uint64_t> index;
    if (key.size() == 9 && static_cast<uint8_t>(key[0]) == level) {
      index = DecodeU64(rocksdb::Slice(key.data() + 1, 8));
    }
    if (!index) {
      Add(blame(expected), blame(expected) + (uint64_t{1} << level), "malformed tree node key");
      continue;
    }
    for (; expected < *index && expected < end_complete; ++expected) {
      Add(blame(expected), blame(expected + 1),
          absl::StrCat("tree node (level ", level, ", index ", expected, ") is missing"));
    }
    ++out.nodes;
    if (*index >= end_complete) {
      // A node over entries that are not stored vouches for the missing ones: blame them.
      Add(std::max(blame(*index), total_), std::max(blame(*index + 1), total_ + 1),
          absl::StrCat("tree node (level ", level, ", index ", *index,
                       ") covers entries the ledger does not have"));
      continue;
    }
    const Hash& want = computed[*index - first];
    const rocksdb::Slice value = it->value();
    if (value.size() != want.size() || std::memcmp(value.data(), want.data(), want.size()) != 0) {
      Add(blame(*index), blame(*index + 1),
          absl::StrCat("tree node (level ", level, ", index ", *index,
                       ") does not match the recomputed tree"));
    }
    expected = *index + 1;
  }
  if (!it->status().ok()) Add(blame(first), blame(end_range), it->status().ToString());
  for (; expected < end_complete; ++expected) {
    Add(blame(expected), blame(expected + 1),
        absl::StrCat("tree node (level ", level, ", index ", expected, ") is missing"));
  }
}

void Verifier::CheckChunk(uint64_t chunk, ChunkResult& out) {
  const uint64_t start = chunk * kChunk;
  const uint64_t end = std::min(start + kChunk, total_);
  std::vector<std::vector<Hash>> levels(kChunkLevel + 1);
  std::vector<Hash>& leaves = levels[0];
  leaves.assign(end - start, Hash{});

  std::unique_ptr<rocksdb::Iterator> it = store_.ScanIterator(store_.entries());
  const std::string end_key = EntryKey(start + kChunk);
  uint64_t expected = start;
  std::optional<Hash> prev_chain;  // ChainHash of entry expected - 1, if known.
  for (it->Seek(EntryKey(start)); it->Valid(); it->Next()) {
    const rocksdb::Slice key = it->key();
    if (key.compare(rocksdb::Slice(end_key)) >= 0) break;
    const std::optional<uint64_t> index = DecodeU64(key);
    if (!index) {
      AddAt(expected, "malformed entry key");
      continue;
    }
    if (*index >= end) {
      AddAt(*index, "entry stored beyond the ledger's size");
      continue;
    }
    for (; expected < *index; ++expected) {
      AddAt(expected, absl::StrCat("entry ", expected, " is missing"));
      prev_chain.reset();
    }
    expected = *index + 1;
    const uint64_t i = *index;
    const rocksdb::Slice value = it->value();
    if (value.size() <= kLeafHashBytes) {
      AddAt(i, absl::StrCat("entry ", i, " is truncated (", value.size(), " bytes)"));
      prev_chain.reset();
      continue;
    }
    const Bytes leaf(reinterpret_cast<const uint8_t*>(value.data()) + kLeafHashBytes,
                     value.size() - kLeafHashBytes);
    const Hash leaf_hash = LeafHash(leaf);
    leaves[i - start] = leaf_hash;
    if (std::memcmp(leaf_hash.data(), value.data(), kLeafHashBytes) != 0) {
      AddAt(i, absl::StrCat("entry ", i, " does not match its stored leaf hash"));
    }
    uint64_t stored_index = 0;
    Hash prev_hash;
    if (absl::Status s = internal::CheckLeaf(leaf, &stored_index, &prev_hash); !s.ok()) {
      AddAt(i, absl::StrCat("entry ", i, ": ", s.message()));
      prev_chain.reset();
      continue;
    }
    if (stored_index != i) {
      AddAt(i, absl::StrCat("entry stored at ", i, " says it is entry ", stored_index));
    }
    if (i == start) out.first_prev_hash = prev_hash;
    if (i == 0 && prev_hash != Hash{}) AddAt(0, "entry 0's prev_hash is not all zeros");
    if (i > start && prev_chain && *prev_chain != prev_hash) {
      AddAt(i, absl::StrCat("entry ", i, "'s prev_hash does not match the hash of entry ", i - 1));
    }
    prev_chain = ChainHash(leaf);
    if (i + 1 == end) out.last_chain_hash = prev_chain;
  }
  if (!it->status().ok()) {
    // A storage error (e.g. a block checksum) is reported as itself, not as missing entries.
    Add(expected, std::max(end, expected + 1),
        absl::StrCat("entries from ", expected, " cannot be read: ", it->status().ToString()));
    expected = end;
  }
  for (; expected < end; ++expected) {
    AddAt(expected, absl::StrCat("entry ", expected, " is missing"));
  }
  it.reset();

  // Every perfect subtree inside the chunk, compared with the stored nodes.
  for (int level = 1; level <= kChunkLevel; ++level) {
    const std::vector<Hash>& below = levels[level - 1];
    std::vector<Hash>& here = levels[level];
    here.resize(below.size() / 2);
    for (size_t k = 0; k < here.size(); ++k) here[k] = NodeHash(below[2 * k], below[2 * k + 1]);
    const uint64_t first = start >> level;
    if (internal::IsStoredLevel(level)) {
      CheckNodeLevel(level, first, first + here.size(), (start + kChunk) >> level, here, out);
    } else {
      CheckUnstoredLevel(level, first, (start + kChunk) >> level);
    }
  }
  if (end - start == kChunk) out.root = levels[kChunkLevel][0];

  // Checkpoints for sizes in (start, end]: signature, origin, and the chunk's part of the root.
  std::unique_ptr<rocksdb::Iterator> cps = store_.ScanIterator(store_.checkpoints());
  const std::string cp_end = CheckpointKey(start + kChunk + 1);
  for (cps->Seek(CheckpointKey(start + 1)); cps->Valid(); cps->Next()) {
    if (cps->key().compare(rocksdb::Slice(cp_end)) >= 0) break;
    const std::optional<uint64_t> size = DecodeU64(cps->key());
    if (!size) {
      Add(start, end, "malformed checkpoint key");
      continue;
    }
    CheckpointResult result;
    result.size = *size;
    absl::StatusOr<Checkpoint> cp = OpenCheckpoint(cps->value().ToStringView(), key_);
    if (!cp.ok()) {
      result.error = std::string(cp.status().message());
    } else if (cp->origin != origin_) {
      result.error = absl::StrCat("origin is '", cp->origin, "', the ledger's is '", origin_, "'");
    } else if (cp->size != *size) {
      result.error = absl::StrCat("it is stored for size ", *size, " but says ", cp->size);
    } else if (*size > end) {
      result.error = absl::StrCat("it covers ", *size, " entries, only ", end, " are stored");
    } else {
      result.claimed_root = cp->root;
      uint64_t position = start;
      for (int level : CompactRangeLevels(*size - start)) {
        result.partial.push_back(levels[level][(position - start) >> level]);
        position += uint64_t{1} << level;
      }
    }
    out.checkpoints.push_back(std::move(result));
  }
  if (!cps->status().ok()) Add(start, end, cps->status().ToString());
  for (const Checkpoint& t : trusted_) {
    if (t.size <= start || t.size > end) continue;
    CheckpointResult result;
    result.size = t.size;
    result.claimed_root = t.root;
    uint64_t position = start;
    for (int level : CompactRangeLevels(t.size - start)) {
      result.partial.push_back(levels[level][(position - start) >> level]);
      position += uint64_t{1} << level;
    }
    out.trusted.push_back(std::move(result));
  }

  const uint64_t done = done_.fetch_add(end - start) + (end - start);
  if (options_.progress) options_.progress(done, total_);
}

}  // namespace fleettwin::ledger::internal
