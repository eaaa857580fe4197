// Flower's node authentication (docs/federated.md): a node holds an ECDSA P-384 key and sends,
// with every Fleet API call, three gRPC metadata entries:
//   flwr-public-key-bin   its public key, PEM SubjectPublicKeyInfo
//   flwr-timestamp        the current UTC time, ISO-8601 ("2026-11-26T11:07:26.078887+00:00")
//   flwr-signature-bin    DER ECDSA-SHA256 signature over the timestamp string
// The server accepts a timestamp from 5 s ahead of its clock to 305 s behind it, and checks
// that the node named in a request belongs to the key.
#ifndef FLEETTWIN_FEDERATED_NODE_AUTH_H_
#define FLEETTWIN_FEDERATED_NODE_AUTH_H_

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace fleettwin::federated {

inline constexpr char kPublicKeyHeader[] = "flwr-public-key-bin";
inline constexpr char kTimestampHeader[] = "flwr-timestamp";
inline constexpr char kSignatureHeader[] = "flwr-signature-bin";

// A node's ECDSA P-384 key pair. Immutable, copyable (shares the key); thread-safe.
class NodeKey final {
 public:
  // A fresh key. Errors: Internal (OpenSSL failure).
  static absl::StatusOr<NodeKey> Generate();
  // The key in `pem_file` (PKCS#8 PEM), or a fresh one written there with mode 0600 if the
  // file does not exist. Errors: InvalidArgument (not a P-384 private key), Unavailable (I/O).
  static absl::StatusOr<NodeKey> LoadOrCreate(const std::filesystem::path& pem_file);
  // The key from PKCS#8 PEM text. InvalidArgument if it is not an EC P-384 private key.
  static absl::StatusOr<NodeKey> FromPem(std::string_view private_key_pem);

  // The public key as PEM SubjectPublicKeyInfo (what flwr-public-key-bin carries).
  const std::string& public_key_pem() const { return public_pem_; }
  // The private key as PKCS#8 PEM.
  std::string PrivateKeyPem() const;
  // DER ECDSA-SHA256 signature of `message`. Errors: Internal.
  absl::StatusOr<std::string> Sign(std::string_view message) const;

  struct Key;  // The OpenSSL key; opaque outside the library.

 private:
  NodeKey(std::shared_ptr<const Key> key, std::string public_pem)
      : key_(std::move(key)), public_pem_(std::move(public_pem)) {}
  std::shared_ptr<const Key> key_;
  std::string public_pem_;
};

// Checks a DER ECDSA-SHA256 `signature` of `message` by `public_key_pem` (SubjectPublicKeyInfo,
// EC P-384). Errors: InvalidArgument for a key that does not parse or is not P-384,
// Unauthenticated for a signature that does not verify.
absl::Status VerifySignature(std::string_view public_key_pem, std::string_view message,
                             std::string_view signature);

// `t` as Flower writes it: UTC, microseconds, "+00:00" ("2026-11-26T11:07:26.078887+00:00").
std::string FlowerTimestamp(absl::Time t);
// Parses ISO-8601 with an offset and optional fractional seconds. InvalidArgument otherwise.
absl::StatusOr<absl::Time> ParseFlowerTimestamp(std::string_view text);

// The three metadata values a node sends at time `now`.
struct AuthHeaders {
  std::string public_key_pem, timestamp, signature;
};
absl::StatusOr<AuthHeaders> MakeAuthHeaders(const NodeKey& key, absl::Time now);

// The server's check of one call's headers at time `now`: the signature verifies and the
// timestamp lies in [now - max_behind, now + max_ahead]. Errors: Unauthenticated (missing
// header, bad signature, timestamp outside the window), InvalidArgument (bad key).
absl::Status CheckAuthHeaders(const AuthHeaders& headers, absl::Time now,
                              absl::Duration max_ahead = absl::Seconds(5),
                              absl::Duration max_behind = absl::Seconds(305));

}  // namespace fleettwin::federated

#endif  // FLEETTWIN_FEDERATED_NODE_AUTH_H_
