// fleet-agent as a real process: replay of real data, and ZeroMQ ingestion ended by SIGTERM;
// each run ends with fleet-audit verify on the agent's ledger and the ledger-rebuilt twin equal
// to the one the agent printed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <zmq.hpp>

#include "fleettwin/agent/zmq_source.h"
#include "testing/temp_dir.h"

namespace fleettwin::agent {
namespace {

using ::fleettwin::testing::TempDir;

const std::string kSource = FLEETTWIN_SOURCE_DIR;

struct Child {
  pid_t pid = -1;
  int out = -1;  // stdout
  int err = -1;  // stderr
};

Child Spawn(const std::vector<std::string>& args) {
  int out[2], err[2];
  EXPECT_EQ(::pipe(out), 0);
  EXPECT_EQ(::pipe(err), 0);
  Child c;
  c.pid = ::fork();
  if (c.pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::close(out[0]);
    ::close(err[0]);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::_Exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  c.out = out[0];
  c.err = err[0];
  return c;
}

std::string ReadAll(int fd) {
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<size_t>(n));
  ::close(fd);
  return text;
}

int Wait(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Runs a tool to completion; returns {exit code, stdout}.
std::pair<int, std::string> RunTool(const std::vector<std::string>& args) {
  Child c = Spawn(args);
  std::string out = ReadAll(c.out);
  ReadAll(c.err);
  return {Wait(c.pid), out};
}

std::string Rebuilt(const std::string& dir, const std::string& kind, const std::string& asset) {
  auto [code, out] = RunTool(
      {FLEETTWIN_FLEET_AGENT, "replay-ledger", dir + "/ledger", "--kind", kind, "--asset", asset});
  EXPECT_EQ(code, 0);
  return out;
}

int Verify(const std::string& dir) {
  return RunTool({FLEETTWIN_FLEET_AUDIT, "verify", dir + "/ledger", "--key", dir + "/agent.vkey",
                  "--quiet"})
      .first;
}

TEST(AgentProcessTest, CmapssReplayLedgersEveryCycleAndRebuildsTheSameTwin) {
  TempDir tmp;
  const std::string dir = (tmp.path() / "engine-31").string();
  const std::string kind = kSource + "/kinds/cmapss-turbofan.json";
  auto [code, live] =
      RunTool({FLEETTWIN_FLEET_AGENT, "--asset", "engine-31", "--kind", kind, "--data-dir", dir,
               "--replay", kSource + "/data/cmapss/test_FD001.txt", "--replay-unit", "31",
               "--speed", "max", "--exit-after-replay"});
  ASSERT_EQ(code, 0);
  nlohmann::json twin = nlohmann::json::parse(live);
  EXPECT_EQ(twin["asset"], "engine-31");
  EXPECT_GT(twin["revision"].get<int>(), 100);
  EXPECT_EQ(twin["revision"], twin["samples"]);  // Real data: nothing rejected.
  EXPECT_EQ(Verify(dir), 0);
  EXPECT_EQ(Rebuilt(dir, kind, "engine-31"), live);
}

TEST(AgentProcessTest, ZeroMqIngestionDrainsOnSigtermAndLosesNothing) {
  TempDir tmp;
  const std::string dir = (tmp.path() / "pump-1").string();
  const std::string kind = (tmp.path() / "pump.json").string();
  std::ofstream(kind) << R"({"kind": "pump", "time": {"unit": "s", "period": 1},
    "channels": [{"name": "pressure", "min": 0, "max": 10}],
    "features": [{"name": "pressure_mean_5", "channel": "pressure", "op": "mean", "window": 5}]})";
  Child agent = Spawn({FLEETTWIN_FLEET_AGENT, "--asset", "pump-1", "--kind", kind, "--data-dir",
                       dir, "--zmq-bind", "tcp://127.0.0.1:*", "--batch", "64"});
  // The agent names its bound endpoint on stderr once it runs.
  std::string banner;
  std::smatch match;
  const std::regex endpoint("ZeroMQ (tcp://127\\.0\\.0\\.1:[0-9]+)");
  for (int tries = 0; tries < 100 && !std::regex_search(banner, match, endpoint); ++tries) {
    pollfd p{agent.err, POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      char buffer[512];
      const ssize_t n = ::read(agent.err, buffer, sizeof buffer);
      if (n <= 0) break;
      banner.append(buffer, static_cast<size_t>(n));
    }
  }
  ASSERT_TRUE(std::regex_search(banner, match, endpoint)) << banner;

  zmq::context_t context;
  zmq::socket_t push(context, zmq::socket_type::push);
  push.set(zmq::sockopt::linger, 5000);
  push.connect(match[1].str());
  uint64_t sent = 0;
  double time = 0;
  for (int b = 0; b < 40; ++b) {
    std::vector<RawSample> samples;
    for (int i = 0; i < 50; ++i) {
      time += 1;
      // Every 10th value is out of range: rejected, quarantined, ledgered.
      samples.push_back({time, {{"pressure", i % 10 == 9 ? 50.0 : 1.0 + i % 5}}});
    }
    sent += samples.size();
    const std::string message = EncodeTelemetryBatch("pump-1", samples);
    push.send(zmq::buffer(message), zmq::send_flags::none);
  }
  push.send(zmq::str_buffer("garbage"), zmq::send_flags::none);  // Counted, never a crash.
  push.close();  // Linger: everything is handed to the agent's socket first.
  // Give the agent's socket the messages before asking it to stop.
  ::usleep(300 * 1000);
  ::kill(agent.pid, SIGTERM);
  const std::string live = ReadAll(agent.out);
  const std::string log = ReadAll(agent.err);
  ASSERT_EQ(Wait(agent.pid), 0) << log;
  nlohmann::json twin = nlohmann::json::parse(live);
  EXPECT_EQ(twin["samples"].get<uint64_t>(), sent - sent / 10);
  EXPECT_NE(log.find(std::to_string(sent - sent / 10) + " accepted, " + std::to_string(sent / 10) +
                     " rejected"),
            std::string::npos)
      << log;
  EXPECT_EQ(Verify(dir), 0);
  EXPECT_EQ(Rebuilt(dir, kind, "pump-1"), live);
}

TEST(AgentProcessTest, BadArgumentsAreClearErrors) {
  TempDir tmp;
  const std::string kind = kSource + "/kinds/cmapss-turbofan.json";
  EXPECT_EQ(RunTool({FLEETTWIN_FLEET_AGENT, "--asset", "a", "--kind", kind}).first, 2);  // No dir.
  EXPECT_EQ(RunTool({FLEETTWIN_FLEET_AGENT, "--asset", "a", "--kind", "/nonexistent.json",
                     "--data-dir", tmp.path().string()})
                .first,
            2);
  EXPECT_EQ(RunTool({FLEETTWIN_FLEET_AGENT, "--asset", "a", "--kind", kind, "--data-dir",
                     tmp.path().string(), "--replay", "x", "--speed", "fast"})
                .first,
            2);
  EXPECT_EQ(RunTool({FLEETTWIN_FLEET_AGENT, "--bogus"}).first, 2);
  EXPECT_EQ(RunTool({FLEETTWIN_FLEET_AGENT, "--help"}).first, 0);
}

}  // namespace
}  // namespace fleettwin::agent
