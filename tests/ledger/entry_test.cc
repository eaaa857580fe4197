#include "fleettwin/ledger/entry.h"

#include <gtest/gtest.h>

#include <capnp/message.h>

#include <random>

#include "proto/ledger.capnp.h"

namespace fleettwin::ledger {
namespace {

Entry Sample() {
  Entry e;
  e.index = 42;
  e.kind = "twin.update";
  e.author = "engine-7";
  e.revision = 9;
  e.wall_time_nanos = 1'700'000'000'123'456'789;
  e.payload = std::string("\x00\x01payload\xff", 10);
  for (size_t i = 0; i < e.prev_hash.size(); ++i) e.prev_hash[i] = static_cast<uint8_t>(i * 3);
  return e;
}

TEST(EntryTest, RoundTripsThroughCanonicalLeafBytes) {
  const Entry e = Sample();
  const std::string leaf = EncodeLeaf(e);
  EXPECT_EQ(leaf.size() % 8, 0u);
  absl::StatusOr<Entry> decoded = DecodeLeaf(AsBytes(leaf));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, e);
  EXPECT_EQ(EncodeLeaf(*decoded), leaf);  // One entry, one byte string.
}

// What Cap'n Proto itself makes of an entry: the reference for the hand-written encoder.
std::string CapnpCanonical(const Entry& e) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<proto::Entry>();
  root.setIndex(e.index);
  root.setKind(e.kind);
  root.setAuthor(e.author);
  root.setRevision(e.revision);
  root.setWallTimeNanos(e.wall_time_nanos);
  root.setPayload(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(e.payload.data()),
                                      e.payload.size()));
  root.setPrevHash(capnp::Data::Reader(e.prev_hash.data(), e.prev_hash.size()));
  auto words = capnp::canonicalize(root.asReader());
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

TEST(EntryTest, EncoderMatchesCapnpCanonicalize) {
  std::mt19937_64 rng(99);
  auto text = [&](size_t max) {
    std::string t(rng() % (max + 1), 'a');
    for (char& c : t) c = static_cast<char>('a' + rng() % 26);
    return t;
  };
  for (int round = 0; round < 3000; ++round) {
    Entry e;
    // Zero data words matter: the canonical form truncates trailing zero words.
    e.index = rng() % 3 == 0 ? 0 : rng();
    e.revision = rng() % 3 == 0 ? 0 : rng() % 1000;
    e.wall_time_nanos = rng() % 3 == 0 ? 0 : static_cast<int64_t>(rng());
    e.kind = text(20);
    e.kind.push_back('k');  // Non-empty. (Not "k" + text: gcc 12 warns falsely on it.)
    e.author = text(17);
    e.payload = text(rng() % 10 == 0 ? 5000 : 40);
    for (auto& b : e.prev_hash) b = static_cast<uint8_t>(rng());
    const std::string leaf = EncodeLeaf(e);
    ASSERT_EQ(leaf, CapnpCanonical(e)) << "round " << round;
    absl::StatusOr<Entry> decoded = DecodeLeaf(AsBytes(leaf));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, e);
  }
}

TEST(EntryTest, EmptyFieldsStillEncodeCanonically) {
  Entry e;
  e.kind = "k";
  const std::string leaf = EncodeLeaf(e);
  absl::StatusOr<Entry> decoded = DecodeLeaf(AsBytes(leaf));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, e);
}

TEST(EntryTest, RejectsNonCanonicalAndMalformedBytes) {
  const std::string leaf = EncodeLeaf(Sample());
  EXPECT_EQ(DecodeLeaf(AsBytes("")).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeLeaf(AsBytes(leaf.substr(0, leaf.size() - 3))).status().code(),
            absl::StatusCode::kDataLoss);
  // Trailing words are not canonical.
  EXPECT_EQ(DecodeLeaf(AsBytes(leaf + std::string(8, '\0'))).status().code(),
            absl::StatusCode::kDataLoss);
  // Truncated by whole words: pointers run past the end.
  EXPECT_EQ(DecodeLeaf(AsBytes(leaf.substr(0, leaf.size() - 8))).status().code(),
            absl::StatusCode::kDataLoss);
  // A canonical message whose prev_hash is not 32 bytes.
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<proto::Entry>();
  root.setKind("k");
  const uint8_t short_hash[16] = {};
  root.setPrevHash(capnp::Data::Reader(short_hash, sizeof short_hash));
  auto words = capnp::canonicalize(root.asReader());
  auto bytes = words.asBytes();
  absl::StatusOr<Entry> decoded = DecodeLeaf(Bytes(bytes.begin(), bytes.size()));
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
}

TEST(EntryTest, RandomBytesAndBitFlipsNeverCrash) {
  const std::string leaf = EncodeLeaf(Sample());
  std::mt19937_64 rng(7);
  int accepted = 0;
  for (int round = 0; round < 5000; ++round) {
    std::string mutated = leaf;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f)
      mutated[rng() % mutated.size()] ^= static_cast<char>(1 << (rng() % 8));
    absl::StatusOr<Entry> decoded = DecodeLeaf(AsBytes(mutated));
    if (decoded.ok()) {
      ++accepted;
      // Whatever decodes must re-encode to exactly the same bytes.
      EXPECT_EQ(EncodeLeaf(*decoded), mutated);
    }
  }
  // Flips inside the payload or text decode fine; flips in pointers must not.
  EXPECT_GT(accepted, 0);
  EXPECT_LT(accepted, 5000);
  for (int round = 0; round < 2000; ++round) {
    std::string junk(8 * (1 + rng() % 16), '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    absl::StatusOr<Entry> decoded = DecodeLeaf(AsBytes(junk));
    if (decoded.ok()) {
      EXPECT_EQ(EncodeLeaf(*decoded), junk);
    }
  }
}

}  // namespace
}  // namespace fleettwin::ledger
