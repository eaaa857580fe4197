#include "fleettwin/agent/agent_runtime.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace fleettwin::agent {
namespace {

using namespace std::chrono_literals;

absl::Status WriteFile(const std::filesystem::path& path, const std::string& text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("create ", path.string(), ": ", std::strerror(errno)));
  }
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return absl::UnavailableError(absl::StrCat("write ", path.string()));
  return absl::OkStatus();
}

// The agent's signing key lives in its data directory; the first start creates it.
absl::StatusOr<ledger::SignerKey> LoadOrCreateKey(const std::filesystem::path& dir,
                                                  const std::string& name) {
  const std::filesystem::path secret = dir / "agent.key";
  if (std::filesystem::exists(secret)) {
    std::ifstream in(secret);
    std::string text;
    std::getline(in, text);
    absl::StatusOr<ledger::SignerKey> key = ledger::ParseSignerKey(text);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(secret.string(), ": ", key.status().message()));
    }
    return key;
  }
  absl::StatusOr<ledger::SignerKey> key = ledger::GenerateSignerKey(name);
  if (!key.ok()) return key.status();
  if (absl::Status s = WriteFile(secret, ledger::FormatSignerKey(*key) + "\n", 0600); !s.ok()) {
    return s;
  }
  if (absl::Status s =
          WriteFile(dir / "agent.vkey", ledger::FormatVerifierKey(key->Verifier()) + "\n", 0644);
      !s.ok()) {
    return s;
  }
  return key;
}

}  // namespace

absl::StatusOr<std::unique_ptr<AgentRuntime>> AgentRuntime::Start(const AgentOptions& options,
                                                                  const Clock& clock) {
  if (options.asset.empty()) return absl::InvalidArgumentError("--asset is required");
  if (options.data_dir.empty()) return absl::InvalidArgumentError("--data-dir is required");
  if (options.batch_size == 0 || options.queue_capacity == 0) {
    return absl::InvalidArgumentError("batch size and queue capacity must be positive");
  }
  std::unique_ptr<AgentRuntime> agent(new AgentRuntime());
  absl::StatusOr<AssetKind> kind = LoadAssetKind(options.kind_file);
  if (!kind.ok()) return kind.status();
  agent->kind_ = std::move(*kind);
  agent->batch_size_ = options.batch_size;

  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", options.data_dir.string(), ": ", ec.message()));
  }
  const std::string origin =
      options.origin.empty() ? absl::StrCat("fleettwin/agent/", options.asset) : options.origin;
  absl::StatusOr<ledger::SignerKey> key = LoadOrCreateKey(options.data_dir, origin);
  if (!key.ok()) return key.status();
  agent->verifier_key_ = key->Verifier();
  ledger::LedgerOptions ledger_options;
  ledger_options.directory = options.data_dir / "ledger";
  ledger_options.origin = origin;
  absl::StatusOr<std::unique_ptr<ledger::Ledger>> ledger =
      ledger::OpenLedger(ledger_options, clock, *key);
  if (!ledger.ok()) return ledger.status();
  agent->ledger_ = std::move(*ledger);
  absl::StatusOr<std::unique_ptr<LedgeredTwin>> twin =
      LedgeredTwin::Open(agent->kind_, options.asset, *agent->ledger_);
  if (!twin.ok()) return twin.status();
  agent->twin_ = std::move(*twin);
  agent->queue_ = std::make_unique<TelemetryQueue>(options.queue_capacity);

  if (options.replay) {
    absl::StatusOr<std::unique_ptr<ReplayReader>> reader =
        ReplayReader::Open(*options.replay, agent->kind_);
    if (!reader.ok()) return reader.status();
    agent->replay_ = std::move(*reader);
  }
  if (!options.zmq_bind.empty()) {
    ZmqSourceOptions zmq;
    zmq.endpoint = options.zmq_bind;
    zmq.asset = options.asset;
    absl::StatusOr<std::unique_ptr<ZmqSource>> source = ZmqSource::Start(zmq, *agent->queue_);
    if (!source.ok()) return source.status();
    agent->zmq_ = std::move(*source);
  }
  AgentRuntime* raw = agent.get();
  agent->drain_thread_ = std::thread([raw] { raw->Drain(); });
  if (agent->replay_) {
    const double speed = options.replay_speed;
    agent->replay_thread_ = std::thread([raw, speed] {
      RunReplay(*raw->replay_, *raw->queue_, speed, [](double seconds) {
        std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
      });
      raw->replay_done_ = true;
    });
  }
  return agent;
}

void AgentRuntime::Drain() {
  while (true) {
    std::vector<Telemetry> batch = queue_->PopBatch(batch_size_, 100ms);
    if (batch.empty()) {
      if (queue_->closed()) return;
      continue;
    }
    std::vector<RawSample> samples;
    std::vector<std::string> raw;
    samples.reserve(batch.size());
    raw.reserve(batch.size());
    for (Telemetry& t : batch) {
      samples.push_back(std::move(t.sample));
      raw.push_back(std::move(t.raw));
    }
    std::lock_guard lock(twin_mu_);
    absl::StatusOr<IngestResult> result = twin_->Ingest(samples, raw);
    if (!result.ok()) {
      if (drain_error_.ok()) drain_error_ = result.status();
      continue;  // The twin refuses from now on; keep draining so sources are not stuck.
    }
    accepted_ += result->accepted;
    rejected_ += result->rejected;
  }
}

std::string AgentRuntime::TwinJson() {
  std::lock_guard lock(twin_mu_);
  return twin_->twin().StateJson();
}

const std::string& AgentRuntime::zmq_endpoint() const {
  static const std::string kNone;
  return zmq_ ? zmq_->endpoint() : kNone;
}

absl::Status AgentRuntime::Shutdown() {
  if (shut_down_) return drain_error_;
  shut_down_ = true;
  // Sources first, so nothing new arrives; then what is queued is applied and ledgered.
  if (zmq_) zmq_->Stop();
  if (queue_) queue_->Close();  // Absent if Start failed part way.
  if (replay_thread_.joinable()) replay_thread_.join();
  if (drain_thread_.joinable()) drain_thread_.join();
  return drain_error_;
}

AgentRuntime::~AgentRuntime() { Shutdown().IgnoreError(); }

absl::StatusOr<std::string> RebuildTwinJson(const std::filesystem::path& ledger_dir,
                                            const std::filesystem::path& kind_file,
                                            const std::string& asset) {
  absl::StatusOr<AssetKind> kind = LoadAssetKind(kind_file);
  if (!kind.ok()) return kind.status();
  absl::StatusOr<std::unique_ptr<ledger::LedgerReader>> reader =
      ledger::OpenLedgerReadOnly(ledger_dir);
  if (!reader.ok()) return reader.status();
  absl::StatusOr<RebuiltTwin> rebuilt = RebuildTwin(**reader, *kind, asset, 0);
  if (!rebuilt.ok()) return rebuilt.status();
  return rebuilt->twin->StateJson();
}

}  // namespace fleettwin::agent
