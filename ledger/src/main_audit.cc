// fleet-audit: the auditor's tool. Reads a ledger directory without writing to it and trusts
// only the verifier key given on the command line.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "cli_common.h"
#include "fleettwin/common/encoding.h"
#include "fleettwin/ledger/audit_json.h"
#include "fleettwin/ledger/crosscheck.h"
#include "fleettwin/ledger/ledger.h"
#include "fleettwin/plan/replay.h"
#include "fleettwin/ledger/verify.h"

namespace fl = fleettwin::ledger;
namespace cli = fleettwin::ledger::cli;

namespace {

constexpr char kTool[] = "fleet-audit";

int Verify(const std::string& dir, const std::string& key_file, unsigned threads, bool quiet,
           const std::vector<std::string>& trusted_files) {
  absl::StatusOr<fl::VerifierKey> key = cli::ReadVerifierKeyFile(key_file);
  if (!key.ok()) return cli::Fail(kTool, key.status());
  fl::VerifyOptions options;
  options.threads = threads;
  for (const std::string& file : trusted_files) {
    absl::StatusOr<std::string> note = cli::ReadSmallFile(file);
    if (!note.ok()) return cli::Fail(kTool, note.status());
    options.trusted_checkpoints.push_back(*note);
  }
  const bool show_progress = !quiet && ::isatty(STDERR_FILENO);
  if (show_progress) {
    options.progress = [](uint64_t done, uint64_t total) {
      std::fprintf(stderr, "\rverified %llu / %llu entries", static_cast<unsigned long long>(done),
                   static_cast<unsigned long long>(total));
    };
  }
  absl::StatusOr<fl::VerifyReport> report = fl::VerifyLedger(dir, *key, options);
  if (show_progress) std::fprintf(stderr, "\n");
  if (!report.ok()) return cli::Fail(kTool, report.status());
  std::cout << "origin:      " << report->origin << "\n"
            << "entries:     " << report->entries << "\n"
            << "checkpoints: " << report->checkpoints << "\n"
            << "tree nodes:  " << report->nodes << "\n";
  if (report->latest) {
    std::cout << "latest good: size " << report->latest->size << ", root "
              << fleettwin::Base64Encode(fleettwin::Bytes(report->latest->root.data(), 32)) << "\n";
  }
  if (!report->ok()) {
    std::cout << "FAILED: first bad index " << *report->first_bad_index << ": " << report->reason
              << "\n";
    return cli::kExitVerifyFailed;
  }
  std::cout << "OK: every entry, tree node and checkpoint verifies with key " << key->name << "\n";
  return cli::kExitOk;
}

absl::StatusOr<std::unique_ptr<fl::LedgerReader>> Open(const std::string& dir) {
  return fl::OpenLedgerReadOnly(dir);
}

// fleet-audit crosscheck: 0 if every agent ledger agrees with the fleet ledger, 1 if one does
// not (or was never anchored), 3 if a ledger cannot be opened.
int CrossCheckAll(const std::string& fleet_dir, const std::vector<std::string>& agent_dirs) {
  absl::StatusOr<std::unique_ptr<fl::LedgerReader>> fleet = Open(fleet_dir);
  if (!fleet.ok()) return cli::Fail(kTool, fleet.status());
  int code = cli::kExitOk;
  for (const std::string& dir : agent_dirs) {
    absl::StatusOr<std::unique_ptr<fl::LedgerReader>> agent = Open(dir);
    if (!agent.ok()) return cli::Fail(kTool, agent.status());
    absl::StatusOr<fl::CrossCheckReport> r = fl::CrossCheck(**fleet, **agent);
    if (r.ok()) {
      std::cout << "ok " << dir << ": " << r->origin << ", " << r->anchors
                << " anchored checkpoints up to size " << r->largest_anchored
                << ", consistent with its " << r->agent_size << " entries\n";
    } else {
      std::cout << "FAIL " << dir << ": " << r.status().message() << "\n";
      code = cli::kExitVerifyFailed;
    }
  }
  std::cout.flush();
  return code;
}

// fleet-audit replay-plan: 0 if every (chosen) plan re-solves identically, 1 if one does not
// or none was found, 3 if the ledger cannot be read.
int ReplayPlans(const std::string& fleet_dir, const std::string& plan_id) {
  absl::StatusOr<std::unique_ptr<fl::LedgerReader>> fleet = Open(fleet_dir);
  if (!fleet.ok()) return cli::Fail(kTool, fleet.status());
  int code = cli::kExitOk, found = 0;
  absl::Status scanned = (*fleet)->Scan(0, (*fleet)->Size(), [&](const fl::Entry& e,
                                                                 const std::string&) {
    if (e.kind != "plan.commit") return true;
    absl::StatusOr<fleettwin::plan::ReplayReport> r =
        fleettwin::plan::ReplayMaintenancePlan(e.payload);
    if (r.ok() && !plan_id.empty() && r->negotiation != plan_id) return true;
    ++found;
    if (r.ok()) {
      std::cout << "ok plan " << r->negotiation << " (entry " << e.index << "): " << r->assets
                << " assets, " << r->maintained << " maintained, identical under " << r->solver
                << "\n";
    } else {
      std::cout << "FAIL entry " << e.index << ": " << r.status().message() << "\n";
      code = cli::kExitVerifyFailed;
    }
    return true;
  });
  if (!scanned.ok()) return cli::Fail(kTool, scanned);
  if (found == 0) {
    std::cout << "FAIL no plan" << (plan_id.empty() ? "" : " " + plan_id) << " in the ledger\n";
    code = cli::kExitVerifyFailed;
  }
  std::cout.flush();
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "fleet-audit: verify a fleettwin ledger offline, print its checkpoint, prove single "
      "entries, export it, and cross-check agent ledgers against the fleet ledger. Exit codes: 0 ok, 1 the ledger does not verify, 2 bad "
      "arguments, 3 cannot read."};
  app.require_subcommand(1);
  std::string dir;
  std::string key_file;
  unsigned threads = 0;
  bool quiet = false;

  CLI::App* verify = app.add_subcommand(
      "verify", "Recompute chain and tree; check every entry, node, checkpoint and signature");
  verify->add_option("DIR", dir, "Ledger directory")->required();
  verify->add_option("--key", key_file, "Verifier key file (name+id+key)")->required();
  verify->add_option("--threads", threads, "Worker threads (0: all cores)");
  verify->add_flag("--quiet", quiet, "No progress display");
  std::vector<std::string> trusted_files;
  verify->add_option("--trusted", trusted_files,
                     "A signed checkpoint seen earlier (file); the ledger must still hold its "
                     "tree. Catches truncation, rollback and rewritten history. Repeatable");

  CLI::App* checkpoint =
      app.add_subcommand("checkpoint", "Print the latest signed checkpoint exactly as stored");
  checkpoint->add_option("DIR", dir, "Ledger directory")->required();
  std::optional<uint64_t> cp_size;
  bool list_sizes = false;
  CLI::Option* checkpoint_size =
      checkpoint->add_option("--size", cp_size, "Print the checkpoint stored for this size");
  CLI::Option* list =
      checkpoint->add_flag("--list", list_sizes, "List every size that has a stored checkpoint");

  uint64_t index = 0;
  std::optional<uint64_t> size;
  CLI::App* prove = app.add_subcommand("prove", "Inclusion proof of one entry, as JSON");
  prove->add_option("DIR", dir, "Ledger directory")->required();
  prove->add_option("INDEX", index, "Entry index")->required();
  prove->add_option("--size", size, "Tree size (a checkpointed size; default: latest)");

  uint64_t old_size = 0;
  uint64_t new_size = 0;
  CLI::App* consistency =
      app.add_subcommand("consistency", "Consistency proof between two tree sizes, as JSON");
  consistency->add_option("DIR", dir, "Ledger directory")->required();
  consistency->add_option("OLD", old_size, "Old tree size")->required();
  consistency->add_option("NEW", new_size, "New tree size")->required();

  uint64_t from = 0;
  uint64_t to = UINT64_MAX;
  CLI::App* export_cmd = app.add_subcommand("export", "Every entry as a line of JSON");
  export_cmd->add_option("DIR", dir, "Ledger directory")->required();
  export_cmd->add_option("--from", from, "First index (default 0)");
  export_cmd->add_option("--to", to, "End index, exclusive (default: all)");

  list->excludes(checkpoint_size);
  CLI::App* crosscheck = app.add_subcommand(
      "crosscheck",
      "Check agent ledgers against the checkpoints the fleet (coordinator) ledger anchored: same "
      "roots at the anchored sizes, and consistency proofs to each agent's current tree");
  std::string fleet_dir;
  std::vector<std::string> agent_dirs;
  crosscheck->add_option("FLEET_LEDGER", fleet_dir, "The coordinator's ledger directory")
      ->required();
  crosscheck->add_option("AGENT_LEDGER", agent_dirs, "Agent ledger directories")->required();
  CLI::App* replay = app.add_subcommand(
      "replay-plan",
      "Re-solve every committed plan (or one) of a fleet ledger from its ledgered bids and check "
      "that the same assets get the same slots and crews");
  std::string plan_id;
  replay->add_option("FLEET_LEDGER", fleet_dir, "The coordinator's ledger directory")->required();
  replay->add_option("--plan", plan_id, "Only this plan");
  if (int code = cli::ParseArgs(app, argc, argv); code >= 0) return code;

  if (*verify) return Verify(dir, key_file, threads, quiet, trusted_files);
  if (*crosscheck) return CrossCheckAll(fleet_dir, agent_dirs);
  if (*replay) return ReplayPlans(fleet_dir, plan_id);
  absl::StatusOr<std::unique_ptr<fl::LedgerReader>> ledger = Open(dir);
  if (!ledger.ok()) return cli::Fail(kTool, ledger.status());
  if (*checkpoint) {
    if (list_sizes) {
      absl::StatusOr<std::vector<uint64_t>> sizes = (*ledger)->CheckpointSizes();
      if (!sizes.ok()) return cli::Fail(kTool, sizes.status());
      for (uint64_t s : *sizes) {
        if (absl::Status st = cli::PrintLine(std::to_string(s)); !st.ok())
          return cli::Fail(kTool, st);
      }
      return cli::kExitOk;
    }
    absl::StatusOr<fl::SignedCheckpoint> cp =
        cp_size ? (*ledger)->CheckpointAt(*cp_size) : (*ledger)->LatestCheckpoint();
    if (!cp.ok()) return cli::Fail(kTool, cp.status());
    std::cout << cp->note;
    std::cout.flush();
    return std::cout ? cli::kExitOk : cli::kExitError;
  }
  if (*prove || *consistency) {
    absl::StatusOr<std::string> json = *prove
                                           ? fl::InclusionProofJson(**ledger, index, size)
                                           : fl::ConsistencyProofJson(**ledger, old_size, new_size);
    if (!json.ok()) return cli::Fail(kTool, json.status());
    if (absl::Status st = cli::PrintLine(*json); !st.ok()) return cli::Fail(kTool, st);
    return cli::kExitOk;
  }
  std::ios::sync_with_stdio(false);
  absl::Status status = fl::ExportJsonLines(**ledger, from, to, std::cout);
  std::cout.flush();
  if (!status.ok()) return cli::Fail(kTool, status);
  return cli::kExitOk;
}
