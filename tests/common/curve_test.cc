#include "fleettwin/common/curve.h"

#include <gtest/gtest.h>
#include <zmq.h>

#include <fstream>
#include <random>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "testing/temp_dir.h"

namespace fleettwin::common {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> RandomBytes(std::mt19937& rng, size_t n) {
  std::vector<uint8_t> bytes(n);
  for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng());
  return bytes;
}

CurveKey RandomKey(std::mt19937& rng) {
  CurveKey key;
  for (uint8_t& b : key) b = static_cast<uint8_t>(rng());
  return key;
}

void WriteText(const fs::path& path, std::string_view text, fs::perms mode) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  fs::permissions(path, mode);
}

std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

fs::perms Mode(const fs::path& path) { return fs::status(path).permissions() & fs::perms::mask; }

TEST(Z85Test, Rfc32TestVector) {
  const std::vector<uint8_t> bytes = {0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B};
  EXPECT_EQ(Z85Encode(bytes), "HelloWorld");
  absl::StatusOr<std::vector<uint8_t>> back = Z85Decode("HelloWorld");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, bytes);
}

TEST(Z85Test, RoundTripsRandomBytesAndExtremes) {
  std::mt19937 rng(7);
  for (size_t n = 0; n <= 64; n += 4) {
    const std::vector<uint8_t> bytes = RandomBytes(rng, n);
    const std::string text = Z85Encode(bytes);
    EXPECT_EQ(text.size(), n / 4 * 5);
    absl::StatusOr<std::vector<uint8_t>> back = Z85Decode(text);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, bytes);
  }
  EXPECT_EQ(Z85Encode(std::vector<uint8_t>(4, 0x00)), "00000");
  EXPECT_EQ(Z85Encode(std::vector<uint8_t>(4, 0xFF)), "%nSc0");
  EXPECT_EQ(*Z85Decode("%nSc0"), std::vector<uint8_t>(4, 0xFF));
}

TEST(Z85Test, RefusesMalformedText) {
  for (std::string_view text : {"H", "Hell", "HelloW", "HelloWorl"}) {
    EXPECT_EQ(Z85Decode(text).status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
  // Every byte outside the 85-character alphabet, in each position of a group.
  const std::string alphabet =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
  for (int c = 0; c < 256; ++c) {
    if (alphabet.find(static_cast<char>(c)) != std::string::npos) continue;
    for (size_t pos = 0; pos < 5; ++pos) {
      std::string text = "HelloWorld";
      text[5 + pos] = static_cast<char>(c);
      EXPECT_EQ(Z85Decode(text).status().code(), absl::StatusCode::kInvalidArgument) << c;
    }
  }
  // Groups above 2^32 - 1 ("%nSc0"), up to the largest 85^5 - 1.
  for (std::string_view text : {"%nSc1", "%nSd0", "%nTc0", "#####", "00000%nSc1"}) {
    absl::Status status = Z85Decode(text).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(std::string(status.message()).find(text), std::string::npos);
  }
}

TEST(Z85InteropTest, MatchesLibzmq) {
  std::mt19937 rng(11);
  for (size_t n = 4; n <= 64; n += 4) {
    const std::vector<uint8_t> bytes = RandomBytes(rng, n);
    std::string zmq_text(n / 4 * 5 + 1, '\0');
    ASSERT_NE(zmq_z85_encode(zmq_text.data(), bytes.data(), n), nullptr);
    zmq_text.pop_back();
    EXPECT_EQ(Z85Encode(bytes), zmq_text);
    std::vector<uint8_t> zmq_bytes(n);
    ASSERT_NE(zmq_z85_decode(zmq_bytes.data(), zmq_text.c_str()), nullptr);
    EXPECT_EQ(*Z85Decode(zmq_text), zmq_bytes);
  }
}

TEST(CurveKeyTest, GeneratedPairsAreConsistentAndDistinct) {
  const CurveKeyPair a = GenerateCurveKeyPair();
  const CurveKeyPair b = GenerateCurveKeyPair();
  EXPECT_EQ(CurvePublicFromSecret(a.secret_key), a.public_key);
  EXPECT_NE(a.secret_key, b.secret_key);
  EXPECT_NE(a.public_key, b.public_key);
  const std::string text = CurveKeyText(a.public_key);
  EXPECT_EQ(text.size(), 40u);
  absl::StatusOr<CurveKey> back = ParseCurveKeyText(text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, a.public_key);
  EXPECT_FALSE(ParseCurveKeyText(text.substr(0, 35)).ok());
  EXPECT_FALSE(ParseCurveKeyText(text + "00000").ok());
  EXPECT_FALSE(ParseCurveKeyText(text + "\n").ok());
}

TEST(CurveInteropTest, PublicFromSecretMatchesLibzmq) {
  ASSERT_TRUE(zmq_has("curve")) << "libzmq was built without CURVE";
  std::mt19937 rng(13);
  for (int i = 0; i < 16; ++i) {
    // Arbitrary 32 bytes, unclamped: both sides clamp the scalar the same way.
    const CurveKey secret = i == 0 ? GenerateCurveKeyPair().secret_key : RandomKey(rng);
    char zmq_public[41] = {};
    ASSERT_EQ(zmq_curve_public(zmq_public, CurveKeyText(secret).c_str()), 0);
    EXPECT_EQ(CurveKeyText(CurvePublicFromSecret(secret)), zmq_public);
  }
  char zmq_public[41] = {}, zmq_secret[41] = {};
  ASSERT_EQ(zmq_curve_keypair(zmq_public, zmq_secret), 0);
  absl::StatusOr<CurveKey> secret = ParseCurveKeyText(zmq_secret);
  ASSERT_TRUE(secret.ok()) << secret.status();
  EXPECT_EQ(CurveKeyText(CurvePublicFromSecret(*secret)), zmq_public);
}

TEST(CurveInteropTest, KeysFromFilesCompleteACurveHandshake) {
  ASSERT_TRUE(zmq_has("curve")) << "libzmq was built without CURVE";
  testing::TempDir dir;
  ASSERT_TRUE(WriteCurveKeyFiles(dir.path(), "server", false).ok());
  ASSERT_TRUE(WriteCurveKeyFiles(dir.path(), "client", false).ok());
  absl::StatusOr<CurveSecretKey> server =
      ReadCurveSecretKeyFile(dir.path() / "server.curve-secret");
  absl::StatusOr<CurveSecretKey> client =
      ReadCurveSecretKeyFile(dir.path() / "client.curve-secret");
  absl::StatusOr<CurvePublicKey> server_public =
      ReadCurvePublicKeyFile(dir.path() / "server.curve-public");
  ASSERT_TRUE(server.ok() && client.ok() && server_public.ok());

  zmq::context_t context;
  zmq::socket_t rep(context, zmq::socket_type::rep);
  rep.set(zmq::sockopt::curve_server, true);
  rep.set(zmq::sockopt::curve_secretkey, CurveKeyText(server->pair.secret_key));
  rep.set(zmq::sockopt::rcvtimeo, 10000);
  rep.bind("tcp://127.0.0.1:*");
  zmq::socket_t req(context, zmq::socket_type::req);
  req.set(zmq::sockopt::curve_serverkey, CurveKeyText(server_public->key));
  req.set(zmq::sockopt::curve_publickey, CurveKeyText(client->pair.public_key));
  req.set(zmq::sockopt::curve_secretkey, CurveKeyText(client->pair.secret_key));
  req.set(zmq::sockopt::rcvtimeo, 10000);
  req.set(zmq::sockopt::linger, 0);
  req.connect(rep.get(zmq::sockopt::last_endpoint));

  req.send(zmq::str_buffer("ping"));
  zmq::message_t msg;
  ASSERT_TRUE(rep.recv(msg)) << "no CURVE handshake within 10 s";
  EXPECT_EQ(msg.to_string(), "ping");
  rep.send(zmq::str_buffer("pong"));
  ASSERT_TRUE(req.recv(msg));
  EXPECT_EQ(msg.to_string(), "pong");
}

CurveSecretKey SampleSecret() {
  return CurveSecretKey{.name = "agent-7.site_a", .pair = GenerateCurveKeyPair()};
}

TEST(CurveKeyFileTest, FormatsAndParsesBothKinds) {
  const CurveSecretKey secret = SampleSecret();
  const std::string secret_text = FormatCurveSecretKey(secret);
  EXPECT_EQ(secret_text, "fleettwin-curve-secret agent-7.site_a " +
                             CurveKeyText(secret.pair.secret_key) + " " +
                             CurveKeyText(secret.pair.public_key) + "\n");
  const CurvePublicKey pub{.name = secret.name, .key = secret.pair.public_key};
  const std::string public_text = FormatCurvePublicKey(pub);
  EXPECT_EQ(public_text, "fleettwin-curve-public agent-7.site_a " + CurveKeyText(pub.key) + "\n");

  // The final newline is optional.
  for (const std::string& text : {secret_text, secret_text.substr(0, secret_text.size() - 1)}) {
    absl::StatusOr<CurveSecretKey> parsed = ParseCurveSecretKey(text);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->name, secret.name);
    EXPECT_EQ(parsed->pair.secret_key, secret.pair.secret_key);
    EXPECT_EQ(parsed->pair.public_key, secret.pair.public_key);
  }
  for (const std::string& text : {public_text, public_text.substr(0, public_text.size() - 1)}) {
    absl::StatusOr<CurvePublicKey> parsed = ParseCurvePublicKey(text);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->name, pub.name);
    EXPECT_EQ(parsed->key, pub.key);
  }
  const std::string longest(64, 'n');
  EXPECT_TRUE(ParseCurvePublicKey(FormatCurvePublicKey({.name = longest, .key = pub.key})).ok());
}

TEST(CurveKeyFileTest, RefusesTamperedSecretsWithoutEchoingThem) {
  const CurveSecretKey key = SampleSecret();
  const std::string s = CurveKeyText(key.pair.secret_key);
  const std::string p = CurveKeyText(key.pair.public_key);
  const std::string other_p = CurveKeyText(GenerateCurveKeyPair().public_key);
  std::string bad_z85 = s;
  bad_z85[17] = '~';
  const std::string tag = "fleettwin-curve-secret ";
  const std::vector<std::string> cases = {
      "",
      "\n",
      tag + "a " + s + " " + other_p + "\n",                  // Public of another secret.
      tag + "a " + s + " " + s + "\n",                        // Secret given as public.
      tag + "a/b " + s + " " + p + "\n",                      // Bad name characters.
      tag + std::string(65, 'a') + " " + s + " " + p + "\n",  // Name too long.
      tag + " " + s + " " + p + "\n",                         // Empty name.
      tag + s + " " + p + "\n",                               // No name (secret in its place).
      tag + s + " " + s + " " + p + "\n",                     // Secret as the name.
      tag + "a " + bad_z85 + " " + p + "\n",                  // Not Z85.
      tag + "a " + s.substr(0, 35) + " " + p + "\n",          // Short key.
      tag + "a " + s + " " + p + " extra\n",                  // Extra field.
      tag + "a " + s + " " + p + " \n",                       // Trailing space.
      tag + "a " + s + "  " + p + "\n",                       // Double space.
      " " + tag + "a " + s + " " + p + "\n",                  // Leading space.
      tag + "a\t" + s + " " + p + "\n",                       // Tab separator.
      tag + "a " + s + " " + p + "\r\n",                      // CRLF.
      tag + "a " + s + " " + p + "\n\n",                      // Two newlines.
      tag + "a " + s + " " + p + "\n" + tag + "a " + s + " " + p + "\n",  // Two lines.
      "fleettwin-curve-public a " + s + " " + p + "\n",                   // Wrong tag.
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const absl::Status status = ParseCurveSecretKey(cases[i]).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << "case " << i;
    const std::string message(status.message());
    EXPECT_EQ(message.find(s.substr(0, 10)), std::string::npos) << "case " << i << ": " << message;
    EXPECT_EQ(message.find(s.substr(30)), std::string::npos) << "case " << i << ": " << message;
  }
}

TEST(CurveKeyFileTest, RefusesTamperedPublicKeys) {
  const std::string p = CurveKeyText(GenerateCurveKeyPair().public_key);
  const std::string tag = "fleettwin-curve-public ";
  const std::vector<std::string> cases = {
      tag + "a",                               // No key.
      tag + "a " + p + " " + p + "\n",         // Extra field.
      tag + "a b " + p + "\n",                 // Space in the name.
      tag + "a " + p.substr(1) + "\n",         // Short key.
      tag + "a " + p + "0\n",                  // Long key.
      tag + "a " + p + "\r\n",                 // CRLF.
      tag + "\xc3\xa9 " + p + "\n",            // Non-ASCII name.
      "fleettwin-curve-secret a " + p + "\n",  // Wrong tag.
      p + "\n",                                // No tag.
  };
  for (const std::string& text : cases) {
    EXPECT_EQ(ParseCurvePublicKey(text).status().code(), absl::StatusCode::kInvalidArgument)
        << text;
  }
}

TEST(CurveKeyFileTest, MutatedTextNeverCrashesAndParsesOnlyToItsCanonicalForm) {
  const std::string text = FormatCurveSecretKey(SampleSecret());
  std::mt19937 rng(17);
  for (int i = 0; i < 5000; ++i) {
    std::string mutated = text;
    for (int m = 0; m <= i % 3; ++m) mutated[rng() % mutated.size()] = static_cast<char>(rng());
    if (absl::StatusOr<CurveSecretKey> key = ParseCurveSecretKey(mutated); key.ok()) {
      EXPECT_EQ(FormatCurveSecretKey(*key), mutated);
    }
    if (absl::StatusOr<CurvePublicKey> key = ParseCurvePublicKey(mutated); key.ok()) {
      EXPECT_EQ(FormatCurvePublicKey(*key), mutated);
    }
  }
}

TEST(CurveKeyFilesTest, WriteThenReadBothFiles) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteCurveKeyFiles(dir.path(), "coordinator", false).ok());
  const fs::path secret_path = dir.path() / "coordinator.curve-secret";
  const fs::path public_path = dir.path() / "coordinator.curve-public";
  EXPECT_EQ(Mode(secret_path), fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(Mode(public_path), fs::perms::owner_read | fs::perms::owner_write |
                                   fs::perms::group_read | fs::perms::others_read);
  absl::StatusOr<CurveSecretKey> secret = ReadCurveSecretKeyFile(secret_path);
  ASSERT_TRUE(secret.ok()) << secret.status();
  absl::StatusOr<CurvePublicKey> pub = ReadCurvePublicKeyFile(public_path);
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_EQ(secret->name, "coordinator");
  EXPECT_EQ(pub->name, "coordinator");
  EXPECT_EQ(pub->key, secret->pair.public_key);
}

TEST(CurveKeyFilesTest, WriteRefusesToOverwriteWithoutForce) {
  testing::TempDir dir;
  const fs::path secret_path = dir.path() / "a.curve-secret";
  const fs::path public_path = dir.path() / "a.curve-public";
  ASSERT_TRUE(WriteCurveKeyFiles(dir.path(), "a", false).ok());
  const std::string secret_text = ReadText(secret_path);
  const std::string public_text = ReadText(public_path);
  EXPECT_EQ(WriteCurveKeyFiles(dir.path(), "a", false).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ReadText(secret_path), secret_text);
  EXPECT_EQ(ReadText(public_path), public_text);

  // A lone public file also blocks, and no secret is left behind.
  fs::remove(secret_path);
  EXPECT_EQ(WriteCurveKeyFiles(dir.path(), "a", false).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_FALSE(fs::exists(secret_path));
  EXPECT_EQ(ReadText(public_path), public_text);

  // Force replaces both with a new pair, keeping the modes.
  WriteText(secret_path, "old", fs::perms::all);
  ASSERT_TRUE(WriteCurveKeyFiles(dir.path(), "a", true).ok());
  EXPECT_NE(ReadText(public_path), public_text);
  EXPECT_EQ(Mode(secret_path), fs::perms::owner_read | fs::perms::owner_write);
  absl::StatusOr<CurveSecretKey> secret = ReadCurveSecretKeyFile(secret_path);
  ASSERT_TRUE(secret.ok()) << secret.status();
  EXPECT_EQ(ReadCurvePublicKeyFile(public_path)->key, secret->pair.public_key);
}

TEST(CurveKeyFilesTest, WriteRefusesBadNamesAndMissingDirectory) {
  testing::TempDir dir;
  for (std::string_view name :
       {std::string_view(""), std::string_view("../x"), std::string_view("a b"),
        std::string_view("a/b"), std::string_view("a\0b", 3)}) {
    EXPECT_EQ(WriteCurveKeyFiles(dir.path(), name, false).code(),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(fs::is_empty(dir.path()));
  EXPECT_EQ(WriteCurveKeyFiles(dir.path() / "missing", "a", false).code(),
            absl::StatusCode::kNotFound);
}

TEST(CurveKeyFilesTest, SecretFileOpenToGroupOrOthersIsRefused) {
  testing::TempDir dir;
  const CurveSecretKey key = SampleSecret();
  const fs::path path = dir.path() / "k.curve-secret";
  WriteText(path, FormatCurveSecretKey(key), fs::perms::owner_read | fs::perms::owner_write);
  ASSERT_TRUE(ReadCurveSecretKeyFile(path).ok());
  for (fs::perms extra : {fs::perms::group_read | fs::perms::others_read, fs::perms::group_read,
                          fs::perms::others_read, fs::perms::group_write}) {
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write | extra);
    const absl::Status status = ReadCurveSecretKeyFile(path).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(std::string(status.message()).find(CurveKeyText(key.pair.secret_key)),
              std::string::npos);
  }
}

TEST(CurveKeyFilesTest, ReadRefusesMissingHugeAndTamperedFiles) {
  testing::TempDir dir;
  EXPECT_EQ(ReadCurvePublicKeyFile(dir.path() / "none.curve-public").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadCurveSecretKeyFile(dir.path() / "none.curve-secret").status().code(),
            absl::StatusCode::kNotFound);
  const CurveSecretKey key = SampleSecret();
  std::string text = FormatCurvePublicKey({.name = key.name, .key = key.pair.public_key});
  WriteText(dir.path() / "big.curve-public", text + std::string(64 * 1024, ' '),
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(ReadCurvePublicKeyFile(dir.path() / "big.curve-public").status().code(),
            absl::StatusCode::kInvalidArgument);
  // Endless input is refused after 64 KiB + 1 bytes, not loaded.
  EXPECT_EQ(ReadCurvePublicKeyFile("/dev/zero").status().code(),
            absl::StatusCode::kInvalidArgument);

  std::string secret_text = FormatCurveSecretKey(key);
  secret_text.replace(secret_text.size() - 41, 40, CurveKeyText(GenerateCurveKeyPair().public_key));
  const fs::path path = dir.path() / "k.curve-secret";
  WriteText(path, secret_text, fs::perms::owner_read | fs::perms::owner_write);
  const absl::Status status = ReadCurveSecretKeyFile(path).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(status.message()).find(path.string()), std::string::npos);
}

TEST(CurvePublicKeyDirTest, ReadsEveryPublicKeySortedByFileName) {
  testing::TempDir dir;
  EXPECT_TRUE(ReadCurvePublicKeyDir(dir.path())->empty());
  for (std::string_view name : {"b", "c", "a"}) {
    ASSERT_TRUE(WriteCurveKeyFiles(dir.path(), name, false).ok());
  }
  WriteText(dir.path() / "README", "not a key", fs::perms::owner_read);
  fs::create_directory(dir.path() / "sub.curve-public");
  absl::StatusOr<std::vector<CurvePublicKey>> keys = ReadCurvePublicKeyDir(dir.path());
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_EQ(keys->size(), 3u);
  EXPECT_EQ((*keys)[0].name, "a");
  EXPECT_EQ((*keys)[1].name, "b");
  EXPECT_EQ((*keys)[2].name, "c");
  EXPECT_EQ((*keys)[0].key, ReadCurveSecretKeyFile(dir.path() / "a.curve-secret")->pair.public_key);
  EXPECT_EQ(ReadCurvePublicKeyDir(dir.path() / "missing").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(CurvePublicKeyDirTest, RefusesBadAndDuplicateFiles) {
  const fs::perms rw = fs::perms::owner_read | fs::perms::owner_write;
  const CurvePublicKey a{.name = "a", .key = GenerateCurveKeyPair().public_key};
  const CurvePublicKey b{.name = "b", .key = GenerateCurveKeyPair().public_key};
  {
    testing::TempDir dir;
    WriteText(dir.path() / "a.curve-public", FormatCurvePublicKey(a), rw);
    WriteText(dir.path() / "z.curve-public", "fleettwin-curve-public z nonsense\n", rw);
    const absl::Status status = ReadCurvePublicKeyDir(dir.path()).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(status.message()).find("z.curve-public"), std::string::npos) << status;
  }
  {
    testing::TempDir dir;  // Same name in two files.
    WriteText(dir.path() / "a.curve-public", FormatCurvePublicKey(a), rw);
    WriteText(dir.path() / "a2.curve-public", FormatCurvePublicKey({.name = "a", .key = b.key}),
              rw);
    const absl::Status status = ReadCurvePublicKeyDir(dir.path()).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(status.message()).find("a2.curve-public"), std::string::npos) << status;
  }
  {
    testing::TempDir dir;  // Same key under two names.
    WriteText(dir.path() / "a.curve-public", FormatCurvePublicKey(a), rw);
    WriteText(dir.path() / "b.curve-public", FormatCurvePublicKey({.name = "b", .key = a.key}), rw);
    const absl::Status status = ReadCurvePublicKeyDir(dir.path()).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(status.message()).find("b.curve-public"), std::string::npos) << status;
  }
}

}  // namespace
}  // namespace fleettwin::common
