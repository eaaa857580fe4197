// agent_bench: end-to-end twin updates per second for one agent — Cap'n Proto batches over
// ZeroMQ (loopback TCP) -> validated -> applied to the twin -> durable in the ledger — against
// the ledger's own raw append rate for the very same entries (the encoded twin updates), same
// batch size, measured in the same run. The data is real: C-MAPSS FD001 training rows (24
// channels each), repeated with increasing cycle numbers up to --samples. Prints the median of
// --repeats runs, the ratio and the targets; exits 0 whatever the speed and non-zero only if
// something does not work (an error, a sample lost, a ledger that does not verify).
#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <zmq.hpp>

#include "absl/status/statusor.h"
#include "fleettwin/agent/agent_runtime.h"
#include "fleettwin/agent/twin.h"
#include "fleettwin/agent/twin_records.h"
#include "fleettwin/agent/zmq_source.h"
#include "fleettwin/common/clock.h"
#include "fleettwin/ledger/ledger.h"
#include "fleettwin/ledger/verify.h"

namespace fa = fleettwin::agent;
namespace fl = fleettwin::ledger;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr double kRateTarget = 100000;  // Twin updates per second.
constexpr double kRatioTarget = 0.7;    // Agent >= 0.7 x the ledger's raw append rate.

struct BenchOptions {
  uint64_t samples = 300000;
  size_t batch = 1024;       // The agent's twin batch (one group commit each).
  size_t per_message = 100;  // Samples per ZeroMQ message.
  int repeats = 3;
  std::string source_dir = FLEETTWIN_SOURCE_DIR;
  std::string dir;
};

class Stopwatch {
 public:
  double Seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// FD001 training rows as samples for the C-MAPSS kind, cycle numbers running on across units.
absl::StatusOr<std::vector<fa::RawSample>> LoadSamples(const BenchOptions& options,
                                                       const fa::AssetKind& kind) {
  const std::string path = options.source_dir + "/data/cmapss/train_FD001.txt";
  std::ifstream in(path);
  if (!in) return absl::NotFoundError("cannot read " + path);
  std::vector<std::vector<double>> rows;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::vector<double> values;
    for (double v; fields >> v;) values.push_back(v);
    if (values.size() != 2 + kind.channels.size()) {
      return absl::DataLossError("unexpected row in " + path + ": " + line);
    }
    rows.push_back(std::vector<double>(values.begin() + 2, values.end()));
  }
  if (rows.empty()) return absl::DataLossError(path + " is empty");
  std::vector<fa::RawSample> samples(options.samples);
  for (uint64_t i = 0; i < options.samples; ++i) {
    const std::vector<double>& row = rows[i % rows.size()];
    samples[i].time = static_cast<double>(i + 1);
    for (size_t c = 0; c < row.size(); ++c) {
      samples[i].fields.emplace_back(kind.channels[c].name, row[c]);
    }
  }
  return samples;
}

// The ledger entries the agent writes for `samples`: one encoded twin update each.
std::vector<fl::NewEntry> TwinEntries(const fa::AssetKind& kind,
                                      const std::vector<fa::RawSample>& samples) {
  fa::Twin twin(kind, "engine-bench");
  fa::Validator validator(kind);
  std::vector<fl::NewEntry> entries;
  entries.reserve(samples.size());
  for (const fa::RawSample& raw : samples) {
    std::variant<fa::Sample, fa::Rejection> checked = validator.Check(raw);
    if (const fa::Sample* s = std::get_if<fa::Sample>(&checked)) {
      const uint64_t revision = twin.Apply(*s);
      entries.push_back({fa::kTwinUpdateKind, "engine-bench", revision, 0,
                         fa::EncodeTwinUpdate("engine-bench", revision, *s)});
    }
  }
  return entries;
}

absl::StatusOr<double> RawLedgerAppend(const fs::path& dir,
                                       const std::vector<fl::NewEntry>& entries, size_t batch) {
  fleettwin::SystemClock clock;
  std::array<uint8_t, 32> seed{};
  seed.fill(3);
  absl::StatusOr<fl::SignerKey> key = fl::SignerKeyFromSeed("agent-bench", seed);
  if (!key.ok()) return key.status();
  fl::LedgerOptions options;
  options.directory = dir;
  options.origin = "fleettwin/agent/engine-bench";
  absl::StatusOr<std::unique_ptr<fl::Ledger>> ledger = fl::OpenLedger(options, clock, *key);
  if (!ledger.ok()) return ledger.status();
  const absl::Span<const fl::NewEntry> all(entries);
  Stopwatch watch;
  for (size_t begin = 0; begin < entries.size(); begin += batch) {
    absl::StatusOr<uint64_t> first =
        (*ledger)->AppendBatch(all.subspan(begin, std::min(batch, entries.size() - begin)));
    if (!first.ok()) return first.status();
  }
  return watch.Seconds();
}

struct AgentRun {
  double seconds = 0;
  double p99_append = 0;  // Not measured here; see /metrics.
};

absl::StatusOr<double> AgentEndToEnd(const fs::path& dir, const BenchOptions& options,
                                     const std::vector<std::string>& messages, uint64_t expected,
                                     const fl::VerifierKey** key_out, fl::VerifierKey* key) {
  fleettwin::SystemClock clock;
  fa::AgentOptions agent_options;
  agent_options.asset = "engine-bench";
  agent_options.kind_file = options.source_dir + "/kinds/cmapss-turbofan.json";
  agent_options.data_dir = dir;
  agent_options.zmq_bind = "tcp://127.0.0.1:*";
  agent_options.batch_size = options.batch;
  absl::StatusOr<std::unique_ptr<fa::AgentRuntime>> agent =
      fa::AgentRuntime::Start(agent_options, clock);
  if (!agent.ok()) return agent.status();
  zmq::context_t context;
  zmq::socket_t push(context, zmq::socket_type::push);
  push.set(zmq::sockopt::linger, 60000);
  push.connect((*agent)->zmq_endpoint());
  std::this_thread::sleep_for(50ms);  // Let the connection come up before the clock starts.

  Stopwatch watch;
  std::thread sender([&] {
    for (const std::string& m : messages) push.send(zmq::buffer(m), zmq::send_flags::none);
  });
  const auto deadline = std::chrono::steady_clock::now() + 600s;
  while ((*agent)->accepted() + (*agent)->rejected() < expected &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(200us);
  }
  const double seconds = watch.Seconds();
  sender.join();
  push.close();
  if (absl::Status s = (*agent)->Shutdown(); !s.ok()) return s;
  {
    const std::string metrics = (*agent)->MetricsText();
    const std::string key = "fleettwin_agent_ledger_append_seconds_count{asset=\"engine-bench\"} ";
    const size_t at = metrics.find(key);
    if (at != std::string::npos) {
      const double appends = std::atof(metrics.c_str() + at + key.size());
      std::printf("  agent run: %.0f ledger appends, %.0f samples per append on average\n", appends,
                  static_cast<double>(expected) / appends);
    }
  }
  if ((*agent)->accepted() != expected || (*agent)->rejected() != 0) {
    return absl::DataLossError("the agent took " + std::to_string((*agent)->accepted()) +
                               " accepted + " + std::to_string((*agent)->rejected()) +
                               " rejected, expected " + std::to_string(expected) + " accepted");
  }
  *key = (*agent)->verifier_key();
  *key_out = key;
  return seconds;
}

absl::Status RunBench(const BenchOptions& options) {
  std::error_code ec;
  const fs::path parent = options.dir.empty() ? fs::temp_directory_path(ec) : fs::path(options.dir);
  std::string pattern = (parent / "agent_bench.XXXXXX").string();
  if (ec || mkdtemp(pattern.data()) == nullptr) {
    return absl::UnavailableError("cannot create a scratch directory under " + parent.string());
  }
  const fs::path scratch = pattern;
  struct Cleanup {
    fs::path path;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  } cleanup{scratch};

  absl::StatusOr<fa::AssetKind> kind =
      fa::LoadAssetKind(options.source_dir + "/kinds/cmapss-turbofan.json");
  if (!kind.ok()) return kind.status();
  absl::StatusOr<std::vector<fa::RawSample>> samples = LoadSamples(options, *kind);
  if (!samples.ok()) return samples.status();
  const std::vector<fl::NewEntry> entries = TwinEntries(*kind, *samples);
  if (entries.size() != samples->size()) {
    return absl::DataLossError("some FD001 rows do not validate against the kind");
  }
  std::vector<std::string> messages;
  for (size_t begin = 0; begin < samples->size(); begin += options.per_message) {
    std::vector<fa::RawSample> part(
        samples->begin() + static_cast<ptrdiff_t>(begin),
        samples->begin() +
            static_cast<ptrdiff_t>(std::min(begin + options.per_message, samples->size())));
    messages.push_back(fa::EncodeTelemetryBatch("engine-bench", part));
  }
  size_t payload = 0;
  for (const fl::NewEntry& e : entries) payload += e.payload.size();
  // Where the agent's CPU goes, single-threaded: decoding the messages, and validating,
  // applying and encoding the samples.
  double decode_us, twin_us;
  {
    Stopwatch watch;
    size_t decoded = 0;
    for (const std::string& m : messages) {
      absl::StatusOr<fa::DecodedBatch> batch = fa::DecodeTelemetryBatch(fleettwin::AsBytes(m));
      if (!batch.ok()) return batch.status();
      decoded += batch->samples.size();
    }
    decode_us = watch.Seconds() * 1e6 / static_cast<double>(decoded);
    Stopwatch twin_watch;
    const std::vector<fl::NewEntry> again = TwinEntries(*kind, *samples);
    twin_us = twin_watch.Seconds() * 1e6 / static_cast<double>(again.size());
  }
  std::printf(
      "agent_bench: %llu C-MAPSS FD001 samples (24 channels), %zu per ZeroMQ message, twin batch "
      "%zu, mean ledger payload %zu bytes, %d repeat(s), median shown\n  scratch %s\n",
      static_cast<unsigned long long>(options.samples), options.per_message, options.batch,
      payload / entries.size(), options.repeats, scratch.c_str());
  std::printf("  one thread: decode %.2f us/sample, validate+apply+encode %.2f us/sample\n",
              decode_us, twin_us);
  std::fflush(stdout);

  std::vector<double> agent_rates, raw_rates;
  for (int r = 0; r < options.repeats; ++r) {
    const fs::path agent_dir = scratch / ("agent-" + std::to_string(r));
    const fs::path raw_dir = scratch / ("raw-" + std::to_string(r));
    for (int side = 0; side < 2; ++side) {
      if ((side + r) % 2 == 0) {
        fl::VerifierKey key;
        const fl::VerifierKey* key_ptr = nullptr;
        absl::StatusOr<double> s =
            AgentEndToEnd(agent_dir, options, messages, samples->size(), &key_ptr, &key);
        if (!s.ok()) return s.status();
        agent_rates.push_back(static_cast<double>(samples->size()) / *s);
        absl::StatusOr<fl::VerifyReport> report =
            fl::VerifyLedger(agent_dir / "ledger", *key_ptr, fl::VerifyOptions{});
        if (!report.ok()) return report.status();
        // Every sample, and the asset kind recorded at the first start.
        if (!report->ok() || report->entries != samples->size() + 1) {
          return absl::DataLossError("the agent's ledger does not verify (" +
                                     std::to_string(report->entries) +
                                     " entries): " + report->reason);
        }
      } else {
        absl::StatusOr<double> s = RawLedgerAppend(raw_dir, entries, options.batch);
        if (!s.ok()) return s.status();
        raw_rates.push_back(static_cast<double>(entries.size()) / *s);
      }
    }
    fs::remove_all(agent_dir, ec);
    fs::remove_all(raw_dir, ec);
  }
  auto print = [](const char* label, const std::vector<double>& rates) {
    std::printf("%-44s %10.0f updates/s  (runs:", label, Median(rates));
    for (double r : rates) std::printf(" %.0f", r);
    std::printf(")\n");
    return Median(rates);
  };
  const double agent = print("agent   ZeroMQ -> twin -> durable ledger", agent_rates);
  const double raw = print("ledger  raw Ledger::AppendBatch, same entries", raw_rates);
  std::printf("%-44s %10.0f            target >= %.0f  %s\n", "agent   rate", agent, kRateTarget,
              agent >= kRateTarget ? "PASS" : "MISS");
  std::printf("%-44s %10.2f            target >= %.2f  %s\n", "agent   ratio agent/raw ledger",
              agent / raw, kRatioTarget, agent / raw >= kRatioTarget ? "PASS" : "MISS");
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "agent_bench: end-to-end twin updates/s of one agent (ZeroMQ -> validate -> twin -> "
      "durable ledger) against the ledger's raw append rate for the same entries. Exits 0 "
      "whatever the speed; non-zero only if something does not work."};
  BenchOptions options;
  bool quick = false;
  app.add_option("--samples", options.samples, "Samples per run")->capture_default_str();
  app.add_option("--batch", options.batch, "Twin batch (one group commit each)")
      ->capture_default_str();
  app.add_option("--per-message", options.per_message, "Samples per ZeroMQ message")
      ->capture_default_str();
  app.add_option("--repeats", options.repeats, "Runs of each side")->capture_default_str();
  app.add_option("--source-dir", options.source_dir, "Repository root (kinds/, data/)")
      ->capture_default_str();
  app.add_option("--dir", options.dir, "Parent of the scratch directory (default: temp)");
  app.add_flag("--quick", quick, "A short smoke run (CI): 20000 samples, 1 repeat");
  CLI11_PARSE(app, argc, argv);
  if (quick) {
    options.samples = 20000;
    options.repeats = 1;
  }
  if (options.samples == 0 || options.batch == 0 || options.per_message == 0 ||
      options.repeats < 1) {
    std::fprintf(stderr, "agent_bench: --samples, --batch, --per-message, --repeats must be > 0\n");
    return 2;
  }
  if (absl::Status s = RunBench(options); !s.ok()) {
    std::fprintf(stderr, "agent_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
