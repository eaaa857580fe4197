// Who is in the fleet: agents register, heartbeat with a summary of their twin, and count as
// lost after a silence longer than the heartbeat timeout; a lost agent that speaks again
// (after a restart of either side) is active again. Pure logic on an injected clock; not
// thread-safe (the coordinator's loop owns it).
#ifndef FLEETTWIN_COORDINATOR_MEMBERSHIP_H_
#define FLEETTWIN_COORDINATOR_MEMBERSHIP_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "fleettwin/common/clock.h"
#include "fleettwin/protocol/messages.h"

namespace fleettwin::coordinator {

struct MembershipOptions {
  int64_t heartbeat_timeout_ms = 10'000;  // Silence after which an agent is lost.
};

enum class MemberState { kActive, kLost };

struct Member {
  std::string asset;
  std::string kind;
  std::string agent_version;
  uint64_t session = 0;         // The agent's session (changes when it restarts).
  MemberState state = MemberState::kActive;
  int64_t registered_unix_ns = 0;  // Of the latest Register.
  int64_t last_seen_unix_ns = 0;
  uint64_t registrations = 0;
  uint64_t heartbeats = 0;
  uint64_t times_lost = 0;
  bool has_heartbeat = false;
  protocol::Heartbeat last;  // The latest heartbeat's twin summary.
};

class Membership final {
 public:
  Membership(const Clock& clock, const MembershipOptions& options);

  // The agent (re)joins with this session; answers what to send back.
  protocol::Welcome Register(const std::string& asset, uint64_t session,
                             const protocol::Register& message, uint64_t coordinator_session);
  // Records a heartbeat. Errors: FailedPrecondition if the agent has not registered (with this
  // coordinator, e.g. after its restart): it should register again.
  absl::Status Heartbeat(const std::string& asset, const protocol::Heartbeat& message);
  // Notes other traffic from a registered agent (it is alive). No-op for unknown agents.
  void Seen(const std::string& asset);
  // Marks active agents silent for longer than the timeout as lost; returns them, by name.
  std::vector<std::string> Sweep();

  const Member* Find(const std::string& asset) const;
  const std::map<std::string, Member>& members() const { return members_; }
  size_t active() const;

 private:
  const Clock& clock_;
  MembershipOptions options_;
  std::map<std::string, Member> members_;  // By asset.
};

}  // namespace fleettwin::coordinator

#endif  // FLEETTWIN_COORDINATOR_MEMBERSHIP_H_
