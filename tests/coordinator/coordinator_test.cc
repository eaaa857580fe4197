// The coordinator's loop with real ZeroMQ sockets and CURVE on loopback: agents' links
// register and heartbeat; unknown keys, impersonation, malformed and replayed messages are
// refused and counted; a restarted coordinator gets its agents back.
#include "fleettwin/coordinator/coordinator.h"

#include <zmq.hpp>

#include "fleettwin/agent/coordinator_link.h"
#include "fleettwin/protocol/curve_zmq.h"
#include "gtest/gtest.h"
#include "testing/wait.h"

namespace fleettwin::coordinator {
namespace {

using testing::WaitFor;

struct Agent {
  std::string name;
  common::CurveKeyPair keys;
};

class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_keys_ = common::GenerateCurveKeyPair();
    for (int i = 1; i <= 3; ++i) {
      agents_.push_back({"engine-" + std::to_string(i), common::GenerateCurveKeyPair()});
    }
  }

  CoordinatorOptions Options(std::string endpoint = "tcp://127.0.0.1:*") const {
    CoordinatorOptions o;
    o.endpoint = std::move(endpoint);
    o.keys = server_keys_;
    for (const Agent& a : agents_) o.allowed_agents.push_back({a.name, a.keys.public_key});
    o.membership.heartbeat_timeout_ms = 2000;
    o.sweep_interval_ms = 50;
    return o;
  }

  std::unique_ptr<agent::CoordinatorLink> Link(const std::string& endpoint, const Agent& a,
                                               std::string asset = "") const {
    agent::CoordinatorLinkOptions o;
    o.endpoint = endpoint;
    o.coordinator_key = server_keys_.public_key;
    o.keys = a.keys;
    o.asset = asset.empty() ? a.name : asset;
    o.kind = "cmapss-turbofan";
    o.heartbeat_ms = 20;
    const std::string name = o.asset;
    agent::CoordinatorLinkHandlers handlers = handlers_;
    handlers.summary = [name] {
      protocol::Heartbeat h;
      h.health = "ok";
      h.has_rul = true;
      h.rul = static_cast<double>(name.size());
      return h;
    };
    auto link = agent::CoordinatorLink::Start(o, system_clock_, std::move(handlers));
    EXPECT_TRUE(link.ok()) << link.status();
    return link.ok() ? *std::move(link) : nullptr;
  }

  static const Member* FindIn(const std::vector<Member>& members, const std::string& asset) {
    for (const Member& m : members) {
      if (m.asset == asset) return &m;
    }
    return nullptr;
  }

  static bool HasHeartbeat(const Coordinator& c, const std::string& asset) {
    const std::vector<Member> members = c.Members();
    const Member* m = FindIn(members, asset);
    return m != nullptr && m->heartbeats > 0 && m->state == MemberState::kActive;
  }

  SystemClock system_clock_;
  agent::CoordinatorLinkHandlers handlers_;  // Bid, award and commit handlers for new links.
  common::CurveKeyPair server_keys_;
  std::vector<Agent> agents_;
};

TEST_F(CoordinatorTest, AgentsRegisterAndHeartbeatTheirTwinSummary) {
  auto coordinator = Coordinator::Start(Options(), system_clock_);
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();
  std::vector<std::unique_ptr<agent::CoordinatorLink>> links;
  for (const Agent& a : agents_) links.push_back(Link((*coordinator)->endpoint(), a));
  for (const Agent& a : agents_) {
    ASSERT_TRUE(WaitFor([&] { return HasHeartbeat(**coordinator, a.name); })) << a.name;
  }
  for (const auto& link : links) {
    EXPECT_TRUE(link->registered());
    EXPECT_EQ(link->coordinator_session(), (*coordinator)->session());
  }
  const std::vector<Member> members = (*coordinator)->Members();
  ASSERT_EQ(members.size(), 3u);
  EXPECT_EQ(members[0].kind, "cmapss-turbofan");
  EXPECT_TRUE(members[0].last.has_rul);
  EXPECT_EQ(members[0].last.rul, 8);  // The summary the link's callback gave.
  EXPECT_EQ((*coordinator)->stats().malformed.load(), 0u);
  EXPECT_EQ((*coordinator)->stats().impersonated.load(), 0u);
  EXPECT_EQ((*coordinator)->unauthenticated(), 0u);
}

TEST_F(CoordinatorTest, AnUnknownKeyIsRefusedAndCounted) {
  auto coordinator = Coordinator::Start(Options(), system_clock_);
  ASSERT_TRUE(coordinator.ok());
  const Agent stranger{"engine-9", common::GenerateCurveKeyPair()};
  auto link = Link((*coordinator)->endpoint(), stranger);
  ASSERT_TRUE(WaitFor([&] { return (*coordinator)->unauthenticated() > 0; }));
  auto known = Link((*coordinator)->endpoint(), agents_[0]);
  ASSERT_TRUE(WaitFor([&] { return HasHeartbeat(**coordinator, agents_[0].name); }));
  EXPECT_FALSE(link->registered());
  EXPECT_EQ(FindIn((*coordinator)->Members(), "engine-9"), nullptr);
  EXPECT_EQ((*coordinator)->stats().received.load(),
            (*coordinator)->stats().registrations.load() +
                (*coordinator)->stats().heartbeats.load());  // Nothing of the stranger's.
}

TEST_F(CoordinatorTest, AnAgentCannotSpeakForAnotherAsset) {
  auto coordinator = Coordinator::Start(Options(), system_clock_);
  ASSERT_TRUE(coordinator.ok());
  // engine-1's key, claiming to be engine-2.
  auto link = Link((*coordinator)->endpoint(), agents_[0], "engine-2");
  ASSERT_TRUE(WaitFor([&] { return (*coordinator)->stats().impersonated.load() >= 3; }));
  EXPECT_FALSE(link->registered());
  EXPECT_TRUE((*coordinator)->Members().empty());
}

// A hand-driven DEALER with an allowed key, to send exactly chosen bytes.
class RawPeer {
 public:
  RawPeer(const std::string& endpoint, const common::CurveKeyPair& keys,
          const std::array<uint8_t, 32>& server)
      : socket_(context_, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    EXPECT_TRUE(protocol::MakeCurveClient(socket_, keys, server).ok());
    socket_.connect(endpoint);
  }
  void Send(std::string_view bytes) { socket_.send(zmq::buffer(bytes), zmq::send_flags::none); }
  void SendParts(std::string_view a, std::string_view b) {
    socket_.send(zmq::buffer(a), zmq::send_flags::sndmore);
    socket_.send(zmq::buffer(b), zmq::send_flags::none);
  }
  std::optional<protocol::Envelope> Receive() {
    zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::seconds(30)) == 0) return std::nullopt;
    zmq::message_t m;
    if (!socket_.recv(m)) return std::nullopt;
    absl::StatusOr<protocol::Envelope> e = protocol::Decode(m.to_string_view());
    if (!e.ok()) return std::nullopt;
    return *e;
  }

 private:
  zmq::context_t context_{1};
  zmq::socket_t socket_;
};

TEST_F(CoordinatorTest, MalformedAndReplayedMessagesAreIgnoredAndCounted) {
  auto coordinator = Coordinator::Start(Options(), system_clock_);
  ASSERT_TRUE(coordinator.ok());
  const CoordinatorStats& stats = (*coordinator)->stats();
  RawPeer peer((*coordinator)->endpoint(), agents_[1].keys, server_keys_.public_key);
  const std::string name = agents_[1].name;
  peer.Send("not a message");
  peer.Send(std::string(64, '\0'));
  peer.SendParts(protocol::Encode({5, 1, name, 0, protocol::Register{}}), "extra frame");
  ASSERT_TRUE(WaitFor([&] { return stats.malformed.load() == 3; }));
  // Register, then the same heartbeat three times and an older one: one heartbeat counts.
  peer.Send(protocol::Encode({5, 1, name, 0, protocol::Register{"k", "v", 20}}));
  std::optional<protocol::Envelope> welcome = peer.Receive();
  ASSERT_TRUE(welcome.has_value());
  ASSERT_TRUE(std::holds_alternative<protocol::Welcome>(welcome->body));
  const std::string beat = protocol::Encode({5, 3, name, 0, protocol::Heartbeat{1, "ok"}});
  peer.Send(beat);
  peer.Send(beat);
  peer.Send(beat);
  peer.Send(protocol::Encode({5, 2, name, 0, protocol::Heartbeat{1, "ok"}}));
  peer.Send(protocol::Encode({4, 9, name, 0, protocol::Register{}}));  // An older session.
  ASSERT_TRUE(WaitFor([&] { return stats.replayed.load() == 4; }));
  EXPECT_EQ(stats.heartbeats.load(), 1u);
  EXPECT_EQ(stats.registrations.load(), 1u);
  // A body the coordinator does not take is counted, not answered.
  peer.Send(protocol::Encode({5, 4, name, 0, protocol::Welcome{1, 1}}));
  ASSERT_TRUE(WaitFor([&] { return stats.unexpected.load() == 1; }));
  // The membership saw exactly the one accepted heartbeat.
  const std::vector<Member> members = (*coordinator)->Members();
  const Member* m = FindIn(members, name);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->heartbeats, 1u);
}

TEST_F(CoordinatorTest, ARestartedCoordinatorGetsItsAgentsBackAndSilentAgentsAreLost) {
  auto first = Coordinator::Start(Options(), system_clock_);
  ASSERT_TRUE(first.ok());
  const std::string endpoint = (*first)->endpoint();
  std::vector<std::unique_ptr<agent::CoordinatorLink>> links;
  for (const Agent& a : agents_) links.push_back(Link(endpoint, a));
  for (const Agent& a : agents_) {
    ASSERT_TRUE(WaitFor([&] { return HasHeartbeat(**first, a.name); }));
  }
  const uint64_t first_session = (*first)->session();
  first->reset();  // The coordinator goes away; the agents keep trying.

  // The new coordinator (same endpoint, same keys) knows nobody: heartbeats are refused with
  // "register first", and every link registers again on its own.
  FakeClock clock(system_clock_.NowUnixNanos());
  auto second = Coordinator::Start(Options(endpoint), clock);
  ASSERT_TRUE(second.ok()) << second.status();
  for (const Agent& a : agents_) {
    ASSERT_TRUE(WaitFor([&] { return HasHeartbeat(**second, a.name); })) << a.name;
  }
  for (const auto& link : links) {
    ASSERT_TRUE(WaitFor([&] { return link->coordinator_session() == (*second)->session(); }));
    EXPECT_NE(link->coordinator_session(), first_session);
    EXPECT_GE(link->stats().registrations_sent.load(), 2u);
  }

  // engine-3's agent stops; after the heartbeat timeout (on the coordinator's clock) it is lost
  // while the others keep beating.
  links[2].reset();
  // Time moves on the coordinator's clock while we wait, so a heartbeat of engine-3's that was
  // still in flight when its link stopped ages out too.
  ASSERT_TRUE(WaitFor([&] {
    clock.Advance(int64_t{5} * 1'000'000'000);
    const std::vector<Member> m = (*second)->Members();
    return FindIn(m, "engine-3")->state == MemberState::kLost;
  }));
  for (const char* live : {"engine-1", "engine-2"}) {
    ASSERT_TRUE(WaitFor([&] {
      const std::vector<Member> m = (*second)->Members();
      return FindIn(m, live)->state == MemberState::kActive;
    }));
  }
  EXPECT_GE((*second)->stats().lost.load(), 1u);
}

TEST_F(CoordinatorTest, AContractNetRoundCommitsAPlanWithoutTheSilentAndTheRefusing) {
  agents_.push_back({"engine-4", common::GenerateCurveKeyPair()});
  auto coordinator = Coordinator::Start(Options(), system_clock_);
  ASSERT_TRUE(coordinator.ok());
  std::atomic<int> commits{0};
  // Every agent bids: the earlier its number, the more it saves by an early slot.
  handlers_.bid = [](const protocol::CallForProposals& call) {
    protocol::Bid bid;
    const size_t slots = call.maintenance.horizon / call.maintenance.duration;
    for (size_t k = 0; k < slots; ++k) bid.maintenance.slot_cost.push_back(20 + 10.0 * k);
    bid.maintenance.none_cost = 100;
    return bid;
  };
  handlers_.commit = [&commits](const protocol::Commit&) { ++commits; };
  std::vector<std::unique_ptr<agent::CoordinatorLink>> links;
  for (size_t i = 0; i < agents_.size(); ++i) {
    if (i == 2) {  // engine-3 refuses whatever it is awarded.
      agent::CoordinatorLinkHandlers saved = handlers_;
      handlers_.award = [](const protocol::Award&) {
        protocol::AwardReply r;
        r.accept = false;
        r.reason = "crew unavailable";
        return r;
      };
      links.push_back(Link((*coordinator)->endpoint(), agents_[i]));
      handlers_ = saved;
    } else {
      links.push_back(Link((*coordinator)->endpoint(), agents_[i]));
    }
  }
  for (const Agent& a : agents_) {
    ASSERT_TRUE(WaitFor([&] { return HasHeartbeat(**coordinator, a.name); }));
  }
  // engine-4's agent dies just before the call: still a member, but it cannot bid.
  links[3].reset();
  const protocol::MaintenanceCall call{20, 5, 1, 100, 20, 0.5};
  absl::StatusOr<PlanRecord> record =
      (*coordinator)
          ->NegotiateMaintenance("plan-1", call, {.bid_window_ms = 3000, .reply_timeout_ms = 5000});
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->left_out, (std::vector<LeftOut>{{"engine-3", "refused: crew unavailable"},
                                                    {"engine-4", "no bid before the deadline"}}));
  ASSERT_EQ(record->bids.size(), 2u);
  ASSERT_EQ(record->plan.assignments.size(), 2u);
  EXPECT_EQ(record->plan.maintained, 2);  // One crew, 4 slots: both remaining get a slot.
  // Anyone can re-solve the ledgered bids and get the identical plan.
  absl::StatusOr<plan::MaintenancePlan> replay = plan::SolveMaintenance({20, 5, 1}, record->bids);
  ASSERT_TRUE(replay.ok());
  for (size_t i = 0; i < replay->assignments.size(); ++i) {
    EXPECT_EQ(replay->assignments[i].slot, record->plan.assignments[i].slot);
    EXPECT_EQ(replay->assignments[i].crew, record->plan.assignments[i].crew);
  }
  ASSERT_TRUE(WaitFor([&] { return commits.load() == 2; }));
  EXPECT_EQ((*coordinator)->Plans().size(), 1u);
  EXPECT_EQ((*coordinator)->NegotiateMaintenance("plan-1", call, {}).status().code(),
            absl::StatusCode::kInvalidArgument);  // Ids are not reused.
  EXPECT_EQ((*coordinator)->NegotiateMaintenance("plan-2", {0, 5, 1}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fleettwin::coordinator
