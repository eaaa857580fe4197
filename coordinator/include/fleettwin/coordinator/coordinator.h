// fleet-coordinator's core: a ZeroMQ ROUTER socket (CURVE server, ZAP allow-list of agent keys)
// and one loop thread that decodes every message, drops what is malformed, impersonated or
// replayed (counted), and keeps the fleet's membership.
#ifndef FLEETTWIN_COORDINATOR_COORDINATOR_H_
#define FLEETTWIN_COORDINATOR_COORDINATOR_H_

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fleettwin/common/clock.h"
#include "fleettwin/common/curve.h"
#include "fleettwin/coordinator/membership.h"
#include "fleettwin/coordinator/negotiation.h"

namespace fleettwin::coordinator {

struct CoordinatorOptions {
  // ROUTER endpoint, e.g. "tcp://127.0.0.1:5700" or "tcp://127.0.0.1:*" (a free port).
  std::string endpoint = "tcp://127.0.0.1:5700";
  common::CurveKeyPair keys;                          // The coordinator's CURVE keys.
  std::vector<common::CurvePublicKey> allowed_agents;  // Key name = the agent's asset id.
  MembershipOptions membership;
  int64_t sweep_interval_ms = 200;  // How often lost agents are looked for.
  int64_t max_message_bytes = 16 << 20;
  // Optional control socket for operators (fleetctl): a CURVE ROUTER admitting only these
  // keys (ZAP domain fleettwin-control). Requests and answers are JSON (docs/protocols.md).
  std::string control_endpoint;
  std::vector<common::CurvePublicKey> operators;
  // Optional state directory: the coordinator's own ledger (data_dir/ledger, signed with
  // data_dir/coordinator.key, created on first start). Every committed plan is an entry
  // ("plan.commit", the plan as JSON), read back on start so plans survive a restart; agents'
  // signed checkpoints from their heartbeats are anchored in it ("agent.checkpoint") when they
  // change, at most every anchor_interval_ms per agent. Empty: plans live in memory only.
  std::filesystem::path data_dir;
  std::string origin = "fleettwin/coordinator";
  // Optional federated rounds (docs/federated.md): the Fleet API (Flower gRPC) address to serve,
  // e.g. "127.0.0.1:9092" (port 0: any free port); the failure model to start from (a model
  // directory; data_dir/fl-model, saved after every round, wins when present); a Flower app
  // bundle for GetFab; TLS certificate and key files. Rounds run when fleetctl asks
  // (rounds.start) and are ledgered as "fl.round".
  std::string fl_address;
  std::filesystem::path fl_model_dir;
  std::filesystem::path fl_fab_file;
  std::filesystem::path fl_tls_cert_file, fl_tls_key_file;
  int64_t anchor_interval_ms = 10'000;
};

// Counters; safe to read from any thread.
struct CoordinatorStats {
  std::atomic<uint64_t> received{0};      // Messages that reached the loop.
  std::atomic<uint64_t> malformed{0};     // Not a decodable version-1 envelope.
  std::atomic<uint64_t> impersonated{0};  // Sender differs from the CURVE key's name.
  std::atomic<uint64_t> replayed{0};      // Duplicates, replays, older sessions.
  std::atomic<uint64_t> unexpected{0};    // A body the coordinator does not take.
  std::atomic<uint64_t> registrations{0};
  std::atomic<uint64_t> heartbeats{0};
  std::atomic<uint64_t> refused_register_first{0};
  std::atomic<uint64_t> lost{0};          // Times an agent was marked lost.
  std::atomic<uint64_t> bids{0};
  std::atomic<uint64_t> replies{0};
  std::atomic<uint64_t> plans{0};         // Negotiations committed.
  std::atomic<uint64_t> anchors{0};        // Agent checkpoints written to the ledger.
  std::atomic<uint64_t> ledger_errors{0};  // Failed appends (plans then stay in memory).
  std::atomic<uint64_t> control_requests{0};
  std::atomic<uint64_t> control_errors{0};  // Malformed or failed control requests.
  std::atomic<uint64_t> task_auctions{0};    // Task auctions finished (assigned or not).
  std::atomic<uint64_t> task_reauctions{0};  // Tasks sent back to auction (winner lost/dropped).
  std::atomic<uint64_t> task_reports{0};     // Task reports received.
  std::atomic<uint64_t> task_revokes{0};     // Revokes sent to agents holding others' tasks.
  std::atomic<uint64_t> resumed_negotiations{0};  // Started again after a restart.
  std::atomic<uint64_t> abandoned_plans{0};  // Re-plans dropped: they left out a maintained agent.
  std::atomic<uint64_t> maintenance_records{0};  // Operators' records an agent confirmed.
  std::atomic<uint64_t> handler_errors{0};  // Exceptions caught around a message's handling.
};

// JSON views, as the control socket answers them.
std::string MembersJson(const std::vector<Member>& members, int64_t now_unix_ns);
std::string PlanRecordJson(const PlanRecord& record);
// The inverse of PlanRecordJson. Errors: InvalidArgument.
absl::StatusOr<PlanRecord> PlanRecordFromJson(std::string_view json);

class Coordinator final {
 public:
  // Starts the ZAP handler, binds and runs the loop. `clock` must outlive the coordinator.
  // Errors: InvalidArgument (bad endpoint or allow-list), Unavailable (address in use).
  static absl::StatusOr<std::unique_ptr<Coordinator>> Start(const CoordinatorOptions& options,
                                                            const Clock& clock);
  ~Coordinator();  // Stops.
  void Stop();
  // False once Stop() began.
  bool running() const;
  // Milliseconds since the loop last turned (it turns every few ms while healthy).
  int64_t loop_idle_ms() const;

  const std::string& endpoint() const { return endpoint_; }
  const std::string& control_endpoint() const { return control_endpoint_; }
  uint64_t session() const { return session_; }
  // The Fleet API port, or 0 without federated rounds.
  int fl_port() const;
  const CoordinatorStats& stats() const;
  // Connections refused by the allow-list (unknown keys, other mechanisms).
  uint64_t unauthenticated() const;

  // A copy of the membership (thread-safe).
  std::vector<Member> Members() const;

  // Negotiates a maintenance plan with every active agent (contract net) and returns it once
  // committed; blocks the caller, never the loop. `id` names the negotiation (unique). Errors:
  // InvalidArgument (a call out of range or an id already used), FailedPrecondition (another
  // negotiation is running), Cancelled (the coordinator stopped).
  absl::StatusOr<PlanRecord> NegotiateMaintenance(const std::string& id,
                                                  const protocol::MaintenanceCall& call,
                                                  const NegotiationOptions& options);
  // The plans committed so far, oldest first (thread-safe copy).
  std::vector<PlanRecord> Plans() const;
  // Entries in the coordinator's ledger (0 without a data_dir).
  uint64_t LedgerSize() const;

 private:
  struct Impl;
  explicit Coordinator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::string endpoint_;
  std::string control_endpoint_;
  uint64_t session_ = 0;
};

}  // namespace fleettwin::coordinator

#endif  // FLEETTWIN_COORDINATOR_COORDINATOR_H_
