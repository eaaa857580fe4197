// The coordinator's federated rounds (docs/federated.md): it hosts the Fleet API server,
// keeps the fleet's global failure model (data_dir/fl-model, saved after every aggregated
// round), runs rounds on its own thread when an operator asks, and ledgers every round
// ("fl.round": round number, strategy, participants, the global model's object id and
// version, metrics, DP parameters). fleet-coordinator hosts one; fleet-fl-server runs one alone.
#ifndef FLEETTWIN_COORDINATOR_FEDERATED_HOST_H_
#define FLEETTWIN_COORDINATOR_FEDERATED_HOST_H_

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "fleettwin/federated/fleet_server.h"
#include "fleettwin/ledger/ledger.h"
#include "fleettwin/model/rul_model.h"

namespace fleettwin::coordinator {

struct FederatedHostOptions {
  federated::FleetServerOptions server;
  std::filesystem::path model_dir;  // The model to start from (unless state_dir holds one).
  std::filesystem::path state_dir;  // Where fl-model/ is kept; empty: memory only.
};

class FederatedHost final {
 public:
  // Starts the server and loads the model. `ledger` may be null; it must outlive the host.
  // Errors: those of StartFleetServer and RulModel::Load; InvalidArgument without a model.
  static absl::StatusOr<std::unique_ptr<FederatedHost>> Start(FederatedHostOptions options,
                                                              ledger::Ledger* ledger);
  ~FederatedHost();

  // A ledgered "fl.round" entry read back on start (round numbering continues after it).
  void LoadRound(const std::string& payload);

  // Starts rounds as `request` (the control JSON of rounds.start) asks; `done` gets the
  // result JSON (or the error) on the rounds thread. FailedPrecondition while rounds run;
  // InvalidArgument for a bad request.
  absl::Status Begin(const nlohmann::json& request,
                     std::function<void(absl::StatusOr<std::string>)> done);
  // Every round so far (ledgered ones too), the nodes and the current model, as JSON.
  std::string StatusJson() const;
  int port() const;
  // Cancels running rounds and joins; stops the server. Idempotent.
  void Stop();

 private:
  FederatedHost() = default;
  FederatedHostOptions options_;
  ledger::Ledger* ledger_ = nullptr;
  std::unique_ptr<federated::FleetServer> server_;
  mutable std::mutex mu_;
  model::RulModel model_;             // GUARDED_BY(mu_)
  std::vector<nlohmann::json> rounds_;  // GUARDED_BY(mu_)
  int last_round_ = 0;                // GUARDED_BY(mu_)
  bool running_ = false;              // GUARDED_BY(mu_)
  std::atomic<bool> cancel_{false};
  std::mutex thread_mu_;  // Guards thread_ (Begin on the loop, Stop from the owner).
  std::thread thread_;
};

}  // namespace fleettwin::coordinator

#endif  // FLEETTWIN_COORDINATOR_FEDERATED_HOST_H_
