// The agent's side of the fleet protocol: a ZeroMQ DEALER (CURVE client) that registers with
// fleet-coordinator, heartbeats a summary of the twin, and registers again whenever the
// coordinator does not know it (e.g. after the coordinator restarted). ZeroMQ reconnects by
// itself; the link only has to speak first. Owns its thread.
#ifndef FLEETTWIN_AGENT_COORDINATOR_LINK_H_
#define FLEETTWIN_AGENT_COORDINATOR_LINK_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "fleettwin/common/clock.h"
#include "fleettwin/common/curve.h"
#include "fleettwin/protocol/messages.h"

namespace fleettwin::agent {

struct CoordinatorLinkOptions {
  std::string endpoint;                       // The coordinator's ROUTER, e.g. "tcp://…:5700".
  std::array<uint8_t, 32> coordinator_key{};  // Its CURVE public key.
  common::CurveKeyPair keys;                  // This agent's CURVE keys.
  std::string asset;                          // The name the agent's key is allowed under.
  std::string kind;
  std::string agent_version = "fleettwin";
  int64_t heartbeat_ms = 1000;
};

// What the agent does when the coordinator negotiates. Each is called on the link's thread;
// an unset one declines to bid, accepts awards, and ignores commits.
struct CoordinatorLinkHandlers {
  std::function<protocol::Heartbeat()> summary;  // Before every heartbeat.
  std::function<protocol::Bid(const protocol::CallForProposals&)> bid;
  std::function<protocol::AwardReply(const protocol::Award&)> award;
  std::function<void(const protocol::Commit&)> commit;
  // Polled with every heartbeat while registered: task reports to send (tasks finished or
  // dropped since the last poll).
  std::function<std::vector<protocol::TaskReport>()> task_reports;
  std::function<void(const protocol::TaskRevoke&)> task_revoke;
  // An operator's maintenance record relayed by the coordinator; unset: refused (Unimplemented).
  std::function<protocol::MaintenanceDoneReply(const protocol::MaintenanceDone&)> maintenance;
};

// Counters; safe to read from any thread.
struct CoordinatorLinkStats {
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> registrations_sent{0};
  std::atomic<uint64_t> welcomes{0};
  std::atomic<uint64_t> refusals{0};
  std::atomic<uint64_t> ignored{0};  // Malformed, not from the coordinator, or replayed.
  std::atomic<uint64_t> calls{0};    // Calls for proposals answered.
  std::atomic<uint64_t> awards{0};
  std::atomic<uint64_t> commits{0};
};

class CoordinatorLink final {
 public:
  // The handlers run on the link's thread; they must be thread-safe with respect to the twin
  // (e.g. read a snapshot). `clock` must outlive the link. Errors: InvalidArgument (bad
  // endpoint or options).
  static absl::StatusOr<std::unique_ptr<CoordinatorLink>> Start(
      const CoordinatorLinkOptions& options, const Clock& clock, CoordinatorLinkHandlers handlers);
  ~CoordinatorLink();  // Stops.
  void Stop();

  // Whether the coordinator has welcomed this session (and not refused it since).
  bool registered() const { return registered_.load(); }
  uint64_t coordinator_session() const { return coordinator_session_.load(); }
  const CoordinatorLinkStats& stats() const;

 private:
  struct Impl;
  explicit CoordinatorLink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> registered_{false};
  std::atomic<uint64_t> coordinator_session_{0};
  friend struct Impl;
};

}  // namespace fleettwin::agent

#endif  // FLEETTWIN_AGENT_COORDINATOR_LINK_H_
