// A second, deliberately naive implementation of RFC 6962 section 2.1, written straight from
// the RFC's recursive definitions over the whole list of leaves. Tests compare the ledger's
// O(log n) code against it; it shares nothing with ledger/src/merkle.cc but SHA-256.
#ifndef FLEETTWIN_TESTS_LEDGER_NAIVE_MERKLE_H_
#define FLEETTWIN_TESTS_LEDGER_NAIVE_MERKLE_H_

#include <string>
#include <vector>

#include "fleettwin/common/crypto.h"

namespace fleettwin::naive {

using Leaves = std::vector<std::string>;

inline Hash HashOf(const std::string& bytes) { return Sha256(AsBytes(bytes)); }
inline std::string Str(const Hash& h) { return std::string(h.begin(), h.end()); }

// k: the largest power of two smaller than n (n > 1).
inline size_t Split(size_t n) {
  size_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

// MTH(D[begin:end]).
inline Hash Mth(const Leaves& d, size_t begin, size_t end) {
  const size_t n = end - begin;
  if (n == 0) return HashOf("");
  if (n == 1) return HashOf(std::string(1, '\0') + d[begin]);
  const size_t k = Split(n);
  return HashOf(std::string(1, '\1') + Str(Mth(d, begin, begin + k)) + Str(Mth(d, begin + k, end)));
}

// PATH(m, D[begin:end]).
inline std::vector<Hash> Path(size_t m, const Leaves& d, size_t begin, size_t end) {
  const size_t n = end - begin;
  if (n <= 1) return {};
  const size_t k = Split(n);
  std::vector<Hash> out;
  if (m < k) {
    out = Path(m, d, begin, begin + k);
    out.push_back(Mth(d, begin + k, end));
  } else {
    out = Path(m - k, d, begin + k, end);
    out.push_back(Mth(d, begin, begin + k));
  }
  return out;
}

// SUBPROOF(m, D[begin:end], b).
inline std::vector<Hash> SubProof(size_t m, const Leaves& d, size_t begin, size_t end, bool b) {
  const size_t n = end - begin;
  if (m == n) {
    if (b) return {};
    return {Mth(d, begin, end)};
  }
  const size_t k = Split(n);
  std::vector<Hash> out;
  if (m <= k) {
    out = SubProof(m, d, begin, begin + k, b);
    out.push_back(Mth(d, begin + k, end));
  } else {
    out = SubProof(m - k, d, begin + k, end, false);
    out.push_back(Mth(d, begin, begin + k));
  }
  return out;
}

// PROOF(m, D[0:n]).
inline std::vector<Hash> Proof(size_t m, const Leaves& d, size_t n) {
  if (m == 0 || m == n) return {};
  return SubProof(m, d, 0, n, true);
}

// Recomputes a root from an inclusion proof by walking PATH's recursion backwards, a second
// verification algorithm next to RFC 9162's iterative one. Returns false on a malformed proof.
inline bool RootFromPath(size_t m, size_t n, const Hash& leaf_hash, std::vector<Hash> proof,
                         Hash& root) {
  if (n == 1) {
    if (!proof.empty()) return false;
    root = leaf_hash;
    return true;
  }
  if (n == 0 || proof.empty()) return false;
  const size_t k = Split(n);
  const Hash sibling = proof.back();
  proof.pop_back();
  Hash sub;
  if (m < k) {
    if (!RootFromPath(m, k, leaf_hash, proof, sub)) return false;
    root = HashOf(std::string(1, '\1') + Str(sub) + Str(sibling));
  } else {
    if (!RootFromPath(m - k, n - k, leaf_hash, proof, sub)) return false;
    root = HashOf(std::string(1, '\1') + Str(sibling) + Str(sub));
  }
  return true;
}

}  // namespace fleettwin::naive

#endif  // FLEETTWIN_TESTS_LEDGER_NAIVE_MERKLE_H_
