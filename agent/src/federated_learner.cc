// The agent's federated work (federated_learner.h).
#include "fleettwin/agent/federated_learner.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fleettwin/federated/objects.h"
#include "fleettwin/federated/records.h"
#include "fleettwin/model/shared_start.h"

namespace fleettwin::agent {
namespace {

namespace fp = flwr::proto;
namespace ff = fleettwin::federated;

// The request's records under either convention.
struct Request {
  const fp::ArrayRecord* arrays = nullptr;
  const fp::ConfigRecord* config = nullptr;
  bool legacy = false;
};

Request Read(const fp::RecordDict& content, const std::string& legacy_prefix) {
  Request r;
  r.arrays = ff::FindArrays(content, "arrays");
  r.config = ff::FindConfig(content, "config");
  if (r.arrays == nullptr && r.config == nullptr && !legacy_prefix.empty()) {
    r.arrays = ff::FindArrays(content, absl::StrCat(legacy_prefix, ".parameters"));
    r.config = ff::FindConfig(content, absl::StrCat(legacy_prefix, ".config"));
    r.legacy = r.arrays != nullptr || r.config != nullptr;
  }
  return r;
}

double Config(const fp::ConfigRecord* config, std::string_view key, double fallback) {
  if (config == nullptr) return fallback;
  return ff::GetNumber(*config, key).value_or(fallback);
}

fp::ConfigRecord LegacyStatus() {
  fp::ConfigRecord status;
  ff::SetInt(status, "code", 0);
  ff::SetString(status, "message", "Success");
  return status;
}

fp::ConfigRecord LegacyCount(double n) {
  fp::ConfigRecord r;
  ff::SetInt(r, "num_examples", static_cast<int64_t>(n));
  return r;
}

// Training windows of `data` (one per cycle from the window's end on, at least one per unit).
double Windows(const model::Dataset& data, int window) {
  double n = 0;
  for (const model::UnitSeries& u : data.units) {
    n += std::max<double>(1, static_cast<double>(u.rows.size()) - window + 1);
  }
  return n;
}

}  // namespace

FederatedLearner::FederatedLearner(model::Dataset history, std::optional<model::RulModel> base,
                                   LearnerOptions options,
                                   std::function<void(const ModelReceived&)> on_model)
    : options_(std::move(options)), on_model_(std::move(on_model)), current_(std::move(base)) {
  const size_t n = history.units.size();
  size_t held = 0;
  if (n >= 2) {
    held = std::clamp<size_t>(
        static_cast<size_t>(std::ceil(options_.holdout_fraction * static_cast<double>(n))), 1,
        n - 1);
  }
  train_.channels = holdout_.channels = history.channels;
  for (size_t i = 0; i < n; ++i) {
    (i + held >= n ? holdout_ : train_).units.push_back(std::move(history.units[i]));
  }
}

std::optional<model::RulModel> FederatedLearner::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

absl::StatusOr<model::RulModel> FederatedLearner::ModelFrom(const fp::ArrayRecord& arrays,
                                                            const fp::ConfigRecord* config) const {
  absl::StatusOr<std::vector<NpyArray>> params = ff::FromArrayRecord(arrays);
  if (!params.ok()) return params.status();
  std::optional<std::string> spec;
  if (config != nullptr) spec = ff::GetString(*config, "fleettwin.model-spec");
  if (!spec) {
    std::lock_guard lock(mu_);
    if (!current_) {
      return absl::FailedPreconditionError(
          "no fleettwin.model-spec in the config and no model of the agent's own");
    }
    spec = current_->SpecJson();
  }
  return model::RulModel::FromSpec(*spec, *params);
}

absl::StatusOr<FederatedLearner::HeldOutError> FederatedLearner::EvaluateHeldOut(
    const model::RulModel& m) const {
  // Every cycle from the window's end on of the held-out units, against the capped target.
  const model::Dataset& eval = holdout_.units.empty() ? train_ : holdout_;
  absl::StatusOr<model::Dataset> selected = model::SelectChannels(eval, m.input_channels());
  if (!selected.ok()) return selected.status();
  double sq = 0, count = 0;
  for (const model::UnitSeries& u : selected->units) {
    const std::vector<double> target = model::CappedRul(u.rows.size(), m.rul_cap());
    for (size_t end = 0; end < u.rows.size(); ++end) {
      if (end + 1 < static_cast<size_t>(m.window()) && end + 1 != u.rows.size()) continue;
      std::vector<std::vector<double>> rows(
          u.rows.begin() + static_cast<long>(end + 1 - std::min<size_t>(end + 1, m.window())),
          u.rows.begin() + static_cast<long>(end + 1));
      absl::StatusOr<model::RulPrediction> p = m.Predict(rows, static_cast<double>(end + 1));
      if (!p.ok()) return p.status();
      sq += (p->rul - target[end]) * (p->rul - target[end]);
      ++count;
    }
  }
  if (count == 0) return absl::FailedPreconditionError("no local units to evaluate on");
  return HeldOutError{sq / count, count};
}

absl::StatusOr<double> FederatedLearner::HeldOutRmse(const model::RulModel& m) const {
  absl::StatusOr<HeldOutError> error = EvaluateHeldOut(m);
  if (!error.ok()) return error.status();
  return std::sqrt(error->mse);
}

absl::StatusOr<fp::RecordDict> FederatedLearner::Handle(const fp::Message& message) {
  const std::string& type = message.metadata().message_type();
  const fp::RecordDict& content = message.content();
  fp::RecordDict reply;

  if (type == "query" || type == "get_parameters") {
    const Request q = Read(content, "");
    const fp::ConfigRecord* config =
        q.config ? q.config : ff::FindConfig(content, "getparametersins.config");
    const std::string what =
        config ? ff::GetString(*config, "fleettwin.query").value_or("") : std::string();
    fp::MetricRecord metrics;
    if (what == "channel-summary") {
      std::vector<std::string> candidates;
      const std::string list =
          config ? ff::GetString(*config, "fleettwin.candidates").value_or("") : "";
      for (absl::string_view c : absl::StrSplit(list, ',', absl::SkipEmpty())) {
        candidates.emplace_back(c);
      }
      if (candidates.empty()) {
        for (int i = 1; i <= 21; ++i) candidates.push_back(absl::StrCat("s", i));
      }
      const model::ChannelSummary s = model::SummarizeChannels(train_, candidates);
      fp::ArrayRecord arrays = ff::ToArrayRecord({s.ToNpy()});
      arrays.mutable_items(0)->set_key("summary");
      ff::AddArrays(reply, "arrays", std::move(arrays));
      ff::SetInt(metrics, "num-examples", static_cast<int64_t>(train_.units.size()));
      ff::AddMetrics(reply, "metrics", std::move(metrics));
      return reply;
    }
    if (what == "feature-summary") {
      if (q.arrays == nullptr) return absl::InvalidArgumentError("feature-summary needs arrays");
      absl::StatusOr<model::RulModel> start = ModelFrom(*q.arrays, q.config);
      if (!start.ok()) return start.status();
      absl::StatusOr<model::FeatureSummary> f = start->SummarizeFeatures(train_);
      if (!f.ok()) return f.status();
      fp::ArrayRecord arrays = ff::ToArrayRecord({f->ToNpy()});
      arrays.mutable_items(0)->set_key("summary");
      ff::AddArrays(reply, "arrays", std::move(arrays));
      ff::SetInt(metrics, "num-examples", static_cast<int64_t>(Windows(train_, start->window())));
      ff::AddMetrics(reply, "metrics", std::move(metrics));
      return reply;
    }
    if (!what.empty())
      return absl::InvalidArgumentError(absl::StrCat("unknown query '", what, "'"));
    std::optional<model::RulModel> model = current();
    if (!model) return absl::FailedPreconditionError("the agent has no model yet");
    fp::ArrayRecord params = ff::ToArrayRecord(model->parameters());
    if (type == "get_parameters") {
      ff::AddArrays(reply, "getparametersres.parameters", std::move(params));
      ff::AddConfig(reply, "getparametersres.status", LegacyStatus());
    } else {
      ff::AddArrays(reply, "arrays", std::move(params));
    }
    return reply;
  }

  if (type != "train" && type != "evaluate") {
    return absl::InvalidArgumentError(absl::StrCat("message type '", type, "' is not handled"));
  }
  const bool train = type == "train";
  const Request r = Read(content, train ? "fitins" : "evaluateins");
  if (r.arrays == nullptr) return absl::InvalidArgumentError("the message holds no parameters");
  absl::StatusOr<model::RulModel> global = ModelFrom(*r.arrays, r.config);
  if (!global.ok()) return global.status();
  const int64_t round = static_cast<int64_t>(Config(r.config, "server-round", 0));
  if (on_model_) {
    absl::StatusOr<std::string> id = ff::ArrayRecordObjectId(*r.arrays);
    if (id.ok()) on_model_({*id, type, round, &*global});
  }

  if (train) {
    if (train_.units.empty()) return absl::FailedPreconditionError("no local history to train on");
    model::TrainOptions o = options_.train;
    o.max_epochs = static_cast<int>(std::clamp(Config(r.config, "local-epochs", 1), 1.0, 1000.0));
    o.patience = 0;
    o.validation_fraction = 0;
    // "proximal-mu" from Message-API FedProx, "proximal_mu" from the legacy strategy.
    o.prox_mu = std::max(0.0, Config(r.config, "proximal-mu", Config(r.config, "proximal_mu", 0)));
    o.learning_rate = Config(r.config, "learning-rate", o.learning_rate);
    o.seed = options_.train.seed * 1000003 + static_cast<uint64_t>(std::max<int64_t>(0, round));
    const auto started = std::chrono::steady_clock::now();
    absl::StatusOr<model::RulModel> trained = model::TrainFrom(*global, train_, o);
    if (!trained.ok()) return trained.status();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const double n = Windows(train_, trained->window());
    fp::ArrayRecord params = ff::ToArrayRecord(trained->parameters());
    if (r.legacy) {
      // Legacy arrays carry no dtype or shape outside their .npy bytes.
      for (auto& item : *params.mutable_items()) {
        item.mutable_value()->clear_dtype();
        item.mutable_value()->clear_shape();
      }
      ff::AddArrays(reply, "fitres.parameters", std::move(params));
      ff::AddConfig(reply, "fitres.num_examples", LegacyCount(n));
      fp::ConfigRecord metrics;
      ff::SetDouble(metrics, "train-seconds", seconds);
      ff::AddConfig(reply, "fitres.metrics", std::move(metrics));
      ff::AddConfig(reply, "fitres.status", LegacyStatus());
    } else {
      ff::AddArrays(reply, "arrays", std::move(params));
      fp::MetricRecord metrics;
      ff::SetInt(metrics, "num-examples", static_cast<int64_t>(n));
      ff::SetDouble(metrics, "train-seconds", seconds);
      ff::AddMetrics(reply, "metrics", std::move(metrics));
    }
    std::lock_guard lock(mu_);
    current_ = std::move(*trained);
  } else {
    absl::StatusOr<HeldOutError> error = EvaluateHeldOut(*global);
    if (!error.ok()) return error.status();
    const double mse = error->mse;
    const double count = error->count;
    if (r.legacy) {
      fp::ConfigRecord loss;
      ff::SetDouble(loss, "loss", mse);
      ff::AddConfig(reply, "evaluateres.loss", std::move(loss));
      ff::AddConfig(reply, "evaluateres.num_examples", LegacyCount(count));
      fp::ConfigRecord metrics;
      ff::SetDouble(metrics, "rmse", std::sqrt(mse));
      ff::AddConfig(reply, "evaluateres.metrics", std::move(metrics));
      ff::AddConfig(reply, "evaluateres.status", LegacyStatus());
    } else {
      fp::MetricRecord metrics;
      ff::SetInt(metrics, "num-examples", static_cast<int64_t>(count));
      ff::SetDouble(metrics, "loss", mse);
      ff::SetDouble(metrics, "rmse", std::sqrt(mse));
      ff::AddMetrics(reply, "metrics", std::move(metrics));
    }
  }
  if (r.config != nullptr && ff::GetNumber(*r.config, "fleettwin.identify").value_or(0) != 0) {
    fp::ConfigRecord who;
    ff::SetString(who, "asset", options_.asset_id);
    ff::AddConfig(reply, "fleettwin", std::move(who));
  }
  return reply;
}

}  // namespace fleettwin::agent
