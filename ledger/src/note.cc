#include "fleettwin/ledger/note.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include <charconv>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fleettwin/common/encoding.h"

namespace fleettwin::ledger {
namespace {

constexpr uint8_t kEd25519Type = 0x01;
constexpr std::string_view kSignaturePrefix = "\xE2\x80\x94 ";  // U+2014 EM DASH, space.
constexpr std::string_view kPrivateKeyPrefix = "PRIVATE+KEY+";

bool ParseDecimal(std::string_view text, uint64_t& out) {
  // Decimal without sign or leading zeros (except "0" itself), so each size has one spelling.
  if (text.empty() || (text.size() > 1 && text[0] == '0')) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

// Unicode's white space (Go's unicode.IsSpace), refused in key names as Go's note package does.
bool IsUnicodeSpace(char32_t c) {
  return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
         c == 0x3000;
}

// Splits "<name>+<hex id>+<base64 key>" into its three parts.
absl::Status SplitKeyText(std::string_view text, std::string_view& name, uint32_t& id,
                          std::vector<uint8_t>& key) {
  // The key's base64 may itself contain '+': split at the first two only.
  const size_t first = text.find('+');
  const size_t second = first == std::string_view::npos ? first : text.find('+', first + 1);
  if (second == std::string_view::npos) {
    return absl::InvalidArgumentError("key text must be name+id+key");
  }
  const std::string_view parts[3] = {
      text.substr(0, first), text.substr(first + 1, second - first - 1), text.substr(second + 1)};
  name = parts[0];
  if (!IsValidKeyName(name)) return absl::InvalidArgumentError("key name is invalid");
  if (parts[1].size() != 8) return absl::InvalidArgumentError("key id must be 8 hex digits");
  absl::StatusOr<std::vector<uint8_t>> id_bytes = HexDecode(parts[1]);
  if (!id_bytes.ok()) return absl::InvalidArgumentError("key id must be 8 hex digits");
  id = (uint32_t{(*id_bytes)[0]} << 24) | (uint32_t{(*id_bytes)[1]} << 16) |
       (uint32_t{(*id_bytes)[2]} << 8) | (*id_bytes)[3];
  absl::StatusOr<std::vector<uint8_t>> decoded = Base64Decode(parts[2]);
  if (!decoded.ok()) return absl::InvalidArgumentError("key is not base64");
  if (decoded->size() != 33 || (*decoded)[0] != kEd25519Type) {
    return absl::InvalidArgumentError("key is not an Ed25519 key (type 0x01, 32 bytes)");
  }
  key.assign(decoded->begin() + 1, decoded->end());
  return absl::OkStatus();
}

std::string KeyIdHex(uint32_t id) {
  const uint8_t bytes[4] = {static_cast<uint8_t>(id >> 24), static_cast<uint8_t>(id >> 16),
                            static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id)};
  return HexEncode(Bytes(bytes, 4));
}

std::string TypedKeyBase64(const std::array<uint8_t, 32>& key) {
  uint8_t typed[33];
  typed[0] = kEd25519Type;
  std::memcpy(typed + 1, key.data(), 32);
  return Base64Encode(Bytes(typed, 33));
}

}  // namespace

std::string FormatCheckpointBody(const Checkpoint& checkpoint) {
  return absl::StrCat(checkpoint.origin, "\n", checkpoint.size, "\n",
                      Base64Encode(Bytes(checkpoint.root.data(), checkpoint.root.size())), "\n");
}

absl::StatusOr<Checkpoint> ParseCheckpointBody(std::string_view body) {
  if (body.empty() || body.back() != '\n') {
    return absl::InvalidArgumentError("checkpoint body must end with a newline");
  }
  std::vector<std::string_view> lines;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(body.data(), body.size() - 1), '\n')) {
    lines.emplace_back(line.data(), line.size());
  }
  if (lines.size() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint body has ", lines.size(), " lines, expected 3 (no extensions)"));
  }
  Checkpoint cp;
  if (lines[0].empty() || !IsValidUtf8(lines[0])) {
    return absl::InvalidArgumentError("checkpoint origin is empty or not UTF-8");
  }
  cp.origin = std::string(lines[0]);
  if (!ParseDecimal(lines[1], cp.size)) {
    return absl::InvalidArgumentError("checkpoint size is not a decimal number");
  }
  absl::StatusOr<std::vector<uint8_t>> root = Base64Decode(lines[2]);
  if (!root.ok() || root->size() != cp.root.size()) {
    return absl::InvalidArgumentError("checkpoint root is not 32 bytes of base64");
  }
  std::memcpy(cp.root.data(), root->data(), cp.root.size());
  return cp;
}

bool IsValidKeyName(std::string_view name) {
  absl::StatusOr<std::u32string> code_points = DecodeUtf8(name);
  if (name.empty() || !code_points.ok()) return false;
  for (char32_t c : *code_points) {
    if (c < 0x20 || c == 0x7f || c == '+' || IsUnicodeSpace(c)) return false;
  }
  return true;
}

uint32_t Ed25519KeyId(std::string_view name, const std::array<uint8_t, 32>& public_key) {
  const uint8_t type[1] = {kEd25519Type};
  Hash h = Sha256(
      {AsBytes(name), AsBytes("\n"), Bytes(type, 1), Bytes(public_key.data(), public_key.size())});
  return (uint32_t{h[0]} << 24) | (uint32_t{h[1]} << 16) | (uint32_t{h[2]} << 8) | h[3];
}

absl::StatusOr<SignerKey> SignerKeyFromSeed(std::string_view name,
                                            const std::array<uint8_t, 32>& seed) {
  if (!IsValidKeyName(name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key name '", std::string(name), "' must be non-empty UTF-8 without spaces or '+'"));
  }
  SignerKey key;
  key.name = std::string(name);
  key.pair = Ed25519KeyPairFromSeed(seed);
  key.key_id = Ed25519KeyId(name, key.pair.public_key);
  return key;
}

absl::StatusOr<SignerKey> GenerateSignerKey(std::string_view name) {
  Ed25519KeyPair pair = GenerateEd25519KeyPair();
  return SignerKeyFromSeed(name, pair.seed);
}

std::string FormatVerifierKey(const VerifierKey& key) {
  return absl::StrCat(key.name, "+", KeyIdHex(key.key_id), "+", TypedKeyBase64(key.public_key));
}

absl::StatusOr<VerifierKey> ParseVerifierKey(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  std::string_view name;
  uint32_t id = 0;
  std::vector<uint8_t> raw;
  if (absl::Status s = SplitKeyText(text, name, id, raw); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("verifier key: ", s.message()));
  }
  VerifierKey key;
  key.name = std::string(name);
  key.key_id = id;
  std::memcpy(key.public_key.data(), raw.data(), 32);
  if (Ed25519KeyId(key.name, key.public_key) != id) {
    return absl::InvalidArgumentError("verifier key: key id does not match name and key");
  }
  return key;
}

std::string FormatSignerKey(const SignerKey& key) {
  return absl::StrCat(std::string(kPrivateKeyPrefix), key.name, "+", KeyIdHex(key.key_id), "+",
                      TypedKeyBase64(key.pair.seed));
}

absl::StatusOr<SignerKey> ParseSignerKey(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  if (text.substr(0, kPrivateKeyPrefix.size()) != kPrivateKeyPrefix) {
    return absl::InvalidArgumentError("signer key must start with PRIVATE+KEY+");
  }
  text.remove_prefix(kPrivateKeyPrefix.size());
  std::string_view name;
  uint32_t id = 0;
  std::vector<uint8_t> raw;
  if (absl::Status s = SplitKeyText(text, name, id, raw); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("signer key: ", s.message()));
  }
  std::array<uint8_t, 32> seed;
  std::memcpy(seed.data(), raw.data(), 32);
  absl::StatusOr<SignerKey> key = SignerKeyFromSeed(name, seed);
  if (!key.ok()) return key.status();
  if (key->key_id != id) {
    return absl::InvalidArgumentError("signer key: key id does not match name and key");
  }
  return key;
}

std::string SignNote(std::string_view body, const SignerKey& key) {
  Ed25519Signature sig = Ed25519Sign(key.pair, AsBytes(body));
  uint8_t blob[4 + 64];
  blob[0] = static_cast<uint8_t>(key.key_id >> 24);
  blob[1] = static_cast<uint8_t>(key.key_id >> 16);
  blob[2] = static_cast<uint8_t>(key.key_id >> 8);
  blob[3] = static_cast<uint8_t>(key.key_id);
  std::memcpy(blob + 4, sig.data(), sig.size());
  return absl::StrCat(std::string(body), "\n", std::string(kSignaturePrefix), key.name, " ",
                      Base64Encode(Bytes(blob, sizeof blob)), "\n");
}

std::string SignCheckpoint(const Checkpoint& checkpoint, const SignerKey& key) {
  return SignNote(FormatCheckpointBody(checkpoint), key);
}

absl::StatusOr<std::string> OpenNote(std::string_view note, const VerifierKey& key) {
  // The body ends at the first blank line; what follows is exactly one signature line.
  const size_t split = note.find("\n\n");
  if (split == std::string_view::npos) {
    return absl::InvalidArgumentError("note has no blank line before its signatures");
  }
  const std::string_view body = note.substr(0, split + 1);
  std::string_view sigs = note.substr(split + 2);
  if (sigs.empty() || sigs.back() != '\n') {
    return absl::InvalidArgumentError("note must end with a signature line and a newline");
  }
  sigs.remove_suffix(1);
  if (sigs.find('\n') != std::string_view::npos) {
    return absl::InvalidArgumentError("note must carry exactly one signature line");
  }
  if (sigs.substr(0, kSignaturePrefix.size()) != kSignaturePrefix) {
    return absl::InvalidArgumentError("signature line must start with an em dash and a space");
  }
  sigs.remove_prefix(kSignaturePrefix.size());
  const size_t space = sigs.find(' ');
  if (space == std::string_view::npos) {
    return absl::InvalidArgumentError("signature line must be '<name> <base64>'");
  }
  const std::string_view name = sigs.substr(0, space);
  absl::StatusOr<std::vector<uint8_t>> blob = Base64Decode(sigs.substr(space + 1));
  if (!blob.ok() || blob->size() != 68) {
    return absl::InvalidArgumentError("signature is not 68 bytes of base64");
  }
  const uint32_t id = (uint32_t{(*blob)[0]} << 24) | (uint32_t{(*blob)[1]} << 16) |
                      (uint32_t{(*blob)[2]} << 8) | (*blob)[3];
  if (name != key.name || id != key.key_id) {
    return absl::PermissionDeniedError(
        absl::StrCat("note is signed by '", std::string(name), "' (id ", KeyIdHex(id),
                     "), not by the given key '", key.name, "' (id ", KeyIdHex(key.key_id), ")"));
  }
  Ed25519Signature sig;
  std::memcpy(sig.data(), blob->data() + 4, sig.size());
  if (!Ed25519Verify(key.public_key, AsBytes(body), sig)) {
    return absl::PermissionDeniedError("note signature does not verify");
  }
  return std::string(body);
}

absl::StatusOr<Checkpoint> OpenCheckpoint(std::string_view note, const VerifierKey& key) {
  absl::StatusOr<std::string> body = OpenNote(note, key);
  if (!body.ok()) return body.status();
  return ParseCheckpointBody(*body);
}

namespace {

absl::Status WriteNewKeyFile(const std::filesystem::path& path, const std::string& text,
                             mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("create ", path.string(), ": ", std::strerror(errno)));
  }
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return absl::UnavailableError(absl::StrCat("write ", path.string()));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SignerKey> LoadOrCreateSignerKey(const std::filesystem::path& secret_file,
                                                const std::filesystem::path& verifier_file,
                                                std::string_view name) {
  if (std::filesystem::exists(secret_file)) {
    std::ifstream in(secret_file);
    std::string text;
    std::getline(in, text);
    absl::StatusOr<SignerKey> key = ParseSignerKey(text);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(secret_file.string(), ": ", key.status().message()));
    }
    return key;
  }
  absl::StatusOr<SignerKey> key = GenerateSignerKey(name);
  if (!key.ok()) return key.status();
  if (absl::Status s = WriteNewKeyFile(secret_file, FormatSignerKey(*key) + "\n", 0600); !s.ok()) {
    return s;
  }
  if (absl::Status s =
          WriteNewKeyFile(verifier_file, FormatVerifierKey(key->Verifier()) + "\n", 0644);
      !s.ok()) {
    return s;
  }
  return key;
}

}  // namespace fleettwin::ledger
