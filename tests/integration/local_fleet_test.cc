// The embedded default end to end, as a user runs it: `fleetctl up` starts a coordinator and
// five agents as processes, runs federated rounds, replays, negotiates a plan and audits every
// ledger; the summary it prints must agree with what `fleetctl --json` reports of the still
// running fleet, with the ledgers, and with the true RUL; `fleetctl down` and Ctrl-C stop
// every process it started.
#include <signal.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_format.h"
#include "fleettwin/plan/scoring.h"
#include "testing/process.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace fleettwin {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::Child;
using testing::ReadAll;
using testing::RunTool;
using testing::Spawn;
using testing::Wait;
using namespace std::chrono_literals;

const std::string kSource = FLEETTWIN_SOURCE_DIR;

json ReadJson(const fs::path& file) {
  std::ifstream in(file);
  return json::parse(in, nullptr, false);
}

// The pids fleetctl up recorded, with the binary each runs.
std::vector<std::pair<pid_t, std::string>> RecordedProcesses(const fs::path& dir) {
  std::vector<std::pair<pid_t, std::string>> out;
  const json state = ReadJson(dir / "fleet.json");
  if (!state.is_object()) return out;
  for (const json& p : state["processes"]) out.emplace_back(p["pid"].get<pid_t>(), p["binary"]);
  return out;
}

bool StillRuns(pid_t pid, const std::string& binary) {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec);
  return !ec && exe.string().starts_with(binary);
}

std::pair<int, std::string> Fleetctl(const fs::path& fleet, std::vector<std::string> args) {
  args.insert(args.begin(), {FLEETTWIN_FLEETCTL, "--fleet", fleet.string(), "--json"});
  return RunTool(args);
}

TEST(LocalFleetTest, FiveAgentsEndToEndAndTheSummaryAgreesWithFleetctlAndTheLedgers) {
  testing::TempDir dir;
  const fs::path fleet = dir.path() / "fleet";
  struct Stop {  // Whatever happens below, a fleet left running is stopped.
    fs::path fleet;
    ~Stop() { RunTool({FLEETTWIN_FLEETCTL, "down", "--data-dir", fleet.string()}); }
  } stop{fleet};
  Child up = Spawn({FLEETTWIN_FLEETCTL, "up", "--assets", "5", "--speed", "max", "--rounds", "2",
                    "--local-epochs", "1", "--keep-running", "--data-dir", fleet.string()});
  const std::string printed = ReadAll(up.out);
  const std::string progress = ReadAll(up.err);
  ASSERT_EQ(Wait(up.pid), 0) << progress;
  // Progress shows each step.
  for (const char* step : {"1/6 start", "2/6 federated rounds", "3/6 the live replay",
                           "4/6 a maintenance plan", "5/6", "6/6 audit"}) {
    EXPECT_NE(progress.find(step), std::string::npos) << step << "\n" << progress;
  }
  const json summary = ReadJson(fleet / "summary.json");
  ASSERT_TRUE(summary.is_object()) << printed;

  // Rounds completed: both aggregated with all five nodes, as the coordinator reports them.
  auto [rounds_code, rounds_out] = Fleetctl(fleet, {"rounds", "list"});
  ASSERT_EQ(rounds_code, 0) << rounds_out;
  const json rounds = json::parse(rounds_out);
  ASSERT_EQ(summary["rounds"]["rounds"].size(), 2u);
  ASSERT_EQ(rounds["rounds"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const json& mine = summary["rounds"]["rounds"][i];
    const json& theirs = rounds["rounds"][i];
    EXPECT_TRUE(mine["aggregated"].get<bool>());
    EXPECT_EQ(mine["replied"], 5);
    EXPECT_EQ(mine["replied"], theirs["replied"].size());
    EXPECT_EQ(mine["round"], theirs["round"]);
    EXPECT_EQ(mine["model_id"], theirs["model_id"]);
    EXPECT_EQ(mine["eval_rmse"], theirs["eval_metrics"]["rmse"]);
  }
  EXPECT_EQ(summary["rounds"]["model_id"], rounds["model_id"]);

  // ... and ledgered, as is the plan: the fleet ledger's entries by kind.
  auto [export_code, entries] =
      RunTool({FLEETTWIN_FLEET_AUDIT, "export", (fleet / "coordinator" / "ledger").string()});
  ASSERT_EQ(export_code, 0);
  std::map<std::string, int> kinds;
  std::istringstream lines(entries);
  for (std::string line; std::getline(lines, line);) {
    const json e = json::parse(line, nullptr, false);
    if (e.is_object()) ++kinds[e.value("kind", "")];
  }
  EXPECT_EQ(kinds["fl.round"], 2);
  EXPECT_EQ(kinds["plan.commit"], 1);
  EXPECT_GE(kinds["agent.checkpoint"], 5);

  // A plan committed: the same plan fleetctl shows.
  auto [plan_code, plan_out] = Fleetctl(fleet, {"plan", "show", "fleet-1"});
  ASSERT_EQ(plan_code, 0) << plan_out;
  const json plan = json::parse(plan_out);
  EXPECT_EQ(summary["plan"]["plan_hash"], plan["plan_hash"]);
  EXPECT_EQ(summary["plan"]["maintained"], plan["maintained"]);
  ASSERT_EQ(summary["plan"]["assignments"].size(), plan["assignments"].size());
  for (size_t i = 0; i < plan["assignments"].size(); ++i) {
    for (const char* field : {"asset", "slot", "start", "crew"}) {
      EXPECT_EQ(summary["plan"]["assignments"][i][field], plan["assignments"][i][field]) << field;
    }
  }
  // Its cost with the true RUL, recomputed here from the plan fleetctl shows.
  std::vector<double> truth;
  {
    std::ifstream in(kSource + "/data/cmapss/RUL_FD001.txt");
    for (double r; in >> r;) truth.push_back(r);
  }
  plan::MaintenanceProblem problem{150, 5, 2};
  double realized = 0, run_to_failure = 0;
  for (const json& a : plan["assignments"]) {
    const std::string asset = a["asset"];
    const double rul = truth.at(std::stoul(asset.substr(asset.rfind('-') + 1)) - 1);
    realized += plan::RealizedCost(problem, {}, rul, a["start"]);
    run_to_failure += plan::RealizedCost(problem, {}, rul, -1);
  }
  EXPECT_DOUBLE_EQ(summary["costs"]["plan"].get<double>(), realized);
  EXPECT_DOUBLE_EQ(summary["costs"]["run_to_failure"].get<double>(), run_to_failure);
  EXPECT_LE(summary["costs"]["oracle"].get<double>(), realized);

  // The assets' twins: what fleetctl reports now is what the summary says.
  auto [agents_code, agents_out] = Fleetctl(fleet, {"agents"});
  ASSERT_EQ(agents_code, 0) << agents_out;
  const json agents = json::parse(agents_out);
  ASSERT_EQ(agents.size(), 5u);
  ASSERT_EQ(summary["assets"].size(), 5u);
  std::map<std::string, json> twins;
  for (const json& a : agents) twins[a["asset"]] = a["twin"];
  for (const json& a : summary["assets"]) {
    const json& twin = twins[a["asset"]];
    for (const char* field : {"health", "rul", "rul_std", "p_fail"}) {
      EXPECT_EQ(a[field], twin[field]) << a["asset"] << " " << field;
    }
  }

  // The printed summary shows those numbers: one row per asset, the costs, the ledgers.
  const std::regex row(R"((engine-\d+)\s+(\w+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s+(\d+)\s+(.*))");
  int rows = 0;
  std::istringstream text(printed);
  for (std::string line; std::getline(text, line);) {
    std::smatch m;
    if (!std::regex_match(line, m, row)) continue;
    ++rows;
    const json& twin = twins[m[1].str()];
    EXPECT_EQ(m[2].str(), twin["health"].get<std::string>());
    EXPECT_EQ(m[3].str(), absl::StrFormat("%.1f", twin["rul"].get<double>()));
    EXPECT_EQ(m[5].str(), absl::StrFormat("%.3f", twin["p_fail"].get<double>()));
  }
  EXPECT_EQ(rows, 5) << printed;
  EXPECT_NE(printed.find(absl::StrFormat("plan %.1f, run to failure %.1f", realized, run_to_failure)),
            std::string::npos)
      << printed;
  EXPECT_NE(printed.find(plan["plan_hash"].get<std::string>()), std::string::npos);

  // Every ledger verifies: as the launcher's audit says, and again here.
  EXPECT_EQ(summary["audit"]["verified"], 6);
  EXPECT_TRUE(summary["audit"]["crosscheck"].get<bool>());
  EXPECT_TRUE(summary["audit"]["replay_plan"].get<bool>());
  for (int i = 1; i <= 5; ++i) {
    const fs::path agent = fleet / ("engine-" + std::to_string(i));
    EXPECT_EQ(RunTool({FLEETTWIN_FLEET_AUDIT, "verify", (agent / "ledger").string(), "--key",
                       (agent / "agent.vkey").string(), "--quiet"})
                  .first,
              0);
  }

  // fleetctl down stops every process up started.
  const auto processes = RecordedProcesses(fleet);
  ASSERT_EQ(processes.size(), 6u);
  for (const auto& [pid, binary] : processes) EXPECT_TRUE(StillRuns(pid, binary)) << pid;
  EXPECT_EQ(RunTool({FLEETTWIN_FLEETCTL, "down", "--data-dir", fleet.string()}).first, 0);
  for (const auto& [pid, binary] : processes) EXPECT_FALSE(StillRuns(pid, binary)) << pid;
}

// The README's path: the fleet is stopped before the audit, which reads the closed ledgers.
TEST(LocalFleetTest, WithoutKeepRunningTheFleetStopsThenEveryLedgerIsAudited) {
  testing::TempDir dir;
  const fs::path fleet = dir.path() / "fleet";
  Child up = Spawn({FLEETTWIN_FLEETCTL, "up", "--assets", "3", "--speed", "max", "--rounds", "1",
                    "--local-epochs", "1", "--data-dir", fleet.string(), "--json"});
  const json printed = json::parse(ReadAll(up.out), nullptr, false);
  const std::string progress = ReadAll(up.err);
  ASSERT_EQ(Wait(up.pid), 0) << progress;
  ASSERT_TRUE(printed.is_object());
  EXPECT_EQ(printed, ReadJson(fleet / "summary.json"));
  EXPECT_EQ(printed["audit"]["verified"], 4);
  EXPECT_TRUE(printed["audit"]["crosscheck"].get<bool>());
  EXPECT_TRUE(printed["audit"]["replay_plan"].get<bool>());
  EXPECT_EQ(printed["rounds"]["rounds"].size(), 1u);
  EXPECT_EQ(printed["assets"].size(), 3u);
  EXPECT_EQ(ReadJson(fleet / "fleet.json")["state"], "stopped");
  for (const auto& [pid, binary] : RecordedProcesses(fleet)) EXPECT_FALSE(StillRuns(pid, binary));
  // Every agent ledger ends with its stop: nothing after the audit's copy.
  for (const json& l : printed["audit"]["ledgers"]) {
    auto [code, checkpoint] = RunTool({FLEETTWIN_FLEET_AUDIT, "checkpoint", l["path"]});
    ASSERT_EQ(code, 0);
    std::istringstream lines(checkpoint);
    std::string origin, size;
    std::getline(lines, origin);
    std::getline(lines, size);
    EXPECT_EQ(std::stoll(size), l["entries"].get<int64_t>()) << l["name"];
  }
}

// Ctrl-C (SIGINT) and a closed terminal (SIGHUP) during the federated rounds stop every process
// the launcher started, promptly, and it exits 130.
TEST(LocalFleetTest, CtrlCOrAClosedTerminalStopsEveryProcessItStarted) {
  for (int signal : {SIGINT, SIGHUP}) {
    testing::TempDir dir;
    const fs::path fleet = dir.path() / "fleet";
    Child up = Spawn({FLEETTWIN_FLEETCTL, "up", "--assets", "3", "--speed", "1x", "--rounds", "5",
                      "--local-epochs", "3", "--data-dir", fleet.string()});
    ASSERT_TRUE(testing::WaitFor([&] {
      const json state = ReadJson(fleet / "fleet.json");
      return state.is_object() && state["state"] == "running";
    }, 120s));
    const auto processes = RecordedProcesses(fleet);
    ASSERT_EQ(processes.size(), 4u);
    ::kill(up.pid, signal);
    ReadAll(up.out);
    const std::string progress = ReadAll(up.err);
    EXPECT_EQ(Wait(up.pid), 130) << progress;
    EXPECT_NE(progress.find("interrupted"), std::string::npos) << progress;
    EXPECT_NE(progress.find("2/6 federated rounds"), std::string::npos) << progress;
    EXPECT_EQ(progress.find("3/6"), std::string::npos) << progress;
    for (const auto& [pid, binary] : processes) EXPECT_FALSE(StillRuns(pid, binary)) << pid;
  }
}

TEST(LocalFleetTest, UpRefusesBadFlagsAndADirectoryItDidNotMake) {
  testing::TempDir dir;
  std::ofstream(dir.path() / "precious.txt") << "not a fleet\n";
  Child up = Spawn({FLEETTWIN_FLEETCTL, "up", "--assets", "2", "--data-dir", dir.path().string()});
  ReadAll(up.out);
  const std::string err = ReadAll(up.err);
  EXPECT_EQ(Wait(up.pid), 1);
  EXPECT_NE(err.find("was not made by fleetctl up"), std::string::npos) << err;
  EXPECT_TRUE(fs::exists(dir.path() / "precious.txt"));

  EXPECT_EQ(RunTool({FLEETTWIN_FLEETCTL, "up", "--assets", "101", "--data-dir",
                     (dir.path() / "f").string()})
                .first,
            2);  // FD001 has 100 test engines.
  EXPECT_EQ(RunTool({FLEETTWIN_FLEETCTL, "up", "--dataset", "FD009", "--data-dir",
                     (dir.path() / "g").string()})
                .first,
            1);  // No such files: NotFound.
  EXPECT_EQ(RunTool({FLEETTWIN_FLEETCTL, "down", "--data-dir", (dir.path() / "none").string()}).first,
            2);
  // A fleet.json it did not write: up refuses the directory, down touches nothing.
  const fs::path other = dir.path() / "other";
  fs::create_directories(other);
  std::ofstream(other / "fleet.json") << "hello\n";
  std::ofstream(other / "thesis.tex") << "precious\n";
  EXPECT_EQ(RunTool({FLEETTWIN_FLEETCTL, "up", "--assets", "2", "--data-dir", other.string()}).first,
            1);
  EXPECT_TRUE(fs::exists(other / "thesis.tex"));
  EXPECT_NE(RunTool({FLEETTWIN_FLEETCTL, "down", "--data-dir", other.string()}).first, 0);
  EXPECT_EQ(RunTool({FLEETTWIN_FLEETCTL, "up", "--speed", "fast", "--data-dir",
                     (dir.path() / "h").string()})
                .first,
            2);
}

}  // namespace
}  // namespace fleettwin
