// What the ledger's two command-line tools share: key files and exit codes.
#ifndef FLEETTWIN_LEDGER_SRC_CLI_COMMON_H_
#define FLEETTWIN_LEDGER_SRC_CLI_COMMON_H_

#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>

#include "absl/status/statusor.h"
#include "fleettwin/ledger/note.h"

namespace fleettwin::ledger::cli {

// Exit codes of fleet-audit and fleet-ledger.
inline constexpr int kExitOk = 0;
inline constexpr int kExitVerifyFailed = 1;  // The ledger does not verify.
inline constexpr int kExitUsage = 2;         // Bad flags, arguments or key files.
inline constexpr int kExitError = 3;         // Could not read, write or open something.

absl::StatusOr<std::string> ReadSmallFile(const std::filesystem::path& path);
absl::StatusOr<VerifierKey> ReadVerifierKeyFile(const std::filesystem::path& path);
absl::StatusOr<SignerKey> ReadSignerKeyFile(const std::filesystem::path& path);

// Writes `text` to a new file with `mode`; refuses to replace an existing file unless `force`.
absl::Status WriteNewFile(const std::filesystem::path& path, const std::string& text, unsigned mode,
                          bool force);

// Writes `text` and a newline to stdout; Unavailable if stdout cannot take it.
absl::Status PrintLine(const std::string& text);

// Parses argv; on --help prints help and returns 0, on a usage error prints it and returns
// kExitUsage; otherwise returns -1 and the caller runs the command.
int ParseArgs(CLI::App& app, int argc, char** argv);

// Prints "<tool>: <status message>" to stderr and returns the exit code for its code.
int Fail(const char* tool, const absl::Status& status);

}  // namespace fleettwin::ledger::cli

#endif  // FLEETTWIN_LEDGER_SRC_CLI_COMMON_H_
