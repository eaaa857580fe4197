#include "fleettwin/ledger/note.h"

#include <gtest/gtest.h>

#include "fleettwin/common/encoding.h"

namespace fleettwin::ledger {
namespace {

// The example key and note of golang.org/x/mod/sumdb/note, the reference implementation of
// C2SP signed notes.
constexpr char kGoVerifierKey[] =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
constexpr char kGoSignerKey[] =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
constexpr char kGoText[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
constexpr char kGoSignature[] =
    "\xE2\x80\x94 PeterNeumann "
    "x08go/ZJkuBS9UG/"
    "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

SignerKey TestKey(std::string_view name, uint8_t fill) {
  std::array<uint8_t, 32> seed;
  seed.fill(fill);
  absl::StatusOr<SignerKey> key = SignerKeyFromSeed(name, seed);
  EXPECT_TRUE(key.ok());
  return *key;
}

TEST(NoteTest, ReproducesTheGoReferenceNoteByteForByte) {
  absl::StatusOr<SignerKey> signer = ParseSignerKey(kGoSignerKey);
  ASSERT_TRUE(signer.ok()) << signer.status();
  EXPECT_EQ(FormatVerifierKey(signer->Verifier()), kGoVerifierKey);
  EXPECT_EQ(FormatSignerKey(*signer), kGoSignerKey);
  const std::string note = SignNote(kGoText, *signer);
  EXPECT_EQ(note, std::string(kGoText) + "\n" + kGoSignature);

  absl::StatusOr<VerifierKey> verifier = ParseVerifierKey(kGoVerifierKey);
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  absl::StatusOr<std::string> text = OpenNote(note, *verifier);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, kGoText);
}

TEST(NoteTest, KeyIdIsFirstFourBytesOfHashOfNameNewlineTypeAndKey) {
  const SignerKey key = TestKey("example.com/log", 7);
  const uint8_t type = 0x01;
  const Hash h = Sha256({AsBytes("example.com/log"), AsBytes("\n"), Bytes(&type, 1),
                         Bytes(key.pair.public_key.data(), 32)});
  const uint32_t want =
      (uint32_t{h[0]} << 24) | (uint32_t{h[1]} << 16) | (uint32_t{h[2]} << 8) | h[3];
  EXPECT_EQ(key.key_id, want);
  EXPECT_EQ(Ed25519KeyId("example.com/log", key.pair.public_key), want);
  // The text form: name, 8 hex digits, base64 of 0x01 || key.
  const std::string text = FormatVerifierKey(key.Verifier());
  uint8_t typed[33] = {0x01};
  std::copy(key.pair.public_key.begin(), key.pair.public_key.end(), typed + 1);
  EXPECT_EQ(text, "example.com/log+" + HexEncode(Bytes(h.data(), 4)) + "+" +
                      Base64Encode(Bytes(typed, 33)));
}

TEST(NoteTest, CheckpointBodyFormatAndRoundTrip) {
  Checkpoint cp{"fleettwin.test/agent/engine-7", 1234, {}};
  for (size_t i = 0; i < cp.root.size(); ++i) cp.root[i] = static_cast<uint8_t>(i);
  const std::string body = FormatCheckpointBody(cp);
  EXPECT_EQ(body, "fleettwin.test/agent/engine-7\n1234\n" +
                      Base64Encode(Bytes(cp.root.data(), 32)) + "\n");
  absl::StatusOr<Checkpoint> parsed = ParseCheckpointBody(body);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, cp);

  const SignerKey key = TestKey("fleettwin.test/agent/engine-7", 1);
  const std::string note = SignCheckpoint(cp, key);
  ASSERT_TRUE(note.starts_with(body + "\n\xE2\x80\x94 fleettwin.test/agent/engine-7 "));
  absl::StatusOr<Checkpoint> opened = OpenCheckpoint(note, key.Verifier());
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, cp);
}

TEST(NoteTest, RejectsMalformedBodies) {
  const std::string root = std::string(44, 'A').replace(43, 1, "=");
  EXPECT_FALSE(ParseCheckpointBody("o\n12\n" + root).ok());          // No final newline.
  EXPECT_FALSE(ParseCheckpointBody("o\n012\n" + root + "\n").ok());  // Leading zero.
  EXPECT_FALSE(ParseCheckpointBody("o\n-1\n" + root + "\n").ok());
  EXPECT_FALSE(ParseCheckpointBody("o\n12\nAAAA\n").ok());  // Short root.
  EXPECT_FALSE(ParseCheckpointBody("o\n12\n" + root + "\nextension\n").ok());
  EXPECT_FALSE(ParseCheckpointBody("\n12\n" + root + "\n").ok());  // Empty origin.
  EXPECT_TRUE(ParseCheckpointBody("o\n12\n" + root + "\n").ok());
}

TEST(NoteTest, RejectsForeignKeysBadSignaturesAndExtraLines) {
  const SignerKey key = TestKey("log", 1);
  const SignerKey other = TestKey("log", 2);
  const Checkpoint cp{"log", 3, {}};
  const std::string note = SignCheckpoint(cp, key);
  EXPECT_EQ(OpenCheckpoint(SignCheckpoint(cp, other), key.Verifier()).status().code(),
            absl::StatusCode::kPermissionDenied);
  std::string altered = note;
  altered[4] = '4';  // Size 3 -> 4.
  EXPECT_EQ(OpenCheckpoint(altered, key.Verifier()).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(OpenCheckpoint(note + note.substr(note.find("\n\n") + 2), key.Verifier()).ok());
  EXPECT_FALSE(OpenCheckpoint(note.substr(0, note.size() - 1), key.Verifier()).ok());
  EXPECT_FALSE(OpenCheckpoint("", key.Verifier()).ok());
  EXPECT_FALSE(OpenCheckpoint("\n\n", key.Verifier()).ok());
}

TEST(NoteTest, KeyTextParsingRejectsManglings) {
  const std::string vkey = kGoVerifierKey;
  ASSERT_TRUE(ParseVerifierKey(vkey).ok());
  EXPECT_TRUE(ParseVerifierKey(vkey + "\n").ok());  // A key file's final newline.
  EXPECT_FALSE(
      ParseVerifierKey("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").ok());
  EXPECT_FALSE(
      ParseVerifierKey("PeterNeumanm+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").ok());
  EXPECT_FALSE(
      ParseVerifierKey("PeterNeumann+c74f20a3+AhpcMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").ok());
  EXPECT_FALSE(ParseVerifierKey("PeterNeumann+c74f20a3").ok());
  EXPECT_FALSE(ParseVerifierKey(kGoSignerKey).ok());
  EXPECT_FALSE(ParseSignerKey(vkey).ok());
  EXPECT_FALSE(IsValidKeyName("has space"));
  EXPECT_FALSE(IsValidKeyName("has+plus"));
  EXPECT_FALSE(IsValidKeyName(""));
  EXPECT_TRUE(IsValidKeyName("fleettwin.example/agent/engine-7"));
  EXPECT_FALSE(SignerKeyFromSeed("bad name", {}).ok());
}

}  // namespace
}  // namespace fleettwin::ledger
