// The coordinator's federated rounds (federated_host.h).
#include "fleettwin/coordinator/federated_host.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "fleettwin/federated/objects.h"
#include "fleettwin/federated/records.h"
#include "fleettwin/federated/rounds.h"
#include "fleettwin/protocol/messages.h"

namespace fleettwin::coordinator {
namespace {

using nlohmann::json;
namespace ff = fleettwin::federated;

json ReportJson(const ff::RoundReport& r, const std::string& version) {
  auto names = [&](const std::vector<uint64_t>& ids) {
    json out = json::array();
    for (uint64_t id : ids) {
      auto it = r.names.find(id);
      out.push_back({{"node", std::to_string(id)}, {"asset", it == r.names.end() ? "" : it->second}});
    }
    return out;
  };
  json failed = json::array();
  for (const auto& [node, why] : r.failed) {
    failed.push_back({{"node", std::to_string(node)}, {"reason", why}});
  }
  return {{"round", r.round},
          {"strategy", r.strategy},
          {"sampled", names(r.sampled)},
          {"replied", names(r.replied)},
          {"failed", failed},
          {"aggregated", r.aggregated},
          {"model_id", r.model_id},
          {"model_version", version},
          {"num_examples", r.num_examples},
          {"train_metrics", r.train_metrics},
          {"eval_metrics", r.eval_metrics},
          {"clip_norm", r.clip_norm},
          {"noise_multiplier", r.noise_multiplier},
          {"seconds", r.seconds}};
}

}  // namespace

absl::StatusOr<std::unique_ptr<FederatedHost>> FederatedHost::Start(FederatedHostOptions options,
                                                                     ledger::Ledger* ledger) {
  std::unique_ptr<FederatedHost> host(new FederatedHost());
  const std::filesystem::path saved = options.state_dir.empty()
                                          ? std::filesystem::path()
                                          : options.state_dir / "fl-model";
  std::error_code ec;
  const std::filesystem::path from =
      !saved.empty() && std::filesystem::exists(saved / "model.json", ec) ? saved : options.model_dir;
  if (from.empty()) {
    return absl::InvalidArgumentError("federated rounds need a model to start from (--fl-model)");
  }
  absl::StatusOr<model::RulModel> model = model::RulModel::Load(from);
  if (!model.ok()) return model.status();
  host->model_ = std::move(*model);
  host->options_ = std::move(options);
  host->ledger_ = ledger;
  absl::StatusOr<std::unique_ptr<ff::FleetServer>> server =
      ff::StartFleetServer(host->options_.server);
  if (!server.ok()) return server.status();
  host->server_ = std::move(*server);
  return host;
}

FederatedHost::~FederatedHost() { Stop(); }

void FederatedHost::Stop() {
  cancel_ = true;
  {
    std::lock_guard lock(thread_mu_);
    if (thread_.joinable()) thread_.join();
  }
  if (server_) server_->Shutdown();
}

int FederatedHost::port() const { return server_->port(); }

void FederatedHost::LoadRound(const std::string& payload) {
  json r = json::parse(payload, nullptr, false);
  if (!r.is_object()) return;
  std::lock_guard lock(mu_);
  last_round_ = std::max(last_round_, r.value("round", 0));
  rounds_.push_back(std::move(r));
}

absl::Status FederatedHost::Begin(const json& request,
                                  std::function<void(absl::StatusOr<std::string>)> done) {
  ff::RoundOptions o;
  try {
    o.rounds = request.value("rounds", 3);
    o.min_nodes = request.value("min_nodes", 2);
    o.fraction = request.value("fraction", 1.0);
    o.min_reply_fraction = request.value("min_reply_fraction", 0.5);
    o.local_epochs = request.value("local_epochs", 1);
    o.proximal_mu = request.value("proximal_mu", 0.01);
    o.evaluate = request.value("evaluate", false);
    const std::string convention = request.value("convention", "message-api");
    if (convention != "message-api" && convention != "legacy") {
      return absl::InvalidArgumentError("rounds.start: convention is message-api or legacy");
    }
    o.legacy_content = convention == "legacy";
    o.reply_deadline = absl::Seconds(request.value("deadline_s", 300.0));
    o.wait_for_nodes = absl::Seconds(request.value("wait_s", 120.0));
    o.seed = request.value("seed", uint64_t{1});
    absl::StatusOr<ff::Strategy> strategy = ff::ParseStrategy(request.value("strategy", "fedavg"));
    if (!strategy.ok()) return strategy.status();
    o.aggregate.strategy = *strategy;
    o.aggregate.trim_fraction = request.value("trim_fraction", 0.2);
    o.aggregate.clip_norm = request.value("clip_norm", 0.0);
    o.aggregate.noise_multiplier = request.value("noise_multiplier", 0.0);
    // The DP noise must not be predictable: its seed is drawn here, never taken from a request.
    o.aggregate.seed = std::random_device{}() * 0x100000001ull ^ std::random_device{}();
    if (request.contains("learning_rate")) {
      ff::SetDouble(o.extra_config, "learning-rate", request.at("learning_rate").get<double>());
    }
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("rounds.start: ", e.what()));
  }
  if (o.rounds < 1 || o.rounds > 10000 || o.min_nodes < 1 || !(o.fraction > 0 && o.fraction <= 1) ||
      !(o.min_reply_fraction > 0 && o.min_reply_fraction <= 1) || o.local_epochs < 1 ||
      o.local_epochs > 1000 || o.reply_deadline <= absl::ZeroDuration() ||
      o.wait_for_nodes < absl::ZeroDuration() || !(o.aggregate.trim_fraction >= 0 && o.aggregate.trim_fraction < 0.5) ||
      !(o.aggregate.clip_norm >= 0) || !(o.aggregate.noise_multiplier >= 0) ||
      (o.aggregate.noise_multiplier > 0 && o.aggregate.clip_norm == 0) ||
      (o.aggregate.noise_multiplier > 0 && o.aggregate.strategy != ff::Strategy::kFedAvg &&
       o.aggregate.strategy != ff::Strategy::kFedProx)) {
    return absl::InvalidArgumentError(
        "rounds.start: rounds 1..10000, min-nodes >= 1, fraction and min-reply-fraction in "
        "(0, 1], local epochs 1..1000, deadline > 0, trim in [0, 0.5), noise needs a clip norm "
        "and fedavg or fedprox");
  }
  std::vector<NpyArray> start;
  {
    std::lock_guard lock(mu_);
    if (running_) return absl::FailedPreconditionError("federated rounds are already running");
    running_ = true;
    o.first_round = last_round_ + 1;
    start = model_.parameters();
    ff::SetString(o.extra_config, "fleettwin.model-spec", model_.SpecJson());
    ff::SetInt(o.extra_config, "fleettwin.identify", 1);
  }
  std::lock_guard thread_lock(thread_mu_);  // Stop() may join from another thread.
  if (thread_.joinable()) thread_.join();
  thread_ = std::thread([this, o, start = std::move(start), done = std::move(done)]() mutable {
    json results = json::array();
    auto on_round = [&](const ff::RoundReport& r) {
      std::string version;
      json entry;
      {
        std::lock_guard lock(mu_);
        if (r.aggregated) {
          if (absl::Status s = model_.SetParameters(start); !s.ok()) return;
          if (!options_.state_dir.empty()) {
            model_.Save(options_.state_dir / "fl-model").IgnoreError();
          }
        }
        version = model_.version();
        last_round_ = std::max(last_round_, r.round);
        entry = ReportJson(r, version);
        rounds_.push_back(entry);
      }
      if (ledger_ != nullptr) {
        ledger_->Append({"fl.round", protocol::kCoordinatorName, 0, 0, entry.dump()}).IgnoreError();
      }
      results.push_back(entry);
    };
    absl::StatusOr<std::vector<ff::RoundReport>> reports =
        ff::RunRounds(*server_, start, o, on_round, &cancel_);
    {
      std::lock_guard lock(mu_);
      running_ = false;
    }
    if (!reports.ok()) {
      done(reports.status());
      return;
    }
    json out = {{"rounds", results}};
    {
      std::lock_guard lock(mu_);
      out["model_version"] = model_.version();
      absl::StatusOr<std::string> id = ff::ArrayRecordObjectId(ff::ToArrayRecord(model_.parameters()));
      out["model_id"] = id.ok() ? *id : "";
    }
    done(out.dump());
  });
  return absl::OkStatus();
}

std::string FederatedHost::StatusJson() const {
  json nodes = json::array();
  for (const ff::NodeStatus& n : server_->Nodes()) {
    nodes.push_back({{"node", std::to_string(n.node_id)},
                     {"active", n.active},
                     {"alive", n.alive},
                     {"heartbeat_interval_s", n.heartbeat_interval_s}});
  }
  const ff::FleetServerCounters c = server_->counters();
  std::lock_guard lock(mu_);
  absl::StatusOr<std::string> id = ff::ArrayRecordObjectId(ff::ToArrayRecord(model_.parameters()));
  return json{{"port", server_->port()},
              {"running", running_},
              {"model_version", model_.version()},
              {"model_id", id.ok() ? *id : ""},
              {"model", model_.Describe()},
              {"nodes", nodes},
              {"rounds", rounds_},
              {"refused_auth", c.refused_auth},
              {"refused_objects", c.refused_objects},
              {"refused_messages", c.refused_messages}}
      .dump();
}

}  // namespace fleettwin::coordinator
