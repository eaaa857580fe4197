#include "fleettwin/coordinator/membership.h"

#include "gtest/gtest.h"

namespace fleettwin::coordinator {
namespace {

constexpr int64_t kMs = 1'000'000;

TEST(MembershipTest, RegisterHeartbeatLoseAndRejoin) {
  FakeClock clock(1'000 * kMs);
  Membership m(clock, {.heartbeat_timeout_ms = 3000});
  const protocol::Welcome w = m.Register("engine-1", 5, {"cmapss-turbofan", "v", 1000}, 99);
  EXPECT_EQ(w.coordinator_session, 99u);
  EXPECT_EQ(w.heartbeat_timeout_ms, 3000u);
  EXPECT_EQ(m.Heartbeat("engine-2", {}).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(m.Heartbeat("engine-1", {7, "alarm", true, 12, 3}).ok());
  const Member* e1 = m.Find("engine-1");
  ASSERT_NE(e1, nullptr);
  EXPECT_EQ(e1->kind, "cmapss-turbofan");
  EXPECT_EQ(e1->last.health, "alarm");
  EXPECT_EQ(e1->last.rul, 12);
  EXPECT_EQ(e1->heartbeats, 1u);
  EXPECT_EQ(m.active(), 1u);

  clock.Advance(3000 * kMs);  // Exactly the timeout: still active.
  EXPECT_TRUE(m.Sweep().empty());
  clock.Advance(1 * kMs);
  EXPECT_EQ(m.Sweep(), std::vector<std::string>{"engine-1"});
  EXPECT_EQ(e1->state, MemberState::kLost);
  EXPECT_TRUE(m.Sweep().empty());  // Lost once, counted once.
  EXPECT_EQ(e1->times_lost, 1u);
  EXPECT_EQ(m.active(), 0u);

  // A heartbeat (the agent was only cut off) or a new registration (it restarted) revives it.
  ASSERT_TRUE(m.Heartbeat("engine-1", {8, "ok"}).ok());
  EXPECT_EQ(e1->state, MemberState::kActive);
  clock.Advance(5000 * kMs);
  EXPECT_EQ(m.Sweep().size(), 1u);
  m.Register("engine-1", 6, {"cmapss-turbofan", "v", 1000}, 99);
  EXPECT_EQ(e1->state, MemberState::kActive);
  EXPECT_EQ(e1->session, 6u);
  EXPECT_EQ(e1->registrations, 2u);
  EXPECT_EQ(e1->times_lost, 2u);
}

}  // namespace
}  // namespace fleettwin::coordinator
