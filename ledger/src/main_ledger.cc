// fleet-ledger: the writer's tool. Makes keys and appends records from standard input.
#include <CLI/CLI.hpp>
#include <iostream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli_common.h"
#include "fleettwin/common/clock.h"
#include "fleettwin/ledger/ledger.h"

namespace fl = fleettwin::ledger;
namespace cli = fleettwin::ledger::cli;

namespace {

constexpr char kTool[] = "fleet-ledger";

int Keygen(const std::string& name, const std::string& prefix, bool force) {
  absl::StatusOr<fl::SignerKey> key = fl::GenerateSignerKey(name);
  if (!key.ok()) return cli::Fail(kTool, key.status());
  const std::string secret_path = prefix + ".key";
  const std::string public_path = prefix + ".vkey";
  // Check both before writing either, so a refusal never leaves a secret without its key.
  for (const std::string& path : {secret_path, public_path}) {
    if (!force && std::filesystem::exists(path)) {
      return cli::Fail(kTool, absl::AlreadyExistsError(path + " exists (use --force)"));
    }
  }
  if (absl::Status s =
          cli::WriteNewFile(secret_path, fl::FormatSignerKey(*key) + "\n", 0600, force);
      !s.ok()) {
    return cli::Fail(kTool, s);
  }
  const std::string vkey = fl::FormatVerifierKey(key->Verifier());
  if (absl::Status s = cli::WriteNewFile(public_path, vkey + "\n", 0644, force); !s.ok()) {
    return cli::Fail(kTool, s);
  }
  std::cerr << "wrote " << secret_path << " (secret, mode 0600) and " << public_path << "\n";
  std::cout << vkey << "\n";
  return cli::kExitOk;
}

int Append(const std::string& dir, const std::string& key_file, std::string origin,
           const std::string& kind, std::string author, size_t batch_limit) {
  absl::StatusOr<fl::SignerKey> key = cli::ReadSignerKeyFile(key_file);
  if (!key.ok()) return cli::Fail(kTool, key.status());
  if (author.empty()) author = key->name;
  fleettwin::SystemClock clock;
  fl::LedgerOptions options;
  options.directory = dir;
  options.origin = origin.empty() ? key->name : origin;
  options.group_commit_entries = batch_limit;
  absl::StatusOr<std::unique_ptr<fl::Ledger>> ledger = fl::OpenLedger(options, clock, *key);
  if (!ledger.ok()) return cli::Fail(kTool, ledger.status());

  std::ios::sync_with_stdio(false);
  std::vector<fl::NewEntry> batch;
  std::string line;
  // Group what has already arrived: a pipe delivers many lines per read, a terminal one.
  while (true) {
    const bool got = static_cast<bool>(std::getline(std::cin, line));
    if (got) {
      batch.push_back({kind, author, 0, 0, line});
      if (batch.size() < batch_limit && std::cin.rdbuf()->in_avail() > 0) continue;
    }
    if (!batch.empty()) {
      absl::StatusOr<uint64_t> first = (*ledger)->AppendBatch(batch);
      if (!first.ok()) return cli::Fail(kTool, first.status());
      for (uint64_t i = 0; i < batch.size(); ++i) std::cout << *first + i << "\n";
      std::cout.flush();
      if (!std::cout) {
        return cli::Fail(
            kTool, absl::UnavailableError("appended, but cannot print the acknowledged indices"));
      }
      batch.clear();
    }
    if (!got) break;
  }
  return cli::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "fleet-ledger: create signing keys and append records to a fleettwin ledger. Exit codes: "
      "0 ok, 1 the stored ledger is damaged, 2 bad arguments or keys, 3 cannot read or write."};
  app.require_subcommand(1);

  std::string name;
  std::string prefix;
  bool force = false;
  CLI::App* keygen = app.add_subcommand(
      "keygen", "Write PREFIX.key (secret, mode 0600) and PREFIX.vkey (verifier key line)");
  keygen->add_option("--name", name, "Key name, e.g. the log's origin")->required();
  keygen->add_option("--out", prefix, "Output path prefix")->required();
  keygen->add_flag("--force", force, "Replace existing files");

  std::string dir;
  std::string key_file;
  std::string origin;
  std::string kind = "manual";
  std::string author;
  size_t batch = 4096;
  CLI::App* append = app.add_subcommand(
      "append", "Append one entry per line of standard input; print each acknowledged index");
  append->add_option("DIR", dir, "Ledger directory (created if missing)")->required();
  append->add_option("--key", key_file, "Secret key file from keygen")->required();
  append->add_option("--origin", origin, "Log origin when creating (default: the key name)");
  append->add_option("--kind", kind, "Entry kind")->capture_default_str();
  append->add_option("--author", author, "Entry author (default: the key name)");
  append->add_option("--batch", batch, "Most entries per group commit")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));

  if (int code = cli::ParseArgs(app, argc, argv); code >= 0) return code;
  if (*keygen) return Keygen(name, prefix, force);
  return Append(dir, key_file, origin, kind, author, batch);
}
