// One running agent: its ledger, its twin, the queue, the sources feeding it and the thread that
// drains the queue into the twin. main() builds the options; everything else is here so tests
// run exactly what ships.
#ifndef FLEETTWIN_AGENT_AGENT_RUNTIME_H_
#define FLEETTWIN_AGENT_AGENT_RUNTIME_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/statusor.h"
#include "fleettwin/agent/asset_kind.h"
#include "fleettwin/agent/coordinator_link.h"
#include "fleettwin/agent/ledgered_twin.h"
#include "fleettwin/agent/model_catalog.h"
#include "fleettwin/agent/mqtt_source.h"
#include "fleettwin/agent/replay.h"
#include "fleettwin/agent/telemetry_queue.h"
#include "fleettwin/agent/zmq_source.h"
#include "fleettwin/common/clock.h"
#include "fleettwin/federated/fleet_node.h"
#include "fleettwin/ledger/ledger.h"
#include "fleettwin/model/rul_model.h"
#include "fleettwin/sim/monte_carlo.h"

namespace fleettwin::agent {

// When an agent's twin adopts a federated round's global model (AgentOptions::fl_adopt).
enum class FederatedAdoption { kNever, kIfNotWorse, kAlways };
// "never", "if-not-worse", "always"; InvalidArgument otherwise.
absl::StatusOr<FederatedAdoption> ParseFederatedAdoption(std::string_view text);

struct AgentOptions {
  std::string asset;                      // Required: the asset id.
  std::filesystem::path kind_file;        // Required: the asset kind.
  std::filesystem::path data_dir;         // Required: holds ledger/ and the agent's signing key.
  std::string origin;                     // Ledger origin; default "fleettwin/agent/<asset>".
  std::string zmq_bind;                   // Optional ZeroMQ PULL endpoint.
  std::optional<MqttSourceOptions> mqtt;  // Optional MQTT subscription (asset filled in).
  std::string http_bind;                  // Optional HTTP endpoint "HOST:PORT" (port 0: any).
  // Optional operator endpoint: when set, PUT /desired and POST /whatif are served only here
  // and http_bind serves the GET endpoints alone (auditors and monitoring may reach it).
  std::string http_operator_bind;
  std::optional<ReplayOptions> replay;  // Optional file replay.
  double replay_speed = 0;              // 0: as fast as possible.
  size_t queue_capacity = 10000;
  // How long a ZeroMQ sample may wait for room in a full queue before it is dropped (MQTT has
  // its own, in `mqtt`).
  std::chrono::milliseconds push_timeout{2000};
  size_t batch_size = 1024;  // Samples per twin batch (one group commit each).
  // Optional failure model directory (model.json + .npy; docs/failure-model.md). Its version
  // is ledgered, and the twin predicts RUL with it on every sample.
  std::filesystem::path model_dir;
  int what_if_threads = 2;  // Monte Carlo workers per what-if question.
  // Optional link to fleet-coordinator (docs/protocols.md): its ROUTER endpoint, its CURVE
  // public key file, and this agent's CURVE secret key file (named after the asset).
  std::string coordinator;
  std::filesystem::path coordinator_key_file;
  std::filesystem::path agent_key_file;
  int64_t heartbeat_ms = 1000;
  uint32_t bid_replications = 2000;  // Monte Carlo runs behind each maintenance bid.
  // Task allocation (docs/planning.md): what this asset can do, where it is (travel to a task's
  // location at travel_speed distance units per time unit; without a location, tasks that have
  // one are declined), and the repair time assumed when the twin has no calibration.
  std::vector<std::string> capabilities;
  std::optional<std::array<double, 2>> location;
  double travel_speed = 1;
  double default_repair_time = 10;
  // Optional federated learning (docs/federated.md): the Fleet API server to join as a Flower
  // node, the node's P-384 key file (created if missing; default data_dir/fl-node.pem), PEM
  // roots for TLS (empty: plaintext), and the agent's own run-to-failure history in C-MAPSS
  // format (`history_units`: "A-B" or empty for every unit) that local training uses. Each
  // model received is ledgered as the desired value "federated.model" = server round, author
  // "federated:<type>:<model id>".
  std::string fl_server;
  std::filesystem::path fl_key_file;
  std::filesystem::path fl_tls_root_file;
  std::filesystem::path fl_history_file;
  std::string fl_history_units;
  double fl_heartbeat_interval_s = 30;
  int fl_train_threads = 1;
  // Whether the twin switches to a global model it receives (docs/federated.md): never, when
  // its RMSE on the agent's held-out units is not above that of the model in use, or always.
  // An adopted model is saved under data_dir/models/<version>/ and its version ledgered; it
  // stays in use across restarts.
  FederatedAdoption fl_adopt = FederatedAdoption::kNever;
};

class HttpApi;
class FederatedLearner;

class AgentRuntime final {
 public:
  // Loads the kind, opens (or creates) the ledger and the key in data_dir, rebuilds the twin
  // and starts the sources. `clock` must outlive the runtime. Errors: InvalidArgument (options,
  // kind), NotFound, Unavailable (ledger locked, endpoint in use), DataLoss (ledger damaged).
  static absl::StatusOr<std::unique_ptr<AgentRuntime>> Start(const AgentOptions& options,
                                                             const Clock& clock);
  ~AgentRuntime();

  // Stops the sources, drains the queue into the twin and waits until all of it is durable in
  // the ledger (which closes when the runtime is destroyed). Idempotent.
  // Returns the first error the drain thread hit, if any.
  absl::Status Shutdown();
  // True once a replay source has delivered its whole file.
  bool replay_done() const { return replay_done_.load(); }

  // The twin's state as JSON, taken between batches, returned once the ledger holds it (after
  // a ledger failure it may include changes the ledger does not hold: see DurableTwinJson).
  std::string TwinJson();
  // As TwinJson, but FailedPrecondition if the ledger does not hold all of it (what /twin serves).
  absl::StatusOr<std::string> DurableTwinJson();
  // The newest `limit` quarantined samples and the counts per reason, as JSON.
  std::string QuarantineJson(size_t limit);
  // Each source's counters, state and the latest reason it refused a message, as JSON.
  std::string SourcesJson();
  // Prometheus text: samples accepted and rejected by reason, queue depth and drops, source
  // counters, ledger append latency, revision (docs/agent.md).
  std::string MetricsText();
  // Liveness: not OK once the ledger failed (the twin then refuses changes; restart rebuilds).
  absl::Status Healthy();
  // Readiness: healthy, not shutting down, and the MQTT source (if any) connected.
  absl::Status Ready();
  // Records a desired value as a twin update. Errors: InvalidArgument, FailedPrecondition.
  absl::StatusOr<uint64_t> SetDesired(std::string name, double value, std::string author);
  // Records a maintenance done on the asset (note "failure" for a failure) as a twin update.
  // With `renews` the asset is as new afterwards: its age restarts and the RUL estimate waits
  // for the next sample; without, it is an inspection that changes neither. A failure scores
  // the twin's earlier RUL predictions. `time` defaults to the latest sample's; it may not
  // precede the latest maintenance record nor follow the latest sample. `id` (optional) names
  // the record: AlreadyExists if the twin has one of that id (a retry). Errors:
  // InvalidArgument (also: no sample yet and no time), FailedPrecondition (shutting down).
  absl::StatusOr<uint64_t> RecordMaintenance(std::optional<double> time, std::string note,
                                             std::string author, bool renews, std::string id = {});
  // Answers a what-if question (what_if.h) from a snapshot of the twin; the Monte Carlo runs
  // outside the twin's lock, one question at a time. Errors: InvalidArgument,
  // FailedPrecondition, ResourceExhausted (another question is running).
  absl::StatusOr<std::string> WhatIfJson(std::string_view question);
  // The belt parameters of the twin's latest calibration, what a running conveyor what-if's
  // feed process reads every 5 simulated units (nullopt before the first calibration).
  std::optional<sim::ConveyorLive> LiveConveyor() const;

  const ledger::VerifierKey& verifier_key() const { return verifier_key_; }
  const std::string& zmq_endpoint() const;
  const std::string& http_endpoint() const;           // Empty without HTTP.
  const std::string& http_operator_endpoint() const;  // Empty without an operator port.
  // Samples accepted / rejected by this process whose ledger entries are durable.
  uint64_t accepted() const;
  uint64_t rejected() const;
  // Samples lost to a ledger failure: in the failed write, or taken from the queue after it.
  uint64_t refused() const;
  // The link to the coordinator, or null without one.
  const CoordinatorLink* coordinator_link() const { return link_.get(); }

  // What the coordinator link sends and does, from a snapshot of the twin (public for tests):
  // the heartbeat's twin summary; a maintenance bid from the turbofan what-if (declined with the
  // reason when the twin cannot answer it); a commit recorded as the desired value
  // "maintenance.planned_start" (the absolute time of the start, -1 when not maintained).
  protocol::Heartbeat Summary();
  protocol::Bid BidFor(const protocol::CallForProposals& call);
  absl::Status RecordCommit(const protocol::Commit& commit);
  // Tasks (agent/src/tasks.cc): a task call is bid from sim::AskTaskCompletion over the work
  // already held; an award of a task the agent bid on is accepted and ledgered as the desired
  // value "task.<id>" (its planned end on the twin's clock); TaskReports returns the tasks whose
  // end the twin's clock has passed (done, desired value -1) and, while the twin's health is at
  // alarm, drops every held task (reason "health alarm").
  protocol::AwardReply AwardFor(const protocol::Award& award);
  std::vector<protocol::TaskReport> TaskReports();
  // The coordinator gave the task to another agent: stop holding it (desired value -1).
  void RevokeTask(const protocol::TaskRevoke& revoke);

 private:
  AgentRuntime() = default;
  void Drain();
  absl::Status StartFederated(const AgentOptions& options);

  AssetKind kind_;
  std::unique_ptr<model::RulModel> model_;  // Before twin_, which refers to it.
  std::unique_ptr<ModelCatalog> catalog_;   // Adopted models; before twin_ too.
  std::filesystem::path models_dir_;        // Where adopted models are saved.
  FederatedAdoption adopt_ = FederatedAdoption::kNever;
  // A global model received in a round: adopted per adopt_ (from the node's thread).
  void MaybeAdopt(const model::RulModel& global);
  int what_if_threads_ = 2;
  std::atomic<bool> what_if_busy_{false};  // One what-if question at a time.
  std::unique_ptr<ledger::Ledger> ledger_;
  ledger::VerifierKey verifier_key_;
  std::unique_ptr<LedgeredTwin> twin_;
  std::mutex twin_mu_;  // Guards twin_ between the drain thread and readers.
  // The twin's calibration as the what-if feed reads it, copied out after every change into
  // one atomic word (both parameters as float32, as the simulated belt holds them), so Monte
  // Carlo workers read it without a lock and never wait for ingestion.
  void UpdateLiveConveyor();  // REQUIRES(twin_mu_)
  static constexpr uint64_t kNoLiveConveyor = ~uint64_t{0};
  std::atomic<uint64_t> live_conveyor_{kNoLiveConveyor};
  uint64_t live_calibrations_ = UINT64_MAX;  // GUARDED_BY(twin_mu_); copied at that count.
  std::unique_ptr<TelemetryQueue> queue_;
  std::unique_ptr<ZmqSource> zmq_;
  std::unique_ptr<MqttSource> mqtt_;
  std::unique_ptr<HttpApi> http_;
  std::unique_ptr<HttpApi> http_operator_;
  std::unique_ptr<CoordinatorLink> link_;
  std::unique_ptr<FederatedLearner> learner_;
  std::unique_ptr<federated::FleetNode> fl_node_;
  std::atomic<uint64_t> fl_models_{0};
  std::atomic<uint64_t> fl_adopted_{0};
  std::atomic<uint64_t> fl_declined_{0};  // Not adopted: worse on the held-out units, or unfit.
  uint32_t bid_replications_ = 2000;
  struct HeldTask {
    protocol::TaskCall call;
    std::string auction;
    double end = 0;  // Planned end on the twin's clock.
  };
  protocol::Bid TaskBidFor(const protocol::CallForProposals& call);
  std::mutex tasks_mu_;  // Guards the three below (the link's thread and tests).
  std::map<std::string, protocol::TaskCall> offered_;  // Auction -> the task bid on.
  std::vector<HeldTask> held_;                         // In order of their planned ends.
  std::vector<std::string> capabilities_;
  std::optional<std::array<double, 2>> location_;
  double travel_speed_ = 1;
  double default_repair_time_ = 10;
  std::string asset_;
  std::string origin_;
  std::atomic<uint64_t> replay_samples_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> refused_{0};
  std::unique_ptr<ReplayReader> replay_;
  std::thread replay_thread_;
  std::thread drain_thread_;
  size_t batch_size_ = 1024;
  std::atomic<bool> replay_done_{false};
  absl::Status drain_error_;  // Guarded by twin_mu_ once the drain thread runs.
  bool shut_down_ = false;
};

// `fleet-agent replay-ledger`: the twin rebuilt from a ledger directory alone, as JSON, with
// the asset kind the ledger records (twin.kind). `kind_file`, if not empty, must be that same
// kind (FailedPrecondition otherwise); it is needed only for ledgers that record none.
// `model_dir`, if not empty, is the failure model the twin was started with, and `models_dir`
// (optional) the agent's adopted models (DATA_DIR/models): predictions are recomputed wherever
// the ledger says one of them was in use (FailedPrecondition if the model the twin uses last is
// neither).
absl::StatusOr<std::string> RebuildTwinJson(const std::filesystem::path& ledger_dir,
                                            const std::filesystem::path& kind_file,
                                            const std::string& asset,
                                            const std::filesystem::path& model_dir = {},
                                            const std::filesystem::path& models_dir = {});

}  // namespace fleettwin::agent

#endif  // FLEETTWIN_AGENT_AGENT_RUNTIME_H_
