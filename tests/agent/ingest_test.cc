#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "fleettwin/agent/ledgered_twin.h"
#include "fleettwin/agent/replay.h"
#include "fleettwin/agent/telemetry_queue.h"
#include "fleettwin/common/clock.h"
#include "testing/temp_dir.h"

namespace fleettwin::agent {
namespace {

using ::fleettwin::testing::TempDir;
using namespace std::chrono_literals;

const std::string kKinds = std::string(FLEETTWIN_SOURCE_DIR) + "/kinds/";
const std::string kData = std::string(FLEETTWIN_SOURCE_DIR) + "/data/";

// `line` with its whitespace-separated token `index` replaced.
std::string WithToken(const std::string& line, size_t index, const std::string& token) {
  std::istringstream in(line);
  std::vector<std::string> tokens;
  for (std::string t; in >> t;) tokens.push_back(t);
  tokens.at(index) = token;
  std::string out;
  for (const std::string& t : tokens) absl::StrAppend(&out, out.empty() ? "" : " ", t);
  return out;
}

Telemetry Item(double time) { return {{time, {{"p", time}}}, absl::StrCat("p=", time)}; }

TEST(TelemetryQueueTest, FullQueueTimesOutAndCountsTheDrop) {
  TelemetryQueue q(2);
  EXPECT_TRUE(q.Push(Item(1), 0ms));
  EXPECT_TRUE(q.Push(Item(2), 0ms));
  EXPECT_FALSE(q.Push(Item(3), 10ms));
  EXPECT_EQ(q.dropped(), 1u);
  EXPECT_EQ(q.depth(), 2u);
  std::vector<Telemetry> batch = q.PopBatch(10, 0ms);
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0].sample.time, 1);
  EXPECT_TRUE(q.PopBatch(10, 5ms).empty());
  EXPECT_TRUE(q.Push(Item(4), 0ms));
  q.Close();
  EXPECT_FALSE(q.Push(Item(5), 0ms));
  EXPECT_FALSE(q.PushWait(Item(6)));
  EXPECT_EQ(q.PopBatch(10, 0ms).size(), 1u);    // Closed, but what is queued still drains.
  EXPECT_TRUE(q.PopBatch(10, 1000ms).empty());  // Closed and empty: returns at once.
  EXPECT_EQ(q.pushed(), 3u);
}

TEST(TelemetryQueueTest, BackpressureLosesNothing) {
  TelemetryQueue q(16);
  constexpr int kProducers = 3;
  constexpr int kEach = 2000;
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kEach; ++i) ASSERT_TRUE(q.PushWait(Item(p * kEach + i)));
    });
  }
  size_t received = 0;
  size_t max_depth = 0;
  while (received < kProducers * kEach) {
    max_depth = std::max(max_depth, q.depth());
    received += q.PopBatch(7, 100ms).size();
  }
  for (auto& t : producers) t.join();
  EXPECT_EQ(received, static_cast<size_t>(kProducers * kEach));
  EXPECT_EQ(q.dropped(), 0u);
  EXPECT_LE(max_depth, 16u);
}

TEST(ReplayTest, ParseSpeed) {
  EXPECT_EQ(*ParseSpeed("100x"), 100);
  EXPECT_EQ(*ParseSpeed("2.5x"), 2.5);
  EXPECT_EQ(*ParseSpeed("max"), 0);
  for (const char* bad : {"0x", "-1x", "fast", "x", "100", "1e999x", "nanx"}) {
    EXPECT_FALSE(ParseSpeed(bad).ok()) << bad;
  }
}

class ReplayIntoTwinTest : public ::testing::Test {
 protected:
  // Replays through the queue into a ledgered twin, the agent's pipeline without sockets.
  IngestResult Pipeline(ReplayReader& reader, const AssetKind& kind, double speed,
                        std::vector<double>* sleeps) {
    ledger::LedgerOptions options;
    options.directory = dir_.path() / "ledger";
    options.origin = "fleettwin.test/agent/replay";
    std::array<uint8_t, 32> seed;
    seed.fill(3);
    auto key = ledger::SignerKeyFromSeed(options.origin, seed);
    auto ledger = ledger::OpenLedger(options, clock_, *key);
    EXPECT_TRUE(ledger.ok());
    auto twin = LedgeredTwin::Open(kind, "asset-1", **ledger);
    EXPECT_TRUE(twin.ok());
    TelemetryQueue queue(8);
    uint64_t delivered = 0;
    std::thread source([&] {
      delivered = RunReplay(reader, queue, speed, [&](double s) {
        if (sleeps) sleeps->push_back(s);
      });
      queue.Close();
    });
    IngestResult total;
    while (true) {
      std::vector<Telemetry> batch = queue.PopBatch(5, 100ms);
      if (batch.empty() && queue.closed() && queue.depth() == 0) break;
      std::vector<RawSample> samples;
      std::vector<std::string> raw;
      for (Telemetry& t : batch) {
        samples.push_back(std::move(t.sample));
        raw.push_back(std::move(t.raw));
      }
      absl::StatusOr<IngestResult> r = (*twin)->Ingest(samples, raw);
      EXPECT_TRUE(r.ok());
      total.accepted += r->accepted;
      total.rejected += r->rejected;
      total.revision = r->revision;
    }
    source.join();
    EXPECT_EQ(delivered, total.accepted + total.rejected);  // Count in = accepted + rejected.
    EXPECT_EQ(queue.dropped(), 0u);
    EXPECT_EQ((*ledger)->Size(), delivered);  // Every one of them ledgered.
    return total;
  }

  TempDir dir_;
  FakeClock clock_{1'700'000'000'000'000'000};
};

TEST_F(ReplayIntoTwinTest, CmapssEnginePacedAtTheRequestedSpeed) {
  absl::StatusOr<AssetKind> kind = LoadAssetKind(kKinds + "cmapss-turbofan.json");
  ASSERT_TRUE(kind.ok());
  ReplayOptions options;
  options.path = kData + "cmapss/test_FD001.txt";
  options.format = ReplayFormat::kCmapss;
  options.unit = "1";
  auto reader = ReplayReader::Open(options, *kind);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::vector<double> sleeps;
  IngestResult r = Pipeline(**reader, *kind, 100, &sleeps);
  EXPECT_EQ(r.accepted, 31u);  // Engine 1 of the FD001 test set has 31 cycles.
  EXPECT_EQ(r.rejected, 0u);
  ASSERT_EQ(sleeps.size(), 30u);
  for (double s : sleeps) EXPECT_DOUBLE_EQ(s, 0.01);  // One cycle at 100x.
}

TEST_F(ReplayIntoTwinTest, BrokenLinesAreQuarantinedNotLost) {
  absl::StatusOr<AssetKind> kind = LoadAssetKind(kKinds + "cmapss-turbofan.json");
  ASSERT_TRUE(kind.ok());
  std::ifstream real(kData + "cmapss/test_FD001.txt");
  std::vector<std::string> lines;
  for (std::string line; std::getline(real, line) && lines.size() < 10;) lines.push_back(line);
  const std::string path = (dir_.path() / "broken.txt").string();
  {
    std::ofstream out(path);
    out << lines[0] << "\n" << lines[1] << "\n";
    out << "1 3 0.0001 abc 100.0\n";                         // Type error, short row.
    out << lines[2].substr(0, lines[2].size() / 2) << "\n";  // Truncated row: missing channels.
    out << "1 x" << lines[3].substr(3) << "\n";              // Unreadable cycle.
    out << "2 1" << lines[4].substr(3) << "\n";              // Another engine: not ours.
    out << WithToken(lines[5], 5, "99999") << "\n";          // s1 far out of range.
    out << lines[6] << "\n";
  }
  ReplayOptions options;
  options.path = path;
  options.unit = "1";
  auto reader = ReplayReader::Open(options, *kind);
  ASSERT_TRUE(reader.ok());
  IngestResult r = Pipeline(**reader, *kind, 0, nullptr);
  EXPECT_EQ(r.accepted + r.rejected, 7u);  // Every line of engine 1 arrived.
  EXPECT_EQ(r.accepted, 3u);
  EXPECT_EQ(r.rejected, 4u);
}

TEST_F(ReplayIntoTwinTest, Ai4iCsvWithAColumnMap) {
  absl::StatusOr<AssetKind> kind = LoadAssetKind(kKinds + "ai4i-milling.json");
  ASSERT_TRUE(kind.ok());
  ReplayOptions options;
  options.path = kData + "ai4i2020/ai4i2020.csv";
  options.format = ReplayFormat::kCsv;
  options.time_column = "UDI";
  options.columns = {{"Air temperature [K]", "air_temperature"},
                     {"Process temperature [K]", "process_temperature"},
                     {"Rotational speed [rpm]", "rotational_speed"},
                     {"Torque [Nm]", "torque"},
                     {"Tool wear [min]", "tool_wear"},
                     {"Machine failure", "machine_failure"}};
  auto reader = ReplayReader::Open(options, *kind);
  ASSERT_TRUE(reader.ok()) << reader.status();
  IngestResult r = Pipeline(**reader, *kind, 0, nullptr);
  EXPECT_EQ(r.accepted, 10000u);
  EXPECT_EQ(r.rejected, 0u);
  options.columns = {{"No such column", "torque"}};
  EXPECT_EQ(ReplayReader::Open(options, *kind).status().code(), absl::StatusCode::kInvalidArgument);
  options.columns = {{"Torque [Nm]", "no_such_channel"}};
  EXPECT_EQ(ReplayReader::Open(options, *kind).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fleettwin::agent
