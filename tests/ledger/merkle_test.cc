#include "fleettwin/ledger/merkle.h"

#include <gtest/gtest.h>

#include <map>

#include "fleettwin/common/encoding.h"
#include "naive_merkle.h"

namespace fleettwin::ledger {
namespace {

std::string Hex(const Hash& h) { return HexEncode(Bytes(h.data(), h.size())); }

naive::Leaves MakeLeaves(size_t n) {
  naive::Leaves leaves;
  for (size_t i = 0; i < n; ++i) leaves.push_back("leaf-" + std::to_string(i * 7919));
  return leaves;
}

// Subtree hashes as the ledger stores them, computed by the ledger's own CompactRange.
class TreeStore {
 public:
  explicit TreeStore(const naive::Leaves& leaves) {
    for (size_t i = 0; i < leaves.size(); ++i) {
      const Hash h = LeafHash(AsBytes(leaves[i]));
      nodes_[{0, i}] = h;
      range_.Append(h, [this](int level, uint64_t index, const Hash& node) {
        nodes_[{level, index}] = node;
      });
    }
  }
  SubtreeSource Source() {
    return [this](int level, uint64_t index) -> absl::StatusOr<Hash> {
      ++reads_;
      auto it = nodes_.find({level, index});
      if (it == nodes_.end()) return absl::NotFoundError("no such node");
      return it->second;
    };
  }
  const CompactRange& range() const { return range_; }
  int reads_ = 0;

 private:
  std::map<std::pair<int, uint64_t>, Hash> nodes_;
  CompactRange range_;
};

TEST(MerkleTest, CertificateTransparencyReferenceRoots) {
  // The eight leaves and roots of the Certificate Transparency reference test vectors.
  const naive::Leaves leaves = {"",
                                std::string(1, '\x00'),
                                "\x10",
                                "\x20\x21",
                                "\x30\x31",
                                "\x40\x41\x42\x43",
                                "\x50\x51\x52\x53\x54\x55\x56\x57",
                                "\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f"};
  const char* roots[] = {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                         "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                         "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
                         "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                         "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
                         "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
                         "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
                         "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};
  CompactRange range;
  for (size_t n = 1; n <= leaves.size(); ++n) {
    range.Append(LeafHash(AsBytes(leaves[n - 1])));
    EXPECT_EQ(Hex(range.Root()), roots[n - 1]) << "size " << n;
    EXPECT_EQ(Hex(naive::Mth(leaves, 0, n)), roots[n - 1]) << "size " << n;
  }
  EXPECT_EQ(Hex(EmptyRoot()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(MerkleTest, CompactRangeRootAndNodesMatchNaiveTree) {
  const naive::Leaves leaves = MakeLeaves(130);
  CompactRange range;
  for (size_t n = 1; n <= leaves.size(); ++n) {
    range.Append(LeafHash(AsBytes(leaves[n - 1])), [&](int level, uint64_t index, const Hash& h) {
      const size_t begin = index << level;
      EXPECT_EQ(h, naive::Mth(leaves, begin, begin + (size_t{1} << level)));
      EXPECT_LE(begin + (size_t{1} << level), n);
    });
    ASSERT_EQ(range.Root(), naive::Mth(leaves, 0, n)) << n;
    EXPECT_EQ(range.hashes().size(), CompactRangeLevels(n).size());
  }
}

TEST(MerkleTest, InclusionProofsEqualNaiveAndVerifyBothWays) {
  const naive::Leaves leaves = MakeLeaves(70);
  TreeStore store(leaves);
  for (size_t n = 1; n <= leaves.size(); ++n) {
    const Hash root = naive::Mth(leaves, 0, n);
    for (size_t m = 0; m < n; ++m) {
      absl::StatusOr<std::vector<Hash>> proof = InclusionProof(m, n, store.Source());
      ASSERT_TRUE(proof.ok()) << proof.status();
      ASSERT_EQ(*proof, naive::Path(m, leaves, 0, n)) << m << "/" << n;
      const Hash leaf_hash = LeafHash(AsBytes(leaves[m]));
      EXPECT_TRUE(VerifyInclusion(leaf_hash, m, n, *proof, root).ok());
      Hash walked;
      ASSERT_TRUE(naive::RootFromPath(m, n, leaf_hash, *proof, walked));
      EXPECT_EQ(walked, root);
    }
  }
}

TEST(MerkleTest, InclusionProofReadsAreLogarithmic) {
  const naive::Leaves leaves = MakeLeaves(1000);
  TreeStore store(leaves);
  for (size_t m : {0, 1, 499, 511, 512, 998, 999}) {
    store.reads_ = 0;
    ASSERT_TRUE(InclusionProof(m, 1000, store.Source()).ok());
    EXPECT_LE(store.reads_, 2 * 10) << m;  // 2 log2(n): a sibling per level plus the edge.
  }
}

TEST(MerkleTest, ConsistencyProofsEqualNaiveAndVerify) {
  const naive::Leaves leaves = MakeLeaves(70);
  TreeStore store(leaves);
  for (size_t n = 1; n <= leaves.size(); ++n) {
    const Hash new_root = naive::Mth(leaves, 0, n);
    for (size_t m = 0; m <= n; ++m) {
      absl::StatusOr<std::vector<Hash>> proof = ConsistencyProof(m, n, store.Source());
      ASSERT_TRUE(proof.ok()) << proof.status();
      ASSERT_EQ(*proof, naive::Proof(m, leaves, n)) << m << "->" << n;
      if (m == 0) continue;  // Nothing to verify against the empty tree.
      EXPECT_TRUE(VerifyConsistency(m, n, naive::Mth(leaves, 0, m), new_root, *proof).ok())
          << m << "->" << n;
    }
  }
}

TEST(MerkleTest, TamperedProofsAreRejected) {
  const naive::Leaves leaves = MakeLeaves(21);
  const Hash root = naive::Mth(leaves, 0, 21);
  std::vector<Hash> path = naive::Path(5, leaves, 0, 21);
  const Hash leaf_hash = LeafHash(AsBytes(leaves[5]));
  ASSERT_TRUE(VerifyInclusion(leaf_hash, 5, 21, path, root).ok());
  EXPECT_FALSE(VerifyInclusion(leaf_hash, 6, 21, path, root).ok());  // Wrong index.
  // A size whose tree has another shape.
  EXPECT_FALSE(VerifyInclusion(leaf_hash, 5, 40, path, root).ok());
  EXPECT_FALSE(VerifyInclusion(LeafHash(AsBytes("x")), 5, 21, path, root).ok());
  std::vector<Hash> flipped = path;
  flipped[1][0] ^= 1;
  EXPECT_FALSE(VerifyInclusion(leaf_hash, 5, 21, flipped, root).ok());
  std::vector<Hash> shorter(path.begin(), path.end() - 1);
  EXPECT_FALSE(VerifyInclusion(leaf_hash, 5, 21, shorter, root).ok());
  std::vector<Hash> longer = path;
  longer.push_back(root);
  EXPECT_FALSE(VerifyInclusion(leaf_hash, 5, 21, longer, root).ok());

  std::vector<Hash> cproof = naive::Proof(7, leaves, 21);
  const Hash old_root = naive::Mth(leaves, 0, 7);
  ASSERT_TRUE(VerifyConsistency(7, 21, old_root, root, cproof).ok());
  EXPECT_FALSE(VerifyConsistency(7, 21, root, root, cproof).ok());
  EXPECT_FALSE(VerifyConsistency(8, 21, old_root, root, cproof).ok());
  cproof[0][3] ^= 0x40;
  EXPECT_FALSE(VerifyConsistency(7, 21, old_root, root, cproof).ok());
  EXPECT_FALSE(VerifyConsistency(7, 21, old_root, root, {}).ok());
}

TEST(MerkleTest, RejectsOutOfRangeRequests) {
  const naive::Leaves leaves = MakeLeaves(5);
  TreeStore store(leaves);
  EXPECT_EQ(InclusionProof(5, 5, store.Source()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ConsistencyProof(6, 5, store.Source()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fleettwin::ledger
