#include "fleettwin/common/crypto.h"

#include <gtest/gtest.h>

#include "fleettwin/common/encoding.h"

namespace fleettwin {
namespace {

std::string Hex(const Hash& h) { return HexEncode(Bytes(h.data(), h.size())); }

TEST(Sha256Test, MatchesFips180Vectors) {
  EXPECT_EQ(Hex(Sha256(AsBytes(""))),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Hex(Sha256(AsBytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Hex(Sha256(AsBytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256Test, PartsHashLikeTheirConcatenation) {
  EXPECT_EQ(Sha256({AsBytes("ab"), AsBytes(""), AsBytes("c")}), Sha256(AsBytes("abc")));
  Sha256Hasher hasher;
  hasher.Update(AsBytes("a"));
  hasher.Update(AsBytes("bc"));
  EXPECT_EQ(hasher.Finish(), Sha256(AsBytes("abc")));
  hasher.Update(AsBytes(""));
  EXPECT_EQ(hasher.Finish(), Sha256(AsBytes("")));  // Finish resets.
}

TEST(Ed25519Test, Rfc8032TestVector1) {
  // RFC 8032 section 7.1, TEST 1 (empty message).
  auto seed = HexDecode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  ASSERT_TRUE(seed.ok());
  std::array<uint8_t, 32> s;
  std::copy(seed->begin(), seed->end(), s.begin());
  Ed25519KeyPair pair = Ed25519KeyPairFromSeed(s);
  EXPECT_EQ(HexEncode(Bytes(pair.public_key.data(), 32)),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  Ed25519Signature sig = Ed25519Sign(pair, Bytes());
  EXPECT_EQ(HexEncode(Bytes(sig.data(), sig.size())),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e3"
            "9701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  EXPECT_TRUE(Ed25519Verify(pair.public_key, Bytes(), sig));
}

TEST(Ed25519Test, RejectsTamperedMessageSignatureAndKey) {
  Ed25519KeyPair pair = GenerateEd25519KeyPair();
  Ed25519Signature sig = Ed25519Sign(pair, AsBytes("hello"));
  EXPECT_TRUE(Ed25519Verify(pair.public_key, AsBytes("hello"), sig));
  EXPECT_FALSE(Ed25519Verify(pair.public_key, AsBytes("hellp"), sig));
  Ed25519Signature bad = sig;
  bad[10] ^= 1;
  EXPECT_FALSE(Ed25519Verify(pair.public_key, AsBytes("hello"), bad));
  Ed25519KeyPair other = GenerateEd25519KeyPair();
  EXPECT_FALSE(Ed25519Verify(other.public_key, AsBytes("hello"), sig));
}

TEST(ConstantTimeEqualTest, ComparesLengthAndBytes) {
  EXPECT_TRUE(ConstantTimeEqual(AsBytes("abc"), AsBytes("abc")));
  EXPECT_FALSE(ConstantTimeEqual(AsBytes("abc"), AsBytes("abd")));
  EXPECT_FALSE(ConstantTimeEqual(AsBytes("abc"), AsBytes("ab")));
  EXPECT_TRUE(ConstantTimeEqual(AsBytes(""), AsBytes("")));
}

}  // namespace
}  // namespace fleettwin
