#include "fleettwin/common/crypto.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <cstdlib>
#include <mutex>

namespace fleettwin {
namespace {

void InitSodiumOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    // sodium_init only fails when the OS has no usable random source; nothing can run then.
    if (sodium_init() < 0) std::abort();
  });
}

// One pre-fetched SHA-256 implementation for the whole process (avoids a provider lookup
// per call under OpenSSL 3).
const EVP_MD* Sha256Md() {
  static const EVP_MD* md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched != nullptr ? static_cast<const EVP_MD*>(fetched) : EVP_sha256();
  }();
  return md;
}

}  // namespace

struct Sha256Hasher::Ctx {
  EVP_MD_CTX* md_ctx;
};

Sha256Hasher::Sha256Hasher() : ctx_(new Ctx{EVP_MD_CTX_new()}) {
  if (ctx_->md_ctx == nullptr || EVP_DigestInit_ex(ctx_->md_ctx, Sha256Md(), nullptr) != 1) {
    std::abort();  // Out of memory inside OpenSSL.
  }
}

Sha256Hasher::~Sha256Hasher() {
  EVP_MD_CTX_free(ctx_->md_ctx);
  delete ctx_;
}

void Sha256Hasher::Update(Bytes data) { EVP_DigestUpdate(ctx_->md_ctx, data.data(), data.size()); }

Hash Sha256Hasher::Finish() {
  Hash out;
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_->md_ctx, out.data(), &len);
  EVP_DigestInit_ex(ctx_->md_ctx, Sha256Md(), nullptr);
  return out;
}

Hash Sha256(std::initializer_list<Bytes> parts) {
  // One context per thread: creating an EVP_MD_CTX per hash costs more than the hash of a
  // Merkle node.
  thread_local Sha256Hasher hasher;
  for (Bytes part : parts) hasher.Update(part);
  return hasher.Finish();
}

Ed25519KeyPair GenerateEd25519KeyPair() {
  InitSodiumOnce();
  std::array<uint8_t, 32> seed;
  randombytes_buf(seed.data(), seed.size());
  Ed25519KeyPair pair = Ed25519KeyPairFromSeed(seed);
  sodium_memzero(seed.data(), seed.size());
  return pair;
}

Ed25519KeyPair Ed25519KeyPairFromSeed(const std::array<uint8_t, 32>& seed) {
  InitSodiumOnce();
  Ed25519KeyPair pair;
  pair.seed = seed;
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_seed_keypair(pair.public_key.data(), sk, seed.data());
  sodium_memzero(sk, sizeof sk);
  return pair;
}

Ed25519Signature Ed25519Sign(const Ed25519KeyPair& key, Bytes message) {
  InitSodiumOnce();
  // libsodium's secret key is seed || public key.
  unsigned char sk[crypto_sign_SECRETKEYBYTES];
  std::copy(key.seed.begin(), key.seed.end(), sk);
  std::copy(key.public_key.begin(), key.public_key.end(), sk + 32);
  Ed25519Signature sig;
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), sk);
  sodium_memzero(sk, sizeof sk);
  return sig;
}

bool Ed25519Verify(const std::array<uint8_t, 32>& public_key, Bytes message,
                   const Ed25519Signature& signature) {
  InitSodiumOnce();
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                     public_key.data()) == 0;
}

bool ConstantTimeEqual(Bytes a, Bytes b) {
  if (a.size() != b.size()) return false;
  InitSodiumOnce();
  return a.empty() || sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace fleettwin
