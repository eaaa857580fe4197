// The embedded default: a whole fleet on this machine (`fleetctl up`). fleet-coordinator and
// one fleet-agent per C-MAPSS engine run as separate processes on loopback, with CURVE keys
// made for them on the spot; each agent trains on its share of the training engines and
// replays its own test trajectory live. The launcher then runs federated rounds of the failure
// model, waits for the replay, negotiates a maintenance plan, stops the fleet and audits every
// ledger with fleet-audit (verify, crosscheck, replay-plan), and returns a summary. Everything
// it started is recorded in DATA_DIR/fleet.json, so `fleetctl down` can stop a fleet left
// running (--keep-running) and `fleetctl --fleet DATA_DIR ...` can talk to it.
#ifndef FLEETTWIN_DEPLOY_LOCAL_FLEET_H_
#define FLEETTWIN_DEPLOY_LOCAL_FLEET_H_

#include <atomic>
#include <filesystem>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fleettwin::deploy {

struct LocalFleetOptions {
  int assets = 20;                 // Test engines 1..assets of the subset (1 .. its count).
  std::string subset = "FD001";    // C-MAPSS subset: cmapss/{train,test,RUL}_<subset>.txt.
  std::filesystem::path data_dir;  // Everything the fleet writes; created.
  // Where kinds/ and the data are: a source tree (kinds/, data/cmapss, data/models) or an
  // installed share directory (kinds/, cmapss/, models/). Empty: found from the executable.
  std::filesystem::path share_dir;
  // Where fleet-coordinator, fleet-agent and fleet-audit are. Empty: beside the executable
  // (or in the build tree's agent/, coordinator/ and ledger/ folders).
  std::filesystem::path bin_dir;
  std::string model = "cmapss-fd001-mlp";  // A model directory under the share's models.
  std::string speed = "10x";  // Replay speed: 1 cycle per second at 1x; "max" for no pacing.
  int base_port = 0;          // 0: free ports; else coordinator base..base+3, agents base+10+i.
  // Federated rounds.
  int rounds = 3;
  int local_epochs = 2;
  std::string strategy = "fedavg";
  // Sent to the nodes (0: their default, 1e-3, for training from scratch): the rounds fine-tune
  // the shipped, centrally trained model, which a smaller step disturbs less.
  double learning_rate = 1e-4;
  // The maintenance plan (the plan_bench problem).
  int horizon = 150, duration = 5, crews = 2;
  bool keep_running = false;  // Leave the fleet running after the summary (fleetctl down).
  // Set (e.g. from SIGINT) to stop early: every started process is stopped, then Cancelled.
  const std::atomic<bool>* interrupted = nullptr;
};

// Runs the whole scenario, printing progress to `progress`. Returns the summary as JSON (also
// written to DATA_DIR/summary.json); FormatSummary renders it for people. Errors:
// InvalidArgument (options), NotFound (binaries, data), FailedPrecondition (a fleet is already
// running in DATA_DIR, or DATA_DIR holds something else), Cancelled (interrupted), and any
// step's failure naming the step and the log to read. Whatever happens, processes it started
// are stopped unless keep_running and the scenario completed.
absl::StatusOr<std::string> RunLocalFleet(const LocalFleetOptions& options, std::ostream& progress);

// The readable summary of RunLocalFleet's JSON.
std::string FormatSummary(const std::string& summary_json);

// Stops the processes a launcher left running in `data_dir` (SIGTERM, then SIGKILL after
// `grace_s`), checking each pid still runs the binary recorded. NotFound if no fleet.json.
absl::Status StopLocalFleet(const std::filesystem::path& data_dir, std::ostream& progress,
                            int grace_s = 30);

// The control endpoint and key files recorded for a fleet in `data_dir` (for fleetctl --fleet).
struct FleetAccess {
  std::string control;
  std::filesystem::path coordinator_key;  // *.curve-public
  std::filesystem::path operator_key;     // *.curve-secret
};
absl::StatusOr<FleetAccess> ReadFleetAccess(const std::filesystem::path& data_dir);

}  // namespace fleettwin::deploy

#endif  // FLEETTWIN_DEPLOY_LOCAL_FLEET_H_
