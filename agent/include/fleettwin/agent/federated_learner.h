// The agent's part in federated rounds (docs/federated.md): a federated::MessageHandler that
// trains and evaluates the failure model on the agent's own run-to-failure history. What
// leaves the agent is parameters, example counts, metrics and, for a shared start, summaries
// (sums and counts), never rows.
//
// Message types and content, in both of Flower's conventions:
//   train     Message-API: "arrays" + "config" -> "arrays" + "metrics" (num-examples, ...)
//             legacy: "fitins.parameters" + "fitins.config" -> "fitres.parameters",
//             "fitres.num_examples", "fitres.metrics", "fitres.status"
//   evaluate  Message-API: "arrays" + "config" -> "metrics" (num-examples, loss, rmse)
//             legacy: "evaluateins.*" -> "evaluateres.loss", ".num_examples", ".metrics",
//             ".status"
//   query     config fleettwin.query = "channel-summary" or "feature-summary" -> "arrays"
//             {"summary"} + "metrics" (num-examples); otherwise the parameters of the model
//             the agent uses ("arrays", or legacy "getparametersres.parameters")
//   get_parameters (legacy) -> "getparametersres.parameters" + "getparametersres.status"
// Config keys read: local-epochs, proximal-mu (FedProx), learning-rate, server-round,
// fleettwin.model-spec (the model's SpecJson(); without it the agent's own model's spec).
#ifndef FLEETTWIN_AGENT_FEDERATED_LEARNER_H_
#define FLEETTWIN_AGENT_FEDERATED_LEARNER_H_

#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "fleettwin/federated/fleet_node.h"
#include "fleettwin/model/rul_model.h"

namespace fleettwin::agent {

struct LearnerOptions {
  std::string asset_id;  // Reported when the config holds fleettwin.identify.
  // Local training: everything but max_epochs (the round's local-epochs), prox_mu and the
  // learning rate (from the config when given) is used as is.
  model::TrainOptions train;
  // Whole units of the history kept out of training for `evaluate` (at least one when the
  // history has two or more units).
  double holdout_fraction = 0.1;
};

// Which global model the agent received, for its ledger.
struct ModelReceived {
  std::string model_id;      // Object id (SHA-256) of the ArrayRecord.
  std::string message_type;  // "train", "evaluate", ...
  int64_t server_round = 0;
  const model::RulModel* model = nullptr;  // The model itself, valid during the callback.
};

class FederatedLearner final : public federated::MessageHandler {
 public:
  // `history`: the agent's own units (each fails after its last row). `base`: the model whose
  // spec is used when a message carries none (may be empty). `on_model` runs for every model
  // received (on the node's thread).
  FederatedLearner(model::Dataset history, std::optional<model::RulModel> base,
                   LearnerOptions options, std::function<void(const ModelReceived&)> on_model = {});

  absl::StatusOr<flwr::proto::RecordDict> Handle(const flwr::proto::Message& message) override;

  // The last model trained or received (for /twin and the next round), if any.
  std::optional<model::RulModel> current() const;

  // RMSE of `m` on the held-out units (the training units when none are held out): every
  // cycle from the window's end on, against the capped target, as `evaluate` reports it.
  // Errors: FailedPrecondition without units, InvalidArgument if `m` needs a channel the
  // history lacks. Thread-safe.
  absl::StatusOr<double> HeldOutRmse(const model::RulModel& m) const;

 private:
  struct HeldOutError {
    double mse = 0;
    double count = 0;
  };
  absl::StatusOr<HeldOutError> EvaluateHeldOut(const model::RulModel& m) const;
  absl::StatusOr<model::RulModel> ModelFrom(const flwr::proto::ArrayRecord& arrays,
                                            const flwr::proto::ConfigRecord* config) const;

  model::Dataset train_, holdout_;
  LearnerOptions options_;
  std::function<void(const ModelReceived&)> on_model_;
  mutable std::mutex mu_;
  std::optional<model::RulModel> current_;
};

}  // namespace fleettwin::agent

#endif  // FLEETTWIN_AGENT_FEDERATED_LEARNER_H_
