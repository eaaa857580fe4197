// ZeroMQ CURVE keys (Curve25519, via libsodium) and their Z85 text (ZeroMQ RFC 32), plus the
// project's one-line key files and the coordinator's allow-list directory of public keys.
// The 40-character texts returned here are what zmq_setsockopt accepts for
// ZMQ_CURVE_PUBLICKEY, ZMQ_CURVE_SECRETKEY and ZMQ_CURVE_SERVERKEY; this module does not
// link libzmq, create sockets or run a ZAP handler.
//
// Key files are untrusted text: parsing never crashes, and no error message ever contains
// any part of a secret key file's fields (names included, since a misplaced secret would
// pass as one).
//
// Key file formats (one line, fields separated by one space, '\n' at the end; a file without
// the final '\n' is accepted, anything else after the last field is refused):
//   <name>.curve-public  "fleettwin-curve-public <name> <z85 public>\n"            mode 0644
//   <name>.curve-secret  "fleettwin-curve-secret <name> <z85 secret> <z85 public>\n" mode 0600
// A name is 1..64 characters of [A-Za-z0-9._-].
#ifndef FLEETTWIN_COMMON_CURVE_H_
#define FLEETTWIN_COMMON_CURVE_H_

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace fleettwin::common {

// A 32-byte Curve25519 key (public or secret).
using CurveKey = std::array<uint8_t, 32>;

// Z85 text of `bytes` (4 bytes -> 5 characters). REQUIRES: bytes.size() % 4 == 0 (aborts
// otherwise: a caller's bug, never input).
std::string Z85Encode(absl::Span<const uint8_t> bytes);

// Decodes Z85 text. InvalidArgument if the length is not a multiple of 5, a character is not
// in the Z85 alphabet, or a 5-character group's value exceeds 2^32-1. Messages give offsets,
// never the text.
absl::StatusOr<std::vector<uint8_t>> Z85Decode(std::string_view text);

// A CURVE key pair; public_key is always CurvePublicFromSecret(secret_key).
struct CurveKeyPair {
  CurveKey public_key{};
  CurveKey secret_key{};
};

// A new key pair from the operating system's random source. Thread-safe.
CurveKeyPair GenerateCurveKeyPair();

// The public key of `secret` (X25519 base point multiplication). Deterministic, thread-safe.
CurveKey CurvePublicFromSecret(const CurveKey& secret);

// The 40-character Z85 text of a key, as zmq_setsockopt and zmq_curve_keypair use it.
std::string CurveKeyText(const CurveKey& key);

// Parses a 40-character Z85 key text. InvalidArgument for any other length or bad Z85.
absl::StatusOr<CurveKey> ParseCurveKeyText(std::string_view text);

// True if `name` is 1..64 characters of [A-Za-z0-9._-].
bool IsValidCurveKeyName(std::string_view name);

// The content of a `.curve-public` file.
struct CurvePublicKey {
  std::string name;
  CurveKey key{};
};

// The content of a `.curve-secret` file.
struct CurveSecretKey {
  std::string name;
  CurveKeyPair pair;
};

// The one-line file texts described above. REQUIRES: IsValidCurveKeyName(name); for the
// secret, pair.public_key == CurvePublicFromSecret(pair.secret_key).
std::string FormatCurvePublicKey(const CurvePublicKey& key);
std::string FormatCurveSecretKey(const CurveSecretKey& key);

// Parses a file text. InvalidArgument for a wrong tag, field count or separator, a bad name,
// bad key text or (secret) a public key that is not the one derived from the secret.
absl::StatusOr<CurvePublicKey> ParseCurvePublicKey(std::string_view text);
absl::StatusOr<CurveSecretKey> ParseCurveSecretKey(std::string_view text);

// Reads and parses a key file. NotFound if it is missing, PermissionDenied if it cannot be
// opened for lack of permission, Unavailable for other I/O errors, InvalidArgument (naming
// the file) for a file over 64 KiB (never loaded whole) or a parse error.
// ReadCurveSecretKeyFile also refuses, with PermissionDenied, a file whose mode grants
// anything to group or others (mode & 077), before reading it.
absl::StatusOr<CurvePublicKey> ReadCurvePublicKeyFile(const std::filesystem::path& path);
absl::StatusOr<CurveSecretKey> ReadCurveSecretKeyFile(const std::filesystem::path& path);

// Generates a key pair and writes `dir/<name>.curve-secret` (0600) and
// `dir/<name>.curve-public` (0644), each fsynced, then fsyncs `dir`. Without `force`, neither
// file may exist (AlreadyExists) and nothing is written then; with `force` both are replaced.
// InvalidArgument for a bad name, NotFound if `dir` is missing, PermissionDenied or
// Unavailable for other I/O errors (a secret created by this call is removed again if the
// public file then fails).
absl::Status WriteCurveKeyFiles(const std::filesystem::path& dir, std::string_view name,
                                bool force);

// The allow-list: every `*.curve-public` regular file of `dir`, parsed, sorted by file name.
// Other files are ignored; an empty directory gives an empty list. NotFound if `dir` is
// missing; a bad file fails the whole call with ReadCurvePublicKeyFile's error naming the
// file; two files with the same name or the same key are InvalidArgument naming both.
absl::StatusOr<std::vector<CurvePublicKey>> ReadCurvePublicKeyDir(const std::filesystem::path& dir);

}  // namespace fleettwin::common

#endif  // FLEETTWIN_COMMON_CURVE_H_
