#include "fleettwin/protocol/messages.h"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cmath>

#include "gtest/gtest.h"
#include "proto/fleet.capnp.h"

namespace fleettwin::protocol {
namespace {

Envelope Make(Body body, uint64_t id = 1, uint64_t session = 10, std::string sender = "engine-1") {
  return Envelope{session, id, std::move(sender), 1700000000000, std::move(body)};
}

TEST(MessagesTest, EveryBodyRoundTrips) {
  const std::vector<Body> bodies = {
      Register{"cmapss-turbofan", "fleettwin 0.1", 1000},
      Welcome{77, 10000},
      Heartbeat{42, "warning", true, 37.5, 9.25, 0.31, true, false, "abc", "note\n— key sig\n"},
      Refused{9, "register first"},
      CallForProposals{"plan-1", 1700000001000, {150, 5, 2, 100, 20, 0.5}},
      Bid{"plan-1", false, "", {{1.5, 2.5, 3.5}, 99, 40, 8, 2000, "v1"}},
      Bid{"plan-1", true, "no RUL estimate", {}},
      Award{"plan-1", std::string(32, '\x07'), 3, 15, 1},
      AwardReply{"plan-1", std::string(32, '\x07'), false, "busy"},
      Commit{"plan-1", std::string(32, '\x08'), 3, 15, 1, 1234},
      CallForProposals{
          "task-7#1", 1700000001000, {}, true, {"task-7", 12.5, "weld", true, 3.25, -4, 80, 500}},
      Bid{"task-7#1", false, "", {}, true, {61.5, 41.25, 0.04, 1000}},
      Award{"task-7#1", "", -1, -1, -1, "task-7"},
      TaskReport{"task-7", "task-7#1", false, "health alarm"},
      TaskRevoke{"task-7", "task-7#1", "auctioned again"},
      Heartbeat{7, "ok", false, 0, 0, 0, false, false, "", "", {"task-7#2", "weld-1#1"}},
      MaintenanceDone{12, true, -100.5, "new when commissioned", "operator:alice", true},
      MaintenanceDone{13, false, 0, "borescope", "ops", false, "r-0123456789abcdef"},
      MaintenanceDoneReply{12, true, 341, 0, ""},
      MaintenanceDoneReply{13, false, 0, 3, "maintenance time 9 is after the latest sample"},
  };
  std::set<std::string_view> names;
  for (const Body& body : bodies) {
    const Envelope e = Make(body);
    absl::StatusOr<Envelope> back = Decode(Encode(e));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, e) << BodyName(body);
    names.insert(BodyName(body));
  }
  EXPECT_EQ(names.size(), 13u);  // Every type, each with its own name.
}

std::string Raw(const std::function<void(proto::Envelope::Builder)>& fill) {
  capnp::MallocMessageBuilder message;
  auto e = message.initRoot<proto::Envelope>();
  e.setVersion(kVersion);
  e.setSession(1);
  e.setMessageId(1);
  e.setSender("engine-1");
  e.initBody().initHeartbeat().setHealth("ok");
  fill(e);
  kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  return std::string(reinterpret_cast<const char*>(words.begin()), words.size() * 8);
}

TEST(MessagesTest, MalformedMessagesAreRefusedWithAReason) {
  EXPECT_TRUE(Decode(Raw([](auto) {})).ok());
  auto refused = [](const std::string& bytes) {
    return Decode(bytes).status().code() == absl::StatusCode::kInvalidArgument;
  };
  EXPECT_TRUE(refused(""));
  EXPECT_TRUE(refused("1234567"));
  EXPECT_TRUE(refused(std::string(64, '\xff')));
  EXPECT_TRUE(refused(Raw([](auto e) { e.setVersion(2); })));
  EXPECT_TRUE(refused(Raw([](auto e) { e.setSender(""); })));
  EXPECT_TRUE(refused(Raw([](auto e) { e.setSender(std::string(129, 'a')); })));
  EXPECT_TRUE(refused(Raw([](auto e) { e.setSession(0); })));
  EXPECT_TRUE(refused(Raw([](auto e) { e.setMessageId(0); })));
  EXPECT_TRUE(refused(Raw([](auto e) { e.getBody().getHeartbeat().setRul(NAN); })));
  EXPECT_TRUE(refused(Raw([](auto e) { e.getBody().getHeartbeat().setPFail(INFINITY); })));
  EXPECT_TRUE(refused(Raw(
      [](auto e) { e.getBody().getHeartbeat().setCheckpoint(std::string((64 << 10) + 1, 'x')); })));
  EXPECT_TRUE(refused(Raw([](auto e) {
    auto costs = e.getBody().initBid().initMaintenance().initSlotCost(3);
    costs.set(1, NAN);
  })));
  EXPECT_TRUE(refused(Raw([](auto e) { e.getBody().initMaintenanceDone().setTime(NAN); })));
  // A truncated message.
  const std::string good = Encode(Make(Heartbeat{1, "ok"}));
  EXPECT_TRUE(refused(good.substr(0, good.size() - 8)));
}

TEST(ReplayGuardTest, DuplicatesReplaysAndOldSessionsAreRejected) {
  ReplayGuard guard;
  EXPECT_TRUE(guard.Accept(Make(Register{}, 1, 10)));
  EXPECT_TRUE(guard.Accept(Make(Heartbeat{}, 2, 10)));
  EXPECT_FALSE(guard.Accept(Make(Heartbeat{}, 2, 10)));  // Duplicate.
  EXPECT_FALSE(guard.Accept(Make(Heartbeat{}, 1, 10)));  // Replay of an older message.
  EXPECT_TRUE(guard.Accept(Make(Heartbeat{}, 5, 10)));   // Gaps are fine (lost messages).
  EXPECT_FALSE(guard.Accept(Make(Heartbeat{}, 9, 11)));  // A new session must register.
  EXPECT_TRUE(guard.Accept(Make(Register{}, 1, 11)));
  EXPECT_FALSE(guard.Accept(Make(Heartbeat{}, 6, 10)));  // The old session is over.
  EXPECT_TRUE(guard.Accept(Make(Heartbeat{}, 2, 11)));
  // Senders are independent; a forgotten one starts afresh.
  EXPECT_TRUE(guard.Accept(Make(Heartbeat{}, 1, 3, "engine-2")));
  guard.Forget("engine-1");
  EXPECT_TRUE(guard.Accept(Make(Heartbeat{}, 1, 10)));
}

}  // namespace
}  // namespace fleettwin::protocol

namespace fleettwin::protocol {
namespace {

TEST(MessagesTest, TextThatIsNotUtf8IsRefusedSoNothingDecodedBreaksJson) {
  Bid bid{"task-1#1", true, std::string("no \xff\xfe way"), {}};
  absl::StatusOr<Envelope> back = Decode(Encode(Make(bid)));
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.status().message().find("decline is not UTF-8"), std::string::npos)
      << back.status();
  bid.decline_reason = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\xa7";  // é € 🔧
  EXPECT_TRUE(Decode(Encode(Make(bid))).ok());
  EXPECT_FALSE(Decode(Encode(Make(TaskReport{"t", "t#1", false, "\xc0\xaf"}))).ok());  // Overlong.
  EXPECT_FALSE(
      Decode(Encode(Make(TaskReport{"t", "t#1", false, "\xed\xa0\x80"}))).ok());   // Surrogate.
  EXPECT_FALSE(Decode(Encode(Make(Heartbeat{}, 1, 10, "engine-\xe2\x82"))).ok());  // Cut short.
}

TEST(MessagesTest, Utf8PrefixCutsBetweenCharacters) {
  EXPECT_TRUE(IsUtf8(""));
  EXPECT_FALSE(IsUtf8("\xf4\x90\x80\x80"));  // Above U+10FFFF.
  EXPECT_FALSE(IsUtf8("\xe0\x80\xaf"));      // Overlong, 3 bytes.
  EXPECT_FALSE(IsUtf8("\xf0\x80\x80\x80"));  // Overlong, 4 bytes.
  EXPECT_FALSE(IsUtf8("\xf5\x80\x80\x80"));  // No such lead byte.
  EXPECT_FALSE(IsUtf8("\x80"));              // A lone continuation byte.
  EXPECT_TRUE(IsUtf8("\xf4\x8f\xbf\xbf"));   // U+10FFFF itself.
  EXPECT_EQ(Utf8Prefix("ab\xe2\x82\xac"
                       "c",
                       4),
            "ab");
  EXPECT_EQ(Utf8Prefix("ab\xe2\x82\xac"
                       "c",
                       5),
            "ab\xe2\x82\xac");
  EXPECT_EQ(Utf8Prefix("abc", 200), "abc");
}

}  // namespace
}  // namespace fleettwin::protocol
