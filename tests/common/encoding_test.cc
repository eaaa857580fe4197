#include "fleettwin/common/encoding.h"

#include <gtest/gtest.h>

namespace fleettwin {
namespace {

std::string Decoded(std::string_view text) {
  auto bytes = Base64Decode(text);
  EXPECT_TRUE(bytes.ok()) << text;
  return bytes.ok() ? std::string(bytes->begin(), bytes->end()) : "";
}

TEST(Base64Test, Rfc4648Vectors) {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(AsBytes(plain)), encoded);
    EXPECT_EQ(Decoded(encoded), plain);
  }
}

TEST(Base64Test, RejectsNonCanonicalAndMalformedInput) {
  EXPECT_FALSE(Base64Decode("Zg=").ok());     // Length.
  EXPECT_FALSE(Base64Decode("Zh==").ok());    // Non-zero padding bits.
  EXPECT_FALSE(Base64Decode("Zm9v\n").ok());  // Whitespace.
  EXPECT_FALSE(Base64Decode("Zm-v").ok());    // URL alphabet.
  EXPECT_FALSE(Base64Decode("Z===").ok());
  EXPECT_FALSE(Base64Decode("=Zm9").ok());
}

TEST(Base64Test, RoundTripsEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t n = 0; n < all.size(); n += 7) {
    EXPECT_EQ(Decoded(Base64Encode(AsBytes(all.substr(0, n)))), all.substr(0, n));
  }
}

TEST(HexTest, RoundTripsAndRejectsBadDigits) {
  EXPECT_EQ(HexEncode(AsBytes("\x01\xab\xff")), "01abff");
  auto bytes = HexDecode("01ABff");
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(std::string(bytes->begin(), bytes->end()), "\x01\xab\xff");
  EXPECT_FALSE(HexDecode("0g").ok());
  EXPECT_FALSE(HexDecode("012").ok());
}

TEST(BigEndianTest, RoundTripsAndSortsLikeNumbers) {
  uint8_t a[8], b[8];
  PutBigEndian64(255, a);
  PutBigEndian64(256, b);
  EXPECT_LT(std::memcmp(a, b, 8), 0);
  EXPECT_EQ(GetBigEndian64(a), 255u);
  PutBigEndian64(0x0102030405060708ull, a);
  EXPECT_EQ(a[0], 1);
  EXPECT_EQ(a[7], 8);
  EXPECT_EQ(GetBigEndian64(a), 0x0102030405060708ull);
}

}  // namespace
}  // namespace fleettwin
