// The agent's federated handler on both of Flower's content conventions, on real FD001 units.
#include "fleettwin/agent/federated_learner.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>
#include <zmq.hpp>

#include "absl/strings/str_cat.h"
#include "fleettwin/agent/agent_runtime.h"
#include "fleettwin/agent/zmq_source.h"
#include "fleettwin/common/clock.h"
#include "fleettwin/common/npy.h"
#include "fleettwin/federated/fleet_server.h"
#include "fleettwin/federated/objects.h"
#include "fleettwin/federated/records.h"
#include "fleettwin/federated/rounds.h"
#include "fleettwin/federated/strategy.h"
#include "testing/cmapss.h"
#include "testing/temp_dir.h"

namespace fleettwin::agent {
namespace {

namespace fp = flwr::proto;
namespace ff = fleettwin::federated;

const std::string kSource = FLEETTWIN_SOURCE_DIR;

model::Dataset Units(int first, int last) {
  absl::StatusOr<model::Dataset> all = model::ReadCmapss(kSource + "/data/cmapss/train_FD001.txt");
  EXPECT_TRUE(all.ok());
  model::Dataset out{all->channels, {}};
  for (const model::UnitSeries& u : all->units) {
    if (u.unit >= first && u.unit <= last) out.units.push_back(u);
  }
  return out;
}

// A small model to federate: 2 members, 8 hidden units.
model::RulModel SmallModel() {
  model::TrainOptions o;
  o.ensemble = 2;
  o.hidden = {8};
  o.max_epochs = 1;
  o.patience = 0;
  absl::StatusOr<model::RulModel> m = model::Train(Units(1, 6), o);
  EXPECT_TRUE(m.ok()) << m.status();
  return *m;
}

LearnerOptions Options() {
  LearnerOptions o;
  o.asset_id = "engine-7";
  o.train.threads = 1;
  return o;
}

fp::Message Request(const std::string& type, fp::RecordDict content) {
  fp::Message m;
  m.mutable_metadata()->set_message_type(type);
  *m.mutable_content() = std::move(content);
  return m;
}

std::vector<float> Flat(const std::vector<NpyArray>& arrays) {
  return ff::ParameterLayout::Flatten(arrays)->second;
}

double Distance(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(s);
}

TEST(FederatedLearnerTest, MessageApiTrainReturnsTrainedArraysAndCountsAndLedgersTheModel) {
  const model::RulModel global = SmallModel();
  std::vector<ModelReceived> received;
  std::vector<std::string> versions;  // Of the model handed over with each (for adoption).
  FederatedLearner learner(Units(10, 14), std::nullopt, Options(), [&](const ModelReceived& m) {
    received.push_back(m);
    versions.push_back(m.model != nullptr ? m.model->version() : "");
  });
  fp::RecordDict content;
  ff::AddArrays(content, "arrays", ff::ToArrayRecord(global.parameters()));
  fp::ConfigRecord config;
  ff::SetInt(config, "server-round", 4);
  ff::SetInt(config, "local-epochs", 2);
  ff::SetString(config, "fleettwin.model-spec", global.SpecJson());
  ff::SetInt(config, "fleettwin.identify", 1);
  ff::AddConfig(content, "config", config);
  absl::StatusOr<fp::RecordDict> reply = learner.Handle(Request("train", content));
  ASSERT_TRUE(reply.ok()) << reply.status();

  const fp::ArrayRecord* arrays = ff::FindArrays(*reply, "arrays");
  ASSERT_NE(arrays, nullptr);
  EXPECT_EQ(arrays->items(0).value().dtype(), "float32");
  absl::StatusOr<std::vector<NpyArray>> trained = ff::FromArrayRecord(*arrays);
  ASSERT_TRUE(trained.ok());
  EXPECT_GT(Distance(Flat(*trained), Flat(global.parameters())), 0.0);
  const fp::MetricRecord* metrics = ff::FindMetrics(*reply, "metrics");
  ASSERT_NE(metrics, nullptr);
  // 5 units, one held out for evaluation: the rest's windows (rows - 29 each).
  const model::Dataset units = Units(10, 13);
  double windows = 0;
  for (const model::UnitSeries& u : units.units) windows += static_cast<double>(u.rows.size()) - 29;
  EXPECT_EQ(ff::GetNumber(*metrics, "num-examples").value_or(-1), windows);
  const fp::ConfigRecord* who = ff::FindConfig(*reply, "fleettwin");
  ASSERT_NE(who, nullptr);
  EXPECT_EQ(ff::GetString(*who, "asset").value_or(""), "engine-7");

  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].server_round, 4);
  EXPECT_EQ(received[0].message_type, "train");
  EXPECT_EQ(received[0].model_id, *ff::ArrayRecordObjectId(ff::ToArrayRecord(global.parameters())));
  EXPECT_EQ(versions, std::vector<std::string>{global.version()});
  ASSERT_TRUE(learner.current().has_value());
  EXPECT_EQ(Flat(learner.current()->parameters()), Flat(*trained));
}

TEST(FederatedLearnerTest, FedProxPullsTheLocalModelTowardsTheGlobalOne) {
  const model::RulModel global = SmallModel();
  auto train = [&](double mu) {
    FederatedLearner learner(Units(10, 14), global, Options());
    fp::RecordDict content;
    ff::AddArrays(content, "arrays", ff::ToArrayRecord(global.parameters()));
    fp::ConfigRecord config;
    ff::SetInt(config, "local-epochs", 3);
    if (mu > 0) ff::SetDouble(config, "proximal-mu", mu);
    ff::AddConfig(content, "config", config);
    absl::StatusOr<fp::RecordDict> reply = learner.Handle(Request("train", content));
    EXPECT_TRUE(reply.ok()) << reply.status();
    return Distance(Flat(*ff::FromArrayRecord(*ff::FindArrays(*reply, "arrays"))),
                    Flat(global.parameters()));
  };
  // mu is in the loss's units (squared error of RUL / cap); with Adam's normalised steps it takes
  // a strong term to hold the weights visibly (as in RulModelTest's FedProx test).
  EXPECT_LT(train(50.0), 0.5 * train(0.0));
}

TEST(FederatedLearnerTest, LegacyFitAndEvaluateUseTheCompatKeys) {
  const model::RulModel global = SmallModel();
  FederatedLearner learner(Units(10, 14), global, Options());
  fp::ArrayRecord legacy = ff::ToArrayRecord(global.parameters());
  for (auto& item : *legacy.mutable_items()) {  // Legacy arrays: dtype "" and shape [].
    item.mutable_value()->clear_dtype();
    item.mutable_value()->clear_shape();
  }
  fp::RecordDict fit;
  ff::AddArrays(fit, "fitins.parameters", legacy);
  fp::ConfigRecord config;
  ff::SetInt(config, "local-epochs", 1);
  ff::AddConfig(fit, "fitins.config", config);
  absl::StatusOr<fp::RecordDict> reply = learner.Handle(Request("train", fit));
  ASSERT_TRUE(reply.ok()) << reply.status();
  const fp::ArrayRecord* params = ff::FindArrays(*reply, "fitres.parameters");
  ASSERT_NE(params, nullptr);
  EXPECT_EQ(params->items(0).value().dtype(), "");
  EXPECT_EQ(params->items(0).value().shape_size(), 0);
  EXPECT_TRUE(ff::FromArrayRecord(*params).ok());
  const fp::ConfigRecord* n = ff::FindConfig(*reply, "fitres.num_examples");
  ASSERT_NE(n, nullptr);
  EXPECT_GT(ff::GetNumber(*n, "num_examples").value_or(0), 0);
  const fp::ConfigRecord* status = ff::FindConfig(*reply, "fitres.status");
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(ff::GetNumber(*status, "code").value_or(-1), 0);
  EXPECT_NE(ff::FindConfig(*reply, "fitres.metrics"), nullptr);

  fp::RecordDict eval;
  ff::AddArrays(eval, "evaluateins.parameters", legacy);
  ff::AddConfig(eval, "evaluateins.config", fp::ConfigRecord());
  absl::StatusOr<fp::RecordDict> evaluated = learner.Handle(Request("evaluate", eval));
  ASSERT_TRUE(evaluated.ok()) << evaluated.status();
  const fp::ConfigRecord* loss = ff::FindConfig(*evaluated, "evaluateres.loss");
  ASSERT_NE(loss, nullptr);
  const double mse = ff::GetNumber(*loss, "loss").value_or(-1);
  EXPECT_GT(mse, 0);
  const fp::ConfigRecord* em = ff::FindConfig(*evaluated, "evaluateres.metrics");
  ASSERT_NE(em, nullptr);
  EXPECT_NEAR(ff::GetNumber(*em, "rmse").value_or(-1), std::sqrt(mse), 1e-9);
  // Every cycle from the window's end on of the held-out unit (unit 14).
  const model::Dataset held = Units(14, 14);
  EXPECT_EQ(ff::GetNumber(*ff::FindConfig(*evaluated, "evaluateres.num_examples"), "num_examples")
                .value_or(-1),
            static_cast<double>(held.units[0].rows.size()) - 29);

  fp::RecordDict get;
  ff::AddConfig(get, "getparametersins.config", fp::ConfigRecord());
  absl::StatusOr<fp::RecordDict> got = learner.Handle(Request("get_parameters", get));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_NE(ff::FindArrays(*got, "getparametersres.parameters"), nullptr);
  EXPECT_NE(ff::FindConfig(*got, "getparametersres.status"), nullptr);
}

TEST(FederatedLearnerTest, MessageApiEvaluateReportsLossAndRmseOnHeldOutUnits) {
  const model::RulModel global = SmallModel();
  FederatedLearner learner(Units(20, 29), global, Options());
  fp::RecordDict content;
  ff::AddArrays(content, "arrays", ff::ToArrayRecord(global.parameters()));
  absl::StatusOr<fp::RecordDict> reply = learner.Handle(Request("evaluate", content));
  ASSERT_TRUE(reply.ok()) << reply.status();
  const fp::MetricRecord* m = ff::FindMetrics(*reply, "metrics");
  ASSERT_NE(m, nullptr);
  EXPECT_GT(ff::GetNumber(*m, "num-examples").value_or(0), 0);
  EXPECT_NEAR(ff::GetNumber(*m, "rmse").value_or(-1),
              std::sqrt(ff::GetNumber(*m, "loss").value_or(-1)), 1e-9);
  EXPECT_EQ(ff::FindArrays(*reply, "arrays"), nullptr);
  // The figure the agent's adoption rule compares (AgentRuntime, --fl-adopt if-not-worse).
  absl::StatusOr<double> rmse = learner.HeldOutRmse(global);
  ASSERT_TRUE(rmse.ok()) << rmse.status();
  EXPECT_EQ(*rmse, ff::GetNumber(*m, "rmse").value_or(-1));
  EXPECT_GT(*rmse, 0);
}

TEST(FederatedLearnerTest, SummaryQueriesMergeIntoTheWholeFleetsStatistics) {
  FederatedLearner a(Units(1, 5), std::nullopt, Options()),
      b(Units(6, 10), std::nullopt, Options());
  fp::RecordDict content;
  fp::ConfigRecord config;
  ff::SetString(config, "fleettwin.query", "channel-summary");
  ff::AddConfig(content, "config", config);
  std::vector<std::string> sensors;
  for (int i = 1; i <= 21; ++i) sensors.push_back(absl::StrCat("s", i));
  auto summary = [&](FederatedLearner& l) {
    absl::StatusOr<fp::RecordDict> reply = l.Handle(Request("query", content));
    EXPECT_TRUE(reply.ok()) << reply.status();
    std::vector<NpyArray> arrays = *ff::FromArrayRecord(*ff::FindArrays(*reply, "arrays"));
    return *model::ChannelSummary::FromNpy(sensors, arrays.at(0));
  };
  model::ChannelSummary total = summary(a);
  ASSERT_TRUE(total.Merge(summary(b)).ok());
  // Each learner holds one unit out: the summaries cover units 1-4 and 6-9.
  model::Dataset both = Units(1, 4);
  for (model::UnitSeries& u : Units(6, 9).units) both.units.push_back(u);
  const model::ChannelSummary whole = model::SummarizeChannels(both, sensors);
  for (size_t c = 0; c < sensors.size(); ++c) {
    EXPECT_EQ(total.count[c], whole.count[c]);
    EXPECT_NEAR(total.mean[c], whole.mean[c], 1e-9 * std::max(1.0, std::abs(whole.mean[c])));
  }
}

TEST(FederatedLearnerTest, BadRequestsBecomeErrorsNotCrashes) {
  const model::RulModel global = SmallModel();
  FederatedLearner learner(Units(10, 14), std::nullopt, Options());
  EXPECT_FALSE(learner.Handle(Request("train", fp::RecordDict())).ok());
  EXPECT_FALSE(learner.Handle(Request("reboot", fp::RecordDict())).ok());
  fp::RecordDict no_spec;
  ff::AddArrays(no_spec, "arrays", ff::ToArrayRecord(global.parameters()));
  EXPECT_EQ(learner.Handle(Request("train", no_spec)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  fp::RecordDict wrong;
  const std::vector<float> v = {1, 2, 3};
  ff::AddArrays(wrong, "arrays", ff::ToArrayRecord({MakeNpy<float>({3}, absl::MakeConstSpan(v))}));
  fp::ConfigRecord config;
  ff::SetString(config, "fleettwin.model-spec", global.SpecJson());
  ff::AddConfig(wrong, "config", config);
  EXPECT_FALSE(learner.Handle(Request("train", wrong)).ok());
  fp::RecordDict garbage_spec = no_spec;
  fp::ConfigRecord bad;
  ff::SetString(bad, "fleettwin.model-spec", "{not json");
  ff::AddConfig(garbage_spec, "config", bad);
  EXPECT_EQ(learner.Handle(Request("train", garbage_spec)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The agent's handler behind a real node, against our server over gRPC on 127.0.0.1: one
// round in each convention, with evaluation; the global model moves and metrics arrive.
TEST(FederatedLearnerTest, RoundsOverGrpcInBothContentConventions) {
  const model::RulModel global = SmallModel();
  absl::StatusOr<std::unique_ptr<ff::FleetServer>> server = ff::StartFleetServer({});
  ASSERT_TRUE(server.ok()) << server.status();
  std::vector<std::unique_ptr<FederatedLearner>> learners;
  std::vector<std::unique_ptr<ff::FleetNode>> nodes;
  for (int i = 0; i < 2; ++i) {
    LearnerOptions o = Options();
    o.asset_id = absl::StrCat("engine-", i);
    learners.push_back(
        std::make_unique<FederatedLearner>(Units(10 + 5 * i, 14 + 5 * i), global, o));
    ff::FleetNodeOptions no;
    no.server = absl::StrCat("127.0.0.1:", (*server)->port());
    no.heartbeat_interval_s = 1;
    no.poll_interval = absl::Milliseconds(20);
    nodes.push_back(*ff::MakeFleetNode(no, *ff::NodeKey::Generate(), learners.back().get()));
    nodes.back()->Start();
  }
  for (bool legacy : {false, true}) {
    std::vector<NpyArray> model = global.parameters();
    ff::RoundOptions r;
    r.rounds = 1;
    r.min_nodes = 2;
    r.evaluate = true;
    r.local_epochs = 2;
    r.legacy_content = legacy;
    r.reply_deadline = absl::Seconds(60);
    ff::SetInt(r.extra_config, "fleettwin.identify", 1);
    absl::StatusOr<std::vector<ff::RoundReport>> reports = ff::RunRounds(**server, model, r);
    ASSERT_TRUE(reports.ok()) << reports.status();
    const ff::RoundReport& report = reports->front();
    EXPECT_TRUE(report.aggregated) << (report.failed.empty() ? "" : report.failed[0].second);
    EXPECT_EQ(report.replied.size(), 2u);
    EXPECT_GT(report.num_examples, 0);
    EXPECT_TRUE(report.train_metrics.contains("train-seconds")) << legacy;
    EXPECT_TRUE(report.eval_metrics.contains("rmse")) << legacy;
    EXPECT_TRUE(report.eval_metrics.contains("loss")) << legacy;
    EXPECT_EQ(report.names.size(), 2u);
    EXPECT_GT(Distance(Flat(model), Flat(global.parameters())), 0.0) << legacy;
  }
  for (auto& n : nodes) n->Stop();
}

// The agent's adoption rule behind a real node (AgentRuntime with --fl-adopt if-not-worse): a
// global model worse than the twin's on the agent's held-out units is declined; a better one is
// adopted (saved under DATA_DIR/models, its version ledgered) while telemetry flows, the ledger
// and the adopted models rebuild the live twin byte for byte, a restarted agent keeps the
// model, and one restarted with adoption off goes back to --model.
TEST(FederatedAdoptionTest, AWorseGlobalModelIsDeclinedABetterOneAdoptedAndKeptAfterARestart) {
  absl::StatusOr<model::RulModel> base =
      model::RulModel::Load(kSource + "/data/models/cmapss-fd001-mlp");
  ASSERT_TRUE(base.ok()) << base.status();
  // Candidates: the shipped model with every member's output bias moved by d (in RUL / 125).
  auto shifted = [&](float d) {
    model::RulModel m = *base;
    std::vector<NpyArray> params = m.parameters();
    for (size_t i = 5; i < params.size(); i += 6) {
      std::vector<float> b = *NpyValues<float>(params[i]);
      b[0] += d;
      params[i] = MakeNpy<float>(params[i].shape, b);
    }
    EXPECT_TRUE(m.SetParameters(params).ok());
    return m;
  };
  // The agent holds out the last of its units 1-10 (unit 10): judge the candidates there.
  const FederatedLearner judge(Units(1, 10), std::nullopt, Options());
  const double in_use = *judge.HeldOutRmse(*base);
  const model::RulModel worse = shifted(0.2f);  // 25 cycles later everywhere.
  ASSERT_GT(*judge.HeldOutRmse(worse), in_use);
  std::optional<model::RulModel> better;
  for (float d : {0.01f, -0.01f, 0.02f, -0.02f, 0.04f, -0.04f}) {
    model::RulModel m = shifted(d);
    if (*judge.HeldOutRmse(m) < in_use) {
      better = std::move(m);
      break;
    }
  }
  ASSERT_TRUE(better.has_value()) << "no bias shift improves on " << in_use;

  absl::StatusOr<std::unique_ptr<ff::FleetServer>> server = ff::StartFleetServer({});
  ASSERT_TRUE(server.ok()) << server.status();
  ::fleettwin::testing::TempDir tmp;
  AgentOptions options;
  options.asset = "engine-1";
  options.kind_file = kSource + "/kinds/cmapss-turbofan.json";
  options.data_dir = tmp.path() / "engine-1";
  options.model_dir = kSource + "/data/models/cmapss-fd001-mlp";
  options.fl_server = absl::StrCat("127.0.0.1:", (*server)->port());
  options.fl_history_file = kSource + "/data/cmapss/train_FD001.txt";
  options.fl_history_units = "1-10";
  options.fl_heartbeat_interval_s = 1;
  options.fl_adopt = FederatedAdoption::kIfNotWorse;
  options.zmq_bind = "tcp://127.0.0.1:*";
  SystemClock clock;
  absl::StatusOr<AssetKind> kind = LoadAssetKind(options.kind_file);
  ASSERT_TRUE(kind.ok()) << kind.status();
  const std::vector<RawSample> engine =
      ::fleettwin::testing::CmapssEngine(kSource, *kind, "test_FD001.txt", 31);
  ASSERT_GT(engine.size(), 100u);
  zmq::context_t context;
  // Sends engine[first, end) to the agent and waits until the twin has it.
  auto send = [&](AgentRuntime& agent, size_t first, size_t end) {
    zmq::socket_t push(context, zmq::socket_type::push);
    push.set(zmq::sockopt::linger, 5000);
    push.connect(agent.zmq_endpoint());
    const std::vector<RawSample> part(engine.begin() + first, engine.begin() + end);
    push.send(zmq::buffer(EncodeTelemetryBatch("engine-1", part)), zmq::send_flags::none);
    const uint64_t want = agent.accepted() + part.size();
    for (int i = 0; i < 2000 && agent.accepted() < want; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ(agent.accepted(), want);
  };
  auto model_in_use = [](AgentRuntime& agent) {
    return nlohmann::json::parse(agent.TwinJson())["model_version"].get<std::string>();
  };
  // One `evaluate` of `m` sent to the agent's node; returns once it replied.
  auto evaluate = [&](const model::RulModel& m) {
    std::vector<ff::NodeStatus> nodes;
    for (int i = 0; i < 500 && nodes.empty(); ++i) {
      for (const ff::NodeStatus& n : (*server)->Nodes()) {
        if (n.active) nodes.push_back(n);
      }
      if (nodes.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_FALSE(nodes.empty());
    fp::Message message;
    message.mutable_metadata()->set_message_type("evaluate");
    fp::RecordDict content;
    ff::AddArrays(content, "arrays", ff::ToArrayRecord(m.parameters()));
    fp::ConfigRecord config;
    ff::SetInt(config, "server-round", 1);
    ff::SetString(config, "fleettwin.model-spec", m.SpecJson());
    ff::AddConfig(content, "config", config);
    *message.mutable_content() = std::move(content);
    absl::StatusOr<std::string> id = (*server)->Send(nodes.back().node_id, std::move(message));
    ASSERT_TRUE(id.ok()) << id.status();
    for (int i = 0; i < 3000; ++i) {
      auto reply = (*server)->TakeReply(*id);
      ASSERT_TRUE(reply.ok()) << reply.status();
      if (reply->has_value()) {
        ASSERT_TRUE((*reply)->ok());
        EXPECT_FALSE((**reply)->has_error()) << (**reply)->error().reason();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << "no reply";
  };
  std::string live;
  {
    absl::StatusOr<std::unique_ptr<AgentRuntime>> agent = AgentRuntime::Start(options, clock);
    ASSERT_TRUE(agent.ok()) << agent.status();
    EXPECT_EQ(model_in_use(**agent), base->version());
    send(**agent, 0, 50);
    evaluate(worse);
    EXPECT_EQ(model_in_use(**agent), base->version());
    EXPECT_NE((*agent)->MetricsText().find(
                  "fleettwin_agent_federated_models_declined_total{asset=\"engine-1\"} 1"),
              std::string::npos)
        << (*agent)->MetricsText();
    evaluate(*better);
    EXPECT_EQ(model_in_use(**agent), better->version());
    send(**agent, 50, engine.size());
    const nlohmann::json twin = nlohmann::json::parse((*agent)->TwinJson());
    ASSERT_TRUE(twin["rul"].is_object()) << twin.dump();  // Predicted with the adopted model.
    EXPECT_TRUE(std::filesystem::exists(options.data_dir / "models" / better->version()));
    EXPECT_NE((*agent)->MetricsText().find(
                  "fleettwin_agent_federated_models_adopted_total{asset=\"engine-1\"} 1"),
              std::string::npos);
    ASSERT_TRUE((*agent)->Shutdown().ok());
    live = (*agent)->TwinJson();
  }
  // An auditor's replay, with the adopted models loaded from disk, is the live twin.
  absl::StatusOr<std::string> replayed = RebuildTwinJson(
      options.data_dir / "ledger", {}, "engine-1", options.model_dir, options.data_dir / "models");
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  EXPECT_EQ(*replayed, live);
  EXPECT_EQ(RebuildTwinJson(options.data_dir / "ledger", {}, "engine-1", options.model_dir)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  {
    absl::StatusOr<std::unique_ptr<AgentRuntime>> again = AgentRuntime::Start(options, clock);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ((*again)->TwinJson(), live);  // Same model, nothing ledgered.
    ASSERT_TRUE((*again)->Shutdown().ok());
  }
  options.fl_adopt = FederatedAdoption::kNever;
  absl::StatusOr<std::unique_ptr<AgentRuntime>> reverted = AgentRuntime::Start(options, clock);
  ASSERT_TRUE(reverted.ok()) << reverted.status();
  EXPECT_EQ(model_in_use(**reverted), base->version());
  ASSERT_TRUE((*reverted)->Shutdown().ok());
}

}  // namespace
}  // namespace fleettwin::agent
