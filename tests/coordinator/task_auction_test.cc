#include "fleettwin/coordinator/task_auction.h"

#include "gtest/gtest.h"

namespace fleettwin::coordinator {
namespace {

constexpr int64_t kMs = 1'000'000;

protocol::TaskCall Weld() {
  protocol::TaskCall t;
  t.task_id = "weld-1";
  t.duration = 5;
  t.capability = "weld";
  t.deadline = 40;
  t.late_cost = 100;
  return t;
}

protocol::Bid Offer(const std::string& auction, double cost) {
  protocol::Bid b;
  b.negotiation = auction;
  b.is_task = true;
  b.task = {cost, cost, 0, 100};
  return b;
}

protocol::Bid Decline(const std::string& auction, const std::string& why) {
  protocol::Bid b;
  b.negotiation = auction;
  b.declined = true;
  b.decline_reason = why;
  return b;
}

protocol::AwardReply Reply(const std::string& auction, bool accept, std::string reason = "") {
  return {auction, "", accept, std::move(reason)};
}

// The one award in `out`, to whom.
std::string AwardedTo(const std::vector<Outgoing>& out) {
  if (out.size() != 1) return "";
  const auto* award = std::get_if<protocol::Award>(&out[0].body);
  if (award == nullptr || award->task_id != "weld-1") return "";
  return out[0].asset;
}

TEST(TaskAuctionTest, TheCheapestBidderWinsAndTiesGoToTheSmallerAssetId) {
  TaskAuction a("weld-1#1", 1, Weld(), {"r3", "r1", "r2", "r4"}, 0, {});
  const std::vector<Outgoing> calls = a.Begin();
  ASSERT_EQ(calls.size(), 4u);
  const auto* cfp = std::get_if<protocol::CallForProposals>(&calls[0].body);
  ASSERT_NE(cfp, nullptr);
  EXPECT_TRUE(cfp->is_task);
  EXPECT_EQ(cfp->task, Weld());
  EXPECT_EQ(cfp->negotiation, "weld-1#1");
  EXPECT_TRUE(a.OnBid("r3", Offer("weld-1#1", 20), kMs).empty());
  EXPECT_TRUE(a.OnBid("r1", Offer("weld-1#1", 30), kMs).empty());
  EXPECT_TRUE(a.OnBid("r2", Offer("weld-1#1", 20), kMs).empty());
  EXPECT_TRUE(a.OnBid("r9", Offer("weld-1#1", 1), kMs).empty());  // Not invited: ignored.
  EXPECT_TRUE(a.OnBid("r3", Offer("weld-1#1", 1), kMs).empty());  // A second bid: ignored.
  // The last answer ends the bidding: r2 and r3 tie at 20, r2 is awarded.
  EXPECT_EQ(AwardedTo(a.OnBid("r4", Decline("weld-1#1", "lacks capability 'weld'"), kMs)), "r2");
  EXPECT_TRUE(a.OnReply("r3", Reply("weld-1#1", true), kMs).empty());  // Not awarded: ignored.
  a.OnReply("r2", Reply("weld-1#1", true), 2 * kMs);
  ASSERT_TRUE(a.finished());
  const TaskAuctionRecord& r = a.record();
  EXPECT_EQ(r.winner, "r2");
  EXPECT_EQ(r.cost, 20);
  ASSERT_EQ(r.bids.size(), 3u);
  EXPECT_EQ(r.bids[0].asset, "r2");
  EXPECT_EQ(r.bids[1].asset, "r3");
  EXPECT_EQ(r.bids[2].asset, "r1");
  ASSERT_EQ(r.left_out.size(), 1u);
  EXPECT_EQ(r.left_out[0].reason, "declined: lacks capability 'weld'");
}

TEST(TaskAuctionTest, RefusalsAndSilenceHandTheAwardDownTheRanking) {
  NegotiationOptions options;
  options.bid_window_ms = 100;
  options.reply_timeout_ms = 50;
  TaskAuction a("weld-1#2", 2, Weld(), {"r1", "r2", "r3", "r4"}, 0, options);
  a.Begin();
  a.OnBid("r1", Offer("weld-1#2", 10), kMs);
  a.OnBid("r2", Offer("weld-1#2", 11), kMs);
  a.OnBid("r3", Offer("weld-1#2", -5), kMs);  // Invalid: left out.
  // r4 stays silent: the deadline ends the bidding and r1 is awarded.
  EXPECT_TRUE(a.OnTick(100 * kMs).empty());
  EXPECT_EQ(AwardedTo(a.OnTick(101 * kMs)), "r1");
  EXPECT_EQ(AwardedTo(a.OnReply("r1", Reply("weld-1#2", false, "busy"), 110 * kMs)), "r2");
  EXPECT_TRUE(a.OnTick(150 * kMs).empty());
  EXPECT_TRUE(a.OnTick(161 * kMs).empty());  // r2 silent past its reply timeout: nobody left.
  ASSERT_TRUE(a.finished());
  const TaskAuctionRecord& r = a.record();
  EXPECT_TRUE(r.winner.empty());
  EXPECT_EQ(r.attempt, 2);
  ASSERT_EQ(r.left_out.size(), 4u);
  EXPECT_EQ(r.left_out[0].reason, "refused: busy");
  EXPECT_EQ(r.left_out[1].reason, "no reply to the award");
  EXPECT_EQ(r.left_out[2].reason.rfind("invalid bid", 0), 0u);
  EXPECT_EQ(r.left_out[3].reason, "no bid before the deadline");
}

TEST(TaskAuctionTest, NobodyInvitedEndsAtOnceUnassigned) {
  TaskAuction a("weld-1#1", 1, Weld(), {}, 0, {});
  EXPECT_TRUE(a.Begin().empty());
  EXPECT_TRUE(a.finished());
  EXPECT_TRUE(a.record().winner.empty());
}

TEST(TaskAuctionTest, BadTasksAreRefused) {
  EXPECT_TRUE(CheckTask(Weld()).ok());
  protocol::TaskCall t = Weld();
  t.task_id = "has space";
  EXPECT_FALSE(CheckTask(t).ok());
  t = Weld();
  t.task_id = "";
  EXPECT_FALSE(CheckTask(t).ok());
  t = Weld();
  t.duration = 0;
  EXPECT_FALSE(CheckTask(t).ok());
  t = Weld();
  t.deadline = -1;
  EXPECT_FALSE(CheckTask(t).ok());
  t = Weld();
  t.late_cost = std::nan("");
  EXPECT_FALSE(CheckTask(t).ok());
  t = Weld();
  t.has_location = true;
  t.x = std::numeric_limits<double>::infinity();
  EXPECT_FALSE(CheckTask(t).ok());
}

}  // namespace
}  // namespace fleettwin::coordinator
