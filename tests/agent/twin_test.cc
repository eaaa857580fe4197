#include "fleettwin/agent/twin.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "fleettwin/agent/ledgered_twin.h"
#include "fleettwin/agent/twin_records.h"
#include "fleettwin/common/clock.h"
#include "fleettwin/ledger/verify.h"
#include "testing/cmapss.h"
#include "testing/temp_dir.h"

namespace fleettwin::agent {
namespace {

const std::string kKinds = std::string(FLEETTWIN_SOURCE_DIR) + "/kinds/";
const std::string kData = std::string(FLEETTWIN_SOURCE_DIR) + "/data/";

AssetKind Pump() {
  absl::StatusOr<AssetKind> kind = ParseAssetKind(R"({
    "kind": "pump", "time": {"unit": "s", "period": 1},
    "channels": [{"name": "pressure", "min": 0, "max": 10},
                 {"name": "flow", "min": 0, "max": 100, "required": false}],
    "features": [{"name": "pressure_mean_3", "channel": "pressure", "op": "mean", "window": 3}],
    "health": [{"name": "over_pressure", "source": "pressure_mean_3", "warn": 6, "alarm": 8},
               {"name": "low_flow", "source": "flow", "warn": 20, "alarm": 10,
                "direction": "below"}]})");
  EXPECT_TRUE(kind.ok()) << kind.status();
  return *kind;
}

using ::fleettwin::testing::TempDir;

ledger::SignerKey Key() {
  std::array<uint8_t, 32> seed;
  seed.fill(9);
  return *ledger::SignerKeyFromSeed("fleettwin.test/agent/pump-1", seed);
}

TEST(TwinTest, EveryChangeIsOneRevisionAndHealthFollowsThresholds) {
  const AssetKind kind = Pump();
  Twin twin(kind, "pump-1");
  EXPECT_EQ(twin.state().revision, 0u);
  EXPECT_EQ(twin.Apply(Sample{1, {5, 50}}), 1u);
  EXPECT_EQ(twin.state().health[0], HealthLevel::kOk);
  EXPECT_EQ(twin.state().health[1], HealthLevel::kOk);
  EXPECT_EQ(twin.Apply(Sample{2, {7, 15}}), 2u);  // Mean 6: warn. Flow 15: warn.
  EXPECT_EQ(twin.state().health[0], HealthLevel::kWarn);
  EXPECT_EQ(twin.state().health[1], HealthLevel::kWarn);
  EXPECT_EQ(twin.Apply(Sample{3, {10, std::nan("")}}), 3u);  // Mean 22/3: warn; flow kept.
  EXPECT_EQ(twin.Apply(Sample{4, {10, 5}}), 4u);             // Mean 9: alarm. Flow 5: alarm.
  EXPECT_EQ(twin.state().health[0], HealthLevel::kAlarm);
  EXPECT_EQ(twin.state().health[1], HealthLevel::kAlarm);
  EXPECT_EQ(twin.Apply(DesiredChange{"setpoint", 4.5, "op"}), 5u);
  EXPECT_EQ(twin.Apply(MaintenanceRecord{4.5, "seal replaced", "crew-2"}), 6u);
  EXPECT_EQ(twin.Apply(ModelVersionChange{"rul-mlp@3"}), 7u);
  EXPECT_EQ(twin.state().samples, 4u);
  EXPECT_EQ(twin.state().desired.at("setpoint"), 4.5);
  EXPECT_EQ(twin.state().maintenance.size(), 1u);
  EXPECT_EQ(twin.state().model_version, "rul-mlp@3");
  EXPECT_EQ(twin.state().last_time, 4);
  EXPECT_NE(twin.StateJson().find("\"revision\":7"), std::string::npos);
}

TEST(TwinRecordsTest, RoundTripAndRejectGarbage) {
  const std::vector<TwinChange> changes = {
      Sample{12.5, {1, std::nan("")}}, DesiredChange{"speed", 3, "plan-7"},
      MaintenanceRecord{99, "bearing", "crew-1"}, ModelVersionChange{"v2"},
      MaintenanceRecord{100, "borescope", "crew-1", false, "r-0123456789abcdef"}};
  for (size_t i = 0; i < changes.size(); ++i) {
    const std::string bytes = EncodeTwinUpdate("pump-1", i + 1, changes[i]);
    absl::StatusOr<DecodedUpdate> decoded = DecodeTwinUpdate(AsBytes(bytes), 2);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->asset, "pump-1");
    EXPECT_EQ(decoded->revision, i + 1);
    EXPECT_EQ(decoded->change.index(), changes[i].index());
    EXPECT_EQ(EncodeTwinUpdate("pump-1", i + 1, decoded->change), bytes);
    if (const auto* m = std::get_if<MaintenanceRecord>(&changes[i])) {
      EXPECT_EQ(std::get<MaintenanceRecord>(decoded->change), *m);  // The id too.
    }
  }
  // A record without an id encodes as before ids existed (no empty text in its bytes).
  EXPECT_LT(
      EncodeTwinUpdate("pump-1", 1, MaintenanceRecord{99, "bearing", "crew-1"}).size(),
      EncodeTwinUpdate("pump-1", 1, MaintenanceRecord{99, "bearing", "crew-1", true, "x"}).size());
  EXPECT_EQ(
      DecodeTwinUpdate(AsBytes(EncodeTwinUpdate("p", 1, Sample{1, {1, 2, 3}})), 2).status().code(),
      absl::StatusCode::kInvalidArgument);
  const std::string rejection =
      EncodeRejection("pump-1", 3, {RejectReason::kRange, "pressure 99"}, std::string(5000, 'x'));
  absl::StatusOr<DecodedRejection> r = DecodeRejection(AsBytes(rejection));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rejection.reason, RejectReason::kRange);
  EXPECT_EQ(r->raw.size(), 1024u);  // Cut.
  std::mt19937_64 rng(4);
  for (int i = 0; i < 2000; ++i) {
    std::string junk(8 * (1 + rng() % 12), '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    (void)DecodeTwinUpdate(AsBytes(junk), 2);  // Must not crash; the result may be anything.
    (void)DecodeRejection(AsBytes(junk));
  }
  EXPECT_EQ(DecodeTwinUpdate(AsBytes("abc"), 2).status().code(), absl::StatusCode::kDataLoss);
}

class LedgeredTwinTest : public ::testing::Test {
 protected:
  absl::StatusOr<std::unique_ptr<ledger::Ledger>> OpenLedger() {
    ledger::LedgerOptions options;
    options.directory = dir_.path() / "ledger";
    options.origin = "fleettwin.test/agent/pump-1";
    return ledger::OpenLedger(options, clock_, key_);
  }

  TempDir dir_;
  FakeClock clock_{1'700'000'000'000'000'000};
  ledger::SignerKey key_ = Key();
  AssetKind kind_ = Pump();
};

TEST_F(LedgeredTwinTest, LedgerHoldsEverythingAndRebuildsTheLiveStateAcrossRestarts) {
  std::vector<RawSample> batch;
  uint64_t sent = 0;
  for (int i = 1; i <= 40; ++i) batch.push_back({double(i), {{"pressure", 1.0 + (i % 7)}}});
  batch.push_back({41, {{"pressure", 99.0}}});                 // range
  batch.push_back({20, {{"pressure", 1.0}}});                  // out_of_order
  batch.push_back({42, {{"pressure", std::string("high")}}});  // type
  batch.push_back({43, {{"temperature", 1.0}}});               // schema
  batch.push_back({44, {{"pressure", std::nan("")}}});         // not_finite
  batch.push_back({40, {{"pressure", 2.0}}});                  // duplicate
  batch.push_back({45, {{"pressure", 5.0}, {"flow", 30.0}}});  // accepted
  sent += batch.size();
  std::string live_json;
  {
    auto ledger = OpenLedger();
    ASSERT_TRUE(ledger.ok());
    auto twin = LedgeredTwin::Open(kind_, "pump-1", **ledger);
    ASSERT_TRUE(twin.ok()) << twin.status();
    absl::StatusOr<IngestResult> result = (*twin)->Ingest(batch);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->accepted, 41u);
    EXPECT_EQ(result->rejected, 6u);
    EXPECT_EQ(result->accepted + result->rejected, sent);  // Nothing lost.
    EXPECT_EQ(result->revision, 41u);
    ASSERT_TRUE((*twin)->SetDesired("setpoint", 4, "operator").ok());
    ASSERT_TRUE((*twin)->RecordMaintenance(45.5, "valve", "crew-1").ok());
    EXPECT_EQ((*twin)->twin().state().revision, 43u);
    EXPECT_EQ((*twin)->quarantine().total(), 6u);
    EXPECT_EQ((*ledger)->Size(), 49u);  // 43 updates + 6 rejections.
    live_json = (*twin)->twin().StateJson();

    // Rejections changed nothing: a twin fed only the accepted samples is identical.
    Twin clean(kind_, "pump-1");
    for (int i = 1; i <= 40; ++i) clean.Apply(Sample{double(i), {1.0 + (i % 7), std::nan("")}});
    clean.Apply(Sample{45, {5, 30}});
    clean.Apply(DesiredChange{"setpoint", 4, "operator"});
    clean.Apply(MaintenanceRecord{45.5, "valve", "crew-1"});
    EXPECT_EQ(clean.StateJson(), live_json);
  }
  // The ledger verifies, and the state rebuilt from it alone equals the live one.
  absl::StatusOr<ledger::VerifyReport> report =
      ledger::VerifyLedger(dir_.path() / "ledger", key_.Verifier());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok()) << report->reason;
  {
    auto reader = ledger::OpenLedgerReadOnly(dir_.path() / "ledger");
    ASSERT_TRUE(reader.ok());
    absl::StatusOr<RebuiltTwin> rebuilt = RebuildTwin(**reader, kind_, "pump-1", 100);
    ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
    EXPECT_EQ(rebuilt->twin->StateJson(), live_json);
    EXPECT_EQ(rebuilt->updates, 43u);
    EXPECT_EQ(rebuilt->rejections, 6u);
    EXPECT_EQ(rebuilt->quarantine.count(RejectReason::kRange), 1u);
  }
  // A restarted agent continues at the same revision, with the same validator memory.
  auto ledger = OpenLedger();
  ASSERT_TRUE(ledger.ok());
  auto twin = LedgeredTwin::Open(kind_, "pump-1", **ledger);
  ASSERT_TRUE(twin.ok());
  EXPECT_EQ((*twin)->twin().StateJson(), live_json);
  EXPECT_EQ((*twin)->quarantine().total(), 6u);
  std::vector<RawSample> late = {{45, {{"pressure", 1.0}}}, {46, {{"pressure", 1.0}}}};
  absl::StatusOr<IngestResult> result = (*twin)->Ingest(late);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->rejected, 1u);  // 45 was already seen before the restart.
  EXPECT_EQ(result->revision, 44u);
}

TEST_F(LedgeredTwinTest, RebuildRefusesForeignAndMisnumberedUpdates) {
  auto ledger = OpenLedger();
  ASSERT_TRUE(ledger.ok());
  ASSERT_TRUE((*ledger)
                  ->Append({kTwinUpdateKind, "x", 1, 0,
                            EncodeTwinUpdate("pump-1", 1, ModelVersionChange{"a"})})
                  .ok());
  ASSERT_TRUE((*ledger)
                  ->Append({kTwinUpdateKind, "x", 3, 0,
                            EncodeTwinUpdate("pump-1", 3, ModelVersionChange{"b"})})
                  .ok());
  EXPECT_EQ(RebuildTwin(**ledger, kind_, "pump-1", 10).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(RebuildTwin(**ledger, kind_, "pump-2", 10).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(LedgeredTwin::Open(kind_, "pump-1", **ledger).status().code(),
            absl::StatusCode::kDataLoss);
}

// Real data: engines of the C-MAPSS FD001 test set through the shipped kind, ledgered, rebuilt.
TEST_F(LedgeredTwinTest, CmapssEnginesRebuildExactlyFromTheirLedger) {
  absl::StatusOr<AssetKind> kind = LoadAssetKind(kKinds + "cmapss-turbofan.json");
  ASSERT_TRUE(kind.ok());
  const std::vector<RawSample> engine =
      testing::CmapssEngine(FLEETTWIN_SOURCE_DIR, *kind, "test_FD001.txt", 31);  // A long one.
  ASSERT_GT(engine.size(), 100u);
  auto ledger = OpenLedger();
  ASSERT_TRUE(ledger.ok());
  auto twin = LedgeredTwin::Open(*kind, "engine-31", **ledger);
  ASSERT_TRUE(twin.ok());
  for (size_t i = 0; i < engine.size(); i += 16) {
    const size_t n = std::min<size_t>(16, engine.size() - i);
    absl::StatusOr<IngestResult> r = (*twin)->Ingest(absl::MakeConstSpan(engine).subspan(i, n));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->rejected, 0u);
  }
  const TwinState& state = (*twin)->twin().state();
  EXPECT_EQ(state.revision, engine.size());
  EXPECT_NE(state.health[0], HealthLevel::kUnknown);
  absl::StatusOr<RebuiltTwin> rebuilt = RebuildTwin(**ledger, *kind, "engine-31", 10);
  ASSERT_TRUE(rebuilt.ok());
  EXPECT_EQ(rebuilt->twin->StateJson(), (*twin)->twin().StateJson());
}

// A ledger that passes everything to a real one until told to fail its appends.
class FailingLedger final : public ledger::Ledger {
 public:
  explicit FailingLedger(ledger::Ledger& real) : real_(real) {}
  std::atomic<bool> fail{false};

  absl::StatusOr<uint64_t> Append(const ledger::NewEntry& entry) override {
    return AppendBatch(absl::MakeConstSpan(&entry, 1));
  }
  absl::StatusOr<uint64_t> AppendBatch(absl::Span<const ledger::NewEntry> entries) override {
    if (fail) return absl::UnavailableError("disk full (simulated)");
    return real_.AppendBatch(entries);
  }
  ledger::VerifierKey verifier_key() const override { return real_.verifier_key(); }
  uint64_t Size() const override { return real_.Size(); }
  absl::StatusOr<ledger::Entry> Get(uint64_t i) const override { return real_.Get(i); }
  absl::StatusOr<std::string> GetLeaf(uint64_t i) const override { return real_.GetLeaf(i); }
  absl::Status Scan(
      uint64_t begin, uint64_t end,
      const std::function<bool(const ledger::Entry&, const std::string&)>& visit) const override {
    return real_.Scan(begin, end, visit);
  }
  absl::StatusOr<ledger::SignedCheckpoint> LatestCheckpoint() const override {
    return real_.LatestCheckpoint();
  }
  absl::StatusOr<ledger::SignedCheckpoint> CheckpointAt(uint64_t size) const override {
    return real_.CheckpointAt(size);
  }
  absl::StatusOr<std::vector<uint64_t>> CheckpointSizes() const override {
    return real_.CheckpointSizes();
  }
  absl::StatusOr<fleettwin::Hash> RootAt(uint64_t size) const override {
    return real_.RootAt(size);
  }
  absl::StatusOr<std::vector<fleettwin::Hash>> ProveInclusion(uint64_t i,
                                                              uint64_t n) const override {
    return real_.ProveInclusion(i, n);
  }
  absl::StatusOr<std::vector<fleettwin::Hash>> ProveConsistency(uint64_t a,
                                                                uint64_t b) const override {
    return real_.ProveConsistency(a, b);
  }

 private:
  ledger::Ledger& real_;
};

std::vector<RawSample> PumpSamples(double start, int n) {
  std::vector<RawSample> out;
  for (int i = 0; i < n; ++i) {
    out.push_back({start + i, {{"pressure", 1.0 + (i % 7) * 0.5}, {"flow", 40.0}}});
  }
  return out;
}

TEST_F(LedgeredTwinTest, TheKindIsRecordedOnceAndAgainWhenItChanges) {
  absl::StatusOr<std::unique_ptr<ledger::Ledger>> ledger = OpenLedger();
  ASSERT_TRUE(ledger.ok()) << ledger.status();
  EXPECT_EQ(LedgeredKindText(**ledger).status().code(), absl::StatusCode::kNotFound);
  const std::string text_a = R"({"kind": "pump", "version": "a"})";  // Any text; not parsed here.
  const std::string text_b = R"({"kind": "pump", "version": "b"})";
  for (const std::string* text : {&text_a, &text_a, &text_b, &text_b}) {
    absl::StatusOr<std::unique_ptr<LedgeredTwin>> twin =
        LedgeredTwin::Open(kind_, "pump-1", **ledger, 100, *text);
    ASSERT_TRUE(twin.ok()) << twin.status();
    ASSERT_TRUE(
        (*twin)->Ingest(PumpSamples(1 + 10 * static_cast<double>((*ledger)->Size()), 2)).ok());
  }
  // Two kind entries (a, then b) and eight samples.
  EXPECT_EQ((*ledger)->Size(), 10u);
  absl::StatusOr<std::string> latest = LedgeredKindText(**ledger);
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(*latest, text_b);
  absl::StatusOr<RebuiltTwin> rebuilt = RebuildTwin(**ledger, kind_, "pump-1", 10);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_EQ(rebuilt->kind_text, text_b);
  EXPECT_EQ(rebuilt->twin->state().revision, 8u);
}

TEST_F(LedgeredTwinTest, PipelinedBatchesAreWrittenInOrderAndWaitDurableCatchesUp) {
  absl::StatusOr<std::unique_ptr<ledger::Ledger>> ledger = OpenLedger();
  ASSERT_TRUE(ledger.ok()) << ledger.status();
  std::string live;
  {
    absl::StatusOr<std::unique_ptr<LedgeredTwin>> twin =
        LedgeredTwin::Open(kind_, "pump-1", **ledger);
    ASSERT_TRUE(twin.ok()) << twin.status();
    for (int b = 0; b < 50; ++b) {
      std::vector<RawSample> samples = PumpSamples(1 + b * 20, 20);
      samples[3].fields[0].second = 99.0;  // One rejection per batch, in the middle.
      absl::StatusOr<IngestResult> r = (*twin)->IngestPipelined(samples);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->accepted, 19u);
    }
    EXPECT_EQ((*twin)->submitted(), 50u);
    ASSERT_TRUE((*twin)->WaitDurable((*twin)->submitted()).ok());
    EXPECT_EQ((*twin)->durable_accepted(), 50u * 19);
    EXPECT_EQ((*twin)->durable_rejected(), 50u);
    EXPECT_EQ((*ledger)->Size(), 50u * 20);
    live = (*twin)->twin().StateJson();
  }
  absl::StatusOr<RebuiltTwin> rebuilt = RebuildTwin(**ledger, kind_, "pump-1", 100);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  EXPECT_EQ(rebuilt->twin->StateJson(), live);
  EXPECT_EQ(rebuilt->rejections, 50u);
}

TEST_F(LedgeredTwinTest, AFailedWriteStopsTheTwinAndOnlyWhatIsDurableSurvives) {
  absl::StatusOr<std::unique_ptr<ledger::Ledger>> real = OpenLedger();
  ASSERT_TRUE(real.ok()) << real.status();
  FailingLedger ledger(**real);
  absl::StatusOr<std::unique_ptr<LedgeredTwin>> twin = LedgeredTwin::Open(kind_, "pump-1", ledger);
  ASSERT_TRUE(twin.ok()) << twin.status();
  ASSERT_TRUE((*twin)->Ingest(PumpSamples(1, 10)).ok());
  ledger.fail = true;
  // The pipelined call hands the batch over; the failure shows when waiting for it.
  ASSERT_TRUE((*twin)->IngestPipelined(PumpSamples(11, 10)).ok());
  EXPECT_EQ((*twin)->WaitDurable((*twin)->submitted()).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ((*twin)->WriteStatus().code(), absl::StatusCode::kUnavailable);
  // From now on the twin refuses, whatever the ledger does.
  ledger.fail = false;
  EXPECT_EQ((*twin)->IngestPipelined(PumpSamples(21, 10)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*twin)->SetDesired("pressure", 3, "ops").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*twin)->durable_accepted(), 10u);
  EXPECT_EQ((*twin)->unwritten(), 10u);  // Counted, not silently gone.
  EXPECT_EQ((*real)->Size(), 10u);
  twin->reset();
  // A restart rebuilds from what is durable: the first ten samples.
  absl::StatusOr<std::unique_ptr<LedgeredTwin>> restarted =
      LedgeredTwin::Open(kind_, "pump-1", **real);
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  EXPECT_EQ((*restarted)->twin().state().revision, 10u);
  EXPECT_TRUE((*restarted)->Ingest(PumpSamples(11, 10)).ok());
  EXPECT_EQ((*restarted)->twin().state().revision, 20u);
}

}  // namespace
}  // namespace fleettwin::agent
