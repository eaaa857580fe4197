#include "cli_common.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace fleettwin::ledger::cli {

absl::StatusOr<std::string> ReadSmallFile(const std::filesystem::path& path) {
  constexpr size_t kLimit = 1 << 16;
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path.string()));
  // Read at most one byte past the limit, so /dev/zero or a huge file is refused, not loaded.
  std::string text(kLimit + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kLimit) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), " is too large for a key file"));
  }
  return text;
}

absl::StatusOr<VerifierKey> ReadVerifierKeyFile(const std::filesystem::path& path) {
  absl::StatusOr<std::string> text = ReadSmallFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<VerifierKey> key = ParseVerifierKey(*text);
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": ", key.status().message()));
  }
  return key;
}

absl::StatusOr<SignerKey> ReadSignerKeyFile(const std::filesystem::path& path) {
  absl::StatusOr<std::string> text = ReadSmallFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<SignerKey> key = ParseSignerKey(*text);
  if (!key.ok()) {
    // Never echo the file's content: it is a secret.
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": ", key.status().message()));
  }
  return key;
}

absl::Status WriteNewFile(const std::filesystem::path& path, const std::string& text, unsigned mode,
                          bool force) {
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL);
  const int fd = ::open(path.c_str(), flags, mode);
  if (fd < 0) {
    return absl::AlreadyExistsError(absl::StrCat("cannot create ", path.string(), ": ",
                                                 std::strerror(errno),
                                                 errno == EEXIST ? " (use --force)" : ""));
  }
  // O_CREAT's mode does not apply to an existing file; a replaced secret keeps its 0600.
  ::fchmod(fd, mode);
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return absl::UnavailableError(
          absl::StrCat("write ", path.string(), ": ", std::strerror(errno)));
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return absl::UnavailableError(absl::StrCat("sync ", path.string(), ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status PrintLine(const std::string& text) {
  std::cout << text << '\n';
  std::cout.flush();
  if (!std::cout) return absl::UnavailableError("cannot write to standard output");
  return absl::OkStatus();
}

int ParseArgs(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // Prints help, or the error and a hint.
    return code == 0 ? kExitOk : kExitUsage;
  }
  return -1;
}

int Fail(const char* tool, const absl::Status& status) {
  std::cerr << tool << ": " << status.message() << "\n";
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kFailedPrecondition:
      return kExitUsage;
    case absl::StatusCode::kDataLoss:
      return kExitVerifyFailed;
    default:
      return kExitError;
  }
}

}  // namespace fleettwin::ledger::cli
