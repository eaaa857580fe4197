// The Fleet API server, node and rounds over real gRPC on 127.0.0.1 (port 0), in one process.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include "fleettwin/federated/fleet_node.h"
#include "fleettwin/federated/fleet_server.h"
#include "fleettwin/federated/node_auth.h"
#include "fleettwin/federated/objects.h"
#include "fleettwin/federated/records.h"
#include "fleettwin/federated/rounds.h"
#include "flwr/proto/fleet.grpc.pb.h"
#include "testing/flower_client.h"
#include "testing/process.h"
#include "testing/temp_dir.h"

namespace fleettwin::federated {
namespace {

namespace fp = flwr::proto;
using ::fleettwin::testing::TempDir;

NodeKey NewKey() {
  absl::StatusOr<NodeKey> k = NodeKey::Generate();
  EXPECT_TRUE(k.ok()) << k.status();
  return *k;
}

TEST(NodeAuthTest, SignaturesVerifyOnlyForTheirKeyAndText) {
  const NodeKey key = NewKey(), other = NewKey();
  EXPECT_NE(key.public_key_pem().find("BEGIN PUBLIC KEY"), std::string::npos);
  const absl::StatusOr<std::string> sig = key.Sign("2026-11-26T11:07:26.078887+00:00");
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(VerifySignature(key.public_key_pem(), "2026-11-26T11:07:26.078887+00:00", *sig).ok());
  EXPECT_EQ(VerifySignature(key.public_key_pem(), "2026-11-26T11:07:27.078887+00:00", *sig).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(VerifySignature(other.public_key_pem(), "2026-11-26T11:07:26.078887+00:00", *sig).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(VerifySignature("not a key", "x", *sig).code(), absl::StatusCode::kInvalidArgument);
}

TEST(NodeAuthTest, TimestampsRoundTripAndTheWindowIsEnforced) {
  const absl::Time t = absl::FromUnixMicros(1795691243291234);
  const std::string text = FlowerTimestamp(t);
  EXPECT_EQ(text, "2026-11-26T11:07:23.291234+00:00");
  EXPECT_EQ(*ParseFlowerTimestamp(text), t);
  EXPECT_EQ(*ParseFlowerTimestamp("2026-11-26T12:07:23.291234+01:00"), t);
  EXPECT_TRUE(ParseFlowerTimestamp("2026-11-26T11:07:23+00:00").ok());
  EXPECT_FALSE(ParseFlowerTimestamp("yesterday").ok());

  const NodeKey key = NewKey();
  const AuthHeaders h = *MakeAuthHeaders(key, t);
  EXPECT_TRUE(CheckAuthHeaders(h, t).ok());
  EXPECT_TRUE(CheckAuthHeaders(h, t + absl::Seconds(300)).ok());
  EXPECT_EQ(CheckAuthHeaders(h, t + absl::Seconds(306)).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(CheckAuthHeaders(h, t - absl::Seconds(6)).code(), absl::StatusCode::kUnauthenticated);
  AuthHeaders forged = h;
  forged.timestamp = FlowerTimestamp(t + absl::Seconds(1));  // Signature is of the old text.
  EXPECT_EQ(CheckAuthHeaders(forged, t).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(CheckAuthHeaders(AuthHeaders{}, t).code(), absl::StatusCode::kUnauthenticated);
}

TEST(NodeAuthTest, LoadOrCreateKeepsTheKeyPrivateAndStable) {
  TempDir dir;
  const std::filesystem::path file = dir.path() / "keys" / "node.pem";
  absl::StatusOr<NodeKey> first = NodeKey::LoadOrCreate(file);
  ASSERT_TRUE(first.ok()) << first.status();
  struct stat st;
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  absl::StatusOr<NodeKey> again = NodeKey::LoadOrCreate(file);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->public_key_pem(), first->public_key_pem());
  std::ofstream(dir.path() / "bad.pem") << "garbage";
  EXPECT_EQ(NodeKey::LoadOrCreate(dir.path() / "bad.pem").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A node's work for the tests: `train` returns the arrays plus `delta` with `examples`
// examples; `evaluate` reports loss = delta. Optionally sleeps first.
class AddHandler final : public MessageHandler {
 public:
  AddHandler(float delta, double examples) : delta_(delta), examples_(examples) {}
  std::atomic<int> sleep_ms{0};
  std::atomic<int> handled{0};

  absl::StatusOr<fp::RecordDict> Handle(const fp::Message& message) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms.load()));
    ++handled;
    const fp::ArrayRecord* arrays = FindArrays(message.content(), "arrays");
    if (arrays == nullptr) return absl::InvalidArgumentError("no arrays");
    absl::StatusOr<std::vector<NpyArray>> a = FromArrayRecord(*arrays);
    if (!a.ok()) return a.status();
    fp::RecordDict out;
    fp::MetricRecord metrics;
    SetInt(metrics, "num-examples", static_cast<int64_t>(examples_));
    if (message.metadata().message_type() == "train") {
      for (NpyArray& array : *a) {
        std::vector<float> v = *NpyValues<float>(array);
        for (float& x : v) x += delta_;
        array = MakeNpy<float>(array.shape, absl::MakeConstSpan(v));
      }
      AddArrays(out, "arrays", ToArrayRecord(*a));
      SetDouble(metrics, "train_loss", delta_);
    } else {
      SetDouble(metrics, "loss", delta_);
    }
    AddMetrics(out, "metrics", std::move(metrics));
    return out;
  }

 private:
  float delta_;
  double examples_;
};

FleetNodeOptions FastNode(int port) {
  FleetNodeOptions o;
  o.server = absl::StrCat("127.0.0.1:", port);
  o.heartbeat_interval_s = 1;
  o.poll_interval = absl::Milliseconds(20);
  o.backoff_initial = absl::Milliseconds(20);
  o.backoff_max = absl::Milliseconds(200);
  return o;
}

std::unique_ptr<FleetServer> StartServer(FleetServerOptions o = {}) {
  absl::StatusOr<std::unique_ptr<FleetServer>> s = StartFleetServer(std::move(o));
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

std::vector<NpyArray> Model(float value) {
  const std::vector<float> w(6, value), b(2, value);
  return {MakeNpy<float>({2, 3}, absl::MakeConstSpan(w)), MakeNpy<float>({2}, absl::MakeConstSpan(b))};
}

float First(const std::vector<NpyArray>& model) { return (*NpyValues<float>(model[0]))[0]; }

bool WaitFor(const std::function<bool()>& done, int seconds = 20) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

TEST(FleetTest, FiveNodesCompleteFedAvgRoundsWithEvaluation) {
  std::unique_ptr<FleetServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  std::vector<std::unique_ptr<AddHandler>> handlers;
  std::vector<std::unique_ptr<FleetNode>> nodes;
  for (int i = 0; i < 5; ++i) {
    // Node i adds i and trained on i + 1 examples: FedAvg adds sum(i (i+1)) / sum(i+1) = 40/15.
    handlers.push_back(std::make_unique<AddHandler>(static_cast<float>(i), i + 1));
    absl::StatusOr<std::unique_ptr<FleetNode>> n =
        MakeFleetNode(FastNode(server->port()), NewKey(), handlers.back().get());
    ASSERT_TRUE(n.ok());
    nodes.push_back(std::move(*n));
    nodes.back()->Start();
  }
  std::vector<NpyArray> model = Model(1.0f);
  RoundOptions o;
  o.rounds = 2;
  o.min_nodes = 5;
  o.evaluate = true;
  o.reply_deadline = absl::Seconds(20);
  std::vector<int> seen;
  absl::StatusOr<std::vector<RoundReport>> reports =
      RunRounds(*server, model, o, [&](const RoundReport& r) { seen.push_back(r.round); });
  ASSERT_TRUE(reports.ok()) << reports.status();
  ASSERT_EQ(reports->size(), 2u);
  EXPECT_EQ(seen, (std::vector<int>{1, 2}));
  for (const RoundReport& r : *reports) {
    EXPECT_TRUE(r.aggregated);
    EXPECT_EQ(r.sampled.size(), 5u);
    EXPECT_EQ(r.replied.size(), 5u);
    EXPECT_TRUE(r.failed.empty()) << r.failed[0].second;
    EXPECT_EQ(r.num_examples, 15);
    EXPECT_NEAR(r.train_metrics.at("train_loss"), 40.0 / 15, 1e-9);
    EXPECT_NEAR(r.eval_metrics.at("loss"), 40.0 / 15, 1e-9);
  }
  EXPECT_NEAR(First(model), 1.0f + 2 * 40.0f / 15, 1e-5);
  EXPECT_EQ(reports->back().model_id, *ArrayRecordObjectId(ToArrayRecord(model)));
  EXPECT_NE((*reports)[0].model_id, (*reports)[1].model_id);
  for (auto& n : nodes) {
    EXPECT_GE(n->stats().messages_handled, 4u);
    // Heartbeats every 0.8 s (interval 1 s) on their own thread.
    EXPECT_TRUE(WaitFor([&] { return n->stats().heartbeats >= 1; }));
    n->Stop();
  }
  // Stopped nodes unregister.
  EXPECT_TRUE(WaitFor([&] { return server->Nodes().empty(); }));
  EXPECT_EQ(server->counters().refused_auth, 0u);
  EXPECT_EQ(server->counters().refused_objects, 0u);
}

TEST(FleetTest, ASlowOrGoneNodeNeverStallsARound) {
  std::unique_ptr<FleetServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  std::vector<std::unique_ptr<AddHandler>> handlers;
  std::vector<std::unique_ptr<FleetNode>> nodes;
  for (int i = 0; i < 4; ++i) {
    handlers.push_back(std::make_unique<AddHandler>(1.0f, 10));
    nodes.push_back(*MakeFleetNode(FastNode(server->port()), NewKey(), handlers.back().get()));
    nodes.back()->Start();
  }
  handlers[3]->sleep_ms = 8000;  // Beyond the deadline.
  std::vector<NpyArray> model = Model(0.0f);
  RoundOptions o;
  o.rounds = 1;
  o.min_nodes = 4;
  o.reply_deadline = absl::Seconds(3);
  const auto started = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<RoundReport>> reports = RunRounds(*server, model, o);
  ASSERT_TRUE(reports.ok()) << reports.status();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(7000));
  const RoundReport& r = reports->front();
  EXPECT_TRUE(r.aggregated);
  EXPECT_EQ(r.replied.size(), 3u);
  ASSERT_EQ(r.failed.size(), 1u);
  EXPECT_EQ(r.failed[0].second, "no reply before the deadline");
  EXPECT_NEAR(First(model), 1.0f, 1e-6);
  // Too few replies: the model stays, the round says so.
  handlers[0]->sleep_ms = handlers[1]->sleep_ms = handlers[2]->sleep_ms = 8000;
  absl::StatusOr<std::vector<RoundReport>> second = RunRounds(*server, model, o);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->front().aggregated);
  EXPECT_NEAR(First(model), 1.0f, 1e-6);
  for (auto& h : handlers) h->sleep_ms = 0;
  for (auto& n : nodes) n->Stop();
}

using RawClient = ::fleettwin::testing::RawFlowerClient;

TEST(FleetTest, BadSignaturesStaleTimestampsAndForeignNodeIdsAreRefused) {
  std::unique_ptr<FleetServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  uint64_t id = 0;
  RawClient bad_sig(server->port(), NewKey());
  bad_sig.corrupt_signature = true;
  EXPECT_EQ(bad_sig.Register(&id).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  RawClient stale(server->port(), NewKey());
  stale.skew = absl::Seconds(-400);
  EXPECT_EQ(stale.Register(&id).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  RawClient future(server->port(), NewKey());
  future.skew = absl::Seconds(60);
  EXPECT_EQ(future.Register(&id).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(server->counters().refused_auth, 3u);
  EXPECT_TRUE(server->Nodes().empty());

  // A registered node cannot act as another one.
  RawClient a(server->port(), NewKey()), b(server->port(), NewKey());
  uint64_t id_a = 0, id_b = 0;
  ASSERT_TRUE(a.Register(&id_a).ok());
  ASSERT_TRUE(b.Register(&id_b).ok());
  EXPECT_NE(id_a, id_b);
  grpc::ClientContext ctx;
  a.Auth(ctx);
  fp::PullMessagesRequest pull;
  pull.mutable_node()->set_node_id(id_b);
  fp::PullMessagesResponse resp;
  EXPECT_EQ(a.stub->PullMessages(&ctx, pull, &resp).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(server->Nodes().size(), 2u);
}

TEST(FleetTest, AnObjectWhoseIdDoesNotMatchItsBytesIsRefused) {
  std::unique_ptr<FleetServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  RawClient node(server->port(), NewKey());
  uint64_t id = 0;
  ASSERT_TRUE(node.Register(&id).ok());
  fp::Message m;
  m.mutable_metadata()->set_message_type("train");
  AddArrays(*m.mutable_content(), "arrays", ToArrayRecord(Model(1.0f)));
  absl::StatusOr<std::string> sent = server->Send(id, m);
  ASSERT_TRUE(sent.ok()) << sent.status();

  fp::PullMessagesResponse pulled;
  ASSERT_TRUE(node.Pull(id, &pulled).ok());
  ASSERT_EQ(pulled.messages_list_size(), 1);
  EXPECT_EQ(pulled.messages_list(0).metadata().message_id(), *sent);

  // Reply with other arrays; push one object with bytes that do not match its id.
  fp::RecordDict other;
  AddArrays(other, "arrays", ToArrayRecord(Model(2.0f)));
  const int stored_count = node.Reply(id, pulled.messages_list(0).metadata(), other, true);
  ASSERT_GT(node.objects_pushed, 1);
  EXPECT_EQ(stored_count, node.objects_pushed - 1);
  EXPECT_EQ(server->counters().refused_objects, 1u);
  // The reply is incomplete: never handed to the rounds.
  absl::StatusOr<std::optional<absl::StatusOr<fp::Message>>> taken = server->TakeReply(*sent);
  ASSERT_TRUE(taken.ok());
  EXPECT_FALSE(taken->has_value());

  // An object nobody announced is refused too.
  grpc::ClientContext ctx;
  node.Auth(ctx);
  fp::PushObjectRequest stray;
  stray.mutable_node()->set_node_id(id);
  const std::string content = SerializeObject({"ConfigRecord", {}, ""});
  stray.set_object_id(ObjectId(content));
  stray.set_object_content(content);
  fp::PushObjectResponse stored;
  ASSERT_TRUE(node.stub->PushObject(&ctx, stray, &stored).ok());
  EXPECT_FALSE(stored.stored());
  EXPECT_EQ(server->counters().refused_objects, 2u);
}

TEST(FleetTest, GetRunAndGetFabServeTheOperatorsBundle) {
  TempDir dir;
  const std::string fab = "PK\x03\x04 a flower app bundle";
  std::ofstream(dir.path() / "app.fab", std::ios::binary) << fab;
  FleetServerOptions o;
  o.run_id = 77;
  o.fab_file = dir.path() / "app.fab";
  std::unique_ptr<FleetServer> server = StartServer(o);
  ASSERT_NE(server, nullptr);
  RawClient node(server->port(), NewKey());
  uint64_t id = 0;
  ASSERT_TRUE(node.Register(&id).ok());
  grpc::ClientContext ctx;
  node.Auth(ctx);
  fp::GetRunRequest req;
  req.mutable_node()->set_node_id(id);
  req.set_run_id(77);
  fp::GetRunResponse run;
  ASSERT_TRUE(node.stub->GetRun(&ctx, req, &run).ok());
  EXPECT_EQ(run.run().run_id(), 77u);
  EXPECT_EQ(run.run().fab_hash(), ObjectId(fab));
  EXPECT_EQ(run.run().status().status(), "running");

  grpc::ClientContext fctx;
  node.Auth(fctx);
  fp::GetFabRequest freq;
  freq.mutable_node()->set_node_id(id);
  freq.set_hash_str(run.run().fab_hash());
  freq.set_run_id(77);
  fp::GetFabResponse got;
  ASSERT_TRUE(node.stub->GetFab(&fctx, freq, &got).ok());
  EXPECT_EQ(got.fab().content(), fab);
  grpc::ClientContext wrong;
  node.Auth(wrong);
  freq.set_hash_str(std::string(64, '0'));
  EXPECT_EQ(node.stub->GetFab(&wrong, freq, &got).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST(FleetTest, NodesReconnectAfterTheServerRestarts) {
  std::unique_ptr<FleetServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  AddHandler handler(1.0f, 1);
  std::unique_ptr<FleetNode> node = *MakeFleetNode(FastNode(port), NewKey(), &handler);
  node->Start();
  // Registered and activated (alive) before the server goes away.
  ASSERT_TRUE(WaitFor([&] {
    std::vector<NodeStatus> nodes = server->Nodes();
    return nodes.size() == 1 && nodes[0].alive && node->stats().node_id != 0;
  }));
  server->Shutdown();
  server.reset();
  FleetServerOptions again;
  again.address = absl::StrCat("127.0.0.1:", port);
  server = StartServer(again);
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(WaitFor([&] {
    std::vector<NodeStatus> nodes = server->Nodes();
    return nodes.size() == 1 && nodes[0].alive;
  }));
  std::vector<NpyArray> model = Model(0.0f);
  RoundOptions o;
  o.rounds = 1;
  o.min_nodes = 1;
  o.reply_deadline = absl::Seconds(20);
  ASSERT_TRUE(RunRounds(*server, model, o).ok());
  EXPECT_NEAR(First(model), 1.0f, 1e-6);
  EXPECT_GE(node->stats().reconnects, 1u);
  node->Stop();
}

// TLS on both sides with a self-signed certificate for localhost: a node that trusts it takes
// part in a round; a plaintext node never gets in.
TEST(FleetTest, NodesTalkToATlsServerWithTheRootTheyTrust) {
  TempDir dir;
  const std::string cert = (dir.path() / "cert.pem").string(), key = (dir.path() / "key.pem").string();
  auto [code, out] = ::fleettwin::testing::RunTool(
      {"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost", "-addext",
       "subjectAltName=DNS:localhost,IP:127.0.0.1"});
  ASSERT_EQ(code, 0) << out;
  FleetServerOptions o;
  o.tls_cert_file = cert;
  o.tls_key_file = key;
  std::unique_ptr<FleetServer> server = StartServer(o);
  ASSERT_NE(server, nullptr);

  AddHandler plain_handler(5.0f, 1);
  std::unique_ptr<FleetNode> plain = *MakeFleetNode(FastNode(server->port()), NewKey(), &plain_handler);
  plain->Start();
  AddHandler handler(1.0f, 1);
  FleetNodeOptions tls = FastNode(server->port());
  tls.server = absl::StrCat("localhost:", server->port());
  tls.tls_root_cert_file = cert;
  std::unique_ptr<FleetNode> node = *MakeFleetNode(tls, NewKey(), &handler);
  node->Start();
  std::vector<NpyArray> model = Model(0.0f);
  RoundOptions r;
  r.rounds = 1;
  r.min_nodes = 1;
  r.reply_deadline = absl::Seconds(20);
  absl::StatusOr<std::vector<RoundReport>> reports = RunRounds(*server, model, r);
  ASSERT_TRUE(reports.ok()) << reports.status();
  EXPECT_EQ(reports->front().replied.size(), 1u);
  EXPECT_NEAR(First(model), 1.0f, 1e-6);  // The TLS node's update, not the plaintext one's.
  EXPECT_EQ(server->Nodes().size(), 1u);
  EXPECT_EQ(plain_handler.handled.load(), 0);
  EXPECT_EQ(plain->stats().node_id, 0u);
  node->Stop();
  plain->Stop();
  EXPECT_FALSE(MakeFleetNode(FleetNodeOptions{.tls_root_cert_file = dir.path() / "missing.pem"},
                             NewKey(), &handler)
                   .ok());
}

// Liveness on the server's (injected) clock: a node is alive while heard from within two
// heartbeat intervals; rounds only sample live nodes.
TEST(FleetTest, ANodeSilentForTwoIntervalsIsNoLongerAlive) {
  std::atomic<int64_t> offset_s{0};
  FleetServerOptions o;
  o.clock = [&] { return absl::Now() + absl::Seconds(offset_s.load()); };
  o.max_timestamp_behind = absl::Hours(1);  // The node's own clock is not moved.
  o.max_timestamp_ahead = absl::Hours(1);
  std::unique_ptr<FleetServer> server = StartServer(o);
  ASSERT_NE(server, nullptr);
  RawClient node(server->port(), NewKey());
  uint64_t id = 0;
  ASSERT_TRUE(node.Register(&id).ok());  // Asks for a 30 s interval.
  ASSERT_EQ(server->Nodes().size(), 1u);
  EXPECT_TRUE(server->Nodes()[0].alive);
  offset_s = 45;  // Well inside 2 x 30 s, even on a slow machine.
  EXPECT_TRUE(server->Nodes()[0].alive);
  offset_s = 90;
  EXPECT_FALSE(server->Nodes()[0].alive);
  EXPECT_TRUE(server->Nodes()[0].active);
  std::vector<NpyArray> model = Model(0.0f);
  RoundOptions r;
  r.rounds = 1;
  r.min_nodes = 1;
  r.wait_for_nodes = absl::Milliseconds(200);
  EXPECT_EQ(RunRounds(*server, model, r).status().code(), absl::StatusCode::kDeadlineExceeded);
  // A call (here a heartbeat-free pull) brings it back.
  fp::PullMessagesResponse pulled;
  ASSERT_TRUE(node.Pull(id, &pulled).ok());
  EXPECT_TRUE(server->Nodes()[0].alive);
}

// A node that goes silent after it was sampled (like a killed process) is given up once it is
// no longer live (2 heartbeat intervals), long before the round's deadline.
TEST(FleetTest, ANodeThatFallsSilentMidRoundIsGivenUpBeforeTheDeadline) {
  std::unique_ptr<FleetServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  std::vector<std::unique_ptr<AddHandler>> handlers;
  std::vector<std::unique_ptr<FleetNode>> nodes;
  for (int i = 0; i < 2; ++i) {
    handlers.push_back(std::make_unique<AddHandler>(1.0f, 10));
    nodes.push_back(*MakeFleetNode(FastNode(server->port()), NewKey(), handlers.back().get()));
    nodes.back()->Start();
  }
  RawClient silent(server->port(), NewKey());
  uint64_t silent_id = 0;
  ASSERT_TRUE(silent.Register(&silent_id, /*heartbeat_interval_s=*/1).ok());  // Then says nothing.
  std::vector<NpyArray> model = Model(0.0f);
  RoundOptions o;
  o.rounds = 1;
  o.min_nodes = 3;
  o.wait_for_nodes = absl::Seconds(20);
  o.reply_deadline = absl::Seconds(60);
  const auto started = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<RoundReport>> reports = RunRounds(*server, model, o);
  ASSERT_TRUE(reports.ok()) << reports.status();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30));
  const RoundReport& r = reports->front();
  EXPECT_TRUE(r.aggregated);
  EXPECT_EQ(r.replied.size(), 2u);
  ASSERT_EQ(r.failed.size(), 1u);
  EXPECT_EQ(r.failed[0].first, silent_id);
  EXPECT_EQ(r.failed[0].second, "node no longer live (no heartbeat)");
  for (auto& n : nodes) n->Stop();
}

}  // namespace
}  // namespace fleettwin::federated
