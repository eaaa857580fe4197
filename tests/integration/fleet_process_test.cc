// The fleet with real processes on loopback: fleet-coordinator, fleet-agents replaying C-MAPSS
// engines with the failure model, and fleetctl. Keys are made with fleetctl.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "absl/strings/escaping.h"
#include "fleettwin/common/curve.h"
#include "fleettwin/common/npy.h"
#include "fleettwin/federated/records.h"
#include "fleettwin/protocol/curve_zmq.h"
#include "fleettwin/protocol/messages.h"

#include "gtest/gtest.h"
#include "testing/flower_client.h"
#include "testing/process.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace fleettwin {
namespace {

using ::fleettwin::testing::Child;
using ::fleettwin::testing::FreePort;
using ::fleettwin::testing::ReadAll;
using ::fleettwin::testing::ReadUntil;
using ::fleettwin::testing::RunTool;
using ::fleettwin::testing::Spawn;
using ::fleettwin::testing::Wait;
using ::fleettwin::testing::WaitFor;
using nlohmann::json;
using namespace std::chrono_literals;

const std::string kSource = FLEETTWIN_SOURCE_DIR;

class FleetProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    keys_ = dir_.path() / "keys";
    agents_ = keys_ / "agents";
    std::filesystem::create_directories(agents_);
    std::filesystem::create_directories(keys_ / "operators");
    std::filesystem::create_directories(keys_ / "strangers");
    ASSERT_EQ(Fleetctl({"keys", "generate", "coordinator", "--out", keys_.string()}).first, 0);
    ASSERT_EQ(Fleetctl({"keys", "generate", "engine-1", "engine-2", "engine-3", "engine-4", "--out",
                        agents_.string()})
                  .first,
              0);
    ASSERT_EQ(
        Fleetctl({"keys", "generate", "alice", "--out", (keys_ / "operators").string()}).first, 0);
    ASSERT_EQ(
        Fleetctl({"keys", "generate", "engine-9", "--out", (keys_ / "strangers").string()}).first,
        0);
    bind_ = "tcp://127.0.0.1:" + std::to_string(FreePort());
    control_ = "tcp://127.0.0.1:" + std::to_string(FreePort());
  }

  void TearDown() override {
    for (Child& c : agents_running_) Stop(c);
    Stop(coordinator_);
  }

  static void Stop(Child& c) {
    if (c.pid <= 0) return;
    ::kill(c.pid, SIGTERM);
    ReadAll(c.out);
    ReadAll(c.err);
    Wait(c.pid);
    c.pid = -1;
  }

  static std::pair<int, std::string> Fleetctl(std::vector<std::string> args) {
    args.insert(args.begin(), FLEETTWIN_FLEETCTL);
    return RunTool(args);
  }

  std::pair<int, std::string> Control(std::vector<std::string> args) {
    std::vector<std::string> all = {
        "--coordinator",     control_,
        "--coordinator-key", (keys_ / "coordinator.curve-public").string(),
        "--operator-key",    (keys_ / "operators" / "alice.curve-secret").string()};
    all.insert(all.end(), args.begin(), args.end());
    return Fleetctl(all);
  }

  void StartCoordinator(const std::string& heartbeat_timeout_ms = "2000",
                        std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {FLEETTWIN_FLEET_COORDINATOR,
                                     "--bind",
                                     bind_,
                                     "--control",
                                     control_,
                                     "--key",
                                     (keys_ / "coordinator.curve-secret").string(),
                                     "--agents-dir",
                                     agents_.string(),
                                     "--operators-dir",
                                     (keys_ / "operators").string(),
                                     "--heartbeat-timeout-ms",
                                     heartbeat_timeout_ms,
                                     "--data-dir",
                                     (dir_.path() / "coordinator").string(),
                                     "--anchor-interval-ms",
                                     "100"};
    args.insert(args.end(), extra.begin(), extra.end());
    coordinator_ = Spawn(args);
    const std::string banner = ReadUntil(coordinator_.err, std::regex("control on"), 30s);
    ASSERT_NE(banner.find("control on"), std::string::npos) << banner;
  }

  // An agent replaying test engine `unit` as asset `asset` with the key `key_file`, at
  // `speed`, with further flags `extra`.
  Child StartAgent(const std::string& asset, int unit, const std::filesystem::path& key_file,
                   const std::string& speed = "max", std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {FLEETTWIN_FLEET_AGENT,
                                     "--asset",
                                     asset,
                                     "--kind",
                                     kSource + "/kinds/cmapss-turbofan.json",
                                     "--data-dir",
                                     (dir_.path() / asset).string(),
                                     "--replay",
                                     kSource + "/data/cmapss/test_FD001.txt",
                                     "--replay-unit",
                                     std::to_string(unit),
                                     "--speed",
                                     speed,
                                     "--model",
                                     kSource + "/data/models/cmapss-fd001-mlp",
                                     "--coordinator",
                                     bind_,
                                     "--coordinator-key",
                                     (keys_ / "coordinator.curve-public").string(),
                                     "--agent-key",
                                     key_file.string(),
                                     "--heartbeat-ms",
                                     "100",
                                     "--bid-replications",
                                     "500"};
    args.insert(args.end(), extra.begin(), extra.end());
    Child c = Spawn(args);
    const std::string banner = ReadUntil(c.err, std::regex("coordinator tcp"), 30s);
    EXPECT_NE(banner.find("running"), std::string::npos) << banner;
    return c;
  }

  // The members as fleetctl --json agents reports them (empty on failure).
  json Agents() {
    auto [code, out] = Control({"--json", "agents"});
    if (code != 0) return json::array();
    return json::parse(out, nullptr, false);
  }

  bool ActiveWithRul(const std::vector<std::string>& assets) {
    const json members = Agents();
    if (!members.is_array()) return false;
    for (const std::string& asset : assets) {
      bool found = false;
      for (const json& m : members) {
        found = found || (m.value("asset", "") == asset && m.value("state", "") == "active" &&
                          m.contains("twin") && m["twin"].contains("rul"));
      }
      if (!found) return false;
    }
    return true;
  }

  testing::TempDir dir_;
  std::filesystem::path keys_, agents_;
  std::string bind_, control_;
  Child coordinator_;
  std::vector<Child> agents_running_;
};

TEST_F(FleetProcessTest, AgentsNegotiateAPlanWithoutTheKilledOneAndSurviveACoordinatorRestart) {
  const int http_port = FreePort();
  StartCoordinator("2000", {"--http", "127.0.0.1:" + std::to_string(http_port)});
  for (int i = 1; i <= 4; ++i) {
    const std::string asset = "engine-" + std::to_string(i);
    agents_running_.push_back(StartAgent(asset, i, agents_ / (asset + ".curve-secret")));
  }
  // An agent whose key the coordinator does not know.
  agents_running_.push_back(
      StartAgent("engine-9", 9, keys_ / "strangers" / "engine-9.curve-secret"));
  ASSERT_TRUE(WaitFor(
      [&] {
        return ActiveWithRul({"engine-1", "engine-2", "engine-3", "engine-4"});
      },
      60s));
  // The coordinator's probes and metrics (--http): four members, the stranger refused.
  {
    httplib::Client http("127.0.0.1", http_port);
    httplib::Result healthz = http.Get("/healthz");
    ASSERT_TRUE(healthz);
    EXPECT_EQ(healthz->status, 200);
    httplib::Result readyz = http.Get("/readyz");
    ASSERT_TRUE(readyz);
    EXPECT_EQ(readyz->status, 200);
    httplib::Result metrics = http.Get("/metrics");
    ASSERT_TRUE(metrics);
    EXPECT_NE(metrics->body.find("\nfleettwin_coordinator_members{state=\"active\"} 4\n"),
              std::string::npos)
        << metrics->body;
    EXPECT_EQ(metrics->body.find("\nfleettwin_coordinator_unauthenticated_total 0\n"),
              std::string::npos)
        << metrics->body;
    httplib::Result put = http.Put("/healthz", "", "text/plain");
    ASSERT_TRUE(put);
    EXPECT_EQ(put->status, 404);  // Read-only.
  }

  // Bytes that are not ours, and a replayed message, on a connection with an admitted key: the
  // coordinator ignores them, counts them, and carries on.
  {
    absl::StatusOr<common::CurveSecretKey> key =
        common::ReadCurveSecretKeyFile(agents_ / "engine-4.curve-secret");
    absl::StatusOr<common::CurvePublicKey> server =
        common::ReadCurvePublicKeyFile(keys_ / "coordinator.curve-public");
    ASSERT_TRUE(key.ok() && server.ok());
    zmq::context_t context(1);
    zmq::socket_t raw(context, zmq::socket_type::dealer);
    raw.set(zmq::sockopt::linger, 0);
    ASSERT_TRUE(protocol::MakeCurveClient(raw, key->pair, server->key).ok());
    raw.connect(bind_);
    raw.send(zmq::str_buffer("garbage"), zmq::send_flags::none);
    raw.send(zmq::buffer(std::string(4096, '\xff')), zmq::send_flags::none);
    const std::string old = protocol::Encode({1, 1, "engine-4", 0, protocol::Register{}});
    raw.send(zmq::buffer(old), zmq::send_flags::none);  // An older session than the agent's.
    ASSERT_TRUE(WaitFor(
        [&] {
          auto [c, s] = Control({"--json", "status"});
          if (c != 0) return false;
          const json st = json::parse(s);
          return st["malformed"].get<uint64_t>() >= 2 && st["replayed"].get<uint64_t>() >= 1;
        },
        30s));
  }
  ASSERT_TRUE(ActiveWithRul({"engine-1", "engine-2", "engine-3", "engine-4"}));

  // engine-4's agent dies without a word; the plan goes ahead without it.
  ::kill(agents_running_[3].pid, SIGKILL);
  Wait(agents_running_[3].pid);
  ReadAll(agents_running_[3].out);
  ReadAll(agents_running_[3].err);
  agents_running_[3].pid = -1;
  auto [code, out] = Control({"--json", "plan", "maintenance", "--id", "p1", "--bid-window-ms",
                              "4000", "--reply-timeout-ms", "5000"});
  ASSERT_EQ(code, 0) << out;
  const json plan = json::parse(out);
  ASSERT_EQ(plan["assignments"].size(), 3u) << out;
  ASSERT_EQ(plan["left_out"].size(), 1u) << out;
  EXPECT_EQ(plan["left_out"][0]["asset"], "engine-4");
  EXPECT_EQ(plan["left_out"][0]["reason"], "no bid before the deadline");
  EXPECT_EQ(plan["plan_hash"].get<std::string>().size(), 64u);
  for (const json& bid : plan["bids"]) EXPECT_EQ(bid["slot_cost"].size(), 30u);

  // The table view, an unknown plan (exit 1), bad usage (exit 2).
  auto [table_code, table] = Control({"plan", "show", "p1"});
  EXPECT_EQ(table_code, 0);
  EXPECT_NE(table.find("left out: engine-4: no bid before the deadline"), std::string::npos)
      << table;
  EXPECT_EQ(Control({"plan", "show", "nope"}).first, 1);
  EXPECT_EQ(Control({"plan", "maintenance"}).first, 2);  // --id is required.
  // The stranger was refused at the handshake and counted.
  auto [status_code, status] = Control({"--json", "status"});
  ASSERT_EQ(status_code, 0);
  EXPECT_GT(json::parse(status)["unauthenticated"].get<uint64_t>(), 0u);
  EXPECT_EQ(json::parse(status)["plans"], 1);

  // A second plan with one crew, compared with the first and cancelled.
  auto [p2_code, p2_out] = Control(
      {"--json", "plan", "maintenance", "--id", "p2", "--crews", "1", "--bid-window-ms", "4000"});
  ASSERT_EQ(p2_code, 0) << p2_out;
  auto [diff_code, diff] = Control({"--json", "plan", "diff", "p1", "p2"});
  ASSERT_EQ(diff_code, 0) << diff;
  EXPECT_TRUE(json::parse(diff)["changes"].is_array()) << diff;
  EXPECT_EQ(Control({"plan", "diff", "p1", "nope"}).first, 1);
  auto [cancel_code, cancel] = Control({"--json", "plan", "cancel", "p2", "--reason", "test"});
  ASSERT_EQ(cancel_code, 0) << cancel;
  EXPECT_EQ(json::parse(cancel)["cancelled"], true);
  EXPECT_EQ(Control({"plan", "cancel", "p2"}).first, 1);  // Already cancelled.
  // Re-planning: p3 replaces p1 once it commits; p1 is then cancelled, and nothing can replace
  // a cancelled or unknown plan (refused before any negotiation).
  auto [p3_code, p3_out] = Control({"--json", "plan", "maintenance", "--id", "p3", "--replaces",
                                    "p1", "--bid-window-ms", "4000"});
  ASSERT_EQ(p3_code, 0) << p3_out;
  EXPECT_EQ(json::parse(p3_out)["replaced"], true) << p3_out;
  auto [p1_code, p1_out] = Control({"--json", "plan", "show", "p1"});
  ASSERT_EQ(p1_code, 0) << p1_out;
  EXPECT_EQ(json::parse(p1_out)["cancelled"], true) << p1_out;
  EXPECT_EQ(json::parse(p1_out)["cancel_reason"], "replaced by plan p3") << p1_out;
  EXPECT_EQ(Control({"plan", "maintenance", "--id", "p4", "--replaces", "p1"}).first, 1);
  EXPECT_EQ(Control({"plan", "maintenance", "--id", "p4", "--replaces", "nope"}).first, 1);
  // A re-plan that leaves out an agent the old plan maintains is not committed: engine-3 is
  // stopped, so p6 would leave it out; p6 is dropped before any commit and p3 stands whole
  // (exit 1, the reason names engine-3).
  ::kill(agents_running_[2].pid, SIGSTOP);
  auto [p6_code, p6_out] = Control({"--json", "plan", "maintenance", "--id", "p6", "--replaces",
                                    "p3", "--bid-window-ms", "1000", "--reply-timeout-ms", "500"});
  ::kill(agents_running_[2].pid, SIGCONT);
  EXPECT_EQ(p6_code, 1) << p6_out;
  EXPECT_EQ(Control({"plan", "show", "p6"}).first, 1);
  auto [abandoned_code, abandoned] = Control({"--json", "status"});
  ASSERT_EQ(abandoned_code, 0);
  EXPECT_EQ(json::parse(abandoned)["abandoned_plans"], 1) << abandoned;
  auto [p3_show_code, p3_show] = Control({"--json", "plan", "show", "p3"});
  ASSERT_EQ(p3_show_code, 0);
  EXPECT_EQ(json::parse(p3_show)["cancelled"], false) << p3_show;
  ASSERT_TRUE(WaitFor([&] { return ActiveWithRul({"engine-1", "engine-2", "engine-3"}); }, 30s));
  auto [twin_code, twin_out] = Control({"--json", "twin", "engine-1"});
  ASSERT_EQ(twin_code, 0) << twin_out;
  EXPECT_EQ(json::parse(twin_out)["asset"], "engine-1");
  EXPECT_EQ(Control({"twin", "engine-7"}).first, 1);
  auto [heads_code, heads] = Control({"--json", "ledger", "heads"});
  ASSERT_EQ(heads_code, 0) << heads;
  EXPECT_GT(json::parse(heads)["coordinator"]["size"].get<uint64_t>(), 0u) << heads;

  // The coordinator restarts; the live agents find it again by themselves, and the plans are
  // still there (read back from the coordinator's ledger), the cancellation too.
  Stop(coordinator_);
  EXPECT_EQ(Control({"--timeout-ms", "300", "agents"}).first, 3);  // Nobody answers.
  StartCoordinator();
  ASSERT_TRUE(WaitFor([&] { return ActiveWithRul({"engine-1", "engine-2", "engine-3"}); }, 60s));
  auto [again_code, again] = Control({"--json", "plan", "show", "p1"});
  ASSERT_EQ(again_code, 0) << again;
  EXPECT_EQ(json::parse(again)["plan_hash"], plan["plan_hash"]);
  EXPECT_EQ(json::parse(again)["assignments"], plan["assignments"]);
  auto [again2_code, again2] = Control({"--json", "plan", "show", "p2"});
  ASSERT_EQ(again2_code, 0) << again2;
  EXPECT_EQ(json::parse(again2)["cancelled"], true);
  // Agents' checkpoints have been anchored in the fleet ledger.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto [c, s] = Control({"--json", "status"});
        return c == 0 && json::parse(s)["anchors"].get<uint64_t>() >= 3;
      },
      30s));

  // A negotiation in flight when the coordinator dies runs again after its restart: engine-3
  // is stopped (still a member, answering nothing), so the bidding waits for its window.
  ::kill(agents_running_[2].pid, SIGSTOP);
  Child pending =
      Spawn({FLEETTWIN_FLEETCTL, "--coordinator", control_, "--coordinator-key",
             (keys_ / "coordinator.curve-public").string(), "--operator-key",
             (keys_ / "operators" / "alice.curve-secret").string(), "--timeout-ms", "300", "plan",
             "maintenance", "--id", "p5", "--bid-window-ms", "3000", "--reply-timeout-ms", "500"});
  std::this_thread::sleep_for(1s);
  ::kill(coordinator_.pid, SIGKILL);
  Wait(coordinator_.pid);
  ReadAll(coordinator_.out);
  ReadAll(coordinator_.err);
  coordinator_.pid = -1;
  ReadAll(pending.out);
  ReadAll(pending.err);
  EXPECT_EQ(Wait(pending.pid), 3);  // Its coordinator died: no answer.
  ::kill(agents_running_[2].pid, SIGCONT);
  StartCoordinator();
  json p5;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto [c, s] = Control({"--json", "plan", "show", "p5"});
        if (c != 0) return false;
        p5 = json::parse(s);
        return true;
      },
      60s));
  EXPECT_EQ(p5["assignments"].size(), 3u) << p5.dump();  // Everyone was back in time.
  auto [resumed_code, resumed] = Control({"--json", "status"});
  ASSERT_EQ(resumed_code, 0);
  EXPECT_EQ(json::parse(resumed)["resumed_negotiations"], 1) << resumed;

  // Each agent ledgered the committed plan as a desired value of its twin.
  for (int i = 0; i < 3; ++i) {
    ::kill(agents_running_[static_cast<size_t>(i)].pid, SIGTERM);
    const std::string twin = ReadAll(agents_running_[static_cast<size_t>(i)].out);
    ReadAll(agents_running_[static_cast<size_t>(i)].err);
    EXPECT_EQ(Wait(agents_running_[static_cast<size_t>(i)].pid), 0);
    agents_running_[static_cast<size_t>(i)].pid = -1;
    const json state = json::parse(twin, nullptr, false);
    ASSERT_TRUE(state.is_object()) << twin;
    EXPECT_TRUE(state["desired"].contains("maintenance.planned_start")) << twin;
  }
  Stop(coordinator_);

  // The auditor: every agent ledger agrees with what the fleet saw...
  const std::string fleet = (dir_.path() / "coordinator" / "ledger").string();
  auto agent_ledger = [&](int i) {
    return (dir_.path() / ("engine-" + std::to_string(i)) / "ledger").string();
  };
  auto [ok_code, ok_out] = RunTool({FLEETTWIN_FLEET_AUDIT, "crosscheck", fleet, agent_ledger(1),
                                    agent_ledger(2), agent_ledger(3)});
  EXPECT_EQ(ok_code, 0) << ok_out;
  EXPECT_EQ(std::count(ok_out.begin(), ok_out.end(), '\n'), 3) << ok_out;
  EXPECT_EQ(ok_out.find("FAIL"), std::string::npos) << ok_out;
  // The plan re-solves identically from its ledgered bids.
  auto [replay_code, replay_out] = RunTool({FLEETTWIN_FLEET_AUDIT, "replay-plan", fleet});
  EXPECT_EQ(replay_code, 0) << replay_out;
  EXPECT_NE(replay_out.find("ok plan p1"), std::string::npos) << replay_out;
  EXPECT_NE(replay_out.find("ok plan p2"), std::string::npos) << replay_out;
  EXPECT_NE(replay_out.find("ok plan p3"), std::string::npos) << replay_out;
  EXPECT_NE(replay_out.find("ok plan p5"), std::string::npos) << replay_out;
  EXPECT_EQ(replay_out.find("plan p6"), std::string::npos) << replay_out;
  EXPECT_EQ(RunTool({FLEETTWIN_FLEET_AUDIT, "replay-plan", fleet, "--plan", "p9"}).first, 1);
  // ...and an agent whose history was rewritten (its ledger replaced by a fresh replay under the
  // same origin) is caught.
  std::filesystem::remove_all(dir_.path() / "engine-2");
  Child rewritten = Spawn({FLEETTWIN_FLEET_AGENT, "--asset", "engine-2", "--kind",
                           kSource + "/kinds/cmapss-turbofan.json", "--data-dir",
                           (dir_.path() / "engine-2").string(), "--replay",
                           kSource + "/data/cmapss/test_FD001.txt", "--replay-unit", "2", "--speed",
                           "max", "--exit-after-replay"});
  ReadAll(rewritten.out);
  ReadAll(rewritten.err);
  ASSERT_EQ(Wait(rewritten.pid), 0);
  auto [bad_code, bad_out] =
      RunTool({FLEETTWIN_FLEET_AUDIT, "crosscheck", fleet, agent_ledger(1), agent_ledger(2)});
  EXPECT_EQ(bad_code, 1) << bad_out;
  EXPECT_NE(bad_out.find("ok " + agent_ledger(1)), std::string::npos) << bad_out;
  EXPECT_NE(bad_out.find("FAIL " + agent_ledger(2)), std::string::npos) << bad_out;
  EXPECT_NE(bad_out.find("anchored size"), std::string::npos) << bad_out;
}

// Task allocation with real processes: a task needing a capability goes to the cheaper of the
// two agents that have it; when that winner dies the task is auctioned again without it, and
// the new winner reports it done once its twin's clock passes the task's end. A task nobody
// can do stays unassigned (exit 1). A restarted coordinator still knows every task.
// Re-planning each slot as an operator runs it: every slot the plan is negotiated again over the
// rest of the horizon (--replaces), the maintenance that starts now is carried out and recorded
// on its agent (POST /maintenance), and the next re-plan goes through with the renewed engine
// bidding as new (it declined before, which had the re-plan refused).
TEST_F(FleetProcessTest, ReplanningEachSlotGoesOnAfterTheMaintenancesAreRecorded) {
  StartCoordinator();
  // Three worn engines (true RUL 7, 8, 8) and one crew: one maintenance per slot.
  const std::map<std::string, int> units = {{"engine-1", 34}, {"engine-2", 31}, {"engine-3", 68}};
  std::map<std::string, int> http;
  for (const auto& [asset, unit] : units) {
    http[asset] = FreePort();
    agents_running_.push_back(StartAgent(asset, unit, agents_ / (asset + ".curve-secret"), "max",
                                         {"--http", "127.0.0.1:" + std::to_string(http[asset])}));
  }
  ASSERT_TRUE(WaitFor([&] { return ActiveWithRul({"engine-1", "engine-2", "engine-3"}); }, 60s));
  auto slot_of = [](const json& plan, const std::string& asset) {
    for (const json& a : plan["assignments"]) {
      if (a["asset"] == asset) return a["slot"].get<int>();
    }
    return -2;
  };
  std::set<std::string> maintained;
  std::string previous;
  for (int k = 0; k < 3; ++k) {
    const std::string id = "s" + std::to_string(k);
    std::vector<std::string> args = {"--json",
                                     "plan",
                                     "maintenance",
                                     "--id",
                                     id,
                                     "--horizon",
                                     std::to_string(30 - 5 * k),
                                     "--duration",
                                     "5",
                                     "--crews",
                                     "1",
                                     "--bid-window-ms",
                                     "4000",
                                     "--reply-timeout-ms",
                                     "5000"};
    if (!previous.empty()) args.insert(args.end(), {"--replaces", previous});
    auto [code, out] = Control(args);
    ASSERT_EQ(code, 0) << out;
    const json plan = json::parse(out);
    ASSERT_EQ(plan["assignments"].size(), 3u) << out;  // Nobody left out, the renewed included.
    EXPECT_TRUE(plan["left_out"].empty()) << out;
    if (!previous.empty()) {
      EXPECT_EQ(plan["replaced"], true) << out;
    }
    for (const std::string& m : maintained) {
      EXPECT_EQ(slot_of(plan, m), -1) << m << ": " << out;
    }
    std::string now;
    for (const json& a : plan["assignments"]) {
      if (a["slot"] == 0) now = a["asset"].get<std::string>();
    }
    ASSERT_FALSE(now.empty()) << "a worn engine is maintained in every slot: " << out;
    EXPECT_FALSE(maintained.contains(now)) << out;
    // The crew does it, and it is recorded in the engine's twin: on the agent's own port the
    // first time, through the coordinator (fleetctl record) after that.
    if (k == 0) {
      httplib::Client agent("127.0.0.1", http[now]);
      httplib::Result done = agent.Post(
          "/maintenance", R"({"note": "overhaul", "author": "crew-1"})", "application/json");
      ASSERT_TRUE(done);
      ASSERT_EQ(done->status, 200) << done->body;
    } else {
      auto [record_code, record_out] = Control({"--json", "record", now, "--note", "overhaul"});
      ASSERT_EQ(record_code, 0) << record_out;
      const json recorded = json::parse(record_out);
      EXPECT_EQ(recorded["asset"], now);
      httplib::Client agent("127.0.0.1", http[now]);
      const json twin = json::parse(agent.Get("/twin")->body);
      // (A commit's desired value may land after it.)
      EXPECT_GE(twin["revision"].get<uint64_t>(), recorded["revision"].get<uint64_t>());
      EXPECT_EQ(twin["maintenance"].back()["note"], "overhaul");
      EXPECT_EQ(twin["maintenance"].back()["author"], "operator:alice");  // Its key's name.
      EXPECT_EQ(twin["maintenance"].back()["renews"], true);
    }
    maintained.insert(now);
    previous = id;
  }
  EXPECT_EQ(maintained.size(), 3u);
  for (int k = 0; k < 2; ++k) {
    auto [code, out] = Control({"--json", "plan", "show", "s" + std::to_string(k)});
    ASSERT_EQ(code, 0) << out;
    EXPECT_EQ(json::parse(out)["cancelled"], true) << out;
    EXPECT_EQ(json::parse(out)["cancel_reason"], "replaced by plan s" + std::to_string(k + 1));
  }
  // What the agent refuses comes back as the command's failure; nothing is recorded.
  const json before =
      json::parse(httplib::Client("127.0.0.1", http["engine-1"]).Get("/twin")->body);
  EXPECT_EQ(Control({"record", "engine-1", "--time", "1e9"}).first, 1);  // After its last sample.
  EXPECT_EQ(Control({"record", "engine-9"}).first, 1);                   // No such agent.
  EXPECT_EQ(Control({"record", "engine-1", "--failure", "--note", "x"}).first, 2);
  const json after = json::parse(httplib::Client("127.0.0.1", http["engine-1"]).Get("/twin")->body);
  EXPECT_EQ(after["maintenance"], before["maintenance"]);
  // An agent that does not answer in time (stopped for a moment, not long enough to be lost):
  // fleetctl gives up after --timeout-ms with exit 3, and the record lands when it goes on.
  ::kill(agents_running_[0].pid, SIGSTOP);
  const auto asked = std::chrono::steady_clock::now();
  EXPECT_EQ(Control({"--timeout-ms", "300", "record", "engine-1", "--inspection", "--id", "insp-1"})
                .first,
            3);
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 1500ms);
  ::kill(agents_running_[0].pid, SIGCONT);
  EXPECT_TRUE(WaitFor(
      [&] {
        const json t =
            json::parse(httplib::Client("127.0.0.1", http["engine-1"]).Get("/twin")->body);
        return t["maintenance"].size() == before["maintenance"].size() + 1 &&
               t["maintenance"].back()["renews"] == false;
      },
      10s));
  // The operator retries with the same id: done once, not twice.
  auto [retry_code, retry_out] =
      Control({"--json", "record", "engine-1", "--inspection", "--id", "insp-1"});
  EXPECT_EQ(retry_code, 0) << retry_out;
  EXPECT_EQ(json::parse(retry_out)["already_recorded"], true) << retry_out;
  const json retried =
      json::parse(httplib::Client("127.0.0.1", http["engine-1"]).Get("/twin")->body);
  EXPECT_EQ(retried["maintenance"].size(), before["maintenance"].size() + 1);
  EXPECT_EQ(retried["maintenance"].back()["id"], "insp-1");
  EXPECT_EQ(Control({"record", "engine-1", "--note", std::string(300, 'n')}).first, 2);
  EXPECT_EQ(Control({"record", "engine-1", "--id", "a b"}).first, 2);
  auto [status_code, status] = Control({"--json", "status"});
  ASSERT_EQ(status_code, 0);
  EXPECT_EQ(json::parse(status)["abandoned_plans"], 0) << status;
  EXPECT_EQ(json::parse(status)["maintenance_records"], 2) << status;

  // The same, one command: `plan rolling` negotiates a plan per slot (here 0.3 s of wall time)
  // over the rest of the horizon, each replacing the one before, until the horizon is used up.
  const std::vector<std::string> windows = {"--bid-window-ms", "4000", "--reply-timeout-ms",
                                            "5000"};
  std::vector<std::string> roll = {
      "plan",    "rolling", "--id-prefix",    "r",   "--horizon",  "15", "--duration", "5",
      "--crews", "1",       "--slot-seconds", "0.3", "--replaces", "s2"};
  roll.insert(roll.end(), windows.begin(), windows.end());
  const auto started = std::chrono::steady_clock::now();
  auto [roll_code, roll_out] = Control(roll);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 600ms);  // Two waits between three slots.
  ASSERT_EQ(roll_code, 0) << roll_out;
  for (const char* line : {"r-0 (horizon 15): committed", "r-1 (horizon 10): committed",
                           "r-2 (horizon 5): committed"}) {
    EXPECT_NE(roll_out.find(line), std::string::npos) << line << " in " << roll_out;
  }
  EXPECT_EQ(roll_out.find("r-3"), std::string::npos) << roll_out;
  for (const auto& [old, by] : {std::pair{"s2", "r-0"}, {"r-0", "r-1"}, {"r-1", "r-2"}}) {
    auto [code, out] = Control({"--json", "plan", "show", old});
    ASSERT_EQ(code, 0) << out;
    EXPECT_EQ(json::parse(out)["cancel_reason"], std::string("replaced by plan ") + by) << out;
  }
  std::vector<std::string> one = {
      "--json",  "plan", "rolling",        "--id-prefix", "j",          "--horizon", "10",
      "--slots", "1",    "--slot-seconds", "0.1",         "--replaces", "r-2"};
  one.insert(one.end(), windows.begin(), windows.end());
  auto [one_code, one_out] = Control(one);
  ASSERT_EQ(one_code, 0) << one_out;
  const json step = json::parse(one_out);  // One slot: one JSON line.
  EXPECT_EQ(step["id"], "j-0");
  EXPECT_EQ(step["committed"], true);
  EXPECT_EQ(step["plan"]["replaces"], "r-2");
  // Ctrl-C while a negotiation runs (engine-3 is stopped, so the bids wait for their window):
  // fleetctl stops within moments with exit 130.
  ::kill(agents_running_[2].pid, SIGSTOP);
  Child roller = Spawn({FLEETTWIN_FLEETCTL, "--coordinator", control_, "--coordinator-key",
                        (keys_ / "coordinator.curve-public").string(), "--operator-key",
                        (keys_ / "operators" / "alice.curve-secret").string(), "plan", "rolling",
                        "--id-prefix", "c", "--horizon", "15", "--slot-seconds", "30", "--replaces",
                        "j-0", "--bid-window-ms", "8000"});
  std::this_thread::sleep_for(1500ms);
  const auto interrupted = std::chrono::steady_clock::now();
  ::kill(roller.pid, SIGINT);
  const int roller_code = Wait(roller.pid);
  const std::string roller_err = ReadAll(roller.err);
  ReadAll(roller.out);
  ::kill(agents_running_[2].pid, SIGCONT);
  EXPECT_EQ(roller_code, 130) << roller_err;
  EXPECT_LT(std::chrono::steady_clock::now() - interrupted, 3s);
  EXPECT_NE(roller_err.find("interrupted"), std::string::npos) << roller_err;
  EXPECT_EQ(Control({"plan", "rolling", "--id-prefix", "x", "--horizon", "3"}).first, 2);
  EXPECT_EQ(Control({"plan", "rolling", "--id-prefix", "y", "--replaces", "nope", "--slots", "1",
                     "--slot-seconds", "0.1"})
                .first,
            1);  // Refused: nothing to replace.
}

TEST_F(FleetProcessTest, TasksGoToTheCheapestCapableAgentAndAreReauctionedWhenItDies) {
  // Long enough that an agent restarted at once is back before it counts as lost.
  StartCoordinator("5000");
  // Long engines replayed at 5 cycles/s (over 45 s), so the twins' clocks run through the test.
  const std::vector<std::pair<std::string, int>> fleet = {
      {"engine-1", 49}, {"engine-2", 93}, {"engine-3", 91}};
  for (const auto& [asset, unit] : fleet) {
    std::vector<std::string> extra;
    if (asset != "engine-3") extra = {"--capability", "weld,inspect"};
    agents_running_.push_back(
        StartAgent(asset, unit, agents_ / (asset + ".curve-secret"), "5x", extra));
  }
  ASSERT_TRUE(WaitFor([&] { return ActiveWithRul({"engine-1", "engine-2", "engine-3"}); }, 60s));

  auto [code, out] =
      Control({"--json", "task", "submit", "--id", "weld-1", "--duration", "3", "--deadline", "40",
               "--capability", "weld", "--bid-window-ms", "4000"});
  ASSERT_EQ(code, 0) << out;
  const json first = json::parse(out);
  EXPECT_EQ(first["status"], "assigned") << out;
  const std::string winner = first["winner"];
  ASSERT_TRUE(winner == "engine-1" || winner == "engine-2") << out;
  const json& auction = first["auctions"][0];
  ASSERT_EQ(auction["bids"].size(), 2u) << out;
  EXPECT_EQ(auction["bids"][0]["asset"], winner) << out;  // The cheapest won.
  EXPECT_LE(auction["bids"][0]["cost"].get<double>(), auction["bids"][1]["cost"].get<double>());
  EXPECT_GE(auction["bids"][0]["completion"].get<double>(), 3.0) << out;
  ASSERT_EQ(auction["left_out"].size(), 1u) << out;
  EXPECT_EQ(auction["left_out"][0]["asset"], "engine-3");
  EXPECT_EQ(auction["left_out"][0]["reason"], "declined: lacks capability 'weld'");

  // Nobody can paint: unassigned, exit 1; the task is still listed.
  auto [paint_code, paint] =
      Control({"task", "submit", "--id", "paint-1", "--duration", "2", "--deadline", "10",
               "--capability", "paint", "--bid-window-ms", "4000"});
  EXPECT_EQ(paint_code, 1) << paint;
  EXPECT_NE(paint.find("unassigned"), std::string::npos) << paint;
  EXPECT_EQ(
      Control({"task", "submit", "--id", "weld-1", "--duration", "1", "--deadline", "1"}).first,
      1);  // The id is taken.
  EXPECT_EQ(
      Control({"task", "submit", "--id", "bad id", "--duration", "1", "--deadline", "1"}).first, 1);
  EXPECT_EQ(Control({"task", "submit", "--id", "x"}).first, 2);  // --duration is required.

  // The winner dies: it is marked lost and the task is auctioned again without it.
  const size_t w = winner == "engine-1" ? 0 : 1;
  ::kill(agents_running_[w].pid, SIGKILL);
  Wait(agents_running_[w].pid);
  ReadAll(agents_running_[w].out);
  ReadAll(agents_running_[w].err);
  agents_running_[w].pid = -1;
  const std::string other = winner == "engine-1" ? "engine-2" : "engine-1";
  json task;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto [c, s] = Control({"--json", "task", "show", "weld-1"});
        if (c != 0) return false;
        task = json::parse(s);
        return task["attempts"] == 2 && task["status"] != "auctioning" &&
               task["status"] != "queued";
      },
      30s))
      << task.dump();
  EXPECT_EQ(task["excluded"], json::array({winner})) << task.dump();
  ASSERT_TRUE(task["winner"] == other || task["status"] == "done") << task.dump();
  // The new winner's twin passes the task's end: it reports the task done.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto [c, s] = Control({"--json", "task", "show", "weld-1"});
        if (c != 0) return false;
        task = json::parse(s);
        return task["status"] == "done";
      },
      30s))
      << task.dump();
  EXPECT_EQ(task["winner"], other);
  const json weld1_history = task["history"];
  const std::string history = task["history"].dump();
  EXPECT_NE(history.find(winner + " lost (missed heartbeats)"), std::string::npos) << history;
  EXPECT_NE(history.find("weld-1#2: done by " + other), std::string::npos) << history;
  // An agent whose heartbeat lists a task that is not its own (here a bare socket with
  // engine-4's key claiming the first, now finished, auction) is told to drop it.
  {
    absl::StatusOr<common::CurveSecretKey> key =
        common::ReadCurveSecretKeyFile(agents_ / "engine-4.curve-secret");
    absl::StatusOr<common::CurvePublicKey> server =
        common::ReadCurvePublicKeyFile(keys_ / "coordinator.curve-public");
    ASSERT_TRUE(key.ok() && server.ok());
    zmq::context_t context(1);
    zmq::socket_t raw(context, zmq::socket_type::dealer);
    raw.set(zmq::sockopt::linger, 0);
    raw.set(zmq::sockopt::rcvtimeo, 10000);
    ASSERT_TRUE(protocol::MakeCurveClient(raw, key->pair, server->key).ok());
    raw.connect(bind_);
    const std::string hello =
        protocol::Encode({7, 1, "engine-4", 0, protocol::Register{"robot", "test", 100}});
    raw.send(zmq::buffer(hello), zmq::send_flags::none);
    zmq::message_t welcome;
    ASSERT_TRUE(raw.recv(welcome));
    protocol::Heartbeat claim;
    claim.health = "ok";
    claim.tasks = {"weld-1#1"};
    const std::string beat = protocol::Encode({7, 2, "engine-4", 0, claim});
    raw.send(zmq::buffer(beat), zmq::send_flags::none);
    zmq::message_t answer;
    ASSERT_TRUE(raw.recv(answer));
    absl::StatusOr<protocol::Envelope> e = protocol::Decode(answer.to_string_view());
    ASSERT_TRUE(e.ok()) << e.status();
    const auto* revoke = std::get_if<protocol::TaskRevoke>(&e->body);
    ASSERT_NE(revoke, nullptr) << protocol::BodyName(e->body);
    EXPECT_EQ(revoke->task_id, "weld-1");
    EXPECT_EQ(revoke->auction, "weld-1#1");
  }

  // A winner that restarts at once (before anyone notices it was gone) holds nothing: its
  // heartbeats say so, and the task is auctioned again without it (nobody else can weld).
  const size_t o = 1 - w;
  auto [w3_code, w3] =
      Control({"--json", "task", "submit", "--id", "weld-3", "--duration", "500", "--deadline",
               "600", "--capability", "weld", "--bid-window-ms", "4000"});
  ASSERT_EQ(w3_code, 0) << w3;
  EXPECT_EQ(json::parse(w3)["winner"], other) << w3;
  ::kill(agents_running_[o].pid, SIGKILL);
  Wait(agents_running_[o].pid);
  ReadAll(agents_running_[o].out);
  ReadAll(agents_running_[o].err);
  agents_running_[o] =
      StartAgent(other, other == "engine-1" ? 49 : 93, agents_ / (other + ".curve-secret"), "5x",
                 {"--capability", "weld,inspect"});
  ASSERT_TRUE(WaitFor(
      [&] {
        auto [c, s] = Control({"--json", "task", "show", "weld-3"});
        if (c != 0) return false;
        task = json::parse(s);
        return task["status"] == "unassigned";
      },
      30s))
      << task.dump();
  EXPECT_NE(task["history"].dump().find(other + " no longer holds it"), std::string::npos)
      << task.dump();
  auto [status_code, status] = Control({"--json", "status"});
  ASSERT_EQ(status_code, 0);
  EXPECT_EQ(json::parse(status)["task_reauctions"], 2) << status;
  EXPECT_GE(json::parse(status)["task_revokes"].get<uint64_t>(), 1u) << status;
  EXPECT_GE(json::parse(status)["task_reports"].get<uint64_t>(), 1u) << status;

  // A restarted coordinator rebuilds the tasks from its ledger.
  Stop(coordinator_);
  StartCoordinator();
  auto [list_code, list] = Control({"--json", "task", "list"});
  ASSERT_EQ(list_code, 0) << list;
  const json tasks = json::parse(list);
  ASSERT_EQ(tasks.size(), 3u) << list;
  EXPECT_EQ(tasks[0]["id"], "weld-1");
  EXPECT_EQ(tasks[0]["status"], "done");
  EXPECT_EQ(tasks[0]["auctions"].size(), 2u);
  EXPECT_EQ(tasks[0]["history"], weld1_history) << list;

  EXPECT_EQ(tasks[1]["status"], "unassigned");
  EXPECT_EQ(tasks[2]["status"], "unassigned");
  EXPECT_EQ(tasks[2]["history"], task["history"]) << list;
  auto [table_code, table] = Control({"task", "show", "weld-1"});
  EXPECT_EQ(table_code, 0);
  EXPECT_NE(table.find("task weld-1: done " + other), std::string::npos) << table;
  EXPECT_EQ(Control({"task", "show", "nope"}).first, 1);

  // The new winner's ledger holds both tasks, ended: weld-1 done, weld-3 dropped at its restart
  // (desired value -1 each).
  Stop(coordinator_);
  ::kill(agents_running_[o].pid, SIGTERM);
  const std::string twin = ReadAll(agents_running_[o].out);
  ReadAll(agents_running_[o].err);
  EXPECT_EQ(Wait(agents_running_[o].pid), 0);
  agents_running_[o].pid = -1;
  const json state = json::parse(twin, nullptr, false);
  ASSERT_TRUE(state.is_object()) << twin;
  EXPECT_EQ(state["desired"]["task.weld-1"], -1) << twin;
  EXPECT_EQ(state["desired"]["task.weld-3"], -1) << twin;
  auto [verify_code, verify] = RunTool({FLEETTWIN_FLEET_AUDIT, "verify", "--quiet", "--key",
                                        (dir_.path() / "coordinator" / "coordinator.vkey").string(),
                                        (dir_.path() / "coordinator" / "ledger").string()});
  EXPECT_EQ(verify_code, 0) << verify;
}

// Federated rounds over the Fleet API between fleet-coordinator and five fleet-agents, each
// training on its own two C-MAPSS training units: rounds complete and are ledgered, a node
// killed mid-round costs the round only its reply, and every agent ledgers the models it got.
TEST_F(FleetProcessTest, FederatedRoundsCompleteWithoutAKilledNodeAndAreLedgered) {
  ASSERT_EQ(Fleetctl({"keys", "generate", "engine-5", "--out", agents_.string()}).first, 0);
  const std::string fl = "127.0.0.1:" + std::to_string(FreePort());
  StartCoordinator("2000",
                   {"--fl-listen", fl, "--fl-model", kSource + "/data/models/cmapss-fd001-mlp"});
  for (int i = 1; i <= 5; ++i) {
    const std::string asset = "engine-" + std::to_string(i);
    agents_running_.push_back(
        StartAgent(asset, i, agents_ / (asset + ".curve-secret"), "max",
                   {"--fl-server", fl, "--fl-history", kSource + "/data/cmapss/train_FD001.txt",
                    "--fl-history-units", std::to_string(2 * i - 1) + "-" + std::to_string(2 * i),
                    "--fl-heartbeat", "1"}));
  }
  auto rounds_status = [&] {
    auto [code, out] = Control({"--json", "rounds", "list"});
    return code == 0 ? json::parse(out, nullptr, false) : json();
  };
  ASSERT_TRUE(WaitFor(
      [&] {
        const json s = rounds_status();
        if (!s.is_object()) return false;
        int alive = 0;
        for (const json& n : s["nodes"]) alive += n.value("alive", false) ? 1 : 0;
        return alive == 5;
      },
      60s));

  auto [code, out] = Control({"--json", "rounds", "start", "--rounds", "2", "--min-nodes", "5",
                              "--local-epochs", "1", "--deadline", "120", "--evaluate"});
  ASSERT_EQ(code, 0) << out;
  const json result = json::parse(out);
  ASSERT_EQ(result["rounds"].size(), 2u) << out;
  std::set<std::string> model_ids;
  for (const json& r : result["rounds"]) {
    EXPECT_TRUE(r.value("aggregated", false)) << r.dump();
    EXPECT_EQ(r["replied"].size(), 5u) << r.dump();
    std::set<std::string> assets;
    for (const json& p : r["replied"]) assets.insert(p.value("asset", ""));
    EXPECT_EQ(assets,
              (std::set<std::string>{"engine-1", "engine-2", "engine-3", "engine-4", "engine-5"}));
    EXPECT_TRUE(r["eval_metrics"].contains("rmse")) << r.dump();
    model_ids.insert(r.value("model_id", ""));
  }
  EXPECT_EQ(model_ids.size(), 2u);
  EXPECT_EQ(result.value("model_id", ""), result["rounds"][1].value("model_id", ""));

  // Against the running coordinator: a node with a bad signature and one with a stale
  // timestamp are refused; a node whose reply carries an object whose id does not match its
  // bytes is refused that object, and the round goes on without it.
  const int fl_port = std::stoi(fl.substr(fl.rfind(':') + 1));
  {
    uint64_t id = 0;
    testing::RawFlowerClient bad_sig(fl_port, *federated::NodeKey::Generate());
    bad_sig.corrupt_signature = true;
    EXPECT_EQ(bad_sig.Register(&id).error_code(), grpc::StatusCode::UNAUTHENTICATED);
    testing::RawFlowerClient stale(fl_port, *federated::NodeKey::Generate());
    stale.skew = absl::Seconds(-400);
    EXPECT_EQ(stale.Register(&id).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  testing::RawFlowerClient tamperer(fl_port, *federated::NodeKey::Generate());
  uint64_t tamperer_id = 0;
  ASSERT_TRUE(tamperer.Register(&tamperer_id).ok());
  Child tampered_round =
      Spawn({FLEETTWIN_FLEETCTL, "--coordinator", control_, "--coordinator-key",
             (keys_ / "coordinator.curve-public").string(), "--operator-key",
             (keys_ / "operators" / "alice.curve-secret").string(), "--json", "rounds", "start",
             "--rounds", "1", "--min-nodes", "6", "--local-epochs", "1", "--deadline", "120"});
  flwr::proto::PullMessagesResponse pulled;
  ASSERT_TRUE(WaitFor(
      [&] {
        pulled.Clear();
        return tamperer.Pull(tamperer_id, &pulled).ok() && pulled.messages_list_size() == 1;
      },
      30s));
  {
    flwr::proto::RecordDict content;
    flwr::proto::MetricRecord metrics;
    federated::SetInt(metrics, "num-examples", 1000000);  // Would dominate FedAvg if accepted.
    federated::AddMetrics(content, "metrics", metrics);
    const std::vector<float> junk(8, 1e6f);
    federated::AddArrays(
        content, "arrays",
        federated::ToArrayRecord({MakeNpy<float>({8}, absl::MakeConstSpan(junk))}));
    const int stored =
        tamperer.Reply(tamperer_id, pulled.messages_list(0).metadata(), content, true);
    EXPECT_EQ(stored, tamperer.objects_pushed - 1);
  }
  const std::string tampered_out = ReadAll(tampered_round.out);
  ReadAll(tampered_round.err);
  EXPECT_EQ(Wait(tampered_round.pid), 0) << tampered_out;
  const json tampered = json::parse(tampered_out, nullptr, false);
  ASSERT_TRUE(tampered.is_object()) << tampered_out;
  const json& r3 = tampered["rounds"][0];
  EXPECT_TRUE(r3.value("aggregated", false)) << tampered_out;
  EXPECT_EQ(r3["sampled"].size(), 6u);
  EXPECT_EQ(r3["replied"].size(), 5u);
  ASSERT_EQ(r3["failed"].size(), 1u) << tampered_out;
  EXPECT_EQ(r3["failed"][0].value("node", ""), std::to_string(tamperer_id));
  EXPECT_TRUE(tamperer.Leave(tamperer_id).ok());
  const json counters = rounds_status();
  EXPECT_GE(counters.value("refused_auth", 0), 2) << counters.dump();
  EXPECT_GE(counters.value("refused_objects", 0), 1) << counters.dump();

  // A round in which engine-5 is killed after it got its train message: the round aggregates
  // the four replies at the deadline and says what happened to the fifth.
  Child rounds =
      Spawn({FLEETTWIN_FLEETCTL, "--coordinator", control_, "--coordinator-key",
             (keys_ / "coordinator.curve-public").string(), "--operator-key",
             (keys_ / "operators" / "alice.curve-secret").string(), "--json", "rounds", "start",
             "--rounds", "1", "--min-nodes", "5", "--local-epochs", "10", "--deadline", "60"});
  // Killed while the round runs (10 local epochs take about 0.6 s in release, longer under
  // AddressSanitizer); whether it had pulled the message yet or not, the round must not wait
  // for it beyond the deadline.
  std::this_thread::sleep_for(300ms);
  ::kill(agents_running_[4].pid, SIGKILL);
  Wait(agents_running_[4].pid);
  agents_running_[4].pid = -1;
  const std::string third = ReadAll(rounds.out);
  ReadAll(rounds.err);
  EXPECT_EQ(Wait(rounds.pid), 0) << third;
  const json killed = json::parse(third, nullptr, false);
  ASSERT_TRUE(killed.is_object()) << third;
  const json& r4 = killed["rounds"][0];
  EXPECT_TRUE(r4.value("aggregated", false)) << third;
  EXPECT_EQ(r4["replied"].size(), 4u) << third;
  ASSERT_EQ(r4["failed"].size(), 1u) << third;
  // Given up once it missed its heartbeats (interval 1 s), not at the 15 s deadline.
  EXPECT_EQ(r4["failed"][0].value("reason", ""), "node no longer live (no heartbeat)") << third;
  EXPECT_EQ(r4.value("round", 0), 4);

  // The rounds are in the coordinator's ledger, which verifies.
  Stop(coordinator_);
  const std::string ledger = (dir_.path() / "coordinator" / "ledger").string();
  auto [vcode, vout] =
      RunTool({FLEETTWIN_FLEET_AUDIT, "verify", "--quiet", "--key",
               (dir_.path() / "coordinator" / "coordinator.vkey").string(), ledger});
  EXPECT_EQ(vcode, 0) << vout;
  auto [ecode, exported] = RunTool({FLEETTWIN_FLEET_AUDIT, "export", ledger});
  ASSERT_EQ(ecode, 0);
  int fl_rounds = 0;
  std::istringstream lines(exported);
  for (std::string line; std::getline(lines, line);) {
    const json e = json::parse(line, nullptr, false);
    if (!e.is_object() || e.value("kind", "") != "fl.round") continue;
    ++fl_rounds;
    std::string payload;
    ASSERT_TRUE(absl::Base64Unescape(e.value("payload", ""), &payload)) << line;
    const json body = json::parse(payload, nullptr, false);
    ASSERT_TRUE(body.is_object()) << line;
    EXPECT_EQ(body.value("round", 0), fl_rounds);
    EXPECT_EQ(body.value("strategy", ""), "fedavg");
    EXPECT_EQ(body.value("model_id", "").size(), 64u);
  }
  EXPECT_EQ(fl_rounds, 4);

  // Each agent ledgered the models it received (desired value federated.model = round).
  Stop(agents_running_[0]);
  auto [rcode, twin] = RunTool({FLEETTWIN_FLEET_AGENT, "--asset", "engine-1", "--kind",
                                kSource + "/kinds/cmapss-turbofan.json", "--model",
                                kSource + "/data/models/cmapss-fd001-mlp", "replay-ledger",
                                (dir_.path() / "engine-1" / "ledger").string()});
  ASSERT_EQ(rcode, 0) << twin;
  const json state = json::parse(twin, nullptr, false);
  ASSERT_TRUE(state.is_object()) << twin;
  EXPECT_EQ(state["desired"]["federated.model"], 4) << twin;
}

// The Fleet API server runnable alone: fleet-fl-server runs two rounds with two agents (no
// coordinator), prints them, and its own ledger of the rounds verifies.
TEST_F(FleetProcessTest, TheFederatedServerRunsAloneWithItsOwnLedger) {
  const std::string fl = "127.0.0.1:" + std::to_string(FreePort());
  const std::filesystem::path state = dir_.path() / "fl-server";
  Child server =
      Spawn({FLEETTWIN_FLEET_FL_SERVER, "--listen", fl, "--model",
             kSource + "/data/models/cmapss-fd001-mlp", "--data-dir", state.string(), "--rounds",
             "2", "--min-nodes", "2", "--deadline", "60", "--wait", "60", "--evaluate"});
  for (int i = 1; i <= 2; ++i) {
    const std::string asset = "engine-" + std::to_string(i);
    // engine-1 switches its twin to every global model it receives; engine-2 never does.
    agents_running_.push_back(
        Spawn({FLEETTWIN_FLEET_AGENT, "--asset", asset, "--kind",
               kSource + "/kinds/cmapss-turbofan.json", "--data-dir",
               (dir_.path() / asset).string(), "--model", kSource + "/data/models/cmapss-fd001-mlp",
               "--fl-server", fl, "--fl-history", kSource + "/data/cmapss/train_FD001.txt",
               "--fl-history-units", std::to_string(3 * i - 2) + "-" + std::to_string(3 * i),
               "--fl-heartbeat", "1", "--fl-adopt", i == 1 ? "always" : "never"}));
  }
  const std::string out = ReadAll(server.out);
  const std::string err = ReadAll(server.err);
  ASSERT_EQ(Wait(server.pid), 0) << out << err;
  server.pid = -1;
  const json result = json::parse(out, nullptr, false);
  ASSERT_TRUE(result.is_object()) << out;
  ASSERT_EQ(result["rounds"].size(), 2u);
  for (const json& r : result["rounds"]) {
    EXPECT_EQ(r["replied"].size(), 2u) << r.dump();
    EXPECT_TRUE(r["eval_metrics"].contains("rmse")) << r.dump();
  }
  auto [code, verified] =
      RunTool({FLEETTWIN_FLEET_AUDIT, "verify", "--quiet", "--key",
               (state / "fl-server.vkey").string(), (state / "ledger").string()});
  EXPECT_EQ(code, 0) << verified;
  EXPECT_TRUE(std::filesystem::exists(state / "fl-model" / "model.json"));

  // engine-1's twin uses the last global model (the server saved it), engine-2's the one it
  // started with; replaying engine-1's ledger needs the models it adopted.
  auto version_in = [](const std::filesystem::path& model_dir) {
    std::ifstream in(model_dir / "model.json");
    return json::parse(in, nullptr, false).value("version", "");
  };
  const std::string global = version_in(state / "fl-model");
  const std::string shipped = version_in(kSource + "/data/models/cmapss-fd001-mlp");
  ASSERT_EQ(global.size(), 64u);
  ASSERT_NE(global, shipped);
  for (int i = 1; i <= 2; ++i) {
    Stop(agents_running_[i - 1]);
    const std::filesystem::path data = dir_.path() / ("engine-" + std::to_string(i));
    std::vector<std::string> replay = {FLEETTWIN_FLEET_AGENT,
                                       "--asset",
                                       "engine-" + std::to_string(i),
                                       "--model",
                                       kSource + "/data/models/cmapss-fd001-mlp",
                                       "replay-ledger",
                                       (data / "ledger").string()};
    if (i == 1) {
      auto [missing, why] = RunTool(replay);
      EXPECT_NE(missing, 0) << why;  // Without --models it cannot recompute the estimates.
      replay.insert(replay.end(), {"--models", (data / "models").string()});
    }
    auto [rcode, twin] = RunTool(replay);
    ASSERT_EQ(rcode, 0) << twin;
    EXPECT_EQ(json::parse(twin, nullptr, false).value("model_version", ""),
              i == 1 ? global : shipped)
        << twin;
    EXPECT_EQ(std::filesystem::exists(data / "models" / global), i == 1);
  }
}

}  // namespace
}  // namespace fleettwin
