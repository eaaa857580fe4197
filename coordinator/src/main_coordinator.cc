// fleet-coordinator: flags -> CoordinatorOptions -> run until SIGTERM/SIGINT.
#include <csignal>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>

#include "fleettwin/common/curve.h"
#include "fleettwin/coordinator/coordinator.h"
#include "fleettwin/coordinator/status_http.h"
#include "fleettwin/model/rul_model.h"

namespace {
volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

int Fail(const absl::Status& s) {
  std::cerr << "fleet-coordinator: " << s.message() << "\n";
  return s.code() == absl::StatusCode::kInvalidArgument ||
                 s.code() == absl::StatusCode::kNotFound ||
                 s.code() == absl::StatusCode::kPermissionDenied
             ? 2
             : 1;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "fleet-coordinator: fleet membership and contract-net maintenance planning over ZeroMQ "
      "with CURVE (docs/protocols.md). Agents are admitted by their public keys in --agents-dir "
      "(the key's name is the asset id); operators (fleetctl) by theirs in --operators-dir."};
  fleettwin::coordinator::CoordinatorOptions options;
  options.endpoint = "tcp://127.0.0.1:5700";
  options.control_endpoint = "tcp://127.0.0.1:5701";
  std::string key_file, agents_dir, operators_dir;
  app.add_option("--bind", options.endpoint, "ROUTER endpoint for agents")->capture_default_str();
  app.add_option("--control", options.control_endpoint, "Control endpoint for fleetctl")
      ->capture_default_str();
  app.add_option("--key", key_file, "The coordinator's CURVE secret key file")->required();
  app.add_option("--agents-dir", agents_dir, "Directory of allowed agents' *.curve-public files")
      ->required();
  app.add_option("--operators-dir", operators_dir,
                 "Directory of allowed operators' *.curve-public files")
      ->required();
  app.add_option("--heartbeat-timeout-ms", options.membership.heartbeat_timeout_ms,
                 "Silence after which an agent counts as lost")
      ->check(CLI::Range(int64_t{100}, int64_t{3'600'000}))
      ->capture_default_str();
  app.add_option("--data-dir", options.data_dir,
                 "State directory: the coordinator's ledger (plans, agents' checkpoints) and its "
                 "signing key; without it plans are kept in memory only");
  app.add_option("--origin", options.origin, "Ledger origin")->capture_default_str();
  app.add_option("--anchor-interval-ms", options.anchor_interval_ms,
                 "Least time between two anchored checkpoints of one agent")
      ->capture_default_str();
  app.add_option("--fl-listen", options.fl_address,
                 "Serve the Fleet API (Flower gRPC) for federated rounds on HOST:PORT");
  app.add_option("--fl-model", options.fl_model_dir,
                 "The failure model (model directory) federated rounds start from");
  app.add_option("--fl-fab", options.fl_fab_file,
                 "A Flower app bundle served by GetFab (for Python SuperNodes)");
  app.add_option("--fl-tls-cert", options.fl_tls_cert_file, "TLS certificate chain (PEM)");
  app.add_option("--fl-tls-key", options.fl_tls_key_file, "TLS private key (PEM)");
  std::string http_bind;
  app.add_option("--http", http_bind,
                 "HOST:PORT for /healthz, /readyz and /metrics (port 0: any free port)");
  bool check_config = false;
  app.add_flag("--check-config", check_config, "Check the keys and directories, then exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  absl::StatusOr<fleettwin::common::CurveSecretKey> key =
      fleettwin::common::ReadCurveSecretKeyFile(key_file);
  if (!key.ok()) return Fail(key.status());
  options.keys = key->pair;
  absl::StatusOr<std::vector<fleettwin::common::CurvePublicKey>> agents =
      fleettwin::common::ReadCurvePublicKeyDir(agents_dir);
  if (!agents.ok()) return Fail(agents.status());
  options.allowed_agents = *std::move(agents);
  absl::StatusOr<std::vector<fleettwin::common::CurvePublicKey>> operators =
      fleettwin::common::ReadCurvePublicKeyDir(operators_dir);
  if (!operators.ok()) return Fail(operators.status());
  options.operators = *std::move(operators);
  if (!options.fl_address.empty() && options.fl_model_dir.empty()) {
    return Fail(absl::InvalidArgumentError("--fl-listen needs --fl-model"));
  }
  if (check_config && !options.fl_model_dir.empty()) {
    absl::StatusOr<fleettwin::model::RulModel> model =
        fleettwin::model::RulModel::Load(options.fl_model_dir);
    if (!model.ok()) return Fail(model.status());
  }
  if (!http_bind.empty() && http_bind.rfind(':') == std::string::npos) {
    return Fail(absl::InvalidArgumentError("--http must be HOST:PORT"));
  }
  if (check_config) {
    std::cout << "fleet-coordinator: configuration ok: " << options.allowed_agents.size()
              << " agent keys, " << options.operators.size() << " operator keys\n";
    return 0;
  }
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  fleettwin::SystemClock clock;
  auto coordinator = fleettwin::coordinator::Coordinator::Start(options, clock);
  if (!coordinator.ok()) return Fail(coordinator.status());
  std::unique_ptr<fleettwin::coordinator::StatusHttp> http;
  if (!http_bind.empty()) {
    auto started = fleettwin::coordinator::StatusHttp::Start(http_bind, **coordinator);
    if (!started.ok()) return Fail(started.status());
    http = *std::move(started);
  }
  std::cerr << "fleet-coordinator: agents on " << (*coordinator)->endpoint() << ", control on "
            << (*coordinator)->control_endpoint() << "; " << options.allowed_agents.size()
            << " agent keys, " << options.operators.size() << " operator keys";
  if (!options.data_dir.empty()) {
    std::cerr << "; ledger in " << options.data_dir.string() << "/ledger ("
              << (*coordinator)->LedgerSize() << " entries, " << (*coordinator)->Plans().size()
              << " plans)";
  }
  if ((*coordinator)->fl_port() > 0) {
    const std::string& a = options.fl_address;
    std::cerr << "; federated rounds on " << a.substr(0, a.rfind(':')) << ":"
              << (*coordinator)->fl_port();
  }
  if (http) std::cerr << "; HTTP " << http_bind.substr(0, http_bind.rfind(':')) << ":" << http->port();
  std::cerr << "\n";
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  http.reset();
  (*coordinator)->Stop();
  const auto& s = (*coordinator)->stats();
  std::cerr << "fleet-coordinator: stopped: " << s.registrations.load() << " registrations, "
            << s.heartbeats.load() << " heartbeats, " << s.plans.load() << " plans, "
            << s.malformed.load() << " malformed, " << s.replayed.load() << " replayed, "
            << (*coordinator)->unauthenticated() << " unauthenticated\n";
  return 0;
}
