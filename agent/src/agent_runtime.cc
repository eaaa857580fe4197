#include "fleettwin/agent/agent_runtime.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "fleettwin/agent/federated_learner.h"
#include "fleettwin/agent/what_if.h"
#include "fleettwin/common/metrics.h"
#include "http_api.h"

namespace fleettwin::agent {
namespace {

using namespace std::chrono_literals;

}  // namespace

absl::StatusOr<std::unique_ptr<AgentRuntime>> AgentRuntime::Start(const AgentOptions& options,
                                                                  const Clock& clock) {
  if (!(options.travel_speed > 0 && options.travel_speed <= 1e9) ||
      !(options.default_repair_time >= 0 && options.default_repair_time <= 1e7) ||
      (options.location &&
       (!std::isfinite((*options.location)[0]) || !std::isfinite((*options.location)[1])))) {
    return absl::InvalidArgumentError(
        "travel speed must be in (0, 1e9], repair time in [0, 1e7], a location finite");
  }
  if (options.asset.empty()) return absl::InvalidArgumentError("--asset is required");
  if (options.data_dir.empty()) return absl::InvalidArgumentError("--data-dir is required");
  if (options.batch_size == 0 || options.queue_capacity == 0) {
    return absl::InvalidArgumentError("batch size and queue capacity must be positive");
  }
  std::unique_ptr<AgentRuntime> agent(new AgentRuntime());
  agent->capabilities_ = options.capabilities;
  agent->location_ = options.location;
  agent->travel_speed_ = options.travel_speed;
  agent->default_repair_time_ = options.default_repair_time;
  agent->bid_replications_ = options.bid_replications;
  std::string kind_text;
  absl::StatusOr<AssetKind> kind = LoadAssetKind(options.kind_file, &kind_text);
  if (!kind.ok()) return kind.status();
  agent->kind_ = std::move(*kind);
  agent->batch_size_ = options.batch_size;
  if (options.what_if_threads < 1 || options.what_if_threads > 64) {
    return absl::InvalidArgumentError("what-if threads must be in [1, 64]");
  }
  agent->what_if_threads_ = options.what_if_threads;
  if (!options.model_dir.empty()) {
    absl::StatusOr<model::RulModel> model = model::RulModel::Load(options.model_dir);
    if (!model.ok()) return model.status();
    agent->model_ = std::make_unique<model::RulModel>(std::move(*model));
    if (agent->kind_.simulator.horizon > 0) {
      agent->model_->set_horizon(static_cast<int>(agent->kind_.simulator.horizon));
    }
  }
  agent->asset_ = options.asset;
  // Models adopted from federated rounds: every one must load, since the ledger may name any.
  agent->adopt_ = options.fl_adopt;
  agent->models_dir_ = options.data_dir / "models";
  agent->catalog_ = std::make_unique<ModelCatalog>();
  if (absl::Status loaded = LoadAdoptedModels(*agent->catalog_, agent->models_dir_,
                                              TwinHorizon(agent->kind_, agent->model_.get()));
      !loaded.ok()) {
    return absl::Status(loaded.code(), absl::StrCat(loaded.message(),
                                                    " (move the directory away to start from "
                                                    "--model)"));
  }

  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", options.data_dir.string(), ": ", ec.message()));
  }
  const std::string origin =
      options.origin.empty() ? absl::StrCat("fleettwin/agent/", options.asset) : options.origin;
  // The agent's signing key lives in its data directory; the first start creates it.
  absl::StatusOr<ledger::SignerKey> key = ledger::LoadOrCreateSignerKey(
      options.data_dir / "agent.key", options.data_dir / "agent.vkey", origin);
  if (!key.ok()) return key.status();
  agent->verifier_key_ = key->Verifier();
  ledger::LedgerOptions ledger_options;
  ledger_options.directory = options.data_dir / "ledger";
  ledger_options.origin = origin;
  agent->origin_ = origin;
  absl::StatusOr<std::unique_ptr<ledger::Ledger>> ledger =
      ledger::OpenLedger(ledger_options, clock, *key);
  if (!ledger.ok()) return ledger.status();
  agent->ledger_ = std::move(*ledger);
  absl::StatusOr<std::unique_ptr<LedgeredTwin>> twin =
      LedgeredTwin::Open(agent->kind_, options.asset, *agent->ledger_, 1000, kind_text,
                         agent->model_.get(), agent->catalog_.get());
  if (!twin.ok()) return twin.status();
  agent->twin_ = std::move(*twin);
  // Adoption turned off: back to --model, even after an earlier adoption.
  if (agent->adopt_ == FederatedAdoption::kNever && agent->model_ &&
      agent->twin_->twin().state().model_version != agent->model_->version()) {
    absl::StatusOr<uint64_t> reverted = agent->twin_->SetModelVersion(agent->model_->version());
    if (!reverted.ok()) return reverted.status();
  }
  {
    std::lock_guard lock(agent->twin_mu_);
    agent->UpdateLiveConveyor();
  }
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
    zmq.push_timeout = options.push_timeout;
    absl::StatusOr<std::unique_ptr<ZmqSource>> source = ZmqSource::Start(zmq, *agent->queue_);
    if (!source.ok()) return source.status();
    agent->zmq_ = std::move(*source);
  }
  if (options.mqtt) {
    MqttSourceOptions mqtt = *options.mqtt;
    mqtt.asset = options.asset;
    absl::StatusOr<std::unique_ptr<MqttSource>> source = MqttSource::Start(mqtt, *agent->queue_);
    if (!source.ok()) return source.status();
    agent->mqtt_ = std::move(*source);
  }
  AgentRuntime* raw = agent.get();
  if (!options.http_bind.empty()) {
    absl::StatusOr<std::unique_ptr<HttpApi>> http = HttpApi::Start(
        options.http_bind, *raw,
        options.http_operator_bind.empty() ? HttpApi::Access::kAll : HttpApi::Access::kReadOnly);
    if (!http.ok()) return http.status();
    agent->http_ = std::move(*http);
  }
  if (!options.http_operator_bind.empty()) {
    absl::StatusOr<std::unique_ptr<HttpApi>> http =
        HttpApi::Start(options.http_operator_bind, *raw, HttpApi::Access::kAll);
    if (!http.ok()) return http.status();
    agent->http_operator_ = std::move(*http);
  }
  if (!options.fl_server.empty()) {
    if (absl::Status s = raw->StartFederated(options); !s.ok()) return s;
  }
  // Held tasks live in memory only: after a restart the agent holds none, and says so in its
  // heartbeats (the coordinator auctions them again); its ledger says so too.
  {
    std::vector<std::string> held;
    {
      std::lock_guard lock(raw->twin_mu_);  // The HTTP API already runs.
      for (const auto& [name, value] : raw->twin_->twin().state().desired) {
        if (name.starts_with("task.") && value >= 0) held.push_back(name);
      }
    }
    for (const std::string& name : held) {
      absl::StatusOr<uint64_t> s = raw->SetDesired(name, -1, "dropped: the agent restarted");
      if (!s.ok()) return s.status();
    }
  }
  agent->drain_thread_ = std::thread([raw] { raw->Drain(); });
  if (!options.coordinator.empty()) {
    absl::StatusOr<common::CurvePublicKey> server =
        common::ReadCurvePublicKeyFile(options.coordinator_key_file);
    if (!server.ok()) return server.status();
    absl::StatusOr<common::CurveSecretKey> own =
        common::ReadCurveSecretKeyFile(options.agent_key_file);
    if (!own.ok()) return own.status();
    if (own->name != options.asset) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the agent key is named '", own->name, "', not after the asset '", options.asset, "'"));
    }
    agent->bid_replications_ = options.bid_replications;
    CoordinatorLinkOptions link;
    link.endpoint = options.coordinator;
    link.coordinator_key = server->key;
    link.keys = own->pair;
    link.asset = options.asset;
    link.kind = agent->kind_.name;
    link.heartbeat_ms = options.heartbeat_ms;
    CoordinatorLinkHandlers handlers;
    handlers.summary = [raw] { return raw->Summary(); };
    handlers.bid = [raw](const protocol::CallForProposals& call) { return raw->BidFor(call); };
    handlers.commit = [raw](const protocol::Commit& commit) {
      raw->RecordCommit(commit).IgnoreError();  // A failed ledger shows in /healthz.
    };
    handlers.award = [raw](const protocol::Award& award) { return raw->AwardFor(award); };
    handlers.task_reports = [raw] { return raw->TaskReports(); };
    handlers.task_revoke = [raw](const protocol::TaskRevoke& r) { raw->RevokeTask(r); };
    handlers.maintenance = [raw](const protocol::MaintenanceDone& m) {
      // The same checks and limits as POST /maintenance.
      protocol::MaintenanceDoneReply reply;
      absl::StatusOr<uint64_t> revision =
          raw->RecordMaintenance(m.has_time ? std::optional<double>(m.time) : std::nullopt, m.note,
                                 m.author, m.renews, m.id);
      reply.ok = revision.ok();
      if (revision.ok()) {
        reply.revision = *revision;
      } else {
        reply.code = static_cast<uint32_t>(revision.status().code());
        reply.error = std::string(revision.status().message());
      }
      return reply;
    };
    absl::StatusOr<std::unique_ptr<CoordinatorLink>> started =
        CoordinatorLink::Start(link, clock, std::move(handlers));
    if (!started.ok()) return started.status();
    agent->link_ = std::move(*started);
  }
  if (agent->replay_) {
    const double speed = options.replay_speed;
    agent->replay_thread_ = std::thread([raw, speed] {
      raw->replay_samples_ = RunReplay(*raw->replay_, *raw->queue_, speed, [raw](double seconds) {
        // Pace in short steps, so a shutdown never waits out a long gap in the file.
        const auto until = std::chrono::steady_clock::now() +
                           std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                               std::chrono::duration<double>(seconds));
        while (!raw->stopping_ && std::chrono::steady_clock::now() < until) {
          std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
              50ms, until - std::chrono::steady_clock::now()));
        }
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
      if (queue_->closed()) break;
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
    // Validate and apply under the lock; the ledger writes this batch while the next one is
    // being prepared (LedgeredTwin's pipeline).
    std::lock_guard lock(twin_mu_);
    absl::StatusOr<IngestResult> result = twin_->IngestPipelined(samples, raw);
    UpdateLiveConveyor();
    if (!result.ok()) {
      // The twin refuses from now on (a ledger write failed). Keep draining, so sources are not
      // stuck, and count what is refused: in = accepted + rejected + dropped + refused.
      if (drain_error_.ok()) drain_error_ = result.status();
      refused_ += samples.size();
    }
  }
  // Everything taken from the queue is durable before the drain ends.
  std::lock_guard lock(twin_mu_);
  if (absl::Status s = twin_->WaitDurable(twin_->submitted()); !s.ok() && drain_error_.ok()) {
    drain_error_ = s;
  }
}

absl::StatusOr<std::string> AgentRuntime::DurableTwinJson() {
  uint64_t sequence;
  std::string json;
  {
    std::lock_guard lock(twin_mu_);
    json = twin_->twin().StateJson();
    sequence = twin_->submitted();
  }
  // Show only what the ledger holds: wait for the batches this state includes.
  if (absl::Status s = twin_->WaitDurable(sequence); !s.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the twin is ahead of its ledger: ", s.message()));
  }
  return json;
}

std::string AgentRuntime::TwinJson() {
  absl::StatusOr<std::string> durable = DurableTwinJson();
  if (durable.ok()) return *std::move(durable);
  std::lock_guard lock(twin_mu_);  // After a ledger failure: the state as it is (see /healthz).
  return twin_->twin().StateJson();
}

uint64_t AgentRuntime::accepted() const { return twin_ ? twin_->durable_accepted() : 0; }
uint64_t AgentRuntime::rejected() const { return twin_ ? twin_->durable_rejected() : 0; }
uint64_t AgentRuntime::refused() const {
  return refused_.load() + (twin_ ? twin_->unwritten() : 0);
}

std::string AgentRuntime::QuarantineJson(size_t limit) {
  using json = nlohmann::json;
  std::lock_guard lock(twin_mu_);
  const Quarantine& q = twin_->quarantine();
  json doc = {{"asset", asset_},
              {"total", q.total()},
              {"evicted", q.evicted()},
              {"held", q.samples().size()}};
  json by_reason = json::object();
  for (int r = 0; r < kRejectReasonCount; ++r) {
    const auto reason = static_cast<RejectReason>(r);
    by_reason[std::string(RejectReasonName(reason))] = q.count(reason);
  }
  doc["by_reason"] = std::move(by_reason);
  json samples = json::array();
  const size_t n = std::min(limit, q.samples().size());
  for (size_t i = q.samples().size() - n; i < q.samples().size(); ++i) {
    const QuarantinedSample& s = q.samples()[i];
    samples.push_back({{"sequence", s.sequence},
                       {"time", s.time},
                       {"reason", std::string(RejectReasonName(s.reason))},
                       {"detail", s.detail},
                       {"raw", s.raw}});
  }
  doc["samples"] = std::move(samples);
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

absl::StatusOr<std::string> AgentRuntime::WhatIfJson(std::string_view question) {
  // One question at a time: each already uses what_if_threads cores, and more at once would
  // starve ingestion and the ledger.
  if (what_if_busy_.exchange(true)) {
    return absl::ResourceExhaustedError("another what-if question is running; retry later");
  }
  struct Done {
    std::atomic<bool>& busy;
    ~Done() { busy = false; }
  } done{what_if_busy_};
  TwinState state;
  {
    std::lock_guard lock(twin_mu_);
    state = twin_->twin().state();
  }
  // The conveyor model's feed process reads the live twin while the question runs.
  sim::ConveyorLiveSource live = [this](double) {
    // Out-of-range values are ignored by the feed: before any calibration nothing moves.
    return LiveConveyor().value_or(sim::ConveyorLive{.failure_rate = -1, .repair_time = -1});
  };
  return AnswerWhatIfJson(kind_, state, question, what_if_threads_, std::move(live));
}

void AgentRuntime::UpdateLiveConveyor() {
  const TwinState& state = twin_->twin().state();
  if (state.calibrations == live_calibrations_) return;
  live_calibrations_ = state.calibrations;
  const std::optional<sim::ConveyorLive> live = LiveConveyorOf(state);
  uint64_t packed = kNoLiveConveyor;
  if (live) {
    packed = uint64_t{std::bit_cast<uint32_t>(static_cast<float>(live->failure_rate))} << 32 |
             std::bit_cast<uint32_t>(static_cast<float>(live->repair_time));
  }
  live_conveyor_.store(packed, std::memory_order_release);
}

std::optional<sim::ConveyorLive> AgentRuntime::LiveConveyor() const {
  const uint64_t packed = live_conveyor_.load(std::memory_order_acquire);
  if (packed == kNoLiveConveyor) return std::nullopt;
  return sim::ConveyorLive{
      .failure_rate = std::bit_cast<float>(static_cast<uint32_t>(packed >> 32)),
      .repair_time = std::bit_cast<float>(static_cast<uint32_t>(packed))};
}

std::string AgentRuntime::MetricsText() {
  // Read the twin under its lock, then write without it.
  uint64_t revision, samples, ledger_size;
  uint64_t rejected[kRejectReasonCount];
  size_t held;
  std::optional<RulEstimate> rul;
  std::optional<Calibration> calibration;
  uint64_t calibrations, drift_recalibrations;
  PredictionQuality quality;
  std::string model_version;
  {
    std::lock_guard lock(twin_mu_);
    const TwinState& state = twin_->twin().state();
    revision = state.revision;
    samples = state.samples;
    rul = state.rul;
    calibration = state.calibration;
    calibrations = state.calibrations;
    drift_recalibrations = state.drift_recalibrations;
    quality = state.quality;
    model_version = state.model_version;
    for (int r = 0; r < kRejectReasonCount; ++r) {
      rejected[r] = twin_->quarantine().count(static_cast<RejectReason>(r));
    }
    held = twin_->quarantine().samples().size();
    ledger_size = ledger_->Size();
  }
  PrometheusWriter w;
  const MetricLabels asset = {{"asset", asset_}};
  w.Family("fleettwin_agent_info", "gauge", "The agent's asset, kind and ledger origin.");
  w.Sample("fleettwin_agent_info", {{"asset", asset_}, {"kind", kind_.name}, {"origin", origin_}},
           1);
  w.Family("fleettwin_agent_samples_accepted_total", "counter",
           "Samples that passed validation and were applied to the twin (over the ledger's life).");
  w.Sample("fleettwin_agent_samples_accepted_total", asset, static_cast<double>(samples));
  w.Family("fleettwin_agent_samples_rejected_total", "counter",
           "Samples rejected and quarantined, by reason (over the ledger's life).");
  for (int r = 0; r < kRejectReasonCount; ++r) {
    w.Sample("fleettwin_agent_samples_rejected_total",
             {{"asset", asset_}, {"reason", RejectReasonName(static_cast<RejectReason>(r))}},
             static_cast<double>(rejected[r]));
  }
  w.Family("fleettwin_agent_quarantine_held", "gauge",
           "Rejected samples still held in the bounded quarantine store.");
  w.Sample("fleettwin_agent_quarantine_held", asset, static_cast<double>(held));
  w.Family("fleettwin_agent_twin_revision", "gauge", "The twin's revision (updates applied).");
  w.Sample("fleettwin_agent_twin_revision", asset, static_cast<double>(revision));
  if (fl_node_) {
    const federated::FleetNodeStats fl = fl_node_->stats();
    w.Family("fleettwin_agent_federated_models_total", "counter",
             "Global models received in federated rounds (each ledgered).");
    w.Sample("fleettwin_agent_federated_models_total", asset,
             static_cast<double>(fl_models_.load()));
    w.Family(
        "fleettwin_agent_federated_models_adopted_total", "counter",
        "Global models the twin switched to (--fl-adopt; each ledgered as its model version).");
    w.Sample("fleettwin_agent_federated_models_adopted_total", asset,
             static_cast<double>(fl_adopted_.load()));
    w.Family("fleettwin_agent_federated_models_declined_total", "counter",
             "Global models not adopted: worse on the held-out units than the model in use, "
             "needing a channel the kind lacks, or not saved.");
    w.Sample("fleettwin_agent_federated_models_declined_total", asset,
             static_cast<double>(fl_declined_.load()));
    w.Family("fleettwin_agent_federated_replies_total", "counter",
             "Replies pushed to the Fleet API server (train, evaluate, query).");
    w.Sample("fleettwin_agent_federated_replies_total", asset,
             static_cast<double>(fl.messages_handled));
    w.Family("fleettwin_agent_federated_errors_total", "counter",
             "Replies that carried an error instead of a result.");
    w.Sample("fleettwin_agent_federated_errors_total", asset,
             static_cast<double>(fl.handler_errors));
  }
  w.Family("fleettwin_agent_ledger_entries", "gauge", "Entries in the agent's ledger.");
  w.Sample("fleettwin_agent_ledger_entries", asset, static_cast<double>(ledger_size));
  w.Family("fleettwin_agent_ledger_append_seconds", "histogram",
           "Time to append one batch of twin entries to the ledger, durable (group commit).");
  w.Histogram("fleettwin_agent_ledger_append_seconds", asset, twin_->append_latency());
  w.Family("fleettwin_agent_queue_depth", "gauge", "Samples waiting in the telemetry queue.");
  w.Sample("fleettwin_agent_queue_depth", asset, static_cast<double>(queue_->depth()));
  w.Family("fleettwin_agent_queue_capacity", "gauge", "Capacity of the telemetry queue.");
  w.Sample("fleettwin_agent_queue_capacity", asset, static_cast<double>(queue_->capacity()));
  w.Family("fleettwin_agent_samples_refused_total", "counter",
           "Samples lost to a ledger write failure (in the failed write or taken from the "
           "queue after it): not ledgered; the agent must restart.");
  w.Sample("fleettwin_agent_samples_refused_total", asset, static_cast<double>(refused()));
  w.Family("fleettwin_agent_queue_dropped_total", "counter",
           "Samples dropped because the queue stayed full past the push timeout.");
  w.Sample("fleettwin_agent_queue_dropped_total", asset, static_cast<double>(queue_->dropped()));

  // Analytics: the failure model's prediction, the calibration, prediction quality.
  if (!model_version.empty()) {
    w.Family("fleettwin_twin_model_info", "gauge", "The failure model version the twin uses.");
    w.Sample("fleettwin_twin_model_info", {{"asset", asset_}, {"version", model_version}}, 1);
  }
  if (rul) {
    w.Family("fleettwin_twin_rul_cycles", "gauge", "Remaining useful life predicted (cycles).");
    w.Sample("fleettwin_twin_rul_cycles", asset, rul->rul);
    w.Family("fleettwin_twin_rul_stddev_cycles", "gauge",
             "Standard deviation of the RUL prediction (cycles).");
    w.Sample("fleettwin_twin_rul_stddev_cycles", asset, rul->rul_std);
    w.Family("fleettwin_twin_failure_probability", "gauge",
             "Predicted probability of failure within `horizon` cycles.");
    w.Sample("fleettwin_twin_failure_probability",
             {{"asset", asset_}, {"horizon", absl::StrCat(rul->horizon)}}, rul->p_fail);
  }
  if (calibration) {
    w.Family("fleettwin_twin_failure_rate", "gauge",
             "Calibrated failure rate per unit of working time (posterior mean).");
    w.Sample("fleettwin_twin_failure_rate", asset, calibration->failure_rate);
    w.Family("fleettwin_twin_repair_time_mean", "gauge", "Calibrated mean repair time.");
    w.Sample("fleettwin_twin_repair_time_mean", asset, calibration->repair_time_mean);
  }
  w.Family("fleettwin_twin_calibrations_total", "counter",
           "Recalibrations ledgered, routine or asked for by prediction drift.");
  w.Sample("fleettwin_twin_calibrations_total", {{"asset", asset_}, {"cause", "routine"}},
           static_cast<double>(calibrations - drift_recalibrations));
  w.Sample("fleettwin_twin_calibrations_total", {{"asset", asset_}, {"cause", "drift"}},
           static_cast<double>(drift_recalibrations));
  w.Family("fleettwin_twin_prediction_drift", "gauge",
           "1 while predictions and observations disagree persistently (until recalibration).");
  w.Sample("fleettwin_twin_prediction_drift", asset, quality.drift ? 1 : 0);
  w.Family("fleettwin_twin_failures_expected", "gauge",
           "Failures the calibration expected since it was made.");
  w.Sample("fleettwin_twin_failures_expected", asset, quality.expected_failures);
  w.Family("fleettwin_twin_failures_observed", "gauge", "Failures observed since then.");
  w.Sample("fleettwin_twin_failures_observed", asset,
           static_cast<double>(quality.observed_failures));

  // Network sources count messages; replay has only samples (set once the file is done).
  std::vector<std::pair<std::string_view, const SourceStats*>> sources;
  if (zmq_) sources.emplace_back("zmq", &zmq_->stats());
  if (mqtt_) sources.emplace_back("mqtt", &mqtt_->stats());
  using Count = uint64_t (SourceStats::*)() const;
  const struct {
    std::string_view name, help;
    Count count;
  } families[] = {
      {"messages", "Messages received.", &SourceStats::messages},
      {"malformed", "Messages refused as malformed (nothing in them can be attributed).",
       &SourceStats::malformed},
      {"foreign", "Messages refused because they name another asset.", &SourceStats::foreign},
      {"samples", "Samples received from good messages (replay: once the file is done).",
       &SourceStats::samples}};
  for (const auto& family : families) {
    const std::string name = "fleettwin_agent_source_" + std::string(family.name) + "_total";
    w.Family(name, "counter", family.help);
    for (const auto& [source, stats] : sources) {
      w.Sample(name, {{"asset", asset_}, {"source", source}},
               static_cast<double>((stats->*family.count)()));
    }
    if (replay_) {
      const uint64_t replayed = family.count == &SourceStats::samples ? replay_samples_.load() : 0;
      w.Sample(name, {{"asset", asset_}, {"source", "replay"}}, static_cast<double>(replayed));
    }
  }
  if (replay_) {
    w.Family("fleettwin_agent_replay_done", "gauge",
             "1 once the replay file has been delivered into the queue.");
    w.Sample("fleettwin_agent_replay_done", asset, replay_done_ ? 1 : 0);
  }
  if (mqtt_) {
    w.Family("fleettwin_agent_mqtt_connected", "gauge", "1 while connected to the MQTT broker.");
    w.Sample("fleettwin_agent_mqtt_connected", asset, mqtt_->connected() ? 1 : 0);
    w.Family("fleettwin_agent_mqtt_connects_total", "counter", "Successful MQTT connections.");
    w.Sample("fleettwin_agent_mqtt_connects_total", asset, static_cast<double>(mqtt_->connects()));
    w.Family("fleettwin_agent_mqtt_connect_failures_total", "counter",
             "Failed MQTT connection attempts (each followed by a backoff).");
    w.Sample("fleettwin_agent_mqtt_connect_failures_total", asset,
             static_cast<double>(mqtt_->connect_failures()));
  }
  return w.text();
}

std::string AgentRuntime::SourcesJson() {
  using json = nlohmann::json;
  auto counters = [](const SourceStats& stats) {
    return json{{"messages", stats.messages()}, {"malformed", stats.malformed()},
                {"foreign", stats.foreign()},   {"samples", stats.samples()},
                {"dropped", stats.dropped()},   {"last_error", stats.last_error()}};
  };
  json doc = json::object();
  if (zmq_) {
    doc["zmq"] = counters(zmq_->stats());
    doc["zmq"]["endpoint"] = zmq_->endpoint();
  }
  if (mqtt_) {
    doc["mqtt"] = counters(mqtt_->stats());
    doc["mqtt"]["topic"] = mqtt_->topic();
    doc["mqtt"]["connected"] = mqtt_->connected();
    doc["mqtt"]["connects"] = mqtt_->connects();
    doc["mqtt"]["connect_failures"] = mqtt_->connect_failures();
  }
  if (replay_) {
    doc["replay"] = {{"done", replay_done_.load()}, {"samples", replay_samples_.load()}};
  }
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

absl::Status AgentRuntime::Healthy() {
  if (absl::Status s = twin_->WriteStatus(); !s.ok()) return s;
  std::lock_guard lock(twin_mu_);
  return drain_error_;
}

absl::Status AgentRuntime::Ready() {
  if (absl::Status healthy = Healthy(); !healthy.ok()) return healthy;
  if (stopping_) return absl::UnavailableError("shutting down");
  if (mqtt_ && !mqtt_->connected()) {
    return absl::UnavailableError(
        absl::StrCat("MQTT broker not connected: ", mqtt_->stats().last_error()));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> AgentRuntime::SetDesired(std::string name, double value,
                                                  std::string author) {
  if (stopping_) return absl::FailedPreconditionError("the agent is shutting down");
  std::lock_guard lock(twin_mu_);
  return twin_->SetDesired(std::move(name), value, std::move(author));
}

absl::StatusOr<uint64_t> AgentRuntime::RecordMaintenance(std::optional<double> time,
                                                         std::string note, std::string author,
                                                         bool renews, std::string id) {
  if (stopping_) return absl::FailedPreconditionError("the agent is shutting down");
  if (note.size() > protocol::kMaxMaintenanceNote ||
      author.size() > protocol::kMaxMaintenanceAuthor) {
    return absl::InvalidArgumentError(
        absl::StrCat("a maintenance note is at most ", protocol::kMaxMaintenanceNote,
                     " bytes, its author ", protocol::kMaxMaintenanceAuthor));
  }
  if (absl::Status s = CheckMaintenanceId(id); !s.ok()) return s;
  std::lock_guard lock(twin_mu_);
  const TwinState& state = twin_->twin().state();
  // A retry of a record that landed (its answer was lost): refused before any other check, so
  // it is recognised even after later samples moved the default time on.
  if (!id.empty()) {
    for (const MaintenanceRecord& m : state.maintenance) {
      if (m.id == id) {
        return absl::AlreadyExistsError(
            absl::StrCat("maintenance record ", id, " is already in the twin"));
      }
    }
  }
  if (!time) {
    if (!state.last_time) {
      return absl::InvalidArgumentError("the twin has no sample yet: give the maintenance's time");
    }
    time = state.last_time;
  }
  if (!std::isfinite(*time)) return absl::InvalidArgumentError("maintenance time must be finite");
  if (state.last_time && *time > *state.last_time) {
    return absl::InvalidArgumentError(
        absl::StrCat("maintenance time ", *time, " is after the latest sample (", *state.last_time,
                     "): record it once the twin has reached it"));
  }
  if (!state.maintenance.empty() && *time < state.maintenance.back().time) {
    return absl::InvalidArgumentError(absl::StrCat("maintenance time ", *time,
                                                   " precedes the latest maintenance record (",
                                                   state.maintenance.back().time, ")"));
  }
  return twin_->RecordMaintenance(*time, std::move(note), std::move(author), renews, std::move(id));
}

const std::string& AgentRuntime::http_endpoint() const {
  static const std::string kNone;
  return http_ ? http_->endpoint() : kNone;
}

const std::string& AgentRuntime::http_operator_endpoint() const {
  static const std::string kNone;
  return http_operator_ ? http_operator_->endpoint() : kNone;
}

const std::string& AgentRuntime::zmq_endpoint() const {
  static const std::string kNone;
  return zmq_ ? zmq_->endpoint() : kNone;
}

absl::Status AgentRuntime::Shutdown() {
  if (shut_down_) return drain_error_;
  shut_down_ = true;
  stopping_ = true;
  // The coordinator link first (its handlers use the twin), then the sources, so nothing new
  // arrives; then what is queued is applied and ledgered.
  if (link_) link_->Stop();
  if (fl_node_) fl_node_->Stop();
  if (zmq_) zmq_->Stop();
  if (mqtt_) mqtt_->Stop();
  if (queue_) queue_->Close();  // Absent if Start failed part way.
  if (replay_thread_.joinable()) replay_thread_.join();
  if (drain_thread_.joinable()) drain_thread_.join();
  // Last: the API answers (not ready) until everything is durable.
  if (http_) http_->Stop();
  if (http_operator_) http_operator_->Stop();
  return drain_error_;
}

AgentRuntime::~AgentRuntime() { Shutdown().IgnoreError(); }

}  // namespace fleettwin::agent
