// Hashing and signatures for the whole project: SHA-256 (OpenSSL, which uses the CPU's SHA
// extensions when present) and Ed25519 (libsodium). Nothing else in fleettwin touches either
// library. This header knows nothing about ledgers, notes or key file formats.
#ifndef FLEETTWIN_COMMON_CRYPTO_H_
#define FLEETTWIN_COMMON_CRYPTO_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace fleettwin {

using Bytes = absl::Span<const uint8_t>;

// A SHA-256 digest.
using Hash = std::array<uint8_t, 32>;

// Views a string's bytes without copying.
inline Bytes AsBytes(std::string_view s) {
  return Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// SHA-256 of the concatenation of `parts`. Thread-safe.
Hash Sha256(std::initializer_list<Bytes> parts);
inline Hash Sha256(Bytes data) { return Sha256({data}); }

// Incremental SHA-256 for long inputs. Not thread-safe; one per thread.
class Sha256Hasher final {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;
  void Update(Bytes data);
  // Returns the digest and resets the hasher for new input.
  Hash Finish();

 private:
  struct Ctx;
  Ctx* ctx_;  // Owned; EVP_MD_CTX.
};

// An Ed25519 key pair. The 32-byte seed is the secret; the 32-byte public key derives from it.
struct Ed25519KeyPair {
  std::array<uint8_t, 32> seed{};
  std::array<uint8_t, 32> public_key{};
};

using Ed25519Signature = std::array<uint8_t, 64>;

// Generates a key pair from the operating system's random source.
Ed25519KeyPair GenerateEd25519KeyPair();

// Derives the key pair of a 32-byte seed. Deterministic.
Ed25519KeyPair Ed25519KeyPairFromSeed(const std::array<uint8_t, 32>& seed);

// Signs `message` with the pair's secret. Thread-safe.
Ed25519Signature Ed25519Sign(const Ed25519KeyPair& key, Bytes message);

// True if `signature` is a valid signature of `message` by `public_key`. Thread-safe.
bool Ed25519Verify(const std::array<uint8_t, 32>& public_key, Bytes message,
                   const Ed25519Signature& signature);

// Constant-time comparison of two equal-length byte strings.
bool ConstantTimeEqual(Bytes a, Bytes b);

}  // namespace fleettwin

#endif  // FLEETTWIN_COMMON_CRYPTO_H_
