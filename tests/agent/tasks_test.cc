// The agent's side of task allocation, in process: bids from the twin, awards, reports.
#include <chrono>
#include <thread>

#include "fleettwin/agent/agent_runtime.h"
#include "fleettwin/common/clock.h"
#include "gtest/gtest.h"
#include "testing/temp_dir.h"

namespace fleettwin::agent {
namespace {

using namespace std::chrono_literals;

// C-MAPSS test engine `unit` replayed to its end with the shipped model.
std::unique_ptr<AgentRuntime> Engine(const testing::TempDir& tmp, int unit,
                                     std::vector<std::string> capabilities,
                                     std::optional<std::array<double, 2>> location,
                                     const Clock& clock) {
  const std::string source = FLEETTWIN_SOURCE_DIR;
  AgentOptions options;
  options.asset = "engine-" + std::to_string(unit);
  options.kind_file = source + "/kinds/cmapss-turbofan.json";
  options.data_dir = tmp.path() / options.asset;
  options.model_dir = source + "/data/models/cmapss-fd001-mlp";
  ReplayOptions replay;
  replay.path = source + "/data/cmapss/test_FD001.txt";
  replay.unit = std::to_string(unit);
  options.replay = replay;
  options.capabilities = std::move(capabilities);
  options.location = location;
  options.bid_replications = 2000;
  absl::StatusOr<std::unique_ptr<AgentRuntime>> agent = AgentRuntime::Start(options, clock);
  EXPECT_TRUE(agent.ok()) << agent.status();
  if (!agent.ok()) return nullptr;
  for (int i = 0; i < 600 && !(*agent)->replay_done(); ++i) std::this_thread::sleep_for(50ms);
  EXPECT_TRUE((*agent)->replay_done());
  return *std::move(agent);
}

protocol::CallForProposals Call(const std::string& id, double duration, double deadline) {
  protocol::CallForProposals c;
  c.negotiation = id + "#1";
  c.is_task = true;
  c.task.task_id = id;
  c.task.duration = duration;
  c.task.deadline = deadline;
  c.task.late_cost = 100;
  return c;
}

TEST(AgentTasksTest, BidsGrowWithHeldWorkAndTravelAndAWornEngineDropsItsTasks) {
  testing::TempDir tmp;
  SystemClock clock;
  // Unit 2 has 112 cycles of life left; unit 34 has 7 and ends in alarm.
  std::unique_ptr<AgentRuntime> healthy =
      Engine(tmp, 2, {"inspect"}, std::array<double, 2>{0, 0}, clock);
  std::unique_ptr<AgentRuntime> worn = Engine(tmp, 34, {"inspect"}, std::nullopt, clock);
  ASSERT_TRUE(healthy && worn);

  protocol::CallForProposals call = Call("t1", 10, 30);
  call.task.capability = "weld";
  protocol::Bid bid = healthy->BidFor(call);
  EXPECT_TRUE(bid.declined);
  EXPECT_EQ(bid.decline_reason, "lacks capability 'weld'");

  call = Call("t1", 10, 30);
  const protocol::Bid first = healthy->BidFor(call);
  ASSERT_FALSE(first.declined) << first.decline_reason;
  ASSERT_TRUE(first.is_task);
  EXPECT_NEAR(first.task.completion, 10, 1);  // A healthy engine rarely fails in 10 cycles.
  const protocol::Bid worn_bid = worn->BidFor(call);
  ASSERT_FALSE(worn_bid.declined);
  // The worn engine fails before the end (repairs of 10 on average): later and likelier late.
  EXPECT_GT(worn_bid.task.completion, first.task.completion + 3);
  EXPECT_GT(worn_bid.task.cost, first.task.cost);

  // An award for a task never bid on is refused; for the bid one, accepted and ledgered.
  protocol::Award award{"t9#1", "", -1, -1, -1, "t9"};
  EXPECT_FALSE(healthy->AwardFor(award).accept);
  award = {"t1#1", "", -1, -1, -1, "t1"};
  ASSERT_TRUE(healthy->AwardFor(award).accept);
  EXPECT_NE(healthy->TwinJson().find("\"task.t1\""), std::string::npos);
  EXPECT_TRUE(healthy->AwardFor({"plan-1", std::string(32, 'x'), 2, 10, 0, ""}).accept);

  // Held work comes first, and a location means travel: the next bids finish later.
  const protocol::Bid second = healthy->BidFor(Call("t2", 10, 30));
  EXPECT_NEAR(second.task.completion, first.task.completion + 10, 1.5);
  protocol::CallForProposals far = Call("t3", 10, 30);
  far.task.has_location = true;
  far.task.x = 30;
  far.task.y = 40;  // 50 away at speed 1.
  EXPECT_NEAR(healthy->BidFor(far).task.completion, second.task.completion + 50, 3);
  EXPECT_TRUE(worn->BidFor(far).declined);  // No location of its own.
  // The replay is over, so the healthy twin's clock stands still: nothing ends.
  EXPECT_TRUE(healthy->TaskReports().empty());

  // The worn engine, in alarm, drops what it holds.
  ASSERT_TRUE(worn->AwardFor({"t1#1", "", -1, -1, -1, "t1"}).accept);
  const std::vector<protocol::TaskReport> reports = worn->TaskReports();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].task_id, "t1");
  EXPECT_EQ(reports[0].auction, "t1#1");
  EXPECT_FALSE(reports[0].done);
  EXPECT_EQ(reports[0].reason, "health alarm");
  EXPECT_TRUE(worn->TaskReports().empty());
  EXPECT_NE(worn->TwinJson().find("\"task.t1\":-1"), std::string::npos) << worn->TwinJson();
  ASSERT_TRUE(healthy->Shutdown().ok());
  ASSERT_TRUE(worn->Shutdown().ok());
}

}  // namespace
}  // namespace fleettwin::agent
