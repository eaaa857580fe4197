// Signed checkpoints: the C2SP tlog-checkpoint body inside a C2SP signed note, Ed25519 only,
// and the text forms of signer and verifier keys (compatible with golang.org/x/mod's note
// package). See docs/ledger.md for the exact bytes.
#ifndef FLEETTWIN_LEDGER_NOTE_H_
#define FLEETTWIN_LEDGER_NOTE_H_

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "fleettwin/common/crypto.h"

namespace fleettwin::ledger {

// The signed statement "the log named `origin` has `size` entries and this root".
struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  Hash root{};
  bool operator==(const Checkpoint&) const = default;
};

// "<origin>\n<size>\n<base64 root>\n".
std::string FormatCheckpointBody(const Checkpoint& checkpoint);
// Parses exactly that form, nothing more (no extension lines). Errors: InvalidArgument.
absl::StatusOr<Checkpoint> ParseCheckpointBody(std::string_view body);

// A key name is non-empty, valid UTF-8 without spaces, newlines or '+'.
bool IsValidKeyName(std::string_view name);

// A public key that checks notes: name, 4-byte key id, Ed25519 public key.
struct VerifierKey {
  std::string name;
  uint32_t key_id = 0;
  std::array<uint8_t, 32> public_key{};
};

// A private key that signs notes. Not copyable into logs: never print it.
struct SignerKey {
  std::string name;
  uint32_t key_id = 0;
  Ed25519KeyPair pair;
  VerifierKey Verifier() const { return {name, key_id, pair.public_key}; }
};

// First 4 bytes (big-endian) of SHA-256(name || "\n" || 0x01 || public_key).
uint32_t Ed25519KeyId(std::string_view name, const std::array<uint8_t, 32>& public_key);

// Creates a new key named `name` from the OS random source. Errors: InvalidArgument (name).
absl::StatusOr<SignerKey> GenerateSignerKey(std::string_view name);
// Derives a key from a seed (deterministic; for tests). Errors: InvalidArgument (name).
absl::StatusOr<SignerKey> SignerKeyFromSeed(std::string_view name,
                                            const std::array<uint8_t, 32>& seed);

// "<name>+<8 hex key id>+<base64(0x01 || public key)>".
std::string FormatVerifierKey(const VerifierKey& key);
// Parses that form; checks that the key id matches name and key. Errors: InvalidArgument.
absl::StatusOr<VerifierKey> ParseVerifierKey(std::string_view text);

// "PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || 32-byte seed)>".
std::string FormatSignerKey(const SignerKey& key);
absl::StatusOr<SignerKey> ParseSignerKey(std::string_view text);

// A writer's signing key kept in `secret_file`: read if it exists, else generated under `name`
// and written there (mode 0600, never replaced) with its verifier key in `verifier_file` (0644).
// Errors: InvalidArgument (a malformed key file; its content is never echoed), Unavailable.
absl::StatusOr<SignerKey> LoadOrCreateSignerKey(const std::filesystem::path& secret_file,
                                                const std::filesystem::path& verifier_file,
                                                std::string_view name);

// A C2SP signed note of any text: `text`, a blank line, and one line
// "— <name> <base64(4-byte key id || 64-byte Ed25519 signature of text)>\n".
// REQUIRES: text is non-empty, ends with '\n' and contains no blank line.
std::string SignNote(std::string_view text, const SignerKey& key);

// Checks a signed note carrying exactly one signature line, by `key`, and returns its text.
// Errors: InvalidArgument (malformed), PermissionDenied (another key, or a bad signature).
absl::StatusOr<std::string> OpenNote(std::string_view note, const VerifierKey& key);

// The whole signed checkpoint note: body, a blank line, and one line
// "— <name> <base64(4-byte key id || 64-byte Ed25519 signature of body)>\n".
std::string SignCheckpoint(const Checkpoint& checkpoint, const SignerKey& key);

// Checks a signed note against `key` and returns its checkpoint. The note must carry exactly
// one signature line, by `key`, and a valid body. Errors: InvalidArgument (malformed),
// PermissionDenied (signed by another key or signature invalid). Never crashes on any input.
absl::StatusOr<Checkpoint> OpenCheckpoint(std::string_view note, const VerifierKey& key);

}  // namespace fleettwin::ledger

#endif  // FLEETTWIN_LEDGER_NOTE_H_
