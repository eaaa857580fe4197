#include "fleettwin/ledger/merkle.h"

#include <bit>

#include "absl/strings/str_cat.h"

namespace fleettwin::ledger {
namespace {

const uint8_t kLeafPrefix[1] = {0x00};
const uint8_t kNodePrefix[1] = {0x01};

// Largest power of two strictly less than n. REQUIRES: n > 1.
uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

bool IsPowerOfTwo(uint64_t n) { return n != 0 && (n & (n - 1)) == 0; }

absl::Status Path(uint64_t m, uint64_t begin, uint64_t end, const SubtreeSource& source,
                  std::vector<Hash>& out) {
  const uint64_t n = end - begin;
  if (n <= 1) return absl::OkStatus();
  const uint64_t k = SplitPoint(n);
  if (m < k) {
    absl::Status s = Path(m, begin, begin + k, source, out);
    if (!s.ok()) return s;
    absl::StatusOr<Hash> right = RangeHash(begin + k, end, source);
    if (!right.ok()) return right.status();
    out.push_back(*right);
  } else {
    absl::Status s = Path(m - k, begin + k, end, source, out);
    if (!s.ok()) return s;
    absl::StatusOr<Hash> left = RangeHash(begin, begin + k, source);
    if (!left.ok()) return left.status();
    out.push_back(*left);
  }
  return absl::OkStatus();
}

// SUBPROOF(m, D[begin:end], b) of RFC 6962 2.1.2, with D[begin:end] of n = end - begin leaves.
absl::Status SubProof(uint64_t m, uint64_t begin, uint64_t end, bool whole,
                      const SubtreeSource& source, std::vector<Hash>& out) {
  const uint64_t n = end - begin;
  if (m == n) {
    if (whole) return absl::OkStatus();
    absl::StatusOr<Hash> h = RangeHash(begin, end, source);
    if (!h.ok()) return h.status();
    out.push_back(*h);
    return absl::OkStatus();
  }
  const uint64_t k = SplitPoint(n);
  if (m <= k) {
    absl::Status s = SubProof(m, begin, begin + k, whole, source, out);
    if (!s.ok()) return s;
    absl::StatusOr<Hash> right = RangeHash(begin + k, end, source);
    if (!right.ok()) return right.status();
    out.push_back(*right);
  } else {
    absl::Status s = SubProof(m - k, begin + k, end, false, source, out);
    if (!s.ok()) return s;
    absl::StatusOr<Hash> left = RangeHash(begin, begin + k, source);
    if (!left.ok()) return left.status();
    out.push_back(*left);
  }
  return absl::OkStatus();
}

}  // namespace

Hash LeafHash(Bytes leaf) { return Sha256({Bytes(kLeafPrefix, 1), leaf}); }

Hash NodeHash(const Hash& left, const Hash& right) {
  return Sha256(
      {Bytes(kNodePrefix, 1), Bytes(left.data(), left.size()), Bytes(right.data(), right.size())});
}

Hash EmptyRoot() { return Sha256(Bytes()); }

std::vector<int> CompactRangeLevels(uint64_t size) {
  std::vector<int> levels;
  for (int level = 63; level >= 0; --level) {
    if (size & (uint64_t{1} << level)) levels.push_back(level);
  }
  return levels;
}

CompactRange::CompactRange(uint64_t size, std::vector<Hash> hashes)
    : size_(size), hashes_(std::move(hashes)) {}

void CompactRange::Append(const Hash& leaf_hash,
                          const std::function<void(int, uint64_t, const Hash&)>& on_node) {
  AppendSubtree(0, leaf_hash, on_node);
}

void CompactRange::AppendSubtree(int level, const Hash& hash,
                                 const std::function<void(int, uint64_t, const Hash&)>& on_node) {
  Hash current = hash;
  uint64_t index = size_ >> level;  // Position of the new subtree at its level.
  size_ += uint64_t{1} << level;
  // Merge with left siblings while the new subtree is a right child.
  while (index & 1) {
    current = NodeHash(hashes_.back(), current);
    hashes_.pop_back();
    ++level;
    index >>= 1;
    if (on_node) on_node(level, index, current);
  }
  hashes_.push_back(current);
}

Hash CompactRange::Root() const {
  if (hashes_.empty()) return EmptyRoot();
  Hash root = hashes_.back();
  for (size_t i = hashes_.size() - 1; i-- > 0;) root = NodeHash(hashes_[i], root);
  return root;
}

absl::StatusOr<Hash> RangeHash(uint64_t begin, uint64_t end, const SubtreeSource& source) {
  const uint64_t n = end - begin;
  if (n == 0) return EmptyRoot();
  if (IsPowerOfTwo(n)) {
    const int level = std::countr_zero(n);
    return source(level, begin >> level);
  }
  const uint64_t k = SplitPoint(n);
  absl::StatusOr<Hash> left = RangeHash(begin, begin + k, source);
  if (!left.ok()) return left.status();
  absl::StatusOr<Hash> right = RangeHash(begin + k, end, source);
  if (!right.ok()) return right.status();
  return NodeHash(*left, *right);
}

absl::StatusOr<std::vector<Hash>> InclusionProof(uint64_t index, uint64_t size,
                                                 const SubtreeSource& source) {
  if (index >= size) {
    return absl::InvalidArgumentError(
        absl::StrCat("index ", index, " is not below tree size ", size));
  }
  std::vector<Hash> proof;
  absl::Status s = Path(index, 0, size, source, proof);
  if (!s.ok()) return s;
  return proof;
}

absl::StatusOr<std::vector<Hash>> ConsistencyProof(uint64_t old_size, uint64_t new_size,
                                                   const SubtreeSource& source) {
  if (old_size > new_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("old size ", old_size, " exceeds new size ", new_size));
  }
  std::vector<Hash> proof;
  if (old_size == 0 || old_size == new_size) return proof;
  absl::Status s = SubProof(old_size, 0, new_size, true, source, proof);
  if (!s.ok()) return s;
  return proof;
}

absl::Status VerifyInclusion(const Hash& leaf_hash, uint64_t index, uint64_t size,
                             const std::vector<Hash>& proof, const Hash& root) {
  // RFC 9162 2.1.3.2.
  if (index >= size) {
    return absl::InvalidArgumentError(absl::StrCat("index ", index, " >= size ", size));
  }
  uint64_t fn = index;
  uint64_t sn = size - 1;
  Hash r = leaf_hash;
  for (const Hash& p : proof) {
    if (sn == 0) return absl::InvalidArgumentError("inclusion proof is too long");
    if ((fn & 1) || fn == sn) {
      r = NodeHash(p, r);
      if (!(fn & 1)) {
        while (fn != 0 && !(fn & 1)) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return absl::InvalidArgumentError("inclusion proof is too short");
  if (r != root) return absl::DataLossError("inclusion proof does not lead to the root");
  return absl::OkStatus();
}

absl::Status VerifyConsistency(uint64_t old_size, uint64_t new_size, const Hash& old_root,
                               const Hash& new_root, const std::vector<Hash>& proof) {
  // RFC 9162 2.1.4.2.
  if (old_size > new_size) return absl::InvalidArgumentError("old size exceeds new size");
  if (old_size == new_size) {
    if (!proof.empty()) return absl::InvalidArgumentError("proof must be empty for equal sizes");
    if (old_root != new_root) return absl::DataLossError("roots differ at equal sizes");
    return absl::OkStatus();
  }
  if (old_size == 0) {
    if (!proof.empty()) return absl::InvalidArgumentError("proof must be empty from size 0");
    return absl::OkStatus();
  }
  if (proof.empty()) return absl::InvalidArgumentError("consistency proof is empty");
  std::vector<Hash> path = proof;
  if (IsPowerOfTwo(old_size)) path.insert(path.begin(), old_root);
  uint64_t fn = old_size - 1;
  uint64_t sn = new_size - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path[0];
  Hash sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0) return absl::InvalidArgumentError("consistency proof is too long");
    if ((fn & 1) || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      if (!(fn & 1)) {
        while (fn != 0 && !(fn & 1)) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return absl::InvalidArgumentError("consistency proof is too short");
  if (fr != old_root) return absl::DataLossError("consistency proof does not match the old root");
  if (sr != new_root) return absl::DataLossError("consistency proof does not match the new root");
  return absl::OkStatus();
}

}  // namespace fleettwin::ledger
