// The agent's side of task allocation, in process: bids from the twin, awards, reports.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>

#include "fleettwin/agent/agent_runtime.h"
#include "fleettwin/common/clock.h"
#include "gtest/gtest.h"
#include "testing/temp_dir.h"

namespace fleettwin::agent {
namespace {

using namespace std::chrono_literals;

// The rows of test engine `unit`.
uint64_t Rows(int unit) {
  std::ifstream in(std::string(FLEETTWIN_SOURCE_DIR) + "/data/cmapss/test_FD001.txt");
  uint64_t n = 0;
  for (std::string line; std::getline(in, line);) n += std::stoi(line) == unit ? 1 : 0;
  return n;
}

// Until the twin has taken every row of the replay (replay_done only says they were queued).
bool WaitForTwin(const AgentRuntime& agent, int unit) {
  const uint64_t rows = Rows(unit);
  for (int i = 0; i < 1200; ++i) {
    if (agent.replay_done() && agent.accepted() + agent.rejected() >= rows) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

// C-MAPSS test engine `unit` replayed to its end with the shipped model.
std::unique_ptr<AgentRuntime> Engine(const testing::TempDir& tmp, int unit,
                                     std::vector<std::string> capabilities,
                                     std::optional<std::array<double, 2>> location,
                                     const Clock& clock, double speed = 0,
                                     bool wait_for_end = true) {
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
  options.replay_speed = speed;
  options.capabilities = std::move(capabilities);
  options.location = location;
  options.bid_replications = 2000;
  absl::StatusOr<std::unique_ptr<AgentRuntime>> agent = AgentRuntime::Start(options, clock);
  EXPECT_TRUE(agent.ok()) << agent.status();
  if (!agent.ok()) return nullptr;
  if (!wait_for_end) return *std::move(agent);
  EXPECT_TRUE(WaitForTwin(**agent, unit));
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

protocol::CallForProposals MaintenanceCall(const std::string& id) {
  protocol::CallForProposals c;
  c.negotiation = id;
  c.maintenance.horizon = 150;
  c.maintenance.duration = 5;
  c.maintenance.crews = 2;
  c.maintenance.failure_cost = 100;
  c.maintenance.preventive_cost = 20;
  c.maintenance.wasted_life_cost = 0.5;
  return c;
}

size_t Cheapest(const protocol::Bid& bid) {  // The slot, or the slot count for "none".
  const std::vector<double>& c = bid.maintenance.slot_cost;
  const size_t k = static_cast<size_t>(std::min_element(c.begin(), c.end()) - c.begin());
  return bid.maintenance.none_cost <= c[k] ? c.size() : k;
}

// A re-plan right after a maintenance must not lose the renewed engine: it bids from the
// kind's renewed life until its next sample; an inspection changes nothing.
TEST(AgentMaintenanceBidTest, ARenewedEngineBidsFromTheRenewedLifeAndAnInspectionChangesNothing) {
  testing::TempDir tmp;
  SystemClock clock;
  std::unique_ptr<AgentRuntime> engine = Engine(tmp, 34, {}, std::nullopt, clock);  // RUL 7.
  ASSERT_TRUE(engine);
  const protocol::Bid worn = engine->BidFor(MaintenanceCall("p1"));
  ASSERT_FALSE(worn.declined) << worn.decline_reason;
  EXPECT_LT(worn.maintenance.rul, 30);
  EXPECT_EQ(Cheapest(worn), 0u);  // Maintain now.

  ASSERT_TRUE(engine->RecordMaintenance(std::nullopt, "borescope", "crew-1", false).ok());
  const protocol::Bid inspected = engine->BidFor(MaintenanceCall("p2"));
  ASSERT_FALSE(inspected.declined) << inspected.decline_reason;
  EXPECT_EQ(inspected.maintenance.rul, worn.maintenance.rul);
  EXPECT_EQ(inspected.maintenance.slot_cost, worn.maintenance.slot_cost);

  ASSERT_TRUE(engine->RecordMaintenance(std::nullopt, "overhaul", "crew-1", true).ok());
  const protocol::Bid renewed = engine->BidFor(MaintenanceCall("p3"));
  ASSERT_FALSE(renewed.declined) << renewed.decline_reason;
  EXPECT_EQ(renewed.maintenance.rul, 200);  // kinds/cmapss-turbofan.json: 200 ± 45.
  EXPECT_EQ(renewed.maintenance.rul_std, 45);
  EXPECT_EQ(Cheapest(renewed), renewed.maintenance.slot_cost.size());  // No maintenance.
  EXPECT_LT(renewed.maintenance.none_cost, 30);      // P(life < 150) is about 0.13.
  EXPECT_EQ(renewed.maintenance.model_version, "");  // Not the model's estimate.
  EXPECT_FALSE(worn.maintenance.model_version.empty());
  // An inspection after the overhaul does not make the renewed engine unknown again.
  ASSERT_TRUE(engine->RecordMaintenance(std::nullopt, "borescope", "crew-1", false).ok());
  const protocol::Bid inspected_new = engine->BidFor(MaintenanceCall("p4"));
  ASSERT_FALSE(inspected_new.declined) << inspected_new.decline_reason;
  EXPECT_EQ(inspected_new.maintenance.rul, 200);
}

TEST(AgentTasksTest, BidsGrowWithHeldWorkAndTravelAndHeldTasksAreReportedRevokedOrDropped) {
  testing::TempDir tmp;
  SystemClock clock;
  // Unit 2 has 112 cycles of life left; unit 34 has 7 and ends in alarm (estimate below 20).
  std::unique_ptr<AgentRuntime> healthy =
      Engine(tmp, 2, {"inspect"}, std::array<double, 2>{0, 0}, clock);
  std::unique_ptr<AgentRuntime> worn = Engine(tmp, 34, {"inspect"}, std::nullopt, clock);
  ASSERT_TRUE(healthy && worn);

  protocol::CallForProposals call = Call("t1", 10, 30);
  call.task.capability = "weld";
  protocol::Bid bid = healthy->BidFor(call);
  EXPECT_TRUE(bid.declined);
  EXPECT_EQ(bid.decline_reason, "lacks capability 'weld'");
  bid = worn->BidFor(Call("t1", 10, 30));
  EXPECT_TRUE(bid.declined);
  EXPECT_EQ(bid.decline_reason, "health alarm");
  call = Call("t0", 2e5, 3e5);
  bid = healthy->BidFor(call);
  EXPECT_TRUE(bid.declined);
  EXPECT_EQ(bid.decline_reason.rfind("too much work to simulate", 0), 0u) << bid.decline_reason;

  call = Call("t1", 10, 30);
  const protocol::Bid first = healthy->BidFor(call);
  ASSERT_FALSE(first.declined) << first.decline_reason;
  ASSERT_TRUE(first.is_task);
  EXPECT_NEAR(first.task.completion, 10, 1);  // A healthy engine rarely fails in 10 cycles.

  // An award for a task never bid on is refused; for the bid one, accepted and ledgered.
  protocol::Award award{"t9#1", "", -1, -1, -1, "t9"};
  EXPECT_FALSE(healthy->AwardFor(award).accept);
  award = {"t1#1", "", -1, -1, -1, "t1"};
  ASSERT_TRUE(healthy->AwardFor(award).accept);
  EXPECT_NE(healthy->TwinJson().find("\"task.t1\""), std::string::npos);
  EXPECT_TRUE(healthy->AwardFor({"plan-1", std::string(32, 'x'), 2, 10, 0, ""}).accept);
  EXPECT_EQ(healthy->Summary().tasks, std::vector<std::string>{"t1#1"});

  // Held work comes first, and a location means travel: the next bids finish later.
  const protocol::Bid second = healthy->BidFor(Call("t2", 10, 30));
  EXPECT_NEAR(second.task.completion, first.task.completion + 10, 1.5);
  protocol::CallForProposals far = Call("t3", 10, 30);
  far.task.has_location = true;
  far.task.x = 30;
  far.task.y = 40;  // 50 away at speed 1.
  EXPECT_NEAR(healthy->BidFor(far).task.completion, second.task.completion + 50, 3);
  // The replay is over, so the healthy twin's clock stands still: nothing ends.
  EXPECT_TRUE(healthy->TaskReports().empty());
  // The coordinator gave t1 to someone else: it is no longer held.
  healthy->RevokeTask({"t1", "t1#9", "not this auction"});
  EXPECT_EQ(healthy->Summary().tasks.size(), 1u);
  healthy->RevokeTask({"t1", "t1#1", "auctioned again"});
  EXPECT_TRUE(healthy->Summary().tasks.empty());
  EXPECT_NE(healthy->TwinJson().find("\"task.t1\":-1"), std::string::npos);
  ASSERT_TRUE(healthy->Shutdown().ok());
  ASSERT_TRUE(worn->Shutdown().ok());
}

// An engine that takes a task while healthy and reaches alarm before its end drops it.
TEST(AgentTasksTest, AnEngineThatReachesAlarmDropsWhatItHolds) {
  testing::TempDir tmp;
  SystemClock clock;
  // Unit 34 (203 cycles) at 50 cycles/s: the alarm comes about 4 s in.
  std::unique_ptr<AgentRuntime> engine =
      Engine(tmp, 34, {}, std::nullopt, clock, 50, /*wait_for_end=*/false);
  ASSERT_TRUE(engine);
  const protocol::Bid bid = engine->BidFor(Call("t1", 1000, 2000));
  ASSERT_FALSE(bid.declined) << bid.decline_reason;
  ASSERT_TRUE(engine->AwardFor({"t1#1", "", -1, -1, -1, "t1"}).accept);
  ASSERT_TRUE(WaitForTwin(*engine, 34));
  const std::vector<protocol::TaskReport> reports = engine->TaskReports();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].task_id, "t1");
  EXPECT_EQ(reports[0].auction, "t1#1");
  EXPECT_FALSE(reports[0].done);
  EXPECT_EQ(reports[0].reason, "health alarm");
  EXPECT_TRUE(engine->TaskReports().empty());
  EXPECT_NE(engine->TwinJson().find("\"task.t1\":-1"), std::string::npos);
  ASSERT_TRUE(engine->Shutdown().ok());
}

}  // namespace
}  // namespace fleettwin::agent
