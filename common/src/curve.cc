#include "fleettwin/common/curve.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace fleettwin::common {
namespace {

constexpr std::string_view kZ85Alphabet =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
// Char arrays, not std::string_view: Debian's Abseil has its own absl::string_view.
constexpr char kPublicTag[] = "fleettwin-curve-public";
constexpr char kSecretTag[] = "fleettwin-curve-secret";
constexpr char kPublicSuffix[] = ".curve-public";
constexpr char kSecretSuffix[] = ".curve-secret";
constexpr size_t kMaxKeyFileBytes = 64 * 1024;

// Character -> digit value, or -1 outside the alphabet.
constexpr std::array<int8_t, 256> kZ85Digits = [] {
  std::array<int8_t, 256> digits{};
  digits.fill(-1);
  for (size_t i = 0; i < kZ85Alphabet.size(); ++i) {
    digits[static_cast<uint8_t>(kZ85Alphabet[i])] = static_cast<int8_t>(i);
  }
  return digits;
}();

void InitSodiumOnce() {
  // sodium_init is idempotent and thread-safe; it only fails without an OS random source.
  static const bool ok = sodium_init() >= 0;
  if (!ok) std::abort();
}

// The status for a failed system call on `path`, coded by what the caller can do about it.
absl::Status ErrnoError(int err, const char* what, const std::filesystem::path& path) {
  const std::string message =
      absl::StrCat(what, " ", path.string(), ": ", std::generic_category().message(err));
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    case EEXIST:
      return absl::AlreadyExistsError(message);
    default:
      return absl::UnavailableError(message);
  }
}

// Reads at most kMaxKeyFileBytes + 1 bytes so that a huge file or /dev/zero is refused, not
// loaded. With `secret`, refuses a file open to group or others before reading a byte.
absl::StatusOr<std::string> ReadKeyFileText(const std::filesystem::path& path, bool secret) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, "cannot open", path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoError(err, "cannot stat", path);
  }
  if (secret && (st.st_mode & 077) != 0) {
    ::close(fd);
    return absl::PermissionDeniedError(
        absl::StrCat(path.string(), " is accessible by group or others; chmod 600 it"));
  }
  std::string text(kMaxKeyFileBytes + 1, '\0');
  size_t size = 0;
  while (size < text.size()) {
    const ssize_t n = ::read(fd, text.data() + size, text.size() - size);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return ErrnoError(err, "cannot read", path);
    }
    size += static_cast<size_t>(n);
  }
  ::close(fd);
  text.resize(size);
  if (size > kMaxKeyFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), " is too large for a key file"));
  }
  return text;
}

// Creates `path` with `mode` (O_EXCL unless `force`), writes `text` and fsyncs it.
absl::Status WriteNewFile(const std::filesystem::path& path, std::string_view text, mode_t mode,
                          bool force) {
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (force ? O_TRUNC : O_EXCL);
  const int fd = ::open(path.c_str(), flags, mode);
  if (fd < 0) return ErrnoError(errno, "cannot create", path);
  // O_CREAT's mode does not apply to an existing file, and the umask may have narrowed it.
  if (::fchmod(fd, mode) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoError(err, "cannot chmod", path);
  }
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return ErrnoError(err, "cannot write", path);
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoError(err, "cannot sync", path);
  }
  if (::close(fd) != 0) return ErrnoError(errno, "cannot close", path);
  return absl::OkStatus();
}

// Makes the directory entries of new files durable.
absl::Status SyncDirectory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, "cannot open", dir);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  return rc == 0 ? absl::OkStatus() : ErrnoError(err, "cannot sync", dir);
}

// Splits a key file's text into exactly `count` fields after `tag`. Messages never quote the
// text: it may be a secret.
absl::StatusOr<std::vector<std::string_view>> SplitKeyLine(std::string_view text, const char* tag,
                                                           size_t count) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  std::vector<std::string_view> fields;
  for (size_t start = 0;;) {
    const size_t space = text.find(' ', start);
    fields.push_back(text.substr(start, space == std::string_view::npos ? space : space - start));
    if (space == std::string_view::npos || fields.size() > count + 1) break;
    start = space + 1;
  }
  if (fields[0] != tag) return absl::InvalidArgumentError(absl::StrCat("not a ", tag, " line"));
  fields.erase(fields.begin());
  if (fields.size() != count) {
    return absl::InvalidArgumentError(
        absl::StrCat(tag, " line must have ", count, " fields separated by single spaces"));
  }
  return fields;
}

absl::StatusOr<CurveKey> ParseKeyField(std::string_view text, const char* what) {
  absl::StatusOr<CurveKey> key = ParseCurveKeyText(text);
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", key.status().message()));
  }
  return key;
}

}  // namespace

std::string Z85Encode(absl::Span<const uint8_t> bytes) {
  if (bytes.size() % 4 != 0) std::abort();  // REQUIRES violated: a caller's bug.
  std::string text(bytes.size() / 4 * 5, '\0');
  for (size_t i = 0, o = 0; i < bytes.size(); i += 4, o += 5) {
    uint32_t value = (uint32_t{bytes[i]} << 24) | (uint32_t{bytes[i + 1]} << 16) |
                     (uint32_t{bytes[i + 2]} << 8) | uint32_t{bytes[i + 3]};
    for (int d = 4; d >= 0; --d) {
      text[o + static_cast<size_t>(d)] = kZ85Alphabet[value % 85];
      value /= 85;
    }
  }
  return text;
}

absl::StatusOr<std::vector<uint8_t>> Z85Decode(std::string_view text) {
  if (text.size() % 5 != 0) {
    return absl::InvalidArgumentError("Z85 text length is not a multiple of 5");
  }
  std::vector<uint8_t> bytes(text.size() / 5 * 4);
  for (size_t i = 0, o = 0; i < text.size(); i += 5, o += 4) {
    uint64_t value = 0;  // Up to 85^5 - 1 > 2^32 before the range check.
    for (size_t d = 0; d < 5; ++d) {
      const int8_t digit = kZ85Digits[static_cast<uint8_t>(text[i + d])];
      if (digit < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("Z85 character at offset ", i + d, " is not in the alphabet"));
      }
      value = value * 85 + static_cast<uint64_t>(digit);
    }
    if (value > 0xFFFFFFFFu) {
      return absl::InvalidArgumentError(
          absl::StrCat("Z85 group at offset ", i, " exceeds 32 bits"));
    }
    for (size_t b = 0; b < 4; ++b) bytes[o + b] = static_cast<uint8_t>(value >> (24 - 8 * b));
  }
  return bytes;
}

CurveKeyPair GenerateCurveKeyPair() {
  InitSodiumOnce();
  CurveKeyPair pair;
  crypto_box_keypair(pair.public_key.data(), pair.secret_key.data());
  return pair;
}

CurveKey CurvePublicFromSecret(const CurveKey& secret) {
  InitSodiumOnce();
  CurveKey public_key;
  // Fails only for a result of all zeros, which base point multiplication never gives.
  if (crypto_scalarmult_base(public_key.data(), secret.data()) != 0) std::abort();
  return public_key;
}

std::string CurveKeyText(const CurveKey& key) { return Z85Encode(key); }

absl::StatusOr<CurveKey> ParseCurveKeyText(std::string_view text) {
  if (text.size() != 40) return absl::InvalidArgumentError("key text is not 40 characters");
  absl::StatusOr<std::vector<uint8_t>> bytes = Z85Decode(text);
  if (!bytes.ok()) return bytes.status();
  CurveKey key;
  std::copy(bytes->begin(), bytes->end(), key.begin());
  sodium_memzero(bytes->data(), bytes->size());
  return key;
}

bool IsValidCurveKeyName(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

std::string FormatCurvePublicKey(const CurvePublicKey& key) {
  return absl::StrCat(kPublicTag, " ", key.name, " ", CurveKeyText(key.key), "\n");
}

std::string FormatCurveSecretKey(const CurveSecretKey& key) {
  return absl::StrCat(kSecretTag, " ", key.name, " ", CurveKeyText(key.pair.secret_key), " ",
                      CurveKeyText(key.pair.public_key), "\n");
}

absl::StatusOr<CurvePublicKey> ParseCurvePublicKey(std::string_view text) {
  absl::StatusOr<std::vector<std::string_view>> fields = SplitKeyLine(text, kPublicTag, 2);
  if (!fields.ok()) return fields.status();
  if (!IsValidCurveKeyName((*fields)[0])) {
    return absl::InvalidArgumentError("key name must be 1..64 characters of [A-Za-z0-9._-]");
  }
  absl::StatusOr<CurveKey> key = ParseKeyField((*fields)[1], "public key");
  if (!key.ok()) return key.status();
  return CurvePublicKey{.name = std::string((*fields)[0]), .key = *key};
}

absl::StatusOr<CurveSecretKey> ParseCurveSecretKey(std::string_view text) {
  absl::StatusOr<std::vector<std::string_view>> fields = SplitKeyLine(text, kSecretTag, 3);
  if (!fields.ok()) return fields.status();
  if (!IsValidCurveKeyName((*fields)[0])) {
    return absl::InvalidArgumentError("key name must be 1..64 characters of [A-Za-z0-9._-]");
  }
  absl::StatusOr<CurveKey> secret = ParseKeyField((*fields)[1], "secret key");
  if (!secret.ok()) return secret.status();
  absl::StatusOr<CurveKey> public_key = ParseKeyField((*fields)[2], "public key");
  if (!public_key.ok()) return public_key.status();
  CurveSecretKey key{.name = std::string((*fields)[0]),
                     .pair = {.public_key = *public_key, .secret_key = *secret}};
  sodium_memzero(secret->data(), secret->size());
  if (CurvePublicFromSecret(key.pair.secret_key) != key.pair.public_key) {
    sodium_memzero(key.pair.secret_key.data(), key.pair.secret_key.size());
    return absl::InvalidArgumentError("public key is not the one of the secret key");
  }
  return key;
}

absl::StatusOr<CurvePublicKey> ReadCurvePublicKeyFile(const std::filesystem::path& path) {
  absl::StatusOr<std::string> text = ReadKeyFileText(path, /*secret=*/false);
  if (!text.ok()) return text.status();
  absl::StatusOr<CurvePublicKey> key = ParseCurvePublicKey(*text);
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": ", key.status().message()));
  }
  return key;
}

absl::StatusOr<CurveSecretKey> ReadCurveSecretKeyFile(const std::filesystem::path& path) {
  absl::StatusOr<std::string> text = ReadKeyFileText(path, /*secret=*/true);
  if (!text.ok()) return text.status();
  absl::StatusOr<CurveSecretKey> key = ParseCurveSecretKey(*text);
  sodium_memzero(text->data(), text->size());
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": ", key.status().message()));
  }
  return key;
}

absl::Status WriteCurveKeyFiles(const std::filesystem::path& dir, std::string_view name,
                                bool force) {
  if (!IsValidCurveKeyName(name)) {
    return absl::InvalidArgumentError("key name must be 1..64 characters of [A-Za-z0-9._-]");
  }
  const CurveSecretKey key{.name = std::string(name), .pair = GenerateCurveKeyPair()};
  const std::filesystem::path secret_path = dir / absl::StrCat(std::string(name), kSecretSuffix);
  const std::filesystem::path public_path = dir / absl::StrCat(std::string(name), kPublicSuffix);
  std::string secret_text = FormatCurveSecretKey(key);
  absl::Status secret_written = WriteNewFile(secret_path, secret_text, 0600, force);
  sodium_memzero(secret_text.data(), secret_text.size());
  if (!secret_written.ok()) return secret_written;
  absl::Status public_written = WriteNewFile(
      public_path, FormatCurvePublicKey({.name = key.name, .key = key.pair.public_key}), 0644,
      force);
  if (!public_written.ok()) {
    // Without force the secret is ours alone; leaving it would block a retry.
    if (!force) ::unlink(secret_path.c_str());
    return public_written;
  }
  return SyncDirectory(dir);
}

absl::StatusOr<std::vector<CurvePublicKey>> ReadCurvePublicKeyDir(
    const std::filesystem::path& dir) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string file_name = it->path().filename().string();
    std::error_code type_ec;
    if (file_name.ends_with(kPublicSuffix) && it->is_regular_file(type_ec)) {
      files.push_back(it->path());
    }
  }
  if (ec) return ErrnoError(ec.value(), "cannot list", dir);
  std::sort(files.begin(), files.end(),
            [](const auto& a, const auto& b) { return a.filename() < b.filename(); });
  std::vector<CurvePublicKey> keys;
  std::map<std::string, std::filesystem::path> by_name;
  std::map<CurveKey, std::filesystem::path> by_key;
  for (const std::filesystem::path& file : files) {
    absl::StatusOr<CurvePublicKey> key = ReadCurvePublicKeyFile(file);
    if (!key.ok()) return key.status();
    if (auto [it, added] = by_name.emplace(key->name, file); !added) {
      return absl::InvalidArgumentError(
          absl::StrCat(file.string(), " and ", it->second.string(), " both name ", key->name));
    }
    if (auto [it, added] = by_key.emplace(key->key, file); !added) {
      return absl::InvalidArgumentError(
          absl::StrCat(file.string(), " and ", it->second.string(), " hold the same key"));
    }
    keys.push_back(*std::move(key));
  }
  return keys;
}

}  // namespace fleettwin::common
