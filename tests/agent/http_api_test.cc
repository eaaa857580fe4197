// The agent's HTTP API served by a running AgentRuntime on loopback (port 0), fed over ZeroMQ.
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <zmq.hpp>

#include "fleettwin/agent/agent_runtime.h"
#include "fleettwin/common/clock.h"
#include "testing/temp_dir.h"

namespace fleettwin::agent {
namespace {

using namespace std::chrono_literals;
using ::fleettwin::testing::TempDir;
using json = nlohmann::json;

class HttpApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kind_ = (tmp_.path() / "pump.json").string();
    std::ofstream(kind_) << R"({"kind": "pump", "time": {"unit": "s", "period": 1},
      "channels": [{"name": "pressure", "min": 0, "max": 10}]})";
    options_.asset = "pump-1";
    options_.kind_file = kind_;
    options_.data_dir = tmp_.path() / "agent";
    options_.zmq_bind = "tcp://127.0.0.1:*";
    options_.http_bind = "127.0.0.1:0";
    options_.batch_size = 16;
    absl::StatusOr<std::unique_ptr<AgentRuntime>> agent = AgentRuntime::Start(options_, clock_);
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = std::move(*agent);
    const std::string& endpoint = agent_->http_endpoint();
    const size_t colon = endpoint.rfind(':');
    client_ = std::make_unique<httplib::Client>(endpoint.substr(0, colon),
                                                std::stoi(endpoint.substr(colon + 1)));
  }

  // Sends `samples` over ZeroMQ and waits until the twin has taken them all.
  void Send(const std::vector<RawSample>& samples) {
    const uint64_t before = agent_->accepted() + agent_->rejected();
    zmq::socket_t push(context_, zmq::socket_type::push);
    push.set(zmq::sockopt::linger, 5000);
    push.connect(agent_->zmq_endpoint());
    const std::string message = EncodeTelemetryBatch("pump-1", samples);
    push.send(zmq::buffer(message), zmq::send_flags::none);
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (agent_->accepted() + agent_->rejected() < before + samples.size() &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
    ASSERT_EQ(agent_->accepted() + agent_->rejected(), before + samples.size());
  }

  TempDir tmp_;
  std::string kind_;
  SystemClock clock_;
  AgentOptions options_;
  std::unique_ptr<AgentRuntime> agent_;
  std::unique_ptr<httplib::Client> client_;
  zmq::context_t context_;
};

TEST_F(HttpApiTest, HealthAndReadiness) {
  httplib::Result healthz = client_->Get("/healthz");
  ASSERT_TRUE(healthz);
  EXPECT_EQ(healthz->status, 200);
  httplib::Result readyz = client_->Get("/readyz");
  ASSERT_TRUE(readyz);
  EXPECT_EQ(readyz->status, 200);
  httplib::Result missing = client_->Get("/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_NE(missing->body.find("/twin"), std::string::npos);  // Says what exists.
}

TEST_F(HttpApiTest, TwinQuarantineAndMetricsAgreeWithWhatWasSent) {
  std::vector<RawSample> samples;
  for (int i = 1; i <= 20; ++i) samples.push_back({1.0 * i, {{"pressure", 1.0 + i % 3}}});
  samples.push_back({21, {{"pressure", 99.0}}});              // range
  samples.push_back({22, {{"pressure", std::string("x")}}});  // type
  samples.push_back({20.2, {{"pressure", 1.0}}});             // rate (0.2 s after t=20)
  samples.push_back({10, {{"pressure", 1.0}}});               // out of order
  Send(samples);

  httplib::Result twin = client_->Get("/twin");
  ASSERT_TRUE(twin);
  EXPECT_EQ(twin->status, 200);
  EXPECT_EQ(twin->get_header_value("Content-Type"), "application/json");
  json state = json::parse(twin->body);
  EXPECT_EQ(state["samples"], 20);
  EXPECT_EQ(state["revision"], 20);
  EXPECT_EQ(twin->body, agent_->TwinJson() + "\n");

  httplib::Result quarantine = client_->Get("/quarantine?limit=2");
  ASSERT_TRUE(quarantine);
  json q = json::parse(quarantine->body);
  EXPECT_EQ(q["total"], 4);
  EXPECT_EQ(q["by_reason"]["range"], 1);
  EXPECT_EQ(q["by_reason"]["type"], 1);
  EXPECT_EQ(q["by_reason"]["rate"], 1);
  EXPECT_EQ(q["by_reason"]["out_of_order"], 1);
  ASSERT_EQ(q["samples"].size(), 2u);  // The newest two.
  EXPECT_EQ(q["samples"][1]["reason"], "out_of_order");
  EXPECT_EQ(q["samples"][1]["sequence"], 3);
  EXPECT_EQ(client_->Get("/quarantine?limit=x")->status, 400);

  httplib::Result metrics = client_->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  const std::string& m = metrics->body;
  for (const char* line : {
           "fleettwin_agent_samples_accepted_total{asset=\"pump-1\"} 20\n",
           "fleettwin_agent_samples_rejected_total{asset=\"pump-1\",reason=\"range\"} 1\n",
           "fleettwin_agent_samples_rejected_total{asset=\"pump-1\",reason=\"schema\"} 0\n",
           "fleettwin_agent_twin_revision{asset=\"pump-1\"} 20\n",
           // 24 samples and the twin.kind entry written at the first start.
           "fleettwin_agent_ledger_entries{asset=\"pump-1\"} 25\n",
           "fleettwin_agent_queue_depth{asset=\"pump-1\"} 0\n",
           "fleettwin_agent_queue_dropped_total{asset=\"pump-1\"} 0\n",
           "fleettwin_agent_source_samples_total{asset=\"pump-1\",source=\"zmq\"} 24\n",
           "# TYPE fleettwin_agent_ledger_append_seconds histogram\n",
           "fleettwin_agent_ledger_append_seconds_bucket{asset=\"pump-1\",le=\"+Inf\"} ",
       }) {
    EXPECT_NE(m.find(line), std::string::npos) << line << "\n" << m;
  }
}

TEST_F(HttpApiTest, SourcesSayWhyTheyRefusedAMessage) {
  zmq::socket_t push(context_, zmq::socket_type::push);
  push.set(zmq::sockopt::linger, 5000);
  push.connect(agent_->zmq_endpoint());
  push.send(zmq::str_buffer("not a batch"), zmq::send_flags::none);
  json sources;
  for (int i = 0; i < 2000; ++i) {
    sources = json::parse(client_->Get("/sources")->body);
    if (sources["zmq"]["malformed"] == 1) break;
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_EQ(sources["zmq"]["malformed"], 1) << sources.dump();
  EXPECT_NE(sources["zmq"]["last_error"].get<std::string>().find("malformed message of 11 bytes"),
            std::string::npos)
      << sources.dump();
  EXPECT_FALSE(sources.contains("mqtt"));
}

TEST_F(HttpApiTest, DesiredValuesAreRecordedUpdates) {
  httplib::Result put =
      client_->Put("/desired/speed", R"({"value": 3.5, "author": "ops"})", "application/json");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 200) << put->body;
  EXPECT_EQ(json::parse(put->body)["revision"], 1);
  json state = json::parse(client_->Get("/twin")->body);
  EXPECT_EQ(state["desired"]["speed"], 3.5);
  EXPECT_EQ(state["revision"], 1);

  for (const char* bad :
       {"", "[]", R"({"value": "fast"})", R"({"author": "ops"})", R"({"value": 1, "author": 5})"}) {
    httplib::Result r = client_->Put("/desired/speed", bad, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad;
    EXPECT_TRUE(json::parse(r->body).contains("error")) << r->body;
  }
  const std::string long_name(200, 'n');
  EXPECT_EQ(client_->Put("/desired/" + long_name, R"({"value": 1})", "application/json")->status,
            400);
  EXPECT_EQ(json::parse(client_->Get("/twin")->body)["revision"], 1);  // Nothing else applied.
}

TEST_F(HttpApiTest, MaintenanceIsARecordedUpdateAtTheLatestSampleOrAGivenTime) {
  // No sample yet: the time must be given.
  httplib::Result early = client_->Post("/maintenance", R"({"note": "x"})", "application/json");
  ASSERT_TRUE(early);
  EXPECT_EQ(early->status, 400) << early->body;
  Send({{1, {{"pressure", 1.0}}}, {2, {{"pressure", 2.0}}}, {3, {{"pressure", 3.0}}}});

  httplib::Result post = client_->Post(
      "/maintenance", R"({"note": "seal replaced", "author": "ops"})", "application/json");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 200) << post->body;
  EXPECT_EQ(json::parse(post->body)["revision"], 4);
  json state = json::parse(client_->Get("/twin")->body);
  ASSERT_EQ(state["maintenance"].size(), 1u);
  EXPECT_EQ(state["maintenance"][0],
            json({{"time", 3}, {"note", "seal replaced"}, {"author", "ops"}, {"renews", true}}));

  for (const char* bad :
       {"", "[]", R"({"note": 5})", R"({"time": "now"})", R"({"author": 1})", R"({"when": 2})",
        R"({"renews": "yes"})", R"({"note": "failure\u0000 not really"})",
        R"({"time": 2})" /* before the latest record */,
        R"({"time": 4})" /* after the latest sample */}) {
    httplib::Result r = client_->Post("/maintenance", bad, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad;
    EXPECT_TRUE(json::parse(r->body).contains("error")) << r->body;
  }
  const std::string long_note = R"({"note": ")" + std::string(300, 'n') + R"("})";
  EXPECT_EQ(client_->Post("/maintenance", long_note, "application/json")->status, 400);
  EXPECT_EQ(json::parse(client_->Get("/twin")->body)["revision"], 4);  // Nothing else applied.

  httplib::Result again = client_->Post(
      "/maintenance", R"({"time": 3, "note": "inspection", "renews": false})", "application/json");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200) << again->body;  // The same time as the latest is allowed.
  state = json::parse(client_->Get("/twin")->body);
  ASSERT_EQ(state["maintenance"].size(), 2u);
  EXPECT_EQ(state["maintenance"][1],
            json({{"time", 3}, {"note", "inspection"}, {"author", "http"}, {"renews", false}}));
}

// An asset that joined part-way through its life: its last renewal, before its telemetry
// began, may be recorded after samples have arrived, as long as it is the first record.
TEST_F(HttpApiTest, AFirstMaintenanceRecordMayPrecedeTheTelemetry) {
  Send({{1, {{"pressure", 1.0}}}, {2, {{"pressure", 2.0}}}});
  httplib::Result post = client_->Post(
      "/maintenance", R"({"time": -100, "note": "new when commissioned"})", "application/json");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 200) << post->body;
  const json state = json::parse(client_->Get("/twin")->body);
  ASSERT_EQ(state["maintenance"].size(), 1u);
  EXPECT_EQ(state["maintenance"][0]["time"], -100);
  // Nothing may be recorded before it afterwards.
  EXPECT_EQ(client_->Post("/maintenance", R"({"time": -101})", "application/json")->status, 400);
}

// A record with an id is taken once: a retry (its answer was lost) is refused with 409, even
// when later samples moved the default time on; a bad id is refused.
TEST_F(HttpApiTest, AMaintenanceRecordWithAnIdIsTakenOnce) {
  Send({{1, {{"pressure", 1.0}}}, {2, {{"pressure", 2.0}}}});
  httplib::Result first =
      client_->Post("/maintenance", R"({"note": "seal", "id": "job-17"})", "application/json");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200) << first->body;
  Send({{3, {{"pressure", 3.0}}}});
  httplib::Result again =
      client_->Post("/maintenance", R"({"note": "seal", "id": "job-17"})", "application/json");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 409) << again->body;
  for (const char* bad : {R"({"id": "a b"})", R"({"id": 17})", R"({"id": ""})"}) {
    httplib::Result r = client_->Post("/maintenance", bad, "application/json");
    ASSERT_TRUE(r);
    if (std::string(bad) == R"({"id": ""})") {
      EXPECT_EQ(r->status, 200) << bad;  // No id: a record like any other.
    } else {
      EXPECT_EQ(r->status, 400) << bad;
    }
  }
  const json state = json::parse(client_->Get("/twin")->body);
  ASSERT_EQ(state["maintenance"].size(), 2u);
  EXPECT_EQ(
      state["maintenance"][0],
      json(
          {{"time", 2}, {"note", "seal"}, {"author", "http"}, {"renews", true}, {"id", "job-17"}}));
  EXPECT_FALSE(state["maintenance"][1].contains("id"));
}

TEST_F(HttpApiTest, ShutdownDrainsAndTheLedgerRebuildsTheSameTwin) {
  std::vector<RawSample> samples;
  for (int i = 1; i <= 50; ++i) samples.push_back({1.0 * i, {{"pressure", 0.1 * i}}});
  Send(samples);
  ASSERT_EQ(client_->Put("/desired/pressure", R"({"value": 2})", "application/json")->status, 200);
  const std::string live = client_->Get("/twin")->body;
  ASSERT_TRUE(agent_->Shutdown().ok());
  absl::StatusOr<std::string> rebuilt =
      RebuildTwinJson(options_.data_dir / "ledger", kind_, "pump-1");
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_EQ(*rebuilt + "\n", live);
}

TEST_F(HttpApiTest, WhatIfNeedsASimulator) {
  httplib::Result r = client_->Post("/whatif", "{}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);  // The pump kind has no "simulator" section.
  EXPECT_NE(r->body.find("has no simulator"), std::string::npos) << r->body;
}

// A what-if question uses both cores for seconds: a second one meanwhile is turned away (429)
// rather than queued behind it, and answered once the first is done.
TEST(WhatIfHttpTest, OneQuestionAtATime) {
  TempDir tmp;
  AgentOptions options;
  options.asset = "belt-1";
  options.kind_file = std::string(FLEETTWIN_SOURCE_DIR) + "/kinds/conveyor-belt.json";
  options.data_dir = tmp.path() / "agent";
  options.http_bind = "127.0.0.1:0";
  SystemClock clock;
  absl::StatusOr<std::unique_ptr<AgentRuntime>> agent = AgentRuntime::Start(options, clock);
  ASSERT_TRUE(agent.ok()) << agent.status();
  const std::string& endpoint = (*agent)->http_endpoint();
  httplib::Client client(endpoint.substr(0, endpoint.rfind(':')),
                         std::stoi(endpoint.substr(endpoint.rfind(':') + 1)));
  client.set_read_timeout(120, 0);
  const std::string heavy = R"({"capacity": 5, "failure_rate": 0.02, "repair_time": 3,
                                "replications": 1000000, "horizon": 200})";
  int heavy_status = 0;
  std::thread first([&] {
    httplib::Client c(endpoint.substr(0, endpoint.rfind(':')),
                      std::stoi(endpoint.substr(endpoint.rfind(':') + 1)));
    c.set_read_timeout(120, 0);
    httplib::Result r = c.Post("/whatif", heavy, "application/json");
    heavy_status = r ? r->status : -1;
  });
  // 2e8 belt-units take seconds on two cores; ask again well inside that.
  std::this_thread::sleep_for(300ms);
  const std::string light = R"({"capacity": 5, "failure_rate": 0.02, "repair_time": 3,
                                "replications": 100, "horizon": 200})";
  httplib::Result second = client.Post("/whatif", light, "application/json");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 429) << second->body;
  first.join();
  EXPECT_EQ(heavy_status, 200);
  httplib::Result third = client.Post("/whatif", light, "application/json");
  ASSERT_TRUE(third);
  EXPECT_EQ(third->status, 200) << third->body;
  EXPECT_EQ(json::parse(third->body)["replications"], 100);
}

}  // namespace
}  // namespace fleettwin::agent
