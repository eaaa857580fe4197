#include "fleettwin/coordinator/membership.h"

namespace fleettwin::coordinator {

Membership::Membership(const Clock& clock, const MembershipOptions& options)
    : clock_(clock), options_(options) {}

protocol::Welcome Membership::Register(const std::string& asset, uint64_t session,
                                       const protocol::Register& message,
                                       uint64_t coordinator_session) {
  const int64_t now = clock_.NowUnixNanos();
  Member& m = members_[asset];
  m.asset = asset;
  m.kind = message.kind;
  m.agent_version = message.agent_version;
  m.session = session;
  m.state = MemberState::kActive;
  m.registered_unix_ns = now;
  m.last_seen_unix_ns = now;
  ++m.registrations;
  return {coordinator_session, static_cast<uint32_t>(options_.heartbeat_timeout_ms)};
}

absl::Status Membership::Heartbeat(const std::string& asset, const protocol::Heartbeat& message) {
  auto it = members_.find(asset);
  if (it == members_.end()) return absl::FailedPreconditionError("register first");
  Member& m = it->second;
  m.last = message;
  m.has_heartbeat = true;
  ++m.heartbeats;
  m.last_seen_unix_ns = clock_.NowUnixNanos();
  m.state = MemberState::kActive;
  return absl::OkStatus();
}

void Membership::Seen(const std::string& asset) {
  auto it = members_.find(asset);
  if (it == members_.end()) return;
  it->second.last_seen_unix_ns = clock_.NowUnixNanos();
  it->second.state = MemberState::kActive;
}

std::vector<std::string> Membership::Sweep() {
  const int64_t now = clock_.NowUnixNanos();
  const int64_t timeout = options_.heartbeat_timeout_ms * 1'000'000;
  std::vector<std::string> lost;
  for (auto& [asset, m] : members_) {
    if (m.state == MemberState::kActive && now - m.last_seen_unix_ns > timeout) {
      m.state = MemberState::kLost;
      ++m.times_lost;
      lost.push_back(asset);
    }
  }
  return lost;
}

const Member* Membership::Find(const std::string& asset) const {
  auto it = members_.find(asset);
  return it == members_.end() ? nullptr : &it->second;
}

size_t Membership::active() const {
  size_t n = 0;
  for (const auto& [asset, m] : members_) n += m.state == MemberState::kActive ? 1 : 0;
  return n;
}

}  // namespace fleettwin::coordinator
