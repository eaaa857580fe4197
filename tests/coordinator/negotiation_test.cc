#include "fleettwin/coordinator/negotiation.h"

#include "gtest/gtest.h"

namespace fleettwin::coordinator {
namespace {

constexpr int64_t kMs = 1'000'000;
const protocol::MaintenanceCall kCall{20, 5, 1, 100, 20, 0.5};  // 4 slots, one crew.

protocol::Bid MakeBid(const std::string& id, std::vector<double> slots, double none) {
  protocol::Bid b;
  b.negotiation = id;
  b.maintenance.slot_cost = std::move(slots);
  b.maintenance.none_cost = none;
  return b;
}

template <typename T>
std::vector<std::pair<std::string, T>> Of(const std::vector<Outgoing>& out) {
  std::vector<std::pair<std::string, T>> r;
  for (const Outgoing& o : out) {
    if (const T* t = std::get_if<T>(&o.body)) r.emplace_back(o.asset, *t);
  }
  return r;
}

std::vector<Outgoing> AcceptAll(MaintenanceNegotiation& n, const std::vector<Outgoing>& awards,
                                int64_t now) {
  std::vector<Outgoing> last;
  for (const auto& [asset, award] : Of<protocol::Award>(awards)) {
    last = n.OnReply(asset, {award.negotiation, award.plan_hash, true, ""}, now);
  }
  return last;
}

TEST(NegotiationTest, EveryoneBidsAndAcceptsTheOptimalPlanIsCommitted) {
  MaintenanceNegotiation n("n-1", kCall, {"a", "b", "c"}, 0, {});
  const std::vector<Outgoing> cfps = n.Begin();
  ASSERT_EQ(Of<protocol::CallForProposals>(cfps).size(), 3u);
  EXPECT_EQ(Of<protocol::CallForProposals>(cfps)[0].second.deadline_unix_ms, 2000);
  EXPECT_TRUE(n.OnBid("a", MakeBid("n-1", {30, 40, 50, 60}, 100), kMs).empty());
  EXPECT_TRUE(n.OnBid("b", MakeBid("n-1", {20, 25, 90, 95}, 100), kMs).empty());
  const std::vector<Outgoing> awards = n.OnBid("c", MakeBid("n-1", {10, 10, 10, 10}, 5), kMs);
  ASSERT_EQ(Of<protocol::Award>(awards).size(), 3u);  // Everyone, "none" included.
  const std::vector<Outgoing> commits = AcceptAll(n, awards, 2 * kMs);
  ASSERT_TRUE(n.committed());
  ASSERT_EQ(Of<protocol::Commit>(commits).size(), 3u);
  const PlanRecord& r = n.record();
  EXPECT_EQ(r.rounds, 1);
  EXPECT_TRUE(r.left_out.empty());
  // One crew: a and b cannot share slot 0; a at 0 (30) and b at 1 (25) beat b at 0 (20) and a
  // at 1 (40); c stays unmaintained (5).
  ASSERT_EQ(r.plan.assignments.size(), 3u);
  EXPECT_EQ(r.plan.assignments[0].slot, 0);
  EXPECT_EQ(r.plan.assignments[1].slot, 1);
  EXPECT_EQ(r.plan.assignments[2].slot, -1);
  EXPECT_EQ(r.plan.cost_milli, 60'000);
  EXPECT_EQ(r.plan_hash.size(), 64u);
  EXPECT_EQ(r.bids_digest, BidsDigest(r.bids));
  EXPECT_EQ(Of<protocol::Commit>(commits)[0].second.plan_hash.size(), 32u);
}

TEST(NegotiationTest, SilentDecliningAndInvalidBiddersAreLeftOutWithTheirReason) {
  MaintenanceNegotiation n("n-2", kCall, {"a", "b", "c", "d", "e"}, 0, {.bid_window_ms = 100});
  n.Begin();
  EXPECT_TRUE(n.OnBid("a", MakeBid("n-2", {30, 40, 50, 60}, 100), kMs).empty());
  protocol::Bid decline;
  decline.negotiation = "n-2";
  decline.declined = true;
  decline.decline_reason = "no RUL estimate";
  EXPECT_TRUE(n.OnBid("b", decline, kMs).empty());
  EXPECT_TRUE(n.OnBid("c", MakeBid("n-2", {1, 2}, 100), kMs).empty());           // 2 of 4 slots.
  EXPECT_TRUE(n.OnBid("d", MakeBid("n-2", {1, 2, 3, -4}, 100), kMs).empty());    // Negative.
  EXPECT_TRUE(n.OnBid("x", MakeBid("n-2", {1, 2, 3, 4}, 100), kMs).empty());     // Not invited.
  EXPECT_TRUE(n.OnBid("a", MakeBid("n-2", {0, 0, 0, 0}, 100), kMs).empty());     // Second bid.
  EXPECT_TRUE(n.OnBid("e", MakeBid("other", {0, 0, 0, 0}, 100), kMs).empty());   // Other id.
  EXPECT_TRUE(n.OnTick(99 * kMs).empty());  // Before the deadline nothing moves.
  const std::vector<Outgoing> awards = n.OnTick(101 * kMs);
  ASSERT_EQ(Of<protocol::Award>(awards).size(), 1u);
  AcceptAll(n, awards, 102 * kMs);
  ASSERT_TRUE(n.committed());
  const std::vector<LeftOut> expected = {{"b", "declined: no RUL estimate"},
                                         {"c", "invalid bid: 2 slot costs for 4 slots"},
                                         {"d", "invalid bid: a cost outside [0, 1e9]"},
                                         {"e", "no bid before the deadline"}};
  EXPECT_EQ(n.record().left_out, expected);
  EXPECT_EQ(n.record().bids.size(), 1u);
  // A bid arriving after the plan is ignored.
  EXPECT_TRUE(n.OnBid("e", MakeBid("n-2", {1, 2, 3, 4}, 100), 200 * kMs).empty());
}

TEST(NegotiationTest, ARefusalFreesTheSlotForTheNextBestAndOnlyChangedAgentsAreAskedAgain) {
  MaintenanceNegotiation n("n-3", kCall, {"a", "b", "c"}, 0, {});
  n.Begin();
  n.OnBid("a", MakeBid("n-3", {10, 90, 90, 90}, 100), kMs);
  n.OnBid("b", MakeBid("n-3", {20, 100, 100, 100}, 100), kMs);
  const std::vector<Outgoing> first =
      n.OnBid("c", MakeBid("n-3", {90, 30, 90, 90}, 100), kMs);
  auto awards = Of<protocol::Award>(first);
  ASSERT_EQ(awards.size(), 3u);
  EXPECT_EQ(awards[0].second.slot, 0);   // a
  EXPECT_EQ(awards[1].second.slot, -1);  // b: the crew is taken at 0
  EXPECT_EQ(awards[2].second.slot, 1);   // c
  // A stale hash is ignored; c accepts; a refuses.
  EXPECT_TRUE(n.OnReply("c", {"n-3", "wrong", true, ""}, 2 * kMs).empty());
  EXPECT_TRUE(n.OnReply("c", {"n-3", awards[2].second.plan_hash, true, ""}, 2 * kMs).empty());
  EXPECT_TRUE(n.OnReply("b", {"n-3", awards[1].second.plan_hash, true, ""}, 2 * kMs).empty());
  const std::vector<Outgoing> second =
      n.OnReply("a", {"n-3", awards[0].second.plan_hash, false, "crew on site elsewhere"}, 3 * kMs);
  // Round 2: b moves to slot 0 and is asked again; c keeps its accepted slot, not asked.
  auto again = Of<protocol::Award>(second);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].first, "b");
  EXPECT_EQ(again[0].second.slot, 0);
  const std::vector<Outgoing> commits =
      n.OnReply("b", {"n-3", again[0].second.plan_hash, true, ""}, 4 * kMs);
  ASSERT_TRUE(n.committed());
  EXPECT_EQ(Of<protocol::Commit>(commits).size(), 2u);
  EXPECT_EQ(n.record().rounds, 2);
  EXPECT_EQ(n.record().left_out,
            (std::vector<LeftOut>{{"a", "refused: crew on site elsewhere"}}));
}

TEST(NegotiationTest, SilenceAfterAnAwardDoesNotStallThePlan) {
  MaintenanceNegotiation n("n-4", kCall, {"a", "b"}, 0, {.reply_timeout_ms = 50});
  n.Begin();
  n.OnBid("a", MakeBid("n-4", {10, 90, 90, 90}, 100), kMs);
  const std::vector<Outgoing> awards = n.OnBid("b", MakeBid("n-4", {20, 30, 90, 90}, 100), kMs);
  const auto a = Of<protocol::Award>(awards);
  n.OnReply("a", {"n-4", a[0].second.plan_hash, true, ""}, 2 * kMs);
  EXPECT_TRUE(n.OnTick(40 * kMs).empty());
  const std::vector<Outgoing> commits = n.OnTick(52 * kMs);  // b never answered.
  ASSERT_TRUE(n.committed());
  EXPECT_EQ(Of<protocol::Commit>(commits).size(), 1u);
  EXPECT_EQ(n.record().left_out, (std::vector<LeftOut>{{"b", "no reply to the award"}}));
}

TEST(NegotiationTest, TheSameAnswersGiveTheSamePlanHash) {
  auto run = [](std::vector<std::string> order) {
    MaintenanceNegotiation n("n-5", kCall, {"a", "b", "c"}, 0, {});
    n.Begin();
    std::vector<Outgoing> awards;
    for (const std::string& asset : order) {
      const double k = asset == "a" ? 1 : asset == "b" ? 2 : 3;
      awards = n.OnBid(asset, MakeBid("n-5", {10 * k, 20, 30, 40 / k}, 60), kMs);
    }
    AcceptAll(n, awards, 2 * kMs);
    return n.record().plan_hash;
  };
  EXPECT_EQ(run({"a", "b", "c"}), run({"c", "a", "b"}));
}

TEST(NegotiationTest, AnEmptyFleetCommitsAnEmptyPlan) {
  MaintenanceNegotiation n("n-6", kCall, {}, 0, {});
  EXPECT_TRUE(n.Begin().empty());
  EXPECT_TRUE(n.committed());
  EXPECT_TRUE(n.record().plan.assignments.empty());
}

}  // namespace
}  // namespace fleettwin::coordinator
