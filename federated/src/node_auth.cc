// Node keys and signatures (node_auth.h): the only file of the project that touches OpenSSL.
#include "fleettwin/federated/node_auth.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace fleettwin::federated {

struct NodeKey::Key {
  EVP_PKEY* pkey = nullptr;
  ~Key() { EVP_PKEY_free(pkey); }
};

namespace {

using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

bool IsP384(EVP_PKEY* pkey) {
  if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC) return false;
  char group[64] = {};
  size_t len = 0;
  return EVP_PKEY_get_utf8_string_param(pkey, "group", group, sizeof(group), &len) == 1 &&
         std::string_view(group, len) == "secp384r1";
}

std::string PublicPem(EVP_PKEY* pkey) {
  Bio bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey) != 1) return {};
  return BioText(bio.get());
}

// The key is exported in PKCS#8, but any PEM private key OpenSSL reads is accepted.
EVP_PKEY* ReadPrivate(std::string_view pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!bio) return nullptr;
  return PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
}

}  // namespace

absl::StatusOr<NodeKey> NodeKey::Generate() {
  auto key = std::make_shared<Key>();
  key->pkey = EVP_EC_gen("P-384");
  if (key->pkey == nullptr) return absl::InternalError("OpenSSL could not generate a P-384 key");
  std::string pem = PublicPem(key->pkey);
  if (pem.empty()) return absl::InternalError("OpenSSL could not write the public key");
  return NodeKey(std::move(key), std::move(pem));
}

absl::StatusOr<NodeKey> NodeKey::FromPem(std::string_view private_key_pem) {
  if (private_key_pem.size() > 64 * 1024) return absl::InvalidArgumentError("node key: too long");
  auto key = std::make_shared<Key>();
  key->pkey = ReadPrivate(private_key_pem);
  if (key->pkey == nullptr) return absl::InvalidArgumentError("node key: not a PEM private key");
  if (!IsP384(key->pkey)) return absl::InvalidArgumentError("node key: not an EC P-384 key");
  std::string pem = PublicPem(key->pkey);
  if (pem.empty()) return absl::InternalError("OpenSSL could not write the public key");
  return NodeKey(std::move(key), std::move(pem));
}

std::string NodeKey::PrivateKeyPem() const {
  Bio bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || PEM_write_bio_PKCS8PrivateKey(bio.get(), key_->pkey, nullptr, nullptr, 0, nullptr,
                                            nullptr) != 1) {
    return {};
  }
  return BioText(bio.get());
}

absl::StatusOr<NodeKey> NodeKey::LoadOrCreate(const std::filesystem::path& pem_file) {
  std::error_code ec;
  if (std::filesystem::exists(pem_file, ec)) {
    std::ifstream in(pem_file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in && !in.eof()) return absl::UnavailableError(absl::StrCat("cannot read ", pem_file.string()));
    absl::StatusOr<NodeKey> key = FromPem(text.str());
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(pem_file.string(), ": ", std::string(key.status().message())));
    }
    return key;
  }
  absl::StatusOr<NodeKey> key = Generate();
  if (!key.ok()) return key.status();
  const std::string pem = key->PrivateKeyPem();
  if (pem.empty()) return absl::InternalError("OpenSSL could not write the private key");
  if (pem_file.has_parent_path()) std::filesystem::create_directories(pem_file.parent_path(), ec);
  const std::filesystem::path tmp = pem_file.string() + ".tmp";
  {
    // Created 0600: the private key is never readable by others, not even briefly.
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return absl::UnavailableError(absl::StrCat("cannot write ", tmp.string()));
    ::fchmod(fd, 0600);  // An older file of that name keeps its mode through O_TRUNC.
    const bool written = ::write(fd, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size());
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    if (!written || !synced) {
      return absl::UnavailableError(absl::StrCat("cannot write ", tmp.string()));
    }
  }
  std::filesystem::rename(tmp, pem_file, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", pem_file.string()));
  return key;
}

absl::StatusOr<std::string> NodeKey::Sign(std::string_view message) const {
  MdCtx ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_->pkey) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return absl::InternalError("OpenSSL could not sign");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return absl::InternalError("OpenSSL could not sign");
  }
  sig.resize(len);
  return sig;
}

absl::Status VerifySignature(std::string_view public_key_pem, std::string_view message,
                             std::string_view signature) {
  if (public_key_pem.size() > 16 * 1024) return absl::InvalidArgumentError("public key too long");
  Bio bio(BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size())),
          BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
      bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr, EVP_PKEY_free);
  if (!pkey) return absl::InvalidArgumentError("public key: not a PEM SubjectPublicKeyInfo");
  if (!IsP384(pkey.get())) return absl::InvalidArgumentError("public key: not EC P-384");
  MdCtx ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey.get()) != 1) {
    return absl::InternalError("OpenSSL could not set up verification");
  }
  const int ok = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                                  signature.size(),
                                  reinterpret_cast<const unsigned char*>(message.data()),
                                  message.size());
  if (ok != 1) return absl::UnauthenticatedError("signature does not verify");
  return absl::OkStatus();
}

std::string FlowerTimestamp(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6S+00:00", t, absl::UTCTimeZone());
}

absl::StatusOr<absl::Time> ParseFlowerTimestamp(std::string_view text) {
  absl::Time t;
  std::string err;
  if (text.size() > 64 ||
      !absl::ParseTime("%Y-%m-%dT%H:%M:%E*S%Ez", std::string(text), &t, &err)) {
    return absl::InvalidArgumentError(absl::StrCat("timestamp '", std::string(text.substr(0, 64)),
                                                   "' is not ISO-8601 with an offset"));
  }
  return t;
}

absl::StatusOr<AuthHeaders> MakeAuthHeaders(const NodeKey& key, absl::Time now) {
  AuthHeaders h{key.public_key_pem(), FlowerTimestamp(now), {}};
  absl::StatusOr<std::string> sig = key.Sign(h.timestamp);
  if (!sig.ok()) return sig.status();
  h.signature = std::move(*sig);
  return h;
}

absl::Status CheckAuthHeaders(const AuthHeaders& headers, absl::Time now,
                              absl::Duration max_ahead, absl::Duration max_behind) {
  if (headers.public_key_pem.empty() || headers.timestamp.empty() || headers.signature.empty()) {
    return absl::UnauthenticatedError("missing flwr-public-key-bin, flwr-timestamp or "
                                      "flwr-signature-bin metadata");
  }
  absl::StatusOr<absl::Time> t = ParseFlowerTimestamp(headers.timestamp);
  if (!t.ok()) return absl::UnauthenticatedError(t.status().message());
  if (*t > now + max_ahead || *t < now - max_behind) {
    return absl::UnauthenticatedError(
        absl::StrCat("timestamp ", headers.timestamp, " is outside the accepted window (",
                     absl::FormatDuration(max_ahead), " ahead, ", absl::FormatDuration(max_behind),
                     " behind the server's clock)"));
  }
  absl::Status s = VerifySignature(headers.public_key_pem, headers.timestamp, headers.signature);
  if (s.code() == absl::StatusCode::kUnauthenticated) {
    return absl::UnauthenticatedError("the signature over flwr-timestamp does not verify");
  }
  return s;
}

}  // namespace fleettwin::federated
