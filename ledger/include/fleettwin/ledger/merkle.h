// RFC 6962 / RFC 9162 Merkle tree hashing and proofs over SHA-256. Pure functions and a
// compact range; storage of nodes is the ledger's business.
#ifndef FLEETTWIN_LEDGER_MERKLE_H_
#define FLEETTWIN_LEDGER_MERKLE_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "fleettwin/common/crypto.h"

namespace fleettwin::ledger {

// SHA-256(0x00 || leaf).
Hash LeafHash(Bytes leaf);
// SHA-256(0x01 || left || right).
Hash NodeHash(const Hash& left, const Hash& right);
// The root of the empty tree: SHA-256 of no bytes.
Hash EmptyRoot();

// The hashes of the perfect subtrees that make up the first `size` leaves (left to right,
// largest first): enough to extend the tree and to compute its root without reading it.
class CompactRange final {
 public:
  CompactRange() = default;
  // REQUIRES: hashes.size() == popcount(size); hashes as returned by hashes().
  CompactRange(uint64_t size, std::vector<Hash> hashes);

  // Appends a leaf. For every perfect subtree the leaf completes, calls `on_node(level,
  // index, hash)` with level >= 1 (the node covers leaves [index << level, (index+1) << level)).
  void Append(const Hash& leaf_hash,
              const std::function<void(int level, uint64_t index, const Hash&)>& on_node = {});
  // Appends a whole perfect subtree of 2^level leaves. REQUIRES: size() is a multiple of
  // 2^level. Emits the nodes it completes above `level`.
  void AppendSubtree(
      int level, const Hash& hash,
      const std::function<void(int level, uint64_t index, const Hash&)>& on_node = {});

  uint64_t size() const { return size_; }
  const std::vector<Hash>& hashes() const { return hashes_; }
  // The tree head of the first size() leaves (EmptyRoot() for 0).
  Hash Root() const;

 private:
  uint64_t size_ = 0;
  std::vector<Hash> hashes_;  // One per set bit of size_, highest first.
};

// Levels of the perfect subtrees making up `size` leaves, highest first.
std::vector<int> CompactRangeLevels(uint64_t size);

// Supplies the hash of the perfect subtree covering leaves [index << level, (index+1) << level).
using SubtreeSource = std::function<absl::StatusOr<Hash>(int level, uint64_t index)>;

// MTH(D[begin:end]) per RFC 6962 2.1, reading perfect subtrees from `source`.
// REQUIRES: begin is a multiple of the largest power of two <= end - begin.
absl::StatusOr<Hash> RangeHash(uint64_t begin, uint64_t end, const SubtreeSource& source);

// PATH(index, D[0:size]) (RFC 6962 2.1.1), in O(log size) reads from `source`.
// Errors: InvalidArgument if index >= size; whatever `source` returns.
absl::StatusOr<std::vector<Hash>> InclusionProof(uint64_t index, uint64_t size,
                                                 const SubtreeSource& source);

// PROOF(old_size, D[0:new_size]) (RFC 6962 2.1.2); empty when old_size == new_size or
// old_size == 0. Errors: InvalidArgument if old_size > new_size.
absl::StatusOr<std::vector<Hash>> ConsistencyProof(uint64_t old_size, uint64_t new_size,
                                                   const SubtreeSource& source);

// Verifies an inclusion proof (RFC 9162 2.1.3.2). Returns OK or InvalidArgument/DataLoss
// describing the failure.
absl::Status VerifyInclusion(const Hash& leaf_hash, uint64_t index, uint64_t size,
                             const std::vector<Hash>& proof, const Hash& root);

// Verifies a consistency proof (RFC 9162 2.1.4.2).
absl::Status VerifyConsistency(uint64_t old_size, uint64_t new_size, const Hash& old_root,
                               const Hash& new_root, const std::vector<Hash>& proof);

}  // namespace fleettwin::ledger

#endif  // FLEETTWIN_LEDGER_MERKLE_H_
