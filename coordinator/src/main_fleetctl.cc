// fleetctl: the operator's command line for the fleet. Keys are made locally; everything else
// is one JSON request on the coordinator's control socket (docs/protocols.md). Exit codes: 0
// done, 1 the coordinator refused or failed the request, 2 bad usage or local files, 3 the
// coordinator did not answer.
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>

#include <CLI/CLI.hpp>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fleettwin/common/curve.h"
#include "fleettwin/coordinator/control_client.h"
#include "fleettwin/coordinator/rolling_plan.h"
#include "fleettwin/deploy/local_fleet.h"
#include "fleettwin/deploy/render.h"
#include "fleettwin/protocol/messages.h"

namespace {

using nlohmann::json;
constexpr int kExitFailed = 1, kExitUsage = 2, kExitUnreachable = 3;

// A maintenance record id nobody else will pick: 16 random hex digits.
std::string NewRecordId() {
  std::random_device device;
  const uint64_t bits = (static_cast<uint64_t>(device()) << 32) ^ device();
  return absl::StrFormat("r-%016x", bits);
}

int Fail(const absl::Status& s) {
  std::cerr << "fleetctl: " << s.message() << "\n";
  switch (s.code()) {
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kUnavailable:
      return kExitUnreachable;
    default:
      return kExitFailed;
  }
}

std::string Cell(const json& j, const char* key, int precision = 1) {
  if (!j.contains(key)) return "-";
  const json& v = j[key];
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", precision, v.get<double>());
    return buf;
  }
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

void PrintAgents(const json& agents) {
  std::printf("%-20s %-8s %-9s %8s %8s %7s %7s %10s\n", "ASSET", "STATE", "HEALTH", "RUL", "RUL SD",
              "P FAIL", "DRIFT", "SEEN MS AGO");
  for (const json& a : agents) {
    const json twin = a.value("twin", json::object());
    std::printf("%-20s %-8s %-9s %8s %8s %7s %7s %10s\n", Cell(a, "asset").c_str(),
                Cell(a, "state").c_str(), Cell(twin, "health").c_str(), Cell(twin, "rul").c_str(),
                Cell(twin, "rul_std").c_str(), Cell(twin, "p_fail", 3).c_str(),
                Cell(twin, "drift").c_str(), Cell(a, "last_seen_ms_ago").c_str());
  }
}

void PrintPlan(const json& p) {
  std::printf("plan %s: %d maintained, cost %.1f (run to failure %.1f), %d round(s), solver %s\n",
              p.value("negotiation", "").c_str(), p.value("maintained", 0), p.value("cost", 0.0),
              p.value("none_cost", 0.0), p.value("rounds", 0), p.value("solver", "").c_str());
  std::printf("hash %s\n", p.value("plan_hash", "").c_str());
  std::printf("%-20s %6s %6s %5s %10s\n", "ASSET", "SLOT", "START", "CREW", "COST");
  for (const json& a : p["assignments"]) {
    if (a.value("slot", -1) < 0) continue;
    std::printf("%-20s %6d %6d %5d %10.1f\n", a.value("asset", "").c_str(), a.value("slot", -1),
                a.value("start", -1), a.value("crew", -1), a.value("cost", 0.0));
  }
  int none = 0;
  for (const json& a : p["assignments"]) none += a.value("slot", -1) < 0 ? 1 : 0;
  if (none > 0) std::printf("(%d not maintained within the horizon)\n", none);
  for (const json& l : p["left_out"]) {
    std::printf("left out: %s: %s\n", l.value("asset", "").c_str(), l.value("reason", "").c_str());
  }
}

void PrintTask(const json& t) {
  const json& call = t["task"];
  std::printf(
      "task %s: %s%s%s (duration %g, deadline %g, late cost %g%s)\n", t.value("id", "").c_str(),
      t.value("status", "").c_str(), t.value("winner", "").empty() ? "" : " ",
      t.value("winner", "").c_str(), call.value("duration", 0.0), call.value("deadline", 0.0),
      call.value("late_cost", 0.0),
      call.value("capability", "").empty() ? ""
                                           : (", needs " + call.value("capability", "")).c_str());
  for (const json& a : t["auctions"]) {
    std::printf("auction %s -> %s\n", a.value("auction", "").c_str(),
                a.value("winner", "").empty() ? "nobody" : a.value("winner", "").c_str());
    std::printf("  %-20s %10s %11s %7s\n", "BIDDER", "COST", "COMPLETION", "P_LATE");
    for (const json& b : a["bids"]) {
      std::printf("  %-20s %10.1f %11.1f %7.3f\n", b.value("asset", "").c_str(),
                  b.value("cost", 0.0), b.value("completion", 0.0), b.value("p_late", 0.0));
    }
    for (const json& l : a["left_out"]) {
      std::printf("  left out: %s: %s\n", l.value("asset", "").c_str(),
                  l.value("reason", "").c_str());
    }
  }
  for (const json& h : t["history"]) std::printf("- %s\n", h.get<std::string>().c_str());
}

// The options of one maintenance negotiation, shared by `plan maintenance` and `plan rolling`.
void AddMaintenanceCallOptions(CLI::App& app, fleettwin::coordinator::MaintenanceCallOptions& call,
                               const char* horizon_help, const char* duration_help) {
  app.add_option("--horizon", call.horizon, horizon_help)->capture_default_str();
  app.add_option("--duration", call.duration, duration_help)->capture_default_str();
  app.add_option("--crews", call.crews, "Maintenances at once")->capture_default_str();
  app.add_option("--failure-cost", call.failure_cost)->capture_default_str();
  app.add_option("--preventive-cost", call.preventive_cost)->capture_default_str();
  app.add_option("--wasted-life-cost", call.wasted_life_cost, "Per cycle thrown away")
      ->capture_default_str();
  app.add_option("--bid-window-ms", call.bid_window_ms)->capture_default_str();
  app.add_option("--reply-timeout-ms", call.reply_timeout_ms)->capture_default_str();
}

std::atomic<int> g_interrupts{0};
std::atomic<bool> g_interrupted{false};
void OnInterrupt(int) {
  g_interrupted.store(true);
  if (g_interrupts.fetch_add(1) >= 2) std::_Exit(130);  // A third Ctrl-C: give up waiting.
}

int Up(fleettwin::deploy::LocalFleetOptions options, bool as_json) {
  options.interrupted = &g_interrupted;
  std::signal(SIGINT, OnInterrupt);
  std::signal(SIGTERM, OnInterrupt);
  std::signal(SIGHUP, OnInterrupt);  // The terminal closed: stop the fleet as for Ctrl-C.
  absl::StatusOr<std::string> summary = fleettwin::deploy::RunLocalFleet(options, std::cerr);
  if (!summary.ok()) {
    std::cerr << "fleetctl up: " << summary.status().message() << "\n";
    if (summary.status().code() == absl::StatusCode::kCancelled) return 130;
    return summary.status().code() == absl::StatusCode::kInvalidArgument ? kExitUsage : kExitFailed;
  }
  std::cout << (as_json ? *summary + "\n" : fleettwin::deploy::FormatSummary(*summary));
  return 0;
}

// `plan rolling`: one line (or JSON object) per slot; exit 0 when every plan committed and
// replaced the one before, 1 when some did not, 3 when the coordinator stopped answering, 130
// when interrupted.
int RollingPlan(const fleettwin::coordinator::RollingPlanOptions& options, bool as_json,
                const fleettwin::coordinator::ControlConnector& connect) {
  std::signal(SIGINT, OnInterrupt);
  std::signal(SIGTERM, OnInterrupt);
  std::signal(SIGHUP, OnInterrupt);
  int failed = 0;
  auto on_step = [&](const fleettwin::coordinator::RollingStep& step) {
    if (!step.error.ok()) ++failed;
    json line = {{"index", step.index},
                 {"id", step.id},
                 {"horizon", step.horizon},
                 {"skipped", step.skipped},
                 {"committed", step.committed}};
    if (!step.plan.empty()) line["plan"] = json::parse(step.plan, nullptr, false);
    if (!step.error.ok()) line["error"] = std::string(step.error.message());
    if (as_json) {
      std::cout << line.dump(-1, ' ', false, json::error_handler_t::replace) << std::endl;
      return;
    }
    std::string text = absl::StrCat(step.id, " (horizon ", step.horizon, "): ");
    if (step.skipped > 0) {
      absl::StrAppend(&text, step.skipped, " slot(s) skipped while negotiating; ");
    }
    if (step.committed) {
      const json& plan = line["plan"];
      std::string now;
      int later = 0;
      for (const json& a : plan.value("assignments", json::array())) {
        const int slot = a.value("slot", -1);
        if (slot == 0) {
          absl::StrAppend(&now, now.empty() ? "" : ", ", a.value("asset", ""), " (crew ",
                          a.value("crew", -1), ")");
        } else if (slot > 0) {
          ++later;
        }
      }
      absl::StrAppend(&text, "committed, cost ", absl::StrFormat("%.1f", plan.value("cost", 0.0)),
                      "; start now: ", now.empty() ? "none" : now, "; ", later, " later");
      const size_t left_out = plan.value("left_out", json::array()).size();
      if (left_out > 0) absl::StrAppend(&text, "; left out: ", left_out);
      if (!step.error.ok()) absl::StrAppend(&text, "; but: ", step.error.message());
    } else {
      absl::StrAppend(&text, "not committed (the standing plan stays): ", step.error.message());
    }
    std::cout << text << std::endl;
  };
  absl::StatusOr<uint32_t> committed =
      fleettwin::coordinator::RunRollingPlan(options, connect, on_step, &g_interrupted);
  if (!committed.ok()) {
    if (committed.status().code() == absl::StatusCode::kCancelled && g_interrupted.load()) {
      std::cerr << "fleetctl: interrupted; the last committed plan stands, unless the one being "
                   "negotiated still commits (see `fleetctl plan list`)\n";
      return 130;
    }
    if (committed.status().code() == absl::StatusCode::kInvalidArgument) {
      std::cerr << "fleetctl: " << committed.status().message() << "\n";
      return kExitUsage;
    }
    return Fail(committed.status());
  }
  return failed > 0 ? kExitFailed : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fleetctl: the operator's command line for a fleettwin fleet"};
  app.require_subcommand(1);
  std::string endpoint = "tcp://127.0.0.1:5701", coordinator_key, operator_key;
  bool as_json = false;
  int64_t timeout_ms = 10000;
  app.add_option("--coordinator", endpoint, "The coordinator's control endpoint")
      ->capture_default_str();
  app.add_option("--coordinator-key", coordinator_key, "The coordinator's CURVE public key file");
  app.add_option("--operator-key", operator_key,
                 "Your CURVE secret key file (an allowed operator)");
  app.add_flag("--json", as_json, "Print the coordinator's JSON instead of a table");
  app.add_option("--timeout-ms", timeout_ms, "How long to wait for an answer")
      ->capture_default_str();
  std::string fleet_dir;
  app.add_option("--fleet", fleet_dir,
                 "A fleet started by 'fleetctl up' (its --data-dir): its control endpoint and "
                 "keys, instead of --coordinator, --coordinator-key and --operator-key");

  // The embedded default: a whole fleet on this machine.
  fleettwin::deploy::LocalFleetOptions up_options;
  up_options.data_dir = "fleet";
  CLI::App* up = app.add_subcommand(
      "up",
      "Start a whole fleet on this machine: fleet-coordinator and one fleet-agent per C-MAPSS "
      "engine on loopback with fresh CURVE keys; run federated rounds, replay the engines' test "
      "trajectories live, negotiate a maintenance plan, stop the fleet, audit every ledger "
      "with fleet-audit and print a summary (JSON in DATA_DIR/summary.json). Ctrl-C stops "
      "everything it started. Exit codes: 0 done, 1 a step failed, 2 bad usage, 130 interrupted");
  up->add_option("--assets", up_options.assets, "Engines (test units 1..N), one agent each")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  up->add_option("--dataset", up_options.subset,
                 "C-MAPSS subset (cmapss/{train,test,RUL}_SUBSET.txt)")
      ->capture_default_str();
  up->add_option("--model", up_options.model, "Failure model (a directory under the models)")
      ->capture_default_str();
  up->add_option("--speed", up_options.speed, "Replay speed: 10x = 10 cycles/s; max = no pacing")
      ->capture_default_str();
  up->add_option("--base-port", up_options.base_port,
                 "Coordinator ports BASE..BASE+3, agent i's HTTP BASE+10+i; 0 = free ports")
      ->capture_default_str();
  up->add_option("--data-dir", up_options.data_dir,
                 "Where the fleet writes (keys, ledgers, logs); a previous fleet's is replaced")
      ->capture_default_str();
  up->add_option("--share", up_options.share_dir,
                 "Where kinds/ and the data are (default: the source tree, /usr/share/fleettwin)");
  up->add_option(
      "--bin-dir", up_options.bin_dir,
      "Where fleet-coordinator, fleet-agent, fleet-audit are (default: beside fleetctl)");
  up->add_option("--rounds", up_options.rounds, "Federated rounds")->capture_default_str();
  up->add_option("--local-epochs", up_options.local_epochs, "Epochs per node per round")
      ->capture_default_str();
  up->add_option("--strategy", up_options.strategy, "fedavg, fedprox, median or trimmed-mean")
      ->capture_default_str();
  up->add_option("--learning-rate", up_options.learning_rate,
                 "Local learning rate sent to the nodes; 0 = their default")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  up->add_option("--horizon", up_options.horizon, "Plan horizon, cycles")->capture_default_str();
  up->add_option("--crews", up_options.crews, "Maintenance crews")->capture_default_str();
  up->add_option("--duration", up_options.duration, "Cycles per maintenance")
      ->capture_default_str();
  up->add_flag("--keep-running", up_options.keep_running,
               "Leave the fleet running after the summary (talk to it with fleetctl --fleet "
               "DATA_DIR ..., stop it with fleetctl down)");
  up->fallthrough();  // fleetctl up --json as well as fleetctl --json up.
  std::string down_dir = "fleet";
  int down_grace_s = 30;
  CLI::App* down =
      app.add_subcommand("down", "Stop a fleet that 'fleetctl up --keep-running' left running");
  down->add_option("--data-dir", down_dir, "The fleet's data directory")->capture_default_str();
  down->add_option("--grace", down_grace_s, "Seconds before SIGKILL")->capture_default_str();

  fleettwin::deploy::RenderOptions render_options;
  CLI::App* deploy = app.add_subcommand("deploy", "Kubernetes manifests")->require_subcommand(1);
  CLI::App* render = deploy->add_subcommand(
      "render",
      "Write a kustomization for a fleet (one agent StatefulSet per asset in ASSETS, their CURVE "
      "keys as Secrets, kinds and public keys as ConfigMaps) to OUT; keys already in OUT are "
      "kept. Apply with kubectl apply -k OUT (docs/operations.md)");
  render->add_option("--assets", render_options.assets_file, "The assets file (YAML)")->required();
  render->add_option("--out", render_options.out_dir, "Output directory")->required();
  render->add_option("--image", render_options.image, "Container image (overrides the file's)");
  render->add_option("--namespace", render_options.ns, "Namespace (overrides the file's)");
  render->add_option("--share", render_options.share_dir, "Where kinds/ are (as for up)");

  CLI::App* keys = app.add_subcommand("keys", "CURVE key files")->require_subcommand(1);
  CLI::App* generate = keys->add_subcommand(
      "generate", "Write NAME.curve-public and NAME.curve-secret (0600) for each NAME");
  std::vector<std::string> names;
  std::string out_dir = ".";
  bool force = false;
  generate->add_option("NAME", names, "Key names (an agent's name is its asset id)")->required();
  generate->add_option("--out", out_dir, "Directory for the files")->capture_default_str();
  generate->add_flag("--force", force, "Replace existing files");

  CLI::App* agents = app.add_subcommand("agents", "The fleet's members and their twins");
  CLI::App* status = app.add_subcommand("status", "The coordinator's counters");
  CLI::App* plan = app.add_subcommand("plan", "Fleet plans")->require_subcommand(1);
  CLI::App* maintenance = plan->add_subcommand(
      "maintenance", "Negotiate a maintenance plan with every active agent (contract net)");
  std::string id;
  fleettwin::coordinator::MaintenanceCallOptions call;
  maintenance->add_option("--id", id, "Plan id (unique)")->required();
  AddMaintenanceCallOptions(*maintenance, call, "Cycles", "Cycles per maintenance");
  std::string replaces;
  maintenance->add_option("--replaces", replaces,
                          "Re-plan: once this plan commits, cancel plan ID (agents of the new "
                          "plan keep their new start; the others are told 'none')");
  CLI::App* rolling = plan->add_subcommand(
      "rolling",
      "Re-plan every slot: negotiate PREFIX-0 over the horizon, then each --slot-seconds a plan "
      "over the rest of it that replaces the one before (only the maintenances starting now "
      "are final); one line per slot");
  fleettwin::coordinator::RollingPlanOptions roll;
  double slot_seconds = 60;
  rolling->add_option("--id-prefix", roll.id_prefix, "Plans are PREFIX-0, PREFIX-1, ...")
      ->required();
  AddMaintenanceCallOptions(*rolling, roll.call, "Cycles, at the first slot",
                            "Cycles per maintenance, and per slot");
  rolling
      ->add_option("--slot-seconds", slot_seconds,
                   "Wall time of one slot: how long the assets take to run --duration cycles "
                   "(the coordinator has no fleet clock)")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 1e7));
  rolling->add_option("--slots", roll.slots, "At most this many plans (0: until the horizon ends)")
      ->capture_default_str();
  rolling->add_option("--replaces", roll.replaces, "A committed plan the first one replaces");
  CLI::App* twin = app.add_subcommand("twin", "One agent's twin as its heartbeats report it");
  std::string twin_asset;
  twin->add_option("ASSET", twin_asset, "Asset id")->required();
  CLI::App* record = app.add_subcommand(
      "record", "Record maintenance done on an asset: its agent ledgers it in the twin");
  std::string record_asset, record_note = "maintenance", record_author, record_id;
  double record_time = 0;
  bool record_inspection = false, record_failure = false;
  record->add_option("ASSET", record_asset, "Asset id")->required();
  CLI::Option* record_time_option = record->add_option(
      "--time", record_time, "When, on the twin's clock (default: its latest sample)");
  CLI::Option* record_note_option =
      record->add_option("--note", record_note, "What was done (at most 256 bytes)")
          ->capture_default_str();
  record->add_option("--id", record_id,
                     "Names the record, so a retry after a lost answer does not record it twice "
                     "(default: a new random id, printed)");
  record->add_option("--author", record_author,
                     "Who did the work: the author is then AUTHOR (via operator:KEY-NAME)");
  CLI::Option* inspection_flag =
      record->add_flag("--inspection", record_inspection,
                       "An inspection: the asset is not renewed (the failure model's age goes on)");
  record
      ->add_flag("--failure", record_failure,
                 "The asset failed and was repaired (note 'failure': scores the twin's RUL "
                 "predictions)")
      ->excludes(inspection_flag)
      ->excludes(record_note_option);
  CLI::App* ledger_cmd = app.add_subcommand("ledger", "Ledgers")->require_subcommand(1);
  CLI::App* heads = ledger_cmd->add_subcommand(
      "heads", "The coordinator ledger's checkpoint and each agent's latest reported one");
  CLI::App* diff = plan->add_subcommand("diff", "What changed between two plans, per asset");
  std::string diff_a, diff_b;
  diff->add_option("A", diff_a, "Plan id")->required();
  diff->add_option("B", diff_b, "Plan id")->required();
  CLI::App* cancel = plan->add_subcommand(
      "cancel", "Cancel a committed plan: ledgered, and every agent of it is told");
  std::string cancel_id, cancel_reason = "cancelled by an operator";
  cancel->add_option("ID", cancel_id, "Plan id")->required();
  cancel->add_option("--reason", cancel_reason, "Recorded with the cancellation")
      ->capture_default_str();
  CLI::App* list = plan->add_subcommand("list", "Committed plans");
  CLI::App* show = plan->add_subcommand("show", "One committed plan");
  std::string show_id;
  show->add_option("ID", show_id, "Plan id")->required();

  CLI::App* task = app.add_subcommand("task", "Tasks allocated by auction")->require_subcommand(1);
  CLI::App* submit = task->add_subcommand(
      "submit", "Auction a task among the active agents; waits for the first auction's end");
  std::string task_id, capability;
  double task_duration = 0, deadline = 0, late_cost = 100;
  std::vector<double> at;
  int64_t task_bid_window_ms = 2000, task_reply_timeout_ms = 2000;
  submit->add_option("--id", task_id, "Task id (unique; [A-Za-z0-9._-])")->required();
  submit->add_option("--duration", task_duration, "Time units of work (the twins' clock)")
      ->required();
  submit->add_option("--deadline", deadline, "Wanted done within, time units from now")->required();
  submit->add_option("--capability", capability, "Required of the agent (empty: any)");
  submit->add_option("--at", at, "Location X Y (agents travel at their own speed)")
      ->expected(2)
      ->delimiter(',');
  submit->add_option("--late-cost", late_cost, "Cost of finishing after the deadline")
      ->capture_default_str();
  submit->add_option("--bid-window-ms", task_bid_window_ms)->capture_default_str();
  submit->add_option("--reply-timeout-ms", task_reply_timeout_ms)->capture_default_str();
  CLI::App* rounds =
      app.add_subcommand("rounds", "Federated rounds of the failure model")->require_subcommand(1);
  CLI::App* rounds_start = rounds->add_subcommand(
      "start", "Run federated rounds with the agents (waits until they end)");
  int fl_rounds = 3, fl_min_nodes = 2, fl_local_epochs = 1;
  double fl_fraction = 1.0, fl_min_replies = 0.5, fl_deadline_s = 300, fl_wait_s = 120,
         fl_mu = 0.01, fl_trim = 0.2, fl_clip = 0, fl_noise = 0, fl_lr = 0;
  std::string fl_strategy = "fedavg";
  bool fl_evaluate = false;
  rounds_start->add_option("--rounds", fl_rounds, "Rounds")->capture_default_str();
  rounds_start->add_option("--min-nodes", fl_min_nodes, "Live nodes needed; least sampled")
      ->capture_default_str();
  rounds_start->add_option("--fraction", fl_fraction, "Share of live nodes sampled per round")
      ->capture_default_str();
  rounds_start
      ->add_option("--min-replies", fl_min_replies,
                   "Share of the sampled that must reply for the round to aggregate")
      ->capture_default_str();
  rounds_start->add_option("--strategy", fl_strategy, "fedavg, fedprox, median or trimmed-mean")
      ->capture_default_str();
  rounds_start->add_option("--local-epochs", fl_local_epochs, "Epochs each node trains per round")
      ->capture_default_str();
  rounds_start->add_option("--proximal-mu", fl_mu, "FedProx's mu")->capture_default_str();
  rounds_start->add_option("--trim", fl_trim, "trimmed-mean: share cut from each end")
      ->capture_default_str();
  rounds_start->add_option("--clip-norm", fl_clip, "Central DP: clip each update (L2); 0 = off")
      ->capture_default_str();
  rounds_start->add_option("--noise-multiplier", fl_noise, "Central DP: Gaussian noise multiplier")
      ->capture_default_str();
  rounds_start->add_option("--learning-rate", fl_lr, "Sent to the nodes; 0 = their default")
      ->capture_default_str();
  rounds_start->add_option("--deadline", fl_deadline_s, "Seconds to wait for replies per round")
      ->capture_default_str();
  rounds_start->add_option("--wait", fl_wait_s, "Seconds to wait for --min-nodes live nodes")
      ->capture_default_str();
  rounds_start->add_flag("--evaluate", fl_evaluate, "Evaluate the new model on the nodes");
  CLI::App* rounds_list = rounds->add_subcommand("list", "Rounds so far, nodes and the model");
  CLI::App* task_list = task->add_subcommand("list", "Every task and its state");
  CLI::App* task_show = task->add_subcommand("show", "One task: its auctions and history");
  std::string task_show_id;
  task_show->add_option("ID", task_show_id, "Task id")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }

  if (*up) return Up(up_options, as_json);
  if (*down) {
    absl::Status stopped = fleettwin::deploy::StopLocalFleet(down_dir, std::cout, down_grace_s);
    if (!stopped.ok()) {
      std::cerr << "fleetctl: " << stopped.message() << "\n";
      return stopped.code() == absl::StatusCode::kNotFound ? kExitUsage : kExitFailed;
    }
    return 0;
  }
  if (*render) {
    absl::StatusOr<std::vector<fleettwin::deploy::RenderedAsset>> rendered =
        fleettwin::deploy::RenderManifests(render_options);
    if (!rendered.ok()) {
      std::cerr << "fleetctl: " << rendered.status().message() << "\n";
      return kExitUsage;
    }
    for (const auto& a : *rendered) {
      std::cout << a.id << " (" << a.kind << ")" << (a.new_key ? ": new key" : ": key kept")
                << "\n";
    }
    std::cout << "wrote " << render_options.out_dir.string() << " (" << rendered->size()
              << " agents); apply with kubectl apply -k " << render_options.out_dir.string()
              << "\nthe *.curve-secret files there are secrets: keep them out of version control\n";
    return 0;
  }
  if (!fleet_dir.empty()) {
    absl::StatusOr<fleettwin::deploy::FleetAccess> access =
        fleettwin::deploy::ReadFleetAccess(fleet_dir);
    if (!access.ok()) {
      std::cerr << "fleetctl: " << access.status().message() << "\n";
      return kExitUsage;
    }
    endpoint = access->control;
    coordinator_key = access->coordinator_key.string();
    operator_key = access->operator_key.string();
  }

  if (*generate) {
    for (const std::string& name : names) {
      if (absl::Status s = fleettwin::common::WriteCurveKeyFiles(out_dir, name, force); !s.ok()) {
        std::cerr << "fleetctl: " << s.message() << "\n";
        return kExitUsage;
      }
      std::cout << out_dir << "/" << name << ".curve-public\n";
    }
    return 0;
  }

  if (coordinator_key.empty() || operator_key.empty()) {
    std::cerr << "fleetctl: --coordinator-key and --operator-key are required\n";
    return kExitUsage;
  }
  absl::StatusOr<fleettwin::common::CurvePublicKey> server =
      fleettwin::common::ReadCurvePublicKeyFile(coordinator_key);
  absl::StatusOr<fleettwin::common::CurveSecretKey> me =
      fleettwin::common::ReadCurveSecretKeyFile(operator_key);
  for (const absl::Status& s : {server.status(), me.status()}) {
    if (!s.ok()) {
      std::cerr << "fleetctl: " << s.message() << "\n";
      return kExitUsage;
    }
  }
  json request;
  if (*agents) request = {{"command", "agents"}};
  if (*status) request = {{"command", "status"}};
  if (*list) request = {{"command", "plans"}};
  if (*show) request = {{"command", "plan"}, {"id", show_id}};
  if (*twin) request = {{"command", "twin"}, {"asset", twin_asset}};
  if (*record) {
    if ((*record_time_option && !std::isfinite(record_time)) ||
        record_note.size() > fleettwin::protocol::kMaxMaintenanceNote ||
        record_author.size() > 96 ||
        (!record_id.empty() && !fleettwin::protocol::IsMaintenanceRecordId(record_id))) {
      std::cerr << "fleetctl: record: --time must be finite, --note at most 256 bytes, --author "
                   "at most 96, --id 1..64 letters, digits and - _ . :\n";
      return kExitUsage;
    }
    request = {{"command", "maintenance.record"},
               {"asset", record_asset},
               {"note", record_failure ? std::string("failure") : record_note},
               {"renews", !record_inspection},
               {"timeout_ms", timeout_ms}};
    if (*record_time_option) request["time"] = record_time;
    if (!record_author.empty()) request["author"] = record_author;
    if (record_id.empty()) record_id = NewRecordId();
    request["id"] = record_id;
    timeout_ms += 2000;  // The coordinator answers by timeout_ms, agent or not.
  }
  if (*heads) request = {{"command", "ledger.heads"}};
  if (*cancel) request = {{"command", "plan.cancel"}, {"id", cancel_id}, {"reason", cancel_reason}};
  if (*maintenance) {
    request = json::parse(fleettwin::coordinator::MaintenanceRequest(id, call, replaces));
    // The negotiation itself takes up to both windows.
    timeout_ms += call.bid_window_ms + 3 * call.reply_timeout_ms;
  }
  if (*submit) {
    request = {{"command", "task.submit"},
               {"id", task_id},
               {"duration", task_duration},
               {"deadline", deadline},
               {"late_cost", late_cost},
               {"capability", capability},
               {"bid_window_ms", task_bid_window_ms},
               {"reply_timeout_ms", task_reply_timeout_ms}};
    if (at.size() == 2) request["location"] = at;
    // The auction (queued behind others, and a few refusals) takes up to these windows.
    timeout_ms += 2 * task_bid_window_ms + 8 * task_reply_timeout_ms;
  }
  if (*task_list) request = {{"command", "tasks"}};
  if (*rounds_list) request = {{"command", "rounds"}};
  if (*rounds_start) {
    request = {{"command", "rounds.start"},
               {"rounds", fl_rounds},
               {"min_nodes", fl_min_nodes},
               {"fraction", fl_fraction},
               {"min_reply_fraction", fl_min_replies},
               {"strategy", fl_strategy},
               {"local_epochs", fl_local_epochs},
               {"proximal_mu", fl_mu},
               {"trim_fraction", fl_trim},
               {"clip_norm", fl_clip},
               {"noise_multiplier", fl_noise},
               {"deadline_s", fl_deadline_s},
               {"wait_s", fl_wait_s},
               {"evaluate", fl_evaluate}};
    if (fl_lr > 0) request["learning_rate"] = fl_lr;
    timeout_ms += static_cast<int64_t>(
        1000 * (fl_wait_s + fl_rounds * fl_deadline_s * (fl_evaluate ? 2 : 1)));
  }
  if (*task_show) request = {{"command", "task"}, {"id", task_show_id}};
  if (*rolling) {
    roll.slot = std::chrono::milliseconds(static_cast<int64_t>(slot_seconds * 1000));
    roll.call_timeout = std::chrono::milliseconds(timeout_ms);
    return RollingPlan(roll, as_json, [&] {
      return fleettwin::coordinator::ControlClient::Connect(endpoint, server->key, me->pair);
    });
  }
  auto client = fleettwin::coordinator::ControlClient::Connect(endpoint, server->key, me->pair);
  if (!client.ok()) return Fail(client.status());
  if (*diff) {
    json plans[2];
    const std::string ids[2] = {diff_a, diff_b};
    for (int i = 0; i < 2; ++i) {
      absl::StatusOr<std::string> p = (*client)->Call(
          json{{"command", "plan"}, {"id", ids[i]}}.dump(), std::chrono::milliseconds(timeout_ms));
      if (!p.ok()) return Fail(p.status());
      plans[i] = json::parse(*p);
    }
    std::map<std::string, std::pair<json, json>> by_asset;
    for (int i = 0; i < 2; ++i) {
      for (const json& a : plans[i]["assignments"]) {
        (i == 0 ? by_asset[a["asset"]].first : by_asset[a["asset"]].second) = a;
      }
    }
    json changes = json::array();
    for (const auto& [asset, ab] : by_asset) {
      const int slot_a = ab.first.is_null() ? -2 : ab.first.value("slot", -1);
      const int slot_b = ab.second.is_null() ? -2 : ab.second.value("slot", -1);
      const int crew_a = ab.first.is_null() ? -2 : ab.first.value("crew", -1);
      const int crew_b = ab.second.is_null() ? -2 : ab.second.value("crew", -1);
      if (slot_a == slot_b && crew_a == crew_b) continue;
      changes.push_back({{"asset", asset}, {"a", ab.first}, {"b", ab.second}});
    }
    if (as_json) {
      std::cout << json{{"a", diff_a}, {"b", diff_b}, {"changes", changes}}.dump() << "\n";
      return 0;
    }
    auto where = [](const json& a) -> std::string {
      if (a.is_null()) return "(not in plan)";
      if (a.value("slot", -1) < 0) return "none";
      return "start " + std::to_string(a.value("start", -1)) + " crew " +
             std::to_string(a.value("crew", -1));
    };
    std::printf("%-20s %-22s %-22s\n", "ASSET", diff_a.c_str(), diff_b.c_str());
    for (const json& c : changes) {
      std::printf("%-20s %-22s %-22s\n", c["asset"].get<std::string>().c_str(),
                  where(c["a"]).c_str(), where(c["b"]).c_str());
    }
    std::printf("%zu of %zu assets differ; cost %.1f -> %.1f\n", changes.size(), by_asset.size(),
                plans[0].value("cost", 0.0), plans[1].value("cost", 0.0));
    return 0;
  }
  absl::StatusOr<std::string> answer =
      (*client)->Call(request.dump(), std::chrono::milliseconds(timeout_ms));
  if (*record && !answer.ok()) {
    // A retry of a record that landed: done, not twice.
    if (answer.status().code() == absl::StatusCode::kAlreadyExists) {
      if (as_json) {
        std::cout << json{{"asset", record_asset}, {"id", record_id}, {"already_recorded", true}}
                  << "\n";
      } else {
        std::printf("already recorded on %s (id %s)\n", record_asset.c_str(), record_id.c_str());
      }
      return 0;
    }
    const int code = Fail(answer.status());
    if (code == kExitUnreachable) {
      std::cerr << "fleetctl: to retry without recording it twice: fleetctl record " << record_asset
                << " --id " << record_id << " …\n";
    }
    return code;
  }
  if (!answer.ok()) return Fail(answer.status());
  const json result = json::parse(*answer);
  // Done, but not as asked: a task nobody took, a re-plan that left the old plan standing.
  int code = 0;
  if (*submit && result.value("status", "") == "unassigned") code = kExitFailed;
  if (*maintenance && result.contains("replaces") && !result.value("replaced", false)) {
    std::fprintf(stderr, "fleetctl: plan %s committed but plan %s was not cancelled: %s\n",
                 result.value("negotiation", "").c_str(), result.value("replaces", "").c_str(),
                 result.value("replace_error", "").c_str());
    code = kExitFailed;
  }
  if (as_json) {
    std::cout << *answer << "\n";
    return code;
  }
  if (*agents || *twin) {
    PrintAgents(*twin ? json::array({result}) : result);
  } else if (*heads) {
    const json& c = result["coordinator"];
    if (c.is_null()) {
      std::printf("coordinator: no ledger (started without --data-dir)\n");
    } else {
      std::printf("coordinator: %s size %llu root %s\n", c.value("origin", "").c_str(),
                  static_cast<unsigned long long>(c.value("size", uint64_t{0})),
                  c.value("root", "").c_str());
    }
    std::printf("%-20s %-36s %8s %-10s %s\n", "ASSET", "ORIGIN", "SIZE", "ANCHORED", "ROOT");
    for (const json& a : result["agents"]) {
      std::printf("%-20s %-36s %8s %-10s %s\n", a.value("asset", "").c_str(),
                  a.value("origin", "-").c_str(), Cell(a, "size").c_str(),
                  a.value("anchored", false) ? "yes" : "no", a.value("root", "-").c_str());
    }
  } else if (*task_list) {
    std::printf("%-20s %-11s %-20s %8s %8s\n", "TASK", "STATUS", "WINNER", "COST", "AUCTIONS");
    for (const json& t : result) {
      std::printf("%-20s %-11s %-20s %8.1f %8d\n", t.value("id", "").c_str(),
                  t.value("status", "").c_str(), t.value("winner", "").c_str(),
                  t.value("cost", 0.0), t.value("attempts", 0));
    }
  } else if (*rounds_start || *rounds_list) {
    if (*rounds_list) {
      std::printf("model %s  version %.16s  id %.16s  nodes %zu%s\n",
                  result.value("model", "").c_str(), result.value("model_version", "").c_str(),
                  result.value("model_id", "").c_str(), result["nodes"].size(),
                  result.value("running", false) ? "  (rounds running)" : "");
    }
    std::printf("%6s %-13s %7s %7s %6s %10s %9s %s\n", "ROUND", "STRATEGY", "SAMPLED", "REPLIED",
                "AGGR", "EXAMPLES", "EVAL RMSE", "MODEL ID");
    int not_aggregated = 0;
    for (const json& r : result["rounds"]) {
      const json& eval = r["eval_metrics"];
      std::printf(
          "%6d %-13s %7zu %7zu %6s %10.0f %9s %.16s\n", r.value("round", 0),
          r.value("strategy", "").c_str(), r["sampled"].size(), r["replied"].size(),
          r.value("aggregated", false) ? "yes" : "no", r.value("num_examples", 0.0),
          eval.contains("rmse") ? absl::StrFormat("%.3f", eval["rmse"].get<double>()).c_str() : "-",
          r.value("model_id", "").c_str());
      for (const json& f : r["failed"]) {
        std::printf("       node %s: %s\n", f.value("node", "").c_str(),
                    f.value("reason", "").c_str());
      }
      if (!r.value("aggregated", false)) ++not_aggregated;
    }
    if (*rounds_start && not_aggregated > 0) code = kExitFailed;
  } else if (*submit || *task_show) {
    PrintTask(result);
  } else if (*record) {
    std::printf("recorded on %s: twin revision %llu (id %s)\n", result.value("asset", "").c_str(),
                static_cast<unsigned long long>(result.value("revision", uint64_t{0})),
                result.value("id", "").c_str());
  } else if (*status) {
    for (const auto& [k, v] : result.items()) std::cout << k << " " << v.dump() << "\n";
  } else if (*list) {
    std::printf("%-20s %10s %10s %6s %9s %s\n", "PLAN", "MAINTAINED", "COST", "ROUNDS", "LEFT OUT",
                "HASH");
    for (const json& p : result) {
      std::printf("%-20s %10d %10.1f %6d %9zu %s%s\n", p.value("negotiation", "").c_str(),
                  p.value("maintained", 0), p.value("cost", 0.0), p.value("rounds", 0),
                  p["left_out"].size(), p.value("plan_hash", "").substr(0, 16).c_str(),
                  p.value("cancelled", false) ? "  (cancelled)" : "");
    }
  } else {
    PrintPlan(result);
    if (result.value("cancelled", false)) {
      std::printf("CANCELLED: %s\n", result.value("cancel_reason", "").c_str());
    }
    if (result.value("replaced", false)) {
      std::printf("replaces plan %s (cancelled)\n", result.value("replaces", "").c_str());
    }
  }
  return code;
}
