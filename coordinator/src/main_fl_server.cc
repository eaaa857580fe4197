// fleet-fl-server: the Fleet API server and federated rounds without the rest of the
// coordinator (docs/federated.md). Starts from a model, serves Flower nodes (our agents or
// Python SuperNodes), runs the rounds asked for on the command line, prints their reports as
// JSON and exits; with --data-dir every round is ledgered and the model kept, as in
// fleet-coordinator.
#include <csignal>
#include <future>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "fleettwin/common/clock.h"
#include "fleettwin/coordinator/federated_host.h"
#include "fleettwin/ledger/ledger.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

int Fail(const absl::Status& s) {
  std::cerr << "fleet-fl-server: " << s.message() << "\n";
  return s.code() == absl::StatusCode::kInvalidArgument || s.code() == absl::StatusCode::kNotFound
             ? 2
             : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fleet-fl-server: serves Flower's Fleet API and runs federated rounds of the "
               "failure model, then prints the rounds as JSON. Exit codes: 0 every round "
               "aggregated, 1 a round did not or the rounds failed, 2 bad arguments."};
  fleettwin::coordinator::FederatedHostOptions options;
  options.server.address = "127.0.0.1:9092";
  std::string origin = "fleettwin/fl-server";
  app.add_option("--listen", options.server.address, "HOST:PORT for the Fleet API (port 0: any)")
      ->capture_default_str();
  app.add_option("--model", options.model_dir, "The model directory rounds start from")->required();
  app.add_option("--data-dir", options.state_dir,
                 "Keeps the model (fl-model/) and a signed ledger of the rounds (ledger/)");
  app.add_option("--origin", origin, "Ledger origin")->capture_default_str();
  app.add_option("--fab", options.server.fab_file, "A Flower app bundle served by GetFab");
  app.add_option("--tls-cert", options.server.tls_cert_file, "TLS certificate chain (PEM)");
  app.add_option("--tls-key", options.server.tls_key_file, "TLS private key (PEM)");
  nlohmann::json request = {{"command", "rounds.start"}};
  int rounds = 3, min_nodes = 2, local_epochs = 1;
  double fraction = 1, min_replies = 0.5, mu = 0.01, trim = 0.2, clip = 0, noise = 0,
         deadline = 300, wait = 120, lr = 0;
  std::string strategy = "fedavg";
  bool evaluate = false;
  app.add_option("--rounds", rounds, "Rounds")->capture_default_str();
  app.add_option("--min-nodes", min_nodes, "Live nodes needed; least sampled")->capture_default_str();
  app.add_option("--fraction", fraction, "Share of live nodes sampled")->capture_default_str();
  app.add_option("--min-replies", min_replies, "Share of the sampled needed to aggregate")
      ->capture_default_str();
  app.add_option("--strategy", strategy, "fedavg, fedprox, median or trimmed-mean")
      ->capture_default_str();
  app.add_option("--local-epochs", local_epochs, "Epochs per node per round")->capture_default_str();
  app.add_option("--proximal-mu", mu, "FedProx's mu")->capture_default_str();
  app.add_option("--trim", trim, "trimmed-mean: share cut at each end")->capture_default_str();
  app.add_option("--clip-norm", clip, "Central DP clipping (L2); 0 = off")->capture_default_str();
  app.add_option("--noise-multiplier", noise, "Central DP noise multiplier")->capture_default_str();
  app.add_option("--learning-rate", lr, "Sent to the nodes; 0 = their default")->capture_default_str();
  app.add_option("--deadline", deadline, "Seconds for replies per round")->capture_default_str();
  app.add_option("--wait", wait, "Seconds to wait for --min-nodes live nodes")->capture_default_str();
  app.add_flag("--evaluate", evaluate, "Evaluate every new model on the nodes");
  std::string convention = "message-api";
  app.add_option("--convention", convention,
                 "Content convention: message-api or legacy (flwr.server.strategy keys)")
      ->check(CLI::IsMember({"message-api", "legacy"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  request.update({{"rounds", rounds}, {"min_nodes", min_nodes}, {"fraction", fraction},
                  {"min_reply_fraction", min_replies}, {"strategy", strategy},
                  {"local_epochs", local_epochs}, {"proximal_mu", mu}, {"trim_fraction", trim},
                  {"clip_norm", clip}, {"noise_multiplier", noise}, {"deadline_s", deadline},
                  {"wait_s", wait}, {"evaluate", evaluate}, {"convention", convention}});
  if (lr > 0) request["learning_rate"] = lr;

  fleettwin::SystemClock clock;
  std::unique_ptr<fleettwin::ledger::Ledger> ledger;
  if (!options.state_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options.state_dir, ec);
    absl::StatusOr<fleettwin::ledger::SignerKey> key = fleettwin::ledger::LoadOrCreateSignerKey(
        options.state_dir / "fl-server.key", options.state_dir / "fl-server.vkey", origin);
    if (!key.ok()) return Fail(key.status());
    fleettwin::ledger::LedgerOptions lo;
    lo.directory = options.state_dir / "ledger";
    lo.origin = origin;
    absl::StatusOr<std::unique_ptr<fleettwin::ledger::Ledger>> opened =
        fleettwin::ledger::OpenLedger(lo, clock, *key);
    if (!opened.ok()) return Fail(opened.status());
    ledger = std::move(*opened);
  }
  auto host = fleettwin::coordinator::FederatedHost::Start(options, ledger.get());
  if (!host.ok()) return Fail(host.status());
  if (ledger) {
    absl::Status scanned = ledger->Scan(0, ledger->Size(), [&](const fleettwin::ledger::Entry& e,
                                                               const std::string&) {
      if (e.kind == "fl.round") (*host)->LoadRound(e.payload);
      return true;
    });
    if (!scanned.ok()) return Fail(scanned);
  }
  const std::string& a = options.server.address;
  std::cerr << "fleet-fl-server: Fleet API on " << a.substr(0, a.rfind(':')) << ":"
            << (*host)->port() << "\n";
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  std::promise<absl::StatusOr<std::string>> result;
  std::future<absl::StatusOr<std::string>> done = result.get_future();
  absl::Status begun = (*host)->Begin(request, [&](absl::StatusOr<std::string> r) {
    result.set_value(std::move(r));
  });
  if (!begun.ok()) return Fail(begun);
  while (done.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
    if (g_stop) {
      (*host)->Stop();  // Cancels the rounds; the callback reports it.
      break;
    }
  }
  absl::StatusOr<std::string> out = done.get();
  (*host)->Stop();
  if (!out.ok()) return Fail(out.status());
  std::cout << *out << "\n";
  const nlohmann::json j = nlohmann::json::parse(*out);
  for (const nlohmann::json& r : j["rounds"]) {
    if (!r.value("aggregated", false)) return 1;
  }
  return 0;
}
