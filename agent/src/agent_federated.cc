// The agent's part in federated rounds (docs/federated.md): joining the Fleet API as a node
// with the agent's own history, and adopting a round's global model for the twin (--fl-adopt).
#include <algorithm>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fleettwin/agent/agent_runtime.h"
#include "fleettwin/agent/federated_learner.h"

namespace fleettwin::agent {

absl::Status AgentRuntime::StartFederated(const AgentOptions& options) {
  if (options.fl_history_file.empty()) {
    return absl::InvalidArgumentError(
        "federated learning needs the agent's history (--fl-history)");
  }
  absl::StatusOr<model::Dataset> history = model::ReadCmapss(options.fl_history_file);
  if (!history.ok()) return history.status();
  if (!options.fl_history_units.empty()) {
    int first = 0, last = 0;
    const std::vector<std::string> parts = absl::StrSplit(options.fl_history_units, '-');
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &first) ||
        !absl::SimpleAtoi(parts[1], &last) || first > last) {
      return absl::InvalidArgumentError(
          absl::StrCat("--fl-history-units '", options.fl_history_units, "' is not A-B"));
    }
    std::vector<model::UnitSeries> kept;
    for (model::UnitSeries& u : history->units) {
      if (u.unit >= first && u.unit <= last) kept.push_back(std::move(u));
    }
    history->units = std::move(kept);
  }
  if (history->units.empty())
    return absl::InvalidArgumentError("the federated history has no units");
  LearnerOptions lo;
  lo.asset_id = options.asset;
  lo.train.threads = std::max(1, options.fl_train_threads);
  std::optional<model::RulModel> base;
  if (model_) base = *model_;
  learner_ = std::make_unique<FederatedLearner>(
      std::move(*history), std::move(base), lo, [this](const ModelReceived& m) {
        ++fl_models_;
        absl::StatusOr<uint64_t> r =
            SetDesired("federated.model", static_cast<double>(m.server_round),
                       absl::StrCat("federated:", m.message_type, ":", m.model_id));
        (void)r;  // Refused only while the agent shuts down; the node stops next.
        if (m.model != nullptr) MaybeAdopt(*m.model);
      });
  const std::filesystem::path key_file =
      options.fl_key_file.empty() ? options.data_dir / "fl-node.pem" : options.fl_key_file;
  absl::StatusOr<federated::NodeKey> key = federated::NodeKey::LoadOrCreate(key_file);
  if (!key.ok()) return key.status();
  federated::FleetNodeOptions no;
  no.server = options.fl_server;
  no.tls_root_cert_file = options.fl_tls_root_file;
  no.heartbeat_interval_s = options.fl_heartbeat_interval_s;
  absl::StatusOr<std::unique_ptr<federated::FleetNode>> node =
      federated::MakeFleetNode(no, std::move(*key), learner_.get());
  if (!node.ok()) return node.status();
  fl_node_ = std::move(*node);
  fl_node_->Start();
  return absl::OkStatus();
}

absl::StatusOr<FederatedAdoption> ParseFederatedAdoption(std::string_view text) {
  if (text == "never") return FederatedAdoption::kNever;
  if (text == "if-not-worse") return FederatedAdoption::kIfNotWorse;
  if (text == "always") return FederatedAdoption::kAlways;
  return absl::InvalidArgumentError(
      absl::StrCat("adoption '", std::string(text), "' is not one of never, if-not-worse, always"));
}

void AgentRuntime::MaybeAdopt(const model::RulModel& global) {
  if (adopt_ == FederatedAdoption::kNever || stopping_) return;
  const std::string version = global.version();
  const model::RulModel* in_use = nullptr;
  {
    std::lock_guard lock(twin_mu_);
    if (twin_->twin().state().model_version == version) return;  // Already in use.
    in_use = twin_->twin().model();  // Never freed while the runtime lives.
  }
  if (!CheckModelFitsKind(global, kind_).ok()) {
    ++fl_declined_;
    return;
  }
  if (adopt_ == FederatedAdoption::kIfNotWorse && in_use != nullptr) {
    absl::StatusOr<double> candidate = learner_->HeldOutRmse(global);
    absl::StatusOr<double> current = learner_->HeldOutRmse(*in_use);
    if (!candidate.ok() || !current.ok() || *candidate > *current) {
      ++fl_declined_;
      return;
    }
  }
  // On disk before the ledger names it, so a restart or a replay always finds it; saved as
  // received (the horizon is a query setting, applied again when it is loaded).
  if (!ModelCatalog::Save(models_dir_, global).ok()) {
    ++fl_declined_;
    return;
  }
  model::RulModel adopted = global;
  if (const int horizon = TwinHorizon(kind_, model_.get()); horizon > 0) {
    adopted.set_horizon(horizon);
  }
  catalog_->Add(std::move(adopted));
  std::lock_guard lock(twin_mu_);
  if (stopping_) return;
  if (twin_->SetModelVersion(version).ok()) {
    ++fl_adopted_;
  } else {
    ++fl_declined_;
  }
}

}  // namespace fleettwin::agent
