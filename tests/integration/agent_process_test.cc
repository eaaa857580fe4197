// fleet-agent as a real process: replay of real data, ZeroMQ ingestion, MQTT through a real
// Mosquitto broker (restarted mid-run), a flood beyond the queue, a config file. Each run ends
// with SIGTERM (or the end of the replay), fleet-audit verify on the agent's ledger, and the
// ledger-rebuilt twin equal to the agent's /twin and to what it printed on exit.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>
#include <mqtt/client.h>

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <zmq.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "fleettwin/agent/mqtt_source.h"
#include "fleettwin/agent/zmq_source.h"
#include "testing/mosquitto.h"
#include "testing/process.h"
#include "testing/temp_dir.h"
#include "testing/wait.h"

namespace fleettwin::agent {
namespace {

using ::fleettwin::testing::Child;
using ::fleettwin::testing::Mosquitto;
using ::fleettwin::testing::ReadAll;
using ::fleettwin::testing::ReadUntil;
using ::fleettwin::testing::RunTool;
using ::fleettwin::testing::Spawn;
using ::fleettwin::testing::TempDir;
using ::fleettwin::testing::Wait;
using ::fleettwin::testing::WaitFor;

const std::string kSource = FLEETTWIN_SOURCE_DIR;

using namespace std::chrono_literals;

// A running fleet-agent with its HTTP API on a free port (and, if asked, ZeroMQ).
class AgentProcess {
 public:
  // Starts fleet-agent with `args` plus --http 127.0.0.1:0 and waits for its banner.
  explicit AgentProcess(std::vector<std::string> args) {
    args.insert(args.begin(), FLEETTWIN_FLEET_AGENT);
    args.insert(args.end(), {"--http", "127.0.0.1:0"});
    child_ = Spawn(args);
    banner_ = ReadUntil(child_.err, std::regex("HTTP 127\\.0\\.0\\.1:([0-9]+)"), 30s);
    std::smatch m;
    if (std::regex_search(banner_, m, std::regex("HTTP 127\\.0\\.0\\.1:([0-9]+)"))) {
      http_ = std::make_unique<httplib::Client>("127.0.0.1", std::stoi(m[1].str()));
      http_->set_read_timeout(30, 0);
    }
    if (std::regex_search(banner_, m, std::regex("ZeroMQ (tcp://127\\.0\\.0\\.1:[0-9]+)"))) {
      zmq_ = m[1].str();
    }
  }
  ~AgentProcess() {
    if (child_.pid > 0) Stop();
  }

  bool running() const { return http_ != nullptr; }
  const std::string& banner() const { return banner_; }
  const std::string& zmq_endpoint() const { return zmq_; }

  // GET `path`: {status, body}; status -1 if the request failed.
  std::pair<int, std::string> Get(const std::string& path) {
    httplib::Result r = http_->Get(path);
    if (!r) return {-1, ""};
    return {r->status, r->body};
  }

  // PUT `path` with a JSON body: {status, body}.
  std::pair<int, std::string> Put(const std::string& path, const std::string& body) {
    httplib::Result r = http_->Put(path, body, "application/json");
    if (!r) return {-1, ""};
    return {r->status, r->body};
  }

  // POST `path` with a JSON body: {status, body}.
  std::pair<int, std::string> Post(const std::string& path, const std::string& body) {
    httplib::Result r = http_->Post(path, body, "application/json");
    if (!r) return {-1, ""};
    return {r->status, r->body};
  }

  // The value of the metric sample `series` (name and labels exactly as exposed), or -1.
  double Metric(const std::string& series) {
    const std::string text = Get("/metrics").second;
    const std::string key = series + " ";
    size_t at = text.find("\n" + key);
    if (at == std::string::npos) return -1;
    at += 1 + key.size();
    double value = -1;
    if (!absl::SimpleAtod(text.substr(at, text.find('\n', at) - at), &value)) return -1;
    return value;
  }
  double Accepted() {
    return Metric("fleettwin_agent_samples_accepted_total{asset=\"" + asset_ + "\"}");
  }
  double Rejected() {
    double total = 0;
    for (const char* reason :
         {"schema", "type", "not_finite", "range", "duplicate", "out_of_order", "rate"}) {
      total += Metric(absl::StrCat("fleettwin_agent_samples_rejected_total{asset=\"", asset_,
                                   "\",reason=\"", reason, "\"}"));
    }
    return total;
  }
  void set_asset(std::string asset) { asset_ = std::move(asset); }

  // SIGTERM; returns {exit code, stdout, stderr}.
  struct Exit {
    int code;
    std::string out, err;
  };
  Exit Stop() {
    ::kill(child_.pid, SIGTERM);
    Exit e;
    e.out = ReadAll(child_.out);
    e.err = banner_ + ReadAll(child_.err);
    e.code = Wait(child_.pid);
    child_.pid = -1;
    return e;
  }

 private:
  Child child_;
  std::string banner_;
  std::string zmq_;
  std::string asset_;
  std::unique_ptr<httplib::Client> http_;
};

std::string PumpKind(const TempDir& tmp) {
  const std::string kind = (tmp.path() / "pump.json").string();
  std::ofstream(kind) << R"({"kind": "pump", "time": {"unit": "s", "period": 1},
    "channels": [{"name": "pressure", "min": 0, "max": 10}],
    "features": [{"name": "pressure_mean_5", "channel": "pressure", "op": "mean", "window": 5}]})";
  return kind;
}

// The twin rebuilt from the ledger alone (the kind it ran with is recorded there); checks that
// naming the same kind file gives the same, and that another kind is refused.
std::string Rebuilt(const std::string& dir, const std::string& kind, const std::string& asset) {
  auto [code, out] =
      RunTool({FLEETTWIN_FLEET_AGENT, "replay-ledger", dir + "/ledger", "--asset", asset});
  EXPECT_EQ(code, 0);
  auto [code_with_kind, out_with_kind] = RunTool(
      {FLEETTWIN_FLEET_AGENT, "replay-ledger", dir + "/ledger", "--kind", kind, "--asset", asset});
  EXPECT_EQ(code_with_kind, 0);
  EXPECT_EQ(out_with_kind, out);
  const std::string other = kSource + "/kinds/conveyor-belt.json";
  EXPECT_EQ(RunTool({FLEETTWIN_FLEET_AGENT, "replay-ledger", dir + "/ledger", "--kind", other,
                     "--asset", asset})
                .first,
            2);
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
  AgentProcess agent({"--asset", "engine-31", "--kind", kind, "--data-dir", dir, "--replay",
                      kSource + "/data/cmapss/test_FD001.txt", "--replay-unit", "31", "--speed",
                      "max"});
  ASSERT_TRUE(agent.running()) << agent.banner();
  agent.set_asset("engine-31");
  // Engine 31 of the FD001 test set has 196 cycles.
  ASSERT_TRUE(WaitFor([&] {
    return agent.Metric("fleettwin_agent_replay_done{asset=\"engine-31\"}") == 1 &&
           agent.Accepted() + agent.Rejected() == 196;
  }));
  auto [status, live] = agent.Get("/twin");
  ASSERT_EQ(status, 200);
  AgentProcess::Exit exit = agent.Stop();
  ASSERT_EQ(exit.code, 0) << exit.err;
  EXPECT_EQ(exit.out, live);
  nlohmann::json twin = nlohmann::json::parse(live);
  EXPECT_EQ(twin["asset"], "engine-31");
  EXPECT_EQ(twin["revision"], 196);
  EXPECT_EQ(twin["samples"], 196);  // Real data: nothing rejected.
  EXPECT_EQ(Verify(dir), 0);
  EXPECT_EQ(Rebuilt(dir, kind, "engine-31"), live);
}

TEST(AgentProcessTest, WithAModelTheTwinPredictsRulAndAnswersWhatIfQuestions) {
  TempDir tmp;
  const std::string dir = (tmp.path() / "engine-31").string();
  const std::string kind = kSource + "/kinds/cmapss-turbofan.json";
  const std::string model = kSource + "/data/models/cmapss-fd001-mlp";
  AgentProcess agent({"--asset", "engine-31", "--kind", kind, "--data-dir", dir, "--model", model,
                      "--replay", kSource + "/data/cmapss/test_FD001.txt", "--replay-unit", "31",
                      "--speed", "max"});
  ASSERT_TRUE(agent.running()) << agent.banner();
  agent.set_asset("engine-31");
  ASSERT_TRUE(WaitFor([&] { return agent.Accepted() == 196; }));
  auto [status, live] = agent.Get("/twin");
  ASSERT_EQ(status, 200);
  const nlohmann::json twin = nlohmann::json::parse(live);
  EXPECT_EQ(twin["revision"], 197);  // The model version, then 196 cycles.
  EXPECT_EQ(twin["model_version"].get<std::string>().size(), 64u);
  ASSERT_TRUE(twin["rul"].is_object()) << live;
  const double rul = twin["rul"]["rul"];
  EXPECT_GE(rul, 0);
  EXPECT_LE(rul, 125);
  EXPECT_NEAR(agent.Metric("fleettwin_twin_rul_cycles{asset=\"engine-31\"}"), rul, 1e-6);
  EXPECT_GE(agent.Metric("fleettwin_twin_failure_probability{asset=\"engine-31\",horizon=\"30\"}"),
            0);
  EXPECT_EQ(agent.Metric("fleettwin_twin_model_info{asset=\"engine-31\",version=\"" +
                         twin["model_version"].get<std::string>() + "\"}"),
            1);
  // What-if: maintenance in 10 cycles against running on, from the twin's own estimate.
  auto [wstatus, answer] =
      agent.Post("/whatif", R"({"maintenance_at": 10, "horizon": 150, "replications": 2000})");
  ASSERT_EQ(wstatus, 200) << answer;
  const nlohmann::json a = nlohmann::json::parse(answer);
  EXPECT_EQ(a["model"], "turbofan");
  EXPECT_NEAR(a["parameters"]["rul"].get<double>(), std::max(rul, 0.1), 1e-9);
  EXPECT_LE(a["answers"]["cost"]["ci"][0].get<double>(), a["answers"]["cost"]["mean"].get<double>());
  EXPECT_EQ(agent.Post("/whatif", R"({"capacity": 3})").first, 400);  // Not a turbofan field.
  EXPECT_EQ(agent.Post("/whatif", "not json").first, 400);
  EXPECT_EQ(twin["prediction_quality"]["rul_errors"], 0);

  // The engine fails at its last cycle and an operator records it: the failure scores the
  // twin's earlier predictions, and the renewed engine has no estimate until its next sample.
  auto [mstatus, recorded] = agent.Post("/maintenance", R"({"note": "failure", "author": "ops"})");
  ASSERT_EQ(mstatus, 200) << recorded;
  EXPECT_EQ(nlohmann::json::parse(recorded)["revision"], 198);
  EXPECT_EQ(agent.Post("/maintenance", R"({"time": 1})").first, 400);  // Before the failure.
  EXPECT_EQ(agent.Post("/maintenance", R"({"time": 500})").first, 400);  // After the last sample.
  auto [after_status, after] = agent.Get("/twin");
  ASSERT_EQ(after_status, 200);
  const nlohmann::json failed = nlohmann::json::parse(after);
  EXPECT_EQ(failed["revision"], 198);
  ASSERT_EQ(failed["maintenance"].size(), 1u) << after;
  EXPECT_EQ(failed["maintenance"][0]["note"], "failure");
  EXPECT_EQ(failed["maintenance"][0]["author"], "ops");
  EXPECT_EQ(failed["maintenance"][0]["time"], twin["last_time"]);
  EXPECT_TRUE(failed["rul"].is_null()) << after;
  EXPECT_GT(failed["prediction_quality"]["rul_errors"].get<int>(), 0) << after;

  AgentProcess::Exit exit = agent.Stop();
  ASSERT_EQ(exit.code, 0) << exit.err;
  EXPECT_EQ(Verify(dir), 0);
  // The rebuild recomputes the predictions with the model the ledger names.
  auto [code, rebuilt] = RunTool({FLEETTWIN_FLEET_AGENT, "replay-ledger", dir + "/ledger",
                                  "--asset", "engine-31", "--model", model});
  ASSERT_EQ(code, 0);
  EXPECT_EQ(rebuilt, after);
}

// With an operator port, the HTTP port auditors and monitoring reach serves reads only.
TEST(AgentProcessTest, WithAnOperatorPortTheHttpPortIsReadOnly) {
  TempDir tmp;
  const int operator_port = testing::FreePort();
  AgentProcess agent({"--asset", "engine-31", "--kind", kSource + "/kinds/cmapss-turbofan.json",
                      "--data-dir", (tmp.path() / "engine-31").string(), "--http-operator",
                      "127.0.0.1:" + std::to_string(operator_port)});
  ASSERT_TRUE(agent.running()) << agent.banner();
  EXPECT_EQ(agent.Put("/desired/max_s11", R"({"value": 48, "author": "auditor"})").first, 404);
  EXPECT_EQ(agent.Post("/whatif", R"({"replications": 100})").first, 404);
  EXPECT_EQ(agent.Post("/maintenance", R"({"note": "auditor"})").first, 404);
  EXPECT_EQ(agent.Get("/healthz").first, 200);
  httplib::Client op("127.0.0.1", operator_port);
  httplib::Result put = op.Put("/desired/max_s11", R"({"value": 48, "author": "ops"})",
                               "application/json");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 200) << put->body;
  auto [status, twin] = agent.Get("/twin");
  ASSERT_EQ(status, 200);
  EXPECT_EQ(nlohmann::json::parse(twin)["desired"]["max_s11"], 48.0) << twin;
  AgentProcess::Exit exit = agent.Stop();
  EXPECT_EQ(exit.code, 0) << exit.err;
}

TEST(AgentProcessTest, ReplayToTheEndWithoutHttp) {
  TempDir tmp;
  const std::string dir = (tmp.path() / "engine-31").string();
  const std::string kind = kSource + "/kinds/cmapss-turbofan.json";
  auto [code, live] =
      RunTool({FLEETTWIN_FLEET_AGENT, "--asset", "engine-31", "--kind", kind, "--data-dir", dir,
               "--replay", kSource + "/data/cmapss/test_FD001.txt", "--replay-unit", "31",
               "--speed", "max", "--exit-after-replay"});
  ASSERT_EQ(code, 0);
  EXPECT_EQ(nlohmann::json::parse(live)["revision"], 196);
  EXPECT_EQ(Verify(dir), 0);
  EXPECT_EQ(Rebuilt(dir, kind, "engine-31"), live);
}

TEST(AgentProcessTest, ZeroMqIngestionDrainsOnSigtermAndLosesNothing) {
  TempDir tmp;
  const std::string dir = (tmp.path() / "pump-1").string();
  const std::string kind = PumpKind(tmp);
  AgentProcess agent({"--asset", "pump-1", "--kind", kind, "--data-dir", dir, "--zmq-bind",
                      "tcp://127.0.0.1:*", "--batch", "64"});
  ASSERT_TRUE(agent.running() && !agent.zmq_endpoint().empty()) << agent.banner();
  agent.set_asset("pump-1");

  zmq::context_t context;
  zmq::socket_t push(context, zmq::socket_type::push);
  push.set(zmq::sockopt::linger, 5000);
  push.connect(agent.zmq_endpoint());
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
  // Bad input: garbage, a truncated batch, a batch for another asset. Counted, never a crash.
  push.send(zmq::str_buffer("garbage"), zmq::send_flags::none);
  const std::string truncated = EncodeTelemetryBatch("pump-1", {{1e6, {{"pressure", 1.0}}}});
  push.send(zmq::buffer(truncated.substr(0, truncated.size() / 2)), zmq::send_flags::none);
  const std::string foreign = EncodeTelemetryBatch("pump-2", {{1e6, {{"pressure", 1.0}}}});
  push.send(zmq::buffer(foreign), zmq::send_flags::none);
  // Wrong types and absurd values: rejected with their reasons.
  const std::string bad = EncodeTelemetryBatch(
      "pump-1", {{time + 1, {{"pressure", std::string("high")}}},
                 {time + 2, {{"pressure", 1e308}}},
                 {time + 3, {{"pressure", -1e308}}},
                 {time + 4, {{"pressure", std::numeric_limits<double>::infinity()}}},
                 {time + 5, {{"pressure", 1.0}, {"bogus", 2.0}}},
                 {1e300, {{"pressure", 1.0}}},  // An absurd time must not block what follows.
                 {time + 6, {{"pressure", 1.0}}}});
  push.send(zmq::buffer(bad), zmq::send_flags::none);
  const uint64_t accepted = sent - sent / 10 + 1;  // Only the last of those seven.
  const uint64_t rejected = sent / 10 + 6;
  sent += 7;
  push.close();

  ASSERT_TRUE(WaitFor([&] { return agent.Accepted() + agent.Rejected() == sent; }))
      << agent.Accepted() << " + " << agent.Rejected() << " != " << sent;
  EXPECT_EQ(agent.Metric("fleettwin_agent_source_malformed_total{asset=\"pump-1\",source=\"zmq\"}"),
            2);
  EXPECT_EQ(agent.Metric("fleettwin_agent_source_foreign_total{asset=\"pump-1\",source=\"zmq\"}"),
            1);
  nlohmann::json quarantine = nlohmann::json::parse(agent.Get("/quarantine").second);
  EXPECT_EQ(quarantine["by_reason"]["range"], rejected - 3);
  EXPECT_EQ(quarantine["by_reason"]["type"], 1);
  EXPECT_EQ(quarantine["by_reason"]["not_finite"], 1);
  EXPECT_EQ(quarantine["by_reason"]["schema"], 1);
  // An operator's desired value: a recorded twin update, rebuilt like the samples.
  auto [put_status, put_body] =
      agent.Put("/desired/setpoint", R"({"value": 4.5, "author": "ops"})");
  ASSERT_EQ(put_status, 200) << put_body;
  EXPECT_EQ(nlohmann::json::parse(put_body)["revision"].get<uint64_t>(), accepted + 1);
  EXPECT_EQ(agent.Put("/desired/setpoint", R"({"value": "high"})").first, 400);
  const std::string live = agent.Get("/twin").second;
  AgentProcess::Exit exit = agent.Stop();
  ASSERT_EQ(exit.code, 0) << exit.err;
  EXPECT_EQ(exit.out, live);
  EXPECT_EQ(nlohmann::json::parse(live)["samples"].get<uint64_t>(), accepted);
  EXPECT_EQ(nlohmann::json::parse(live)["desired"]["setpoint"], 4.5);
  EXPECT_NE(exit.err.find(absl::StrCat(accepted, " accepted, ", rejected, " rejected")),
            std::string::npos)
      << exit.err;
  EXPECT_EQ(Verify(dir), 0);
  EXPECT_EQ(Rebuilt(dir, kind, "pump-1"), live);
}

TEST(AgentProcessTest, FloodBeyondTheQueueIsHeldBackNotLost) {
  TempDir tmp;
  const std::string dir = (tmp.path() / "pump-1").string();
  const std::string kind = PumpKind(tmp);
  // A queue of 64 and batches of 32, against 100 000 samples sent as fast as ZeroMQ takes them:
  // the agent's socket stops reading, the high-water marks fill and the sender blocks.
  AgentProcess agent({"--asset", "pump-1", "--kind", kind, "--data-dir", dir, "--zmq-bind",
                      "tcp://127.0.0.1:*", "--queue", "64", "--batch", "32", "--push-timeout-ms",
                      "30000"});
  ASSERT_TRUE(agent.running() && !agent.zmq_endpoint().empty()) << agent.banner();
  agent.set_asset("pump-1");
  zmq::context_t context;
  zmq::socket_t push(context, zmq::socket_type::push);
  push.set(zmq::sockopt::linger, 30000);
  push.set(zmq::sockopt::sndhwm, 10);
  push.connect(agent.zmq_endpoint());
  constexpr int kMessages = 1000, kPerMessage = 100;
  for (int m = 0; m < kMessages; ++m) {
    std::vector<RawSample> samples;
    for (int i = 0; i < kPerMessage; ++i) {
      samples.push_back({1.0 + m * kPerMessage + i, {{"pressure", (i % 97 == 0) ? 11.0 : 5.0}}});
    }
    const std::string message = EncodeTelemetryBatch("pump-1", samples);
    push.send(zmq::buffer(message), zmq::send_flags::none);
  }
  push.close();
  constexpr double kSent = kMessages * kPerMessage;
  ASSERT_TRUE(WaitFor([&] { return agent.Accepted() + agent.Rejected() == kSent; }, 300s))
      << agent.Accepted() << " + " << agent.Rejected();
  EXPECT_EQ(agent.Metric("fleettwin_agent_queue_dropped_total{asset=\"pump-1\"}"), 0);
  EXPECT_EQ(agent.Metric("fleettwin_agent_queue_capacity{asset=\"pump-1\"}"), 64);
  EXPECT_EQ(agent.Rejected(), kMessages * 2.0);  // i = 0 and 97 of every message.
  const std::string live = agent.Get("/twin").second;
  AgentProcess::Exit exit = agent.Stop();
  ASSERT_EQ(exit.code, 0) << exit.err;
  EXPECT_EQ(exit.out, live);
  EXPECT_EQ(Verify(dir), 0);
  EXPECT_EQ(Rebuilt(dir, kind, "pump-1"), live);
}

TEST(AgentProcessTest, MqttThroughMosquittoSurvivesABrokerRestart) {
  TempDir tmp;
  Mosquitto broker(tmp.path());
  ASSERT_TRUE(broker.Start()) << broker.error();
  const std::string dir = (tmp.path() / "pump-1").string();
  const std::string kind = PumpKind(tmp);
  AgentProcess agent(
      {"--asset", "pump-1", "--kind", kind, "--data-dir", dir, "--mqtt", broker.uri()});
  ASSERT_TRUE(agent.running()) << agent.banner();
  agent.set_asset("pump-1");
  ASSERT_TRUE(WaitFor([&] { return agent.Get("/readyz").first == 200; }))
      << agent.Get("/readyz").second;

  const std::string topic = "fleettwin/pump-1/telemetry";
  uint64_t sent = 0;
  double time = 0;
  auto publish_round = [&](mqtt::client& client, int messages) {
    for (int m = 0; m < messages; ++m) {
      std::vector<RawSample> samples;
      for (int i = 0; i < 20; ++i) {
        time += 1;
        samples.push_back({time, {{"pressure", i % 10 == 9 ? 50.0 : 2.0}}});
      }
      sent += samples.size();
      client.publish(mqtt::make_message(topic, EncodeTelemetryJson("pump-1", samples), 1, false));
    }
  };
  {
    mqtt::client client(broker.uri(), "producer", nullptr);
    client.connect();
    publish_round(client, 10);
    // Bad input: not JSON, a JSON array, another asset (counted); wrong types and absurd
    // values (each rejected and quarantined with its reason).
    client.publish(mqtt::make_message(topic, "{\"samples\": [", 1, false));
    client.publish(mqtt::make_message(topic, "[1, 2, 3]", 1, false));
    client.publish(
        mqtt::make_message(topic, R"({"asset": "pump-9", "time": 1, "values": {}})", 1, false));
    client.publish(mqtt::make_message(
        topic,
        absl::StrCat(R"({"samples": [{"time": )", time + 1, R"(, "values": {"pressure": "high"}},
                     {"time": )",
                     time + 2, R"(, "values": {"pressure": 1e308}},
                     {"time": "soon", "values": {"pressure": 1}},
                     {"time": )",
                     time + 3, R"(, "values": {"pressure": [1]}},
                     {"time": )",
                     time + 4, R"(, "values": {}}]})"),
        1, false));
    sent += 5;
    time += 4;
    client.disconnect();
  }
  ASSERT_TRUE(WaitFor([&] { return agent.Accepted() + agent.Rejected() == sent; }))
      << agent.Accepted() << " + " << agent.Rejected() << " != " << sent;

  // The broker goes away and comes back on the same port: the agent reports not ready, then
  // reconnects with backoff and subscribes again.
  broker.Stop();
  ASSERT_TRUE(WaitFor([&] { return agent.Get("/readyz").first == 503; }));
  ASSERT_TRUE(broker.Start()) << broker.error();
  ASSERT_TRUE(WaitFor([&] { return agent.Get("/readyz").first == 200; }))
      << agent.Get("/readyz").second;
  {
    mqtt::client client(broker.uri(), "producer", nullptr);
    client.connect();
    publish_round(client, 10);
    client.disconnect();
  }
  ASSERT_TRUE(WaitFor([&] { return agent.Accepted() + agent.Rejected() == sent; }))
      << agent.Accepted() << " + " << agent.Rejected() << " != " << sent;
  EXPECT_GE(agent.Metric("fleettwin_agent_mqtt_connects_total{asset=\"pump-1\"}"), 2);
  EXPECT_EQ(
      agent.Metric("fleettwin_agent_source_malformed_total{asset=\"pump-1\",source=\"mqtt\"}"), 2);
  EXPECT_EQ(agent.Metric("fleettwin_agent_source_foreign_total{asset=\"pump-1\",source=\"mqtt\"}"),
            1);
  nlohmann::json quarantine = nlohmann::json::parse(agent.Get("/quarantine").second);
  EXPECT_EQ(quarantine["by_reason"]["type"], 2);
  EXPECT_EQ(quarantine["by_reason"]["range"], 40 + 1);
  EXPECT_EQ(quarantine["by_reason"]["not_finite"], 1);
  EXPECT_EQ(quarantine["by_reason"]["schema"], 1);

  const std::string live = agent.Get("/twin").second;
  AgentProcess::Exit exit = agent.Stop();
  ASSERT_EQ(exit.code, 0) << exit.err;
  EXPECT_EQ(exit.out, live);
  EXPECT_EQ(nlohmann::json::parse(live)["samples"].get<uint64_t>(), sent - 40 - 5);
  EXPECT_EQ(Verify(dir), 0);
  EXPECT_EQ(Rebuilt(dir, kind, "pump-1"), live);
}

TEST(AgentProcessTest, MqttMessagesSentWhileTheAgentIsDownArriveAfterItsRestart) {
  TempDir tmp;
  Mosquitto broker(tmp.path());
  ASSERT_TRUE(broker.Start()) << broker.error();
  const std::string dir = (tmp.path() / "pump-1").string();
  const std::string kind = PumpKind(tmp);
  const std::vector<std::string> args = {"--asset",    "pump-1", "--kind", kind,
                                         "--data-dir", dir,      "--mqtt", broker.uri()};
  const std::string topic = "fleettwin/pump-1/telemetry";
  auto publish = [&](double first, int n) {
    mqtt::client client(broker.uri(), "producer", nullptr);
    client.connect();
    std::vector<RawSample> samples;
    for (int i = 0; i < n; ++i) samples.push_back({first + i, {{"pressure", 3.0}}});
    client.publish(mqtt::make_message(topic, EncodeTelemetryJson("pump-1", samples), 1, false));
    client.disconnect();
  };
  {
    AgentProcess agent(args);
    ASSERT_TRUE(agent.running()) << agent.banner();
    agent.set_asset("pump-1");
    ASSERT_TRUE(WaitFor([&] { return agent.Get("/readyz").first == 200; }));
    publish(1, 30);
    ASSERT_TRUE(WaitFor([&] { return agent.Accepted() == 30; }));
    ASSERT_EQ(agent.Stop().code, 0);
  }
  // The agent is down: the broker keeps these for its persistent session.
  publish(31, 20);
  AgentProcess agent(args);
  ASSERT_TRUE(agent.running()) << agent.banner();
  agent.set_asset("pump-1");
  // Restored from the ledger at revision 30, then the 20 held messages' samples on top.
  ASSERT_TRUE(WaitFor([&] { return agent.Accepted() == 50; })) << agent.Accepted();
  const std::string live = agent.Get("/twin").second;
  EXPECT_EQ(nlohmann::json::parse(live)["revision"], 50);
  AgentProcess::Exit exit = agent.Stop();
  ASSERT_EQ(exit.code, 0) << exit.err;
  EXPECT_EQ(exit.out, live);
  EXPECT_EQ(Verify(dir), 0);
  EXPECT_EQ(Rebuilt(dir, kind, "pump-1"), live);
}

TEST(AgentProcessTest, ConfigFileGivesTheOptionsAndFlagsWin) {
  TempDir tmp;
  const std::string dir = (tmp.path() / "engine-7").string();
  const std::string config = (tmp.path() / "agent.toml").string();
  std::ofstream(config) << "# fleet-agent options; keys are the long option names\n"
                        << "asset = \"engine-7\"\n"
                        << "kind = \"" << kSource << "/kinds/cmapss-turbofan.json\"\n"
                        << "data-dir = \"" << dir << "\"\n"
                        << "replay = \"" << kSource << "/data/cmapss/test_FD001.txt\"\n"
                        << "replay-unit = \"7\"\n"
                        << "speed = \"max\"\n"
                        << "exit-after-replay = true\n";
  auto [code, live] = RunTool({FLEETTWIN_FLEET_AGENT, "--config", config, "--replay-unit", "8"});
  ASSERT_EQ(code, 0);
  nlohmann::json twin = nlohmann::json::parse(live);
  EXPECT_EQ(twin["asset"], "engine-7");
  // Engine 8 of test_FD001 (the flag won over the file's 7) has 166 cycles; engine 7 has 160.
  EXPECT_EQ(twin["samples"], 166);
  EXPECT_EQ(Verify(dir), 0);

  const std::string bad = (tmp.path() / "bad.toml").string();
  std::ofstream(bad) << "asset = \"x\"\nno-such-option = 3\n";
  EXPECT_EQ(RunTool({FLEETTWIN_FLEET_AGENT, "--config", bad}).first, 2);
  EXPECT_EQ(RunTool({FLEETTWIN_FLEET_AGENT, "--config", "/nonexistent.toml"}).first, 2);
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
