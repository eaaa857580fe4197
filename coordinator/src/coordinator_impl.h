// The coordinator's private state and loop, shared by coordinator.cc (the fleet protocol,
// negotiations, the ledger) and control.cc (the operators' control socket).
#ifndef FLEETTWIN_COORDINATOR_SRC_COORDINATOR_IMPL_H_
#define FLEETTWIN_COORDINATOR_SRC_COORDINATOR_IMPL_H_

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "fleettwin/coordinator/coordinator.h"
#include "fleettwin/coordinator/federated_host.h"
#include "fleettwin/coordinator/task_auction.h"
#include "fleettwin/ledger/ledger.h"
#include "fleettwin/protocol/curve_zmq.h"
#include "fleettwin/protocol/messages.h"

namespace fleettwin::coordinator {

struct Coordinator::Impl {
  Impl(const CoordinatorOptions& o, const Clock& c)
      : options(o), clock(c), membership(c, o.membership) {}

  void Run();
  void Handle(const zmq::message_t& routing_id, const zmq::message_t& payload);
  void Send(const zmq::message_t& routing_id, protocol::Body body);
  void SendTo(const std::string& asset, protocol::Body body);
  void SendAll(std::vector<Outgoing> out);
  // Sends what the negotiation returned; when it just committed, ledgers the plan first and
  // tells every agent where (Commit.fleet_ledger_index).
  void Dispatch(std::vector<Outgoing> out);
  void Anchor(const std::string& asset, const std::string& checkpoint);
  void FlushAnchors();
  void StartPending();
  void FinishIfCommitted();

  struct Request {
    std::string id;
    protocol::MaintenanceCall call;
    NegotiationOptions options;
    // Re-planning: once this plan commits, plan `replaces` is cancelled (replaced_by this one)
    // before `done` runs; the outcome is left in `replaced` for whoever asked.
    std::string replaces;
    std::shared_ptr<absl::Status> replaced = std::make_shared<absl::Status>();
    // Set when the negotiation's plan would replace `replaces` but leaves out an agent it
    // maintains: the plan is not committed (ledgered as plan.abandon), `replaces` stands whole.
    std::optional<absl::Status> abandoned;
    std::function<void(absl::StatusOr<PlanRecord>)> done;  // Called on the loop's thread.
  };
  void HandleControl(const zmq::message_t& routing_id, const zmq::message_t& payload);
  void ReplyControl(const std::string& routing_id, const std::string& json);
  absl::Status Enqueue(std::unique_ptr<Request> request);
  // Cancels plan `id`: ledgers plan.cancel (with `replaced_by` when a newer plan replaces it)
  // and tells each of its agents, except those in `keep` (a replacing plan already told them
  // their new start). NotFound, FailedPrecondition when already cancelled, ledger errors.
  absl::StatusOr<PlanRecord> CancelPlan(const std::string& id, const std::string& reason,
                                        const std::string& replaced_by,
                                        const std::set<std::string>& keep);

  CoordinatorOptions options;
  const Clock& clock;
  uint64_t session = 0;
  uint64_t next_message_id = 1;
  // Two I/O threads: CURVE handshakes and decryption run there, not in the loop.
  zmq::context_t context{2};
  std::unique_ptr<protocol::ZapAuthenticator> zap;
  std::unique_ptr<zmq::socket_t> router;
  std::unique_ptr<zmq::socket_t> control;  // Null without a control endpoint.
  std::thread thread;
  std::atomic<bool> stop{false};
  // When the loop last turned (steady clock, ns): /healthz fails when it stops turning.
  std::atomic<int64_t> loop_turned_ns{0};
  std::atomic<uint64_t> refused_after_stop{0};
  CoordinatorStats stats;
  protocol::ReplayGuard replay;
  mutable std::mutex mutex;
  Membership membership;          // GUARDED_BY(mutex) for readers; written by the loop only.
  std::vector<PlanRecord> plans;  // GUARDED_BY(mutex).
  std::vector<std::unique_ptr<Request>> requests;       // GUARDED_BY(mutex): waiting to start.
  std::unordered_map<std::string, std::string> routes;  // Asset -> ROUTER routing id.
  std::unique_ptr<Request> running_request;             // Loop only.
  bool negotiation_running = false;                   // GUARDED_BY(mutex): requested, not returned.
  std::optional<MaintenanceNegotiation> negotiation;  // Loop only.
  std::unique_ptr<ledger::Ledger> ledger;             // Null without a data_dir.
  std::unique_ptr<FederatedHost> fl;                  // Null without fl_address.
  // Control replies produced off the loop (federated rounds), sent by the loop.
  std::mutex posted_mutex;
  std::vector<std::pair<std::string, std::string>> posted;  // GUARDED_BY(posted_mutex).
  void PostControlReply(const std::string& peer, std::string json);
  struct Anchored {
    std::string checkpoint;
    int64_t at_ns = 0;
  };
  std::unordered_map<std::string, Anchored> anchored;  // Loop only.

  // Task allocation (tasks.cc): every submitted task and its fate; one auction at a time.
  struct TaskState {
    protocol::TaskCall call;
    NegotiationOptions options;
    uint64_t order = 0;             // Submission order.
    std::string status = "queued";  // queued | auctioning | assigned | done | unassigned.
    std::string winner;             // While assigned or done.
    std::string auction;            // The latest auction's id.
    int attempts = 0;
    double cost = 0;                          // The winner's bid.
    std::set<std::string> excluded;           // Winners that were lost or dropped it.
    std::vector<std::string> history;         // What happened, oldest first.
    std::vector<TaskAuctionRecord> auctions;  // Every auction's outcome.
  };
  std::map<std::string, TaskState> tasks;  // GUARDED_BY(mutex).
  // Winner -> the ids of the tasks assigned to it, so a heartbeat costs its own tasks only.
  std::map<std::string, std::set<std::string>> assigned_to;  // GUARDED_BY(mutex).
  // Takes task `id` out of its winner's entry in assigned_to. REQUIRES(mutex).
  void Unassign(const std::string& id, TaskState& t);
  // Task `id`, held by `asset`, goes back to auction without it: unassigned, queued, `asset`
  // excluded, history "AUCTION: ASSET WHY". REQUIRES(mutex). Follow it, outside the lock, with
  // Reauction(id, auction, asset, why).
  void TakeBack(const std::string& id, TaskState& t, const std::string& asset,
                const std::string& why);
  // Counts, ledgers (task.reauction) and queues a task taken back. Loop only, without mutex.
  void Reauction(const std::string& id, const std::string& auction, const std::string& asset,
                 const std::string& why);
  std::deque<std::string> task_queue;  // Loop only: waiting for an auction.
  std::optional<TaskAuction> auction;  // Loop only.
  // Control peers waiting for a task's first auction to end: task id -> reply.
  std::map<std::string, std::function<void(const std::string&)>> task_waiters;  // Loop only.
  absl::Status SubmitTask(const protocol::TaskCall& call, const NegotiationOptions& options,
                          std::function<void(const std::string&)> done);
  void StartPendingTask();
  void FinishTaskIfDone();
  void OnTaskReport(const std::string& asset, const protocol::TaskReport& report);
  // A heartbeat's list of held auctions against the task table: a task assigned to the agent
  // that it no longer holds (it restarted) is auctioned again; an auction it holds that is not
  // its current assignment (taken from it meanwhile) is revoked.
  void ReconcileTasks(const std::string& asset, const std::vector<std::string>& held);
  // A winner was lost (missed heartbeats): its assigned tasks go back to auction without it.
  void ReauctionTasksOf(const std::string& asset, const std::string& reason);
  void LedgerTask(const std::string& kind, const std::string& asset, const nlohmann::json& body);
  // Rebuilds `tasks` from the ledger's task.* entries (Start, after a restart).
  absl::Status LoadTask(const ledger::Entry& entry);
  // The control socket's view of one task.
  static nlohmann::json TaskStateJson(const std::string& id, const TaskState& t);
  std::vector<ledger::NewEntry> pending_anchors;  // Loop only.
  // Operators' maintenance records on their way to an agent (control maintenance.record):
  // request id -> who asked, which agent must answer, and by when.
  struct MaintenanceRelay {
    std::string peer;
    std::string asset;
    int64_t deadline_ns = 0;
    int64_t timeout_ms = 0;
    std::string id;  // The record's, if the operator named it.
  };
  std::map<uint64_t, MaintenanceRelay> maintenance_relays;  // Loop only.
  // Loop only; starts at `session` (Start), so a late reply to a previous run's request never
  // matches one of this run.
  uint64_t next_maintenance_request = 1;
  void OnMaintenanceDone(const std::string& asset, const protocol::MaintenanceDoneReply& reply);
  // The control socket's error answer.
  static std::string ErrorJsonOf(const absl::Status& s);
  // Answers, with DeadlineExceeded, the operators whose agent did not answer in time.
  void ExpireMaintenanceRelays(int64_t now_ns);
  // After a restart with work to resume (a negotiation the ledger shows started but not
  // committed, tasks waiting for auction), nothing starts before this time: one heartbeat
  // timeout, so the agents have registered again before they are invited.
  int64_t resume_not_before_ns = 0;
};

}  // namespace fleettwin::coordinator

#endif  // FLEETTWIN_COORDINATOR_SRC_COORDINATOR_IMPL_H_
