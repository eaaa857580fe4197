// The analytics inside the twin: recalibration from the twin's own history (ledgered, rebuilt
// identically), prediction-quality drift, and what-if questions answered from the twin.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <zmq.hpp>

#include "fleettwin/agent/agent_runtime.h"
#include "fleettwin/agent/ledgered_twin.h"
#include "fleettwin/agent/model_catalog.h"
#include "fleettwin/agent/twin_records.h"
#include "fleettwin/agent/what_if.h"
#include "fleettwin/common/clock.h"
#include "fleettwin/common/npy.h"
#include "fleettwin/model/rul_model.h"
#include "fleettwin/sim/random.h"
#include "testing/cmapss.h"
#include "testing/temp_dir.h"

namespace fleettwin::agent {
namespace {

const std::string kKinds = std::string(FLEETTWIN_SOURCE_DIR) + "/kinds/";
const std::string kData = std::string(FLEETTWIN_SOURCE_DIR) + "/data/";

// The model's input channels of samples[first, end), as Predict takes them.
std::vector<std::vector<double>> ModelRows(const model::RulModel& model,
                                           const std::vector<RawSample>& samples, size_t first,
                                           size_t end) {
  std::vector<std::vector<double>> rows;
  for (size_t i = first; i < end; ++i) {
    std::vector<double> row;
    for (const std::string& channel : model.input_channels()) {
      for (const auto& [name, value] : samples[i].fields) {
        if (name == channel) row.push_back(std::get<double>(value));
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

// Telemetry of a conveyor belt, one sample per time unit: the state during that unit (0
// working, 2 repairing), items, capacity. A working unit fails with probability p at its end;
// the repair lasts `repair` units.
class BeltTrace {
 public:
  BeltTrace(uint64_t seed, int capacity) : rng_(seed), capacity_(capacity) {}
  std::vector<RawSample> Next(int units, double p, int repair) {
    std::vector<RawSample> out;
    for (int i = 0; i < units; ++i) {
      ++time_;
      const bool working = repair_left_ == 0;
      const double items = working ? std::min(capacity_, 5) : 0;
      out.push_back({time_,
                     {{"items", items},
                      {"state", working ? 0.0 : 2.0},
                      {"capacity", static_cast<double>(capacity_)}}});
      if (working) {
        if (rng_.Bernoulli(p)) repair_left_ = repair;
      } else {
        --repair_left_;
      }
    }
    return out;
  }

 private:
  sim::Random rng_;
  int capacity_;
  double time_ = 0;
  int repair_left_ = 0;
};

class AnalyticsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<AssetKind> kind = LoadAssetKind(kKinds + "conveyor-belt.json");
    ASSERT_TRUE(kind.ok()) << kind.status();
    conveyor_ = *kind;
    ledger::LedgerOptions options;
    options.directory = dir_.path() / "ledger";
    options.origin = "fleettwin.test/agent/belt-1";
    std::array<uint8_t, 32> seed;
    seed.fill(3);
    key_ = *ledger::SignerKeyFromSeed(options.origin, seed);
    auto ledger = ledger::OpenLedger(options, clock_, key_);
    ASSERT_TRUE(ledger.ok()) << ledger.status();
    ledger_ = std::move(*ledger);
  }
  void Feed(LedgeredTwin& twin, const std::vector<RawSample>& samples) {
    for (size_t i = 0; i < samples.size(); i += 50) {
      const size_t n = std::min<size_t>(50, samples.size() - i);
      absl::StatusOr<IngestResult> r = twin.Ingest(absl::MakeConstSpan(samples).subspan(i, n));
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_EQ(r->rejected, 0u);
    }
  }

  testing::TempDir dir_;
  FakeClock clock_{1'700'000'000'000'000'000};
  ledger::SignerKey key_;
  std::unique_ptr<ledger::Ledger> ledger_;
  AssetKind conveyor_;
};

TEST_F(AnalyticsTest, ConveyorRecalibrationsAreLedgeredAndRecoverTheParameters) {
  auto twin = LedgeredTwin::Open(conveyor_, "belt-1", *ledger_);
  ASSERT_TRUE(twin.ok()) << twin.status();
  BeltTrace trace(7, 8);
  Feed(**twin, trace.Next(6000, 0.02, 3));
  const TwinState& state = (*twin)->twin().state();
  ASSERT_TRUE(state.calibration.has_value());
  EXPECT_GE(state.calibrations, 10u);
  EXPECT_EQ(state.drift_recalibrations, 0u);  // The model held: no drift.
  EXPECT_FALSE(state.quality.drift);
  // One failure chance of 0.02 per working unit: 0.02 failures per working unit.
  const double rate = 0.02;
  const Calibration& c = *state.calibration;
  EXPECT_LE(c.failure_rate_ci_low, rate);
  EXPECT_GE(c.failure_rate_ci_high, rate);
  EXPECT_TRUE(c.repair_fitted);
  EXPECT_NEAR(c.repair_time_mean, 3, 1e-9);  // Every repair took exactly 3 units.

  // Each recalibration is its own ledgered twin update, and the rebuild agrees exactly.
  uint64_t ledgered = 0;
  ASSERT_TRUE(ledger_
                  ->Scan(0, ledger_->Size(),
                         [&](const ledger::Entry& e, const std::string&) {
                           if (e.kind != kTwinUpdateKind) return true;
                           auto u = DecodeTwinUpdate(AsBytes(e.payload), 5);
                           EXPECT_TRUE(u.ok()) << u.status();
                           if (u.ok() && std::holds_alternative<CalibrationChange>(u->change)) {
                             ++ledgered;
                           }
                           return true;
                         })
                  .ok());
  EXPECT_EQ(ledgered, state.calibrations);
  absl::StatusOr<RebuiltTwin> rebuilt = RebuildTwin(*ledger_, conveyor_, "belt-1", 10);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_EQ(rebuilt->twin->StateJson(), (*twin)->twin().StateJson());
  EXPECT_EQ(rebuilt->twin->state().calibration, state.calibration);
}

TEST_F(AnalyticsTest, ASustainedRiseInFailuresRaisesDriftAndARecalibrationFollowsIt) {
  auto twin = LedgeredTwin::Open(conveyor_, "belt-1", *ledger_);
  ASSERT_TRUE(twin.ok()) << twin.status();
  BeltTrace trace(11, 8);
  Feed(**twin, trace.Next(4000, 0.02, 3));
  const TwinState& state = (*twin)->twin().state();
  ASSERT_EQ(state.drift_recalibrations, 0u);
  Feed(**twin, trace.Next(3000, 0.10, 3));  // Wear: five times the failures.
  EXPECT_GE(state.drift_recalibrations, 1u);
  ASSERT_TRUE(state.calibration.has_value());
  // The estimate follows (its memory is calibration_memory = 1000 units).
  EXPECT_GT(state.calibration->failure_rate, 0.06);
  absl::StatusOr<RebuiltTwin> rebuilt = RebuildTwin(*ledger_, conveyor_, "belt-1", 10);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_EQ(rebuilt->twin->StateJson(), (*twin)->twin().StateJson());
}

TEST_F(AnalyticsTest, WhatIfAnswersFromTheCalibratedTwin) {
  auto twin = LedgeredTwin::Open(conveyor_, "belt-1", *ledger_);
  ASSERT_TRUE(twin.ok()) << twin.status();
  // Before any calibration the question needs its parameters.
  absl::StatusOr<std::string> early =
      AnswerWhatIfJson(conveyor_, (*twin)->twin().state(), R"({"horizon": 100})", 2);
  EXPECT_EQ(early.status().code(), absl::StatusCode::kFailedPrecondition);
  BeltTrace trace(5, 3);
  Feed(**twin, trace.Next(3000, 0.02, 3));
  const TwinState& state = (*twin)->twin().state();
  ASSERT_TRUE(state.calibration.has_value());

  absl::StatusOr<std::string> base =
      AnswerWhatIfJson(conveyor_, state, R"({"horizon": 500, "replications": 4000, "seed": 1})", 2);
  ASSERT_TRUE(base.ok()) << base.status();
  absl::StatusOr<std::string> raised = AnswerWhatIfJson(
      conveyor_, state, R"({"horizon": 500, "capacity": 8, "replications": 4000, "seed": 1})", 2);
  ASSERT_TRUE(raised.ok()) << raised.status();
  const auto b = nlohmann::json::parse(*base);
  const auto r = nlohmann::json::parse(*raised);
  EXPECT_EQ(b["parameters"]["capacity"], 3);  // From the reported capacity channel.
  EXPECT_EQ(r["parameters"]["capacity"], 8);
  EXPECT_NEAR(b["parameters"]["repair_time"].get<double>(), 3, 1e-6);
  // Raising capacity from 3 to 8 lifts throughput to the load of 5 per working unit.
  const double items_base = b["answers"]["items"]["mean"];
  const double items_raised = r["answers"]["items"]["mean"];
  EXPECT_NEAR(items_raised / items_base, 5.0 / 3.0, 1e-9);
  // Availability: the interval brackets the closed form at the calibrated parameters (the
  // posterior's spread is in the replications, so compare with a tolerance of its width).
  const double p = b["parameters"]["failure_rate"];
  const double closed = 1 / (1 + p * 3);
  const auto& avail = b["answers"]["availability"];
  EXPECT_NEAR(avail["mean"].get<double>(), closed, 0.01);
  EXPECT_LT(avail["ci"][0].get<double>(), avail["ci"][1].get<double>());

  // Bad questions.
  EXPECT_EQ(AnswerWhatIfJson(conveyor_, state, R"({"capacty": 8})", 2).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AnswerWhatIfJson(conveyor_, state, R"({"horizon": "long"})", 2).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AnswerWhatIfJson(conveyor_, state, "[1,2]", 2).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AnswerWhatIfJson(conveyor_, state, R"({"replications": 1})", 2).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AnswerWhatIfJson(conveyor_, state, R"({"capacity": 2.5})", 2).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Unbounded work is refused before any is done.
  EXPECT_EQ(AnswerWhatIfJson(conveyor_, state, R"({"replications": 1000000, "horizon": 1e6})", 2)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// The conveyor model's second process reads the live twin every 5 units while a question runs:
// a twin that does not move leaves the answer as it was; one that moved is followed.
TEST_F(AnalyticsTest, TheWhatIfBeltFollowsTheLiveTwin) {
  auto twin = LedgeredTwin::Open(conveyor_, "belt-1", *ledger_);
  ASSERT_TRUE(twin.ok()) << twin.status();
  BeltTrace trace(5, 3);
  Feed(**twin, trace.Next(3000, 0.02, 3));
  const TwinState before = (*twin)->twin().state();
  ASSERT_TRUE(before.calibration.has_value());
  const std::string question = R"({"horizon": 500, "replications": 4000, "seed": 1})";
  absl::StatusOr<std::string> fixed = AnswerWhatIfJson(conveyor_, before, question, 2);
  absl::StatusOr<std::string> still = AnswerWhatIfJson(
      conveyor_, before, question, 2, [&](double) { return *LiveConveyorOf(before); });
  ASSERT_TRUE(fixed.ok() && still.ok());
  const auto f = nlohmann::json::parse(*fixed), s = nlohmann::json::parse(*still);
  EXPECT_TRUE(f["parameters"]["live_feed"].is_null());
  EXPECT_EQ(s["parameters"]["live_feed"],
            nlohmann::json({{"period", 5}, {"failure_rate", true}, {"repair_time", true}}));
  EXPECT_EQ(f["answers"], s["answers"]);

  // The belt breaks down ten times as often from now on, and the twin has recalibrated.
  Feed(**twin, trace.Next(3000, 0.2, 3));
  const TwinState after = (*twin)->twin().state();
  ASSERT_GT(LiveConveyorOf(after)->failure_rate, 3 * LiveConveyorOf(before)->failure_rate);
  absl::StatusOr<std::string> moved = AnswerWhatIfJson(
      conveyor_, before, question, 2, [&](double) { return *LiveConveyorOf(after); });
  ASSERT_TRUE(moved.ok()) << moved.status();
  const auto m = nlohmann::json::parse(*moved);
  const double p = LiveConveyorOf(after)->failure_rate,
               repair = after.calibration->repair_time_mean;
  // From the first refresh (5 units in) the belt runs at the live parameters.
  EXPECT_NEAR(m["answers"]["availability"]["mean"].get<double>(), 1 / (1 + p * repair), 0.02);
  EXPECT_LT(m["answers"]["availability"]["mean"].get<double>(),
            f["answers"]["availability"]["mean"].get<double>() - 0.1);
  // A question that sets a parameter keeps it: only what it takes from the twin is live.
  absl::StatusOr<std::string> set =
      AnswerWhatIfJson(conveyor_, before,
                       R"({"horizon": 500, "replications": 4000, "seed": 1, "failure_rate": 0.02})",
                       2, [&](double) { return *LiveConveyorOf(after); });
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(nlohmann::json::parse(*set)["parameters"]["live_feed"]["failure_rate"], false);
}

// The running agent copies every recalibration out for the what-if's feed.
TEST(LiveConveyorTest, TheRuntimeFollowsEveryRecalibration) {
  testing::TempDir tmp;
  AgentOptions options;
  options.asset = "belt-1";
  options.kind_file = kKinds + "conveyor-belt.json";
  options.data_dir = tmp.path() / "belt-1";
  options.zmq_bind = "tcp://127.0.0.1:*";
  SystemClock clock;
  absl::StatusOr<std::unique_ptr<AgentRuntime>> agent = AgentRuntime::Start(options, clock);
  ASSERT_TRUE(agent.ok()) << agent.status();
  EXPECT_FALSE((*agent)->LiveConveyor().has_value());
  zmq::context_t context;
  zmq::socket_t push(context, zmq::socket_type::push);
  push.set(zmq::sockopt::linger, 5000);
  push.connect((*agent)->zmq_endpoint());
  BeltTrace trace(7, 5);
  uint64_t sent = 0;
  auto send = [&](double p) {
    for (int batch = 0; batch < 30; ++batch) {
      const std::vector<RawSample> samples = trace.Next(100, p, 3);
      const std::string message = EncodeTelemetryBatch("belt-1", samples);
      push.send(zmq::buffer(message), zmq::send_flags::none);
      sent += samples.size();
    }
    for (int i = 0; i < 2000 && (*agent)->accepted() + (*agent)->rejected() < sent; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ((*agent)->accepted(), sent);
  };
  auto calibration = [&] { return nlohmann::json::parse((*agent)->TwinJson())["calibration"]; };
  send(0.02);
  std::optional<sim::ConveyorLive> first = (*agent)->LiveConveyor();
  ASSERT_TRUE(first.has_value());
  // As the simulated belt holds them: float32.
  EXPECT_EQ(first->failure_rate, static_cast<float>(calibration()["failure_rate"].get<double>()));
  EXPECT_EQ(first->repair_time,
            static_cast<float>(calibration()["repair_time_mean"].get<double>()));
  send(0.2);
  std::optional<sim::ConveyorLive> second = (*agent)->LiveConveyor();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->failure_rate, static_cast<float>(calibration()["failure_rate"].get<double>()));
  EXPECT_GT(second->failure_rate, 3 * first->failure_rate);
}
TEST_F(AnalyticsTest, TurbofanWhatIfNeedsAnEstimateOrGivenParameters) {
  absl::StatusOr<AssetKind> turbofan = LoadAssetKind(kKinds + "cmapss-turbofan.json");
  ASSERT_TRUE(turbofan.ok());
  Twin twin(*turbofan, "engine-1");
  EXPECT_EQ(AnswerWhatIfJson(*turbofan, twin.state(), "{}", 2).status().code(),
            absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<std::string> a = AnswerWhatIfJson(
      *turbofan, twin.state(),
      R"({"rul": 20, "rul_std": 5, "maintenance_at": 5, "replications": 2000})", 2);
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<std::string> b = AnswerWhatIfJson(
      *turbofan, twin.state(), R"({"rul": 20, "rul_std": 5, "replications": 2000})", 2);
  ASSERT_TRUE(b.ok()) << b.status();
  const double maintained = nlohmann::json::parse(*a)["answers"]["cost"]["mean"];
  const double run_to_failure = nlohmann::json::parse(*b)["answers"]["cost"]["mean"];
  EXPECT_LT(maintained, run_to_failure);
  // A conveyor question to a turbofan is refused by the typed call too.
  EXPECT_EQ(ConveyorQuestionFor(*turbofan, twin.state(), {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(AnalyticsTest, TheFailureModelPredictsEveryCycleItsVersionIsLedgeredAndRebuildsAgree) {
  absl::StatusOr<AssetKind> turbofan = LoadAssetKind(kKinds + "cmapss-turbofan.json");
  ASSERT_TRUE(turbofan.ok());
  absl::StatusOr<model::RulModel> model = model::RulModel::Load(kData + "models/cmapss-fd001-mlp");
  ASSERT_TRUE(model.ok()) << model.status();
  // A training engine: it runs to failure, so its true RUL is known at every cycle.
  const std::vector<RawSample> engine =
      testing::CmapssEngine(FLEETTWIN_SOURCE_DIR, *turbofan, "train_FD001.txt", 7);
  ASSERT_GT(engine.size(), 150u);
  const double failure_time = engine.back().time + 1;
  std::vector<double> errors;
  {
    auto twin = LedgeredTwin::Open(*turbofan, "engine-7", *ledger_, 10, {}, &*model);
    ASSERT_TRUE(twin.ok()) << twin.status();
    const TwinState& state = (*twin)->twin().state();
    EXPECT_EQ(state.model_version, model->version());  // Ledgered on open.
    EXPECT_EQ(state.revision, 1u);
    for (const RawSample& sample : engine) {
      ASSERT_TRUE((*twin)->Ingest(absl::MakeConstSpan(&sample, 1)).ok());
      ASSERT_TRUE(state.rul.has_value());  // From the first cycle on (short windows are padded).
      if (failure_time - sample.time <= 100) {
        errors.push_back(state.rul->rul - (failure_time - sample.time));
      }
    }
    EXPECT_EQ(state.rul->horizon, 30);
    // The kind's remaining_life indicator judges the RUL estimate: an alarm at the end of life.
    const size_t remaining_life = turbofan->health.size() - 1;
    ASSERT_EQ(turbofan->health[remaining_life].source, kRulSource);
    EXPECT_EQ(state.health[remaining_life], HealthLevel::kAlarm);
    EXPECT_EQ(state.health_values[remaining_life], state.rul->rul);
    EXPECT_GT(state.rul->p_fail, 0.5);  // Its last cycle: failure is imminent.
    // What-if from the twin's own estimate.
    absl::StatusOr<sim::TurbofanQuestion> q = TurbofanQuestionFor(*turbofan, state, {});
    ASSERT_TRUE(q.ok()) << q.status();
    EXPECT_EQ(q->params.rul_mean, std::max(state.rul->rul, 0.1));
    // The failure reveals the true RUL of earlier predictions: they are scored; the engine is
    // renewed, so its worn estimate is void until the next cycle.
    ASSERT_TRUE((*twin)->RecordMaintenance(failure_time, kFailureNote, "test").ok());
    EXPECT_GT(state.quality.rul_errors, 10);
    EXPECT_LT(state.quality.rul_rmse, 30);
    EXPECT_FALSE(state.rul.has_value());
  }
  double squares = 0;
  for (double e : errors) squares += e * e;
  EXPECT_LT(std::sqrt(squares / errors.size()), 25);  // Over its last 100 cycles.

  // The ledger says which model the twin used; with it the rebuild is exact.
  auto again = LedgeredTwin::Open(*turbofan, "engine-7", *ledger_, 10, {}, &*model);
  ASSERT_TRUE(again.ok()) << again.status();
  absl::StatusOr<RebuiltTwin> rebuilt = RebuildTwin(*ledger_, *turbofan, "engine-7", 10, &*model);
  ASSERT_TRUE(rebuilt.ok());
  EXPECT_EQ(rebuilt->twin->StateJson(), (*again)->twin().StateJson());
  absl::StatusOr<RebuiltTwin> without = RebuildTwin(*ledger_, *turbofan, "engine-7", 10);
  ASSERT_TRUE(without.ok());
  EXPECT_FALSE(without->twin->state().rul.has_value());
  EXPECT_EQ(without->twin->state().health.back(), HealthLevel::kUnknown);
  EXPECT_EQ(without->twin->state().model_version, model->version());
}

TEST_F(AnalyticsTest, MaintenanceRenewsTheAssetSoTheModelsAgeRestarts) {
  absl::StatusOr<AssetKind> turbofan = LoadAssetKind(kKinds + "cmapss-turbofan.json");
  ASSERT_TRUE(turbofan.ok());
  absl::StatusOr<model::RulModel> model = model::RulModel::Load(kData + "models/cmapss-fd001-mlp");
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_TRUE(model->uses_age());
  const std::vector<RawSample> engine =
      testing::CmapssEngine(FLEETTWIN_SOURCE_DIR, *turbofan, "train_FD001.txt", 3);
  ASSERT_GT(engine.size(), 150u);
  auto twin = LedgeredTwin::Open(*turbofan, "engine-3", *ledger_, 10, {}, &*model);
  ASSERT_TRUE(twin.ok()) << twin.status();
  const TwinState& state = (*twin)->twin().state();
  // The first 40 cycles of a new engine (age = the cycle number).
  for (size_t i = 0; i < 40; ++i) {
    ASSERT_TRUE((*twin)->Ingest(absl::MakeConstSpan(&engine[i], 1)).ok());
  }
  const double fresh = state.rul->rul;
  // The twin gives the model the engine's age: the cycle of the latest sample (it is new at 0).
  auto rows_of = [&](size_t first, size_t end) { return ModelRows(*model, engine, first, end); };
  EXPECT_EQ(fresh, model->Predict(rows_of(10, 40), engine[39].time)->rul);
  EXPECT_NE(fresh, model->Predict(rows_of(10, 40), engine[39].time + 100)->rul);
  for (size_t i = 40; i < 140; ++i) {
    ASSERT_TRUE((*twin)->Ingest(absl::MakeConstSpan(&engine[i], 1)).ok());
  }
  // An inspection (not a renewal) leaves the engine as worn as it was: same estimate, and the
  // cycles after it are judged with the same window and the age since new.
  const double before_inspection = state.rul->rul;
  ASSERT_TRUE(
      (*twin)->RecordMaintenance(engine[139].time, "borescope inspection", "test", false).ok());
  ASSERT_TRUE(state.rul.has_value());
  EXPECT_EQ(state.rul->rul, before_inspection);
  for (size_t i = 140; i < 150; ++i) {
    ASSERT_TRUE((*twin)->Ingest(absl::MakeConstSpan(&engine[i], 1)).ok());
  }
  const double worn = state.rul->rul;
  EXPECT_EQ(worn, model->Predict(rows_of(120, 150), engine[149].time)->rul);
  EXPECT_LT(worn, fresh - 20);
  // A maintenance at cycle 150 renews it: the same 40 readings at cycles 151..190 describe a
  // 1..40-cycle-old engine and give exactly the estimate of the new one.
  ASSERT_TRUE((*twin)->RecordMaintenance(150, "overhaul", "test").ok());
  EXPECT_FALSE(state.rul.has_value());  // The worn estimate no longer holds.
  for (size_t i = 0; i < 40; ++i) {
    RawSample again = engine[i];
    again.time += 150;
    ASSERT_TRUE((*twin)->Ingest(absl::MakeConstSpan(&again, 1)).ok());
  }
  EXPECT_EQ(state.rul->rul, fresh);
  // A failure at 190 scores only the renewed life's predictions (every tenth of the 40 made
  // since 150), not the worn engine's from before the overhaul, which it did not fail after.
  ASSERT_TRUE((*twin)->RecordMaintenance(190, kFailureNote, "test").ok());
  EXPECT_EQ(state.quality.rul_errors, 4);
  // The ledger alone rebuilds the same twin, age and all.
  absl::StatusOr<RebuiltTwin> rebuilt = RebuildTwin(*ledger_, *turbofan, "engine-3", 10, &*model);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_EQ(rebuilt->twin->StateJson(), (*twin)->twin().StateJson());
}

// An engine that joins the fleet part-way through its life: its telemetry's time starts at 1
// although it has run 100 cycles. A renewal recorded afterwards at time -100 (when it was new)
// gives the model the right age, keeps the window of readings that followed, and re-estimates
// at once.
TEST_F(AnalyticsTest, ARenewalRecordedAfterLaterSamplesKeepsTheirWindowAndFixesTheAge) {
  absl::StatusOr<AssetKind> turbofan = LoadAssetKind(kKinds + "cmapss-turbofan.json");
  ASSERT_TRUE(turbofan.ok());
  absl::StatusOr<model::RulModel> model = model::RulModel::Load(kData + "models/cmapss-fd001-mlp");
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_TRUE(model->uses_age());
  const std::vector<RawSample> engine =
      testing::CmapssEngine(FLEETTWIN_SOURCE_DIR, *turbofan, "train_FD001.txt", 3);
  ASSERT_GT(engine.size(), 150u);
  auto rows_of = [&](size_t first, size_t end) { return ModelRows(*model, engine, first, end); };
  auto twin = LedgeredTwin::Open(*turbofan, "engine-3", *ledger_, 10, {}, &*model);
  ASSERT_TRUE(twin.ok()) << twin.status();
  const TwinState& state = (*twin)->twin().state();
  auto ingest_shifted = [&](size_t i) {  // Cycle i + 1 of the engine at time i - 99.
    RawSample s = engine[i];
    s.time -= 100;
    return (*twin)->Ingest(absl::MakeConstSpan(&s, 1)).ok();
  };
  for (size_t i = 100; i < 140; ++i) ASSERT_TRUE(ingest_shifted(i));
  ASSERT_TRUE(state.rul.has_value());
  // Until it is told, the twin takes the engine for 40 cycles old.
  EXPECT_EQ(state.rul->rul, model->Predict(rows_of(110, 140), 40.0)->rul);
  const double told_young = state.rul->rul;
  ASSERT_TRUE((*twin)->RecordMaintenance(-100, "new when commissioned", "test").ok());
  ASSERT_TRUE(state.rul.has_value());  // Re-estimated from the same 30 readings, at age 140.
  EXPECT_EQ(state.rul->rul, model->Predict(rows_of(110, 140), 140.0)->rul);
  EXPECT_NE(state.rul->rul, told_young);
  ASSERT_TRUE(ingest_shifted(140));
  EXPECT_EQ(state.rul->rul, model->Predict(rows_of(111, 141), 141.0)->rul);
  // A failure at 41 scores only what was predicted with the right age: the re-estimate at 40
  // and the prediction at 41 are kept (every tenth is scored: one), not the 40 predictions made
  // before the back-dated renewal. Being a renewal at the latest sample, it voids the estimate.
  ASSERT_TRUE((*twin)->RecordMaintenance(41, kFailureNote, "test").ok());
  EXPECT_EQ(state.quality.rul_errors, 1);
  EXPECT_FALSE(state.rul.has_value());
  absl::StatusOr<RebuiltTwin> rebuilt = RebuildTwin(*ledger_, *turbofan, "engine-3", 10, &*model);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_EQ(rebuilt->twin->StateJson(), (*twin)->twin().StateJson());
}

// A model adopted from a federated round: the twin predicts with it from its version update
// on, a rebuild that is given the adopted models reproduces the twin, and a reopened twin keeps
// it unless the adopted models are gone.
TEST_F(AnalyticsTest, AnAdoptedModelIsUsedFromItsVersionUpdateOnAndKeptOnReopen) {
  absl::StatusOr<AssetKind> turbofan = LoadAssetKind(kKinds + "cmapss-turbofan.json");
  ASSERT_TRUE(turbofan.ok());
  absl::StatusOr<model::RulModel> model = model::RulModel::Load(kData + "models/cmapss-fd001-mlp");
  ASSERT_TRUE(model.ok()) << model.status();
  // The "global" model: the shipped one with member 0's output bias moved.
  model::RulModel global = *model;
  std::vector<NpyArray> params = global.parameters();
  std::vector<float> bias = *NpyValues<float>(params[5]);
  bias[0] += 0.2f;
  params[5] = MakeNpy<float>(params[5].shape, bias);
  ASSERT_TRUE(global.SetParameters(params).ok());
  ModelCatalog catalog;
  const model::RulModel* adopted = catalog.Add(global);
  ASSERT_NE(adopted->version(), model->version());

  const std::vector<RawSample> engine =
      testing::CmapssEngine(FLEETTWIN_SOURCE_DIR, *turbofan, "train_FD001.txt", 5);
  ASSERT_GT(engine.size(), 80u);
  auto rows_of = [&](size_t first, size_t end) { return ModelRows(*model, engine, first, end); };
  uint64_t revision = 0;
  {
    auto twin = LedgeredTwin::Open(*turbofan, "engine-5", *ledger_, 10, {}, &*model, &catalog);
    ASSERT_TRUE(twin.ok()) << twin.status();
    const TwinState& state = (*twin)->twin().state();
    for (size_t i = 0; i < 50; ++i) {
      ASSERT_TRUE((*twin)->Ingest(absl::MakeConstSpan(&engine[i], 1)).ok());
    }
    EXPECT_EQ(state.rul->rul, model->Predict(rows_of(20, 50), engine[49].time)->rul);
    ASSERT_TRUE((*twin)->SetModelVersion(adopted->version()).ok());
    EXPECT_EQ((*twin)->twin().model(), adopted);
    EXPECT_FALSE(state.rul.has_value());  // A new model starts a new window.
    for (size_t i = 50; i < 80; ++i) {
      ASSERT_TRUE((*twin)->Ingest(absl::MakeConstSpan(&engine[i], 1)).ok());
    }
    EXPECT_EQ(state.rul->rul, adopted->Predict(rows_of(50, 80), engine[79].time)->rul);
    EXPECT_NE(state.rul->rul, model->Predict(rows_of(50, 80), engine[79].time)->rul);
    revision = state.revision;

    absl::StatusOr<RebuiltTwin> rebuilt =
        RebuildTwin(*ledger_, *turbofan, "engine-5", 10, &*model, &catalog);
    ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
    EXPECT_EQ(rebuilt->twin->StateJson(), (*twin)->twin().StateJson());
    // Without the adopted model the rebuild cannot recompute the estimates after the switch.
    absl::StatusOr<RebuiltTwin> partial = RebuildTwin(*ledger_, *turbofan, "engine-5", 10, &*model);
    ASSERT_TRUE(partial.ok()) << partial.status();
    EXPECT_EQ(partial->twin->model(), nullptr);
    EXPECT_FALSE(partial->twin->state().rul.has_value());
    EXPECT_EQ(partial->twin->state().model_version, adopted->version());
  }
  {
    // Restarted with the same start model: the adopted one stays in use, nothing is ledgered.
    auto again = LedgeredTwin::Open(*turbofan, "engine-5", *ledger_, 10, {}, &*model, &catalog);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ((*again)->twin().state().revision, revision);
    EXPECT_EQ((*again)->twin().model(), adopted);
  }
  // Restarted without the adopted models: the start model is ledgered and used again.
  auto reverted = LedgeredTwin::Open(*turbofan, "engine-5", *ledger_, 10, {}, &*model);
  ASSERT_TRUE(reverted.ok()) << reverted.status();
  EXPECT_EQ((*reverted)->twin().state().revision, revision + 1);
  EXPECT_EQ((*reverted)->twin().state().model_version, model->version());
  EXPECT_EQ((*reverted)->twin().model(), &*model);
}

// Adopted models on disk: saved under their version, loaded back; what does not load is
// reported, never used.
TEST(ModelCatalogTest, SavesUnderTheVersionAndLoadsBackOrReportsWhatDoesNotLoad) {
  absl::StatusOr<model::RulModel> model = model::RulModel::Load(kData + "models/cmapss-fd001-mlp");
  ASSERT_TRUE(model.ok()) << model.status();
  ::fleettwin::testing::TempDir dir;
  const std::filesystem::path models = dir.path() / "models";
  ASSERT_TRUE(ModelCatalog::Save(models, *model).ok());
  ASSERT_TRUE(ModelCatalog::Save(models, *model).ok());  // Already there: left as it is.
  EXPECT_TRUE(std::filesystem::exists(models / model->version() / "model.json"));
  ModelCatalog catalog;
  std::vector<std::string> problems;
  int prepared = 0;
  ASSERT_TRUE(catalog
                  .Load(
                      models,
                      [&](model::RulModel& m) {
                        m.set_horizon(20);
                        ++prepared;
                      },
                      &problems)
                  .ok());
  EXPECT_TRUE(problems.empty());
  ASSERT_EQ(catalog.size(), 1u);
  const model::RulModel* loaded = catalog.Find(model->version());
  ASSERT_NE(loaded, nullptr);
  EXPECT_EQ(loaded->horizon(), 20);
  EXPECT_EQ(prepared, 1);
  EXPECT_EQ(catalog.Find("not-a-version"), nullptr);
  EXPECT_EQ(catalog.Add(*model), loaded);  // One per version.

  // A model under another name, and a damaged one, are reported; a staging leftover is skipped.
  std::filesystem::copy(models / model->version(), models / "abc",
                        std::filesystem::copy_options::recursive);
  std::filesystem::create_directories(models / "def");
  std::ofstream(models / "def" / "model.json") << "{not json";
  std::filesystem::create_directories(models / ".staging-xyz");
  ModelCatalog other;
  problems.clear();
  ASSERT_TRUE(other.Load(models, {}, &problems).ok());
  EXPECT_EQ(other.size(), 1u);
  ASSERT_EQ(problems.size(), 2u);
  std::sort(problems.begin(), problems.end());
  EXPECT_EQ(problems[0].rfind("abc: holds model", 0), 0u) << problems[0];
  EXPECT_EQ(problems[1].rfind("def: ", 0), 0u) << problems[1];
  // A missing directory holds none.
  ModelCatalog none;
  ASSERT_TRUE(none.Load(dir.path() / "absent", {}, &problems).ok());
  EXPECT_EQ(none.size(), 0u);
}

TEST_F(AnalyticsTest, AModelNeedingAChannelTheKindLacksIsRefused) {
  absl::StatusOr<model::RulModel> model = model::RulModel::Load(kData + "models/cmapss-fd001-mlp");
  ASSERT_TRUE(model.ok()) << model.status();
  auto twin = LedgeredTwin::Open(conveyor_, "belt-1", *ledger_, 10, {}, &*model);
  EXPECT_EQ(twin.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(AssetKindSimulatorTest, TheSimulatorSectionIsChecked) {
  const std::string base = R"({"kind": "k", "time": {"unit": "s", "period": 1},
    "channels": [{"name": "state", "min": 0, "max": 2}, {"name": "capacity", "min": 0, "max": 9}],
    "simulator": )";
  EXPECT_TRUE(ParseAssetKind(base + R"({"model": "conveyor"}})").ok());
  EXPECT_FALSE(ParseAssetKind(base + R"({"model": "boiler"}})").ok());
  EXPECT_FALSE(ParseAssetKind(base + R"({"model": "conveyor", "state_channel": "x"}})").ok());
  EXPECT_FALSE(ParseAssetKind(base + R"({"model": "conveyor", "recalibrate_every": 0}})").ok());
  EXPECT_FALSE(ParseAssetKind(base + R"({"model": "conveyor", "speed": 1}})").ok());
  EXPECT_FALSE(ParseAssetKind(base + R"({"model": "turbofan", "renewed_life_std": -1}})").ok());
}

}  // namespace
}  // namespace fleettwin::agent
