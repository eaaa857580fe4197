// fleet-agent: the process beside one asset. Flags -> AgentOptions -> AgentRuntime; SIGTERM or
// SIGINT drain the queue into the twin, flush the ledger and exit 0.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fleettwin/agent/agent_runtime.h"
#include "fleettwin/agent/asset_kind.h"
#include "fleettwin/common/curve.h"
#include "fleettwin/model/rul_model.h"

namespace fa = fleettwin::agent;

namespace {

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

int Fail(const absl::Status& status) {
  std::cerr << "fleet-agent: " << status.message() << "\n";
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kFailedPrecondition:
      return 2;
    case absl::StatusCode::kDataLoss:
      return 1;
    default:
      return 3;
  }
}

// What --check-config reads: every file a start would read, without writing anything.
absl::Status CheckConfig(const fa::AgentOptions& o) {
  if (absl::StatusOr<fa::AssetKind> kind = fa::LoadAssetKind(o.kind_file); !kind.ok()) {
    return kind.status();
  }
  if (!o.model_dir.empty()) {
    if (auto model = fleettwin::model::RulModel::Load(o.model_dir); !model.ok()) {
      return model.status();
    }
  }
  if (!o.coordinator.empty()) {
    if (auto key = fleettwin::common::ReadCurvePublicKeyFile(o.coordinator_key_file); !key.ok()) {
      return key.status();
    }
    if (auto key = fleettwin::common::ReadCurveSecretKeyFile(o.agent_key_file); !key.ok()) {
      return key.status();
    }
  }
  std::vector<std::filesystem::path> inputs = {o.fl_history_file, o.fl_tls_root_file};
  if (o.replay) inputs.push_back(o.replay->path);
  for (const std::filesystem::path& file : inputs) {
    if (file.empty()) continue;
    std::ifstream in(file);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", file.string()));
  }
  if (!o.fl_server.empty() && o.fl_history_file.empty()) {
    return absl::InvalidArgumentError("--fl-server needs --fl-history");
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "fleet-agent: the live twin of one asset. Ingests telemetry (ZeroMQ, MQTT, file replay), "
      "validates it, keeps the twin and writes every update and rejection to its ledger in "
      "DATA_DIR/ledger (key in DATA_DIR/agent.key, created on first start). With --model it "
      "predicts RUL on every sample. Serves /healthz /readyz /metrics /twin /quarantine "
      "/sources, PUT /desired/NAME and POST /whatif (Monte Carlo what-if) over HTTP. Every option "
      "may "
      "also come from a TOML config file (--config; the keys are the long option names, flags "
      "win). SIGTERM drains and exits 0. Exit codes: 0 ok, 1 ledger damaged, 2 bad arguments, "
      "3 I/O."};
  app.set_config("--config", "", "TOML config file (docs/agent.md)");
  fa::AgentOptions options;
  std::string data_dir, kind_file, replay_file, replay_format = "cmapss", replay_unit,
                                                speed = "max";
  std::string replay_time_column, replay_unit_column, replay_map;
  bool exit_after_replay = false;
  std::string mqtt_broker;
  fa::MqttSourceOptions mqtt;
  int push_timeout_ms = 2000;
  app.add_option("--asset", options.asset, "Asset id")->required();
  app.add_option("--kind", kind_file,
                 "Asset kind file (docs/asset-kinds.md); required to run, optional for "
                 "replay-ledger (the ledger records the kind)");
  app.add_option("--data-dir", data_dir, "Directory for the ledger and the agent key (running)");
  app.add_option("--origin", options.origin, "Ledger origin (default fleettwin/agent/ASSET)");
  app.add_option("--zmq-bind", options.zmq_bind, "ZeroMQ PULL endpoint, e.g. tcp://127.0.0.1:5600");
  app.add_option("--mqtt", mqtt_broker,
                 "MQTT broker to subscribe to, e.g. tcp://127.0.0.1:1883 (QoS 1, persistent "
                 "session, reconnects with backoff)");
  app.add_option("--mqtt-topic", mqtt.topic, "MQTT topic (default fleettwin/ASSET/telemetry)");
  app.add_option("--mqtt-client-id", mqtt.client_id, "MQTT client id (default fleet-agent-ASSET)");
  app.add_option("--mqtt-user", mqtt.username,
                 "MQTT user name; the password is read from $FLEETTWIN_MQTT_PASSWORD");
  app.add_option("--http", options.http_bind,
                 "Serve the HTTP API on HOST:PORT (port 0: a free one, printed at start)");
  app.add_option("--http-operator", options.http_operator_bind,
                 "HOST:PORT for PUT /desired, POST /maintenance and POST /whatif; with it, --http "
                 "serves the GET "
                 "endpoints only (a port auditors and monitoring may reach)");
  app.add_option("--push-timeout-ms", push_timeout_ms,
                 "How long a network sample may wait for room in a full queue before it is "
                 "dropped and counted")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600000));
  app.add_option("--replay", replay_file, "Replay this file into the twin");
  app.add_option("--replay-format", replay_format, "cmapss or csv")->capture_default_str();
  app.add_option("--replay-unit", replay_unit, "C-MAPSS engine number / CSV unit value");
  app.add_option("--replay-unit-column", replay_unit_column, "CSV: column selecting the unit");
  app.add_option("--replay-time-column", replay_time_column, "CSV: column with the time");
  app.add_option("--replay-map", replay_map, "CSV: 'header=channel,header=channel,…'");
  app.add_option("--speed", speed, "Replay speed: 100x, 0.5x or max")->capture_default_str();
  app.add_flag("--exit-after-replay", exit_after_replay,
               "Stop (drain, flush, print the twin) once the replay is done");
  app.add_option("--batch", options.batch_size, "Samples per twin batch")->capture_default_str();
  app.add_option("--queue", options.queue_capacity, "Telemetry queue capacity")
      ->capture_default_str();

  std::string model_dir;
  app.add_option("--model", model_dir,
                 "Failure model directory (model.json + .npy, docs/failure-model.md); for "
                 "replay-ledger: the model the twin used, to recompute its predictions");
  app.add_option("--what-if-threads", options.what_if_threads,
                 "Monte Carlo worker threads per what-if question")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();

  app.add_option(
      "--coordinator", options.coordinator,
      "fleet-coordinator's ROUTER endpoint, e.g. tcp://127.0.0.1:5700 (docs/protocols.md)");
  app.add_option("--coordinator-key", options.coordinator_key_file,
                 "The coordinator's CURVE public key file (NAME.curve-public)");
  app.add_option("--agent-key", options.agent_key_file,
                 "This agent's CURVE secret key file, named after the asset (ASSET.curve-secret)");
  app.add_option("--heartbeat-ms", options.heartbeat_ms, "Heartbeat period to the coordinator")
      ->check(CLI::Range(int64_t{10}, int64_t{600000}))
      ->capture_default_str();
  app.add_option("--bid-replications", options.bid_replications,
                 "Monte Carlo runs behind each maintenance or task bid")
      ->check(CLI::Range(2u, 1000000u))
      ->capture_default_str();
  app.add_option("--fl-server", options.fl_server,
                 "Fleet API (Flower gRPC) server to join for federated rounds, HOST:PORT");
  app.add_option("--fl-key", options.fl_key_file,
                 "The node's P-384 key (PEM; created if missing; default DATA_DIR/fl-node.pem)");
  app.add_option("--fl-tls-root", options.fl_tls_root_file,
                 "PEM root certificates for TLS to the Fleet API (default: plaintext)");
  app.add_option(
      "--fl-history", options.fl_history_file,
      "The asset's own run-to-failure history (C-MAPSS format) that local training uses");
  app.add_option("--fl-history-units", options.fl_history_units,
                 "Units of --fl-history to use, A-B (default: all)");
  app.add_option("--fl-heartbeat", options.fl_heartbeat_interval_s,
                 "Heartbeat interval asked of the Fleet API server, seconds")
      ->capture_default_str();
  std::string fl_adopt = "never";
  app.add_option("--fl-adopt", fl_adopt,
                 "Switch the twin to a round's global model: never, if-not-worse (its RMSE on the "
                 "held-out history units is not above the model in use) or always")
      ->check(CLI::IsMember({"never", "if-not-worse", "always"}))
      ->capture_default_str();
  app.add_option("--fl-threads", options.fl_train_threads, "Threads for local training")
      ->capture_default_str();
  app.add_option("--capability", options.capabilities,
                 "What this asset can do, for task auctions (repeat or comma-separate)")
      ->delimiter(',');
  std::vector<double> location;
  app.add_option("--location", location, "Where the asset is, X,Y (tasks with a location need it)")
      ->expected(2)
      ->delimiter(',');
  app.add_option("--travel-speed", options.travel_speed, "Distance units per time unit")
      ->check(CLI::Range(1e-9, 1e9))
      ->capture_default_str();
  app.add_option("--repair-time", options.default_repair_time,
                 "Mean repair time in task bids when the twin has no calibrated one")
      ->check(CLI::Range(0.0, 1e7))
      ->capture_default_str();

  bool check_config = false;
  app.add_flag("--check-config", check_config,
               "Check the flags and read the files they name (kind, model, keys, history, "
               "replay), then exit 0 without starting");

  std::string rebuild_dir;
  CLI::App* rebuild = app.add_subcommand(
      "replay-ledger", "Rebuild the twin from a ledger directory alone and print it as JSON");
  rebuild->add_option("LEDGER_DIR", rebuild_dir, "The agent's ledger directory")->required();
  std::string rebuild_models;
  rebuild->add_option("--models", rebuild_models,
                      "The agent's adopted models (DATA_DIR/models), when it used any");
  rebuild->fallthrough();  // --asset and --kind belong to the parent but may follow.
  rebuild->allow_extras(false);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (*rebuild) {
    absl::StatusOr<std::string> json =
        fa::RebuildTwinJson(rebuild_dir, kind_file, options.asset, model_dir, rebuild_models);
    if (!json.ok()) return Fail(json.status());
    std::cout << *json << "\n";
    return 0;
  }
  if (location.size() == 2) options.location = std::array<double, 2>{location[0], location[1]};
  if (kind_file.empty()) return Fail(absl::InvalidArgumentError("--kind is required"));
  if (data_dir.empty()) return Fail(absl::InvalidArgumentError("--data-dir is required"));
  options.data_dir = data_dir;
  options.kind_file = kind_file;
  options.model_dir = model_dir;
  absl::StatusOr<fa::FederatedAdoption> adoption = fa::ParseFederatedAdoption(fl_adopt);
  if (!adoption.ok()) return Fail(adoption.status());
  options.fl_adopt = *adoption;
  if (!replay_file.empty()) {
    fa::ReplayOptions replay;
    replay.path = replay_file;
    if (replay_format == "csv") {
      replay.format = fa::ReplayFormat::kCsv;
    } else if (replay_format != "cmapss") {
      return Fail(absl::InvalidArgumentError("--replay-format must be cmapss or csv"));
    }
    replay.unit = replay_unit;
    replay.unit_column = replay_unit_column;
    replay.time_column = replay_time_column;
    for (absl::string_view pair : absl::StrSplit(replay_map, ',', absl::SkipEmpty())) {
      std::vector<std::string> parts = absl::StrSplit(pair, absl::MaxSplits('=', 1));
      if (parts.size() != 2)
        return Fail(absl::InvalidArgumentError("--replay-map: use header=channel"));
      replay.columns[parts[0]] = parts[1];
    }
    options.replay = replay;
    absl::StatusOr<double> parsed = fa::ParseSpeed(speed);
    if (!parsed.ok()) return Fail(parsed.status());
    options.replay_speed = *parsed;
  } else if (exit_after_replay) {
    return Fail(absl::InvalidArgumentError("--exit-after-replay needs --replay"));
  }

  if (!mqtt_broker.empty()) {
    mqtt.broker = mqtt_broker;
    mqtt.push_timeout = std::chrono::milliseconds(push_timeout_ms);
    if (const char* password = std::getenv("FLEETTWIN_MQTT_PASSWORD")) mqtt.password = password;
    options.mqtt = mqtt;
  }
  options.push_timeout = std::chrono::milliseconds(push_timeout_ms);
  if (!options.coordinator.empty() &&
      (options.coordinator_key_file.empty() || options.agent_key_file.empty())) {
    return Fail(
        absl::InvalidArgumentError("--coordinator needs --coordinator-key and --agent-key"));
  }

  if (check_config) {
    const absl::Status checked = CheckConfig(options);
    if (!checked.ok()) return Fail(checked);
    std::cout << "fleet-agent: configuration ok: asset " << options.asset << ", kind " << kind_file
              << (model_dir.empty() ? "" : ", model " + model_dir) << "\n";
    return 0;
  }
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  fleettwin::SystemClock clock;
  absl::StatusOr<std::unique_ptr<fa::AgentRuntime>> agent = fa::AgentRuntime::Start(options, clock);
  if (!agent.ok()) return Fail(agent.status());
  std::cerr << "fleet-agent: asset " << options.asset << " running; ledger in " << data_dir
            << "/ledger, verifier key "
            << fleettwin::ledger::FormatVerifierKey((*agent)->verifier_key());
  if (!(*agent)->zmq_endpoint().empty()) std::cerr << ", ZeroMQ " << (*agent)->zmq_endpoint();
  if (options.mqtt) std::cerr << ", MQTT " << mqtt_broker;
  if (!(*agent)->http_endpoint().empty()) std::cerr << ", HTTP " << (*agent)->http_endpoint();
  if (!(*agent)->http_operator_endpoint().empty()) {
    std::cerr << ", operator HTTP " << (*agent)->http_operator_endpoint();
  }
  if (!options.coordinator.empty()) std::cerr << ", coordinator " << options.coordinator;
  std::cerr << "\n";
  while (!g_stop && !(exit_after_replay && (*agent)->replay_done())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  absl::Status drained = (*agent)->Shutdown();
  std::cerr << "fleet-agent: stopped: " << (*agent)->accepted() << " accepted, "
            << (*agent)->rejected() << " rejected\n";
  if (!drained.ok()) {
    // The twin in memory holds changes the ledger does not: print nothing, restart rebuilds.
    std::cerr << "fleet-agent: " << (*agent)->refused()
              << " samples refused after the ledger failed\n";
    return Fail(drained);
  }
  std::cout << (*agent)->TwinJson() << "\n";
  return 0;
}
