// Federated rounds (rounds.h).
#include "fleettwin/federated/rounds.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "fleettwin/federated/objects.h"
#include "fleettwin/federated/records.h"

namespace fleettwin::federated {
namespace {

namespace fp = flwr::proto;

struct Reply {
  uint64_t node = 0;
  fp::Message message;
};

bool Cancelled(const std::atomic<bool>* cancel) { return cancel != nullptr && cancel->load(); }

// Sends `type` with `content` to every node; collects replies until all arrived or the
// deadline. Nodes that fail land in report->failed.
std::vector<Reply> Exchange(FleetServer& server, const std::vector<uint64_t>& nodes,
                            const std::string& type, const fp::RecordDict& content, int round,
                            const RoundOptions& options, RoundReport* report,
                            const std::atomic<bool>* cancel) {
  std::map<std::string, uint64_t> pending;  // Message id -> node.
  for (uint64_t node : nodes) {
    fp::Message m;
    m.mutable_metadata()->set_message_type(type);
    m.mutable_metadata()->set_group_id(std::to_string(round));
    m.mutable_metadata()->set_ttl(absl::ToDoubleSeconds(options.reply_deadline));
    *m.mutable_content() = content;
    absl::StatusOr<std::string> id = server.Send(node, std::move(m));
    if (!id.ok()) {
      report->failed.emplace_back(node, std::string(id.status().message()));
      continue;
    }
    pending.emplace(*id, node);
  }
  std::vector<Reply> replies;
  const absl::Time deadline = absl::Now() + options.reply_deadline;
  absl::Time next_liveness_check = absl::Now();
  while (!pending.empty() && absl::Now() < deadline && !Cancelled(cancel)) {
    for (auto it = pending.begin(); it != pending.end();) {
      auto taken = server.TakeReply(it->first);
      if (!taken.ok()) {  // Forgotten by the server: count as failed.
        report->failed.emplace_back(it->second, std::string(taken.status().message()));
        it = pending.erase(it);
      } else if (!taken->has_value()) {
        ++it;
      } else if (!(*taken)->ok()) {
        report->failed.emplace_back(it->second, absl::StrCat("undecodable reply: ",
                                                             std::string((*taken)->status().message())));
        it = pending.erase(it);
      } else if ((**taken)->has_error()) {
        report->failed.emplace_back(it->second, absl::StrCat("node error: ", (**taken)->error().reason()));
        it = pending.erase(it);
      } else {
        replies.push_back({it->second, std::move(***taken)});
        it = pending.erase(it);
      }
    }
    // A node that is no longer live (silent for its liveness window, or gone) will not reply:
    // stop waiting for it rather than for the deadline.
    if (!pending.empty() && absl::Now() >= next_liveness_check) {
      next_liveness_check = absl::Now() + absl::Milliseconds(250);
      std::set<uint64_t> alive;
      for (const NodeStatus& n : server.Nodes()) {
        if (n.alive) alive.insert(n.node_id);
      }
      for (auto it = pending.begin(); it != pending.end();) {
        if (alive.contains(it->second)) {
          ++it;
          continue;
        }
        server.Forget(it->first);
        report->failed.emplace_back(it->second, "node no longer live (no heartbeat)");
        it = pending.erase(it);
      }
    }
    if (!pending.empty()) std::this_thread::sleep_for(absl::ToChronoNanoseconds(options.poll));
  }
  for (const auto& [id, node] : pending) {
    server.Forget(id);
    report->failed.emplace_back(node, "no reply before the deadline");
  }
  return replies;
}

// Example-weighted means of every metric of the replies (num-examples itself is summed).
std::map<std::string, double> WeightedMetrics(const std::vector<std::pair<const fp::MetricRecord*, double>>& metrics) {
  std::map<std::string, double> sum, weight;
  for (const auto& [record, w] : metrics) {
    for (const auto& item : record->items()) {
      if (item.key() == "num-examples") continue;
      std::optional<double> v = GetNumber(*record, item.key());
      if (!v || !std::isfinite(*v)) continue;
      sum[item.key()] += *v * w;
      weight[item.key()] += w;
    }
  }
  std::map<std::string, double> out;
  for (const auto& [k, s] : sum) {
    if (weight[k] > 0) out[k] = s / weight[k];
  }
  return out;
}

// A request's content in the convention asked for.
fp::RecordDict RequestContent(const std::vector<NpyArray>& model, fp::ConfigRecord config,
                              bool train, bool legacy) {
  fp::RecordDict content;
  fp::ArrayRecord arrays = ToArrayRecord(model);
  if (!legacy) {
    AddArrays(content, "arrays", std::move(arrays));
    AddConfig(content, "config", std::move(config));
    return content;
  }
  for (auto& item : *arrays.mutable_items()) {  // Legacy arrays: only the .npy header says.
    item.mutable_value()->clear_dtype();
    item.mutable_value()->clear_shape();
  }
  const std::string prefix = train ? "fitins" : "evaluateins";
  AddArrays(content, prefix + ".parameters", std::move(arrays));
  AddConfig(content, prefix + ".config", std::move(config));
  return content;
}

// A legacy reply rewritten in the Message-API shape the rest reads: arrays, and metrics with
// num-examples (plus loss for evaluate and every numeric entry of *.metrics).
fp::RecordDict FromLegacy(const fp::RecordDict& content, bool train) {
  const std::string prefix = train ? "fitres" : "evaluateres";
  fp::RecordDict out;
  if (const fp::ArrayRecord* arrays = FindArrays(content, prefix + ".parameters")) {
    AddArrays(out, "arrays", *arrays);
  }
  fp::MetricRecord metrics;
  if (const fp::ConfigRecord* n = FindConfig(content, prefix + ".num_examples")) {
    // A count that is not a finite non-negative number below 2^53 is left out: the reply
    // then fails for lack of num-examples.
    if (std::optional<double> v = GetNumber(*n, "num_examples");
        v && std::isfinite(*v) && *v >= 0 && *v < 0x1p53) {
      SetDouble(metrics, "num-examples", *v);
    }
  }
  if (const fp::ConfigRecord* loss = FindConfig(content, prefix + ".loss")) {
    if (std::optional<double> v = GetNumber(*loss, "loss")) SetDouble(metrics, "loss", *v);
  }
  if (const fp::ConfigRecord* m = FindConfig(content, prefix + ".metrics")) {
    for (const auto& item : m->items()) {
      if (std::optional<double> v = GetNumber(*m, item.key())) SetDouble(metrics, item.key(), *v);
    }
  }
  AddMetrics(out, "metrics", std::move(metrics));
  if (const fp::ConfigRecord* who = FindConfig(content, "fleettwin")) AddConfig(out, "fleettwin", *who);
  return out;
}

fp::ConfigRecord Config(int round, const RoundOptions& options, bool train) {
  fp::ConfigRecord config;
  SetInt(config, "server-round", round);
  if (train) {
    SetInt(config, "local-epochs", options.local_epochs);
    if (options.aggregate.strategy == Strategy::kFedProx) {
      SetDouble(config, "proximal-mu", options.proximal_mu);
    }
  }
  for (const auto& item : options.extra_config.items()) *config.add_items() = item;
  return config;
}

}  // namespace

absl::StatusOr<std::vector<RoundReport>> RunRounds(
    FleetServer& server, std::vector<NpyArray>& model, const RoundOptions& options,
    const std::function<void(const RoundReport&)>& on_round, const std::atomic<bool>* cancel) {
  if (options.rounds < 1 || options.first_round < 0 || options.min_nodes < 1 || !(options.fraction > 0 && options.fraction <= 1) ||
      !(options.min_reply_fraction > 0 && options.min_reply_fraction <= 1) ||
      options.local_epochs < 1 || options.proximal_mu < 0) {
    return absl::InvalidArgumentError("rounds: an option is out of range");
  }
  absl::StatusOr<std::pair<ParameterLayout, std::vector<float>>> flat =
      ParameterLayout::Flatten(model);
  if (!flat.ok()) return flat.status();
  const ParameterLayout layout = flat->first;
  std::vector<float> global = std::move(flat->second);
  std::mt19937_64 rng(options.seed);
  std::vector<RoundReport> reports;

  for (int round = options.first_round; round < options.first_round + options.rounds; ++round) {
    const auto started = std::chrono::steady_clock::now();
    RoundReport report;
    report.round = round;
    report.strategy = std::string(StrategyName(options.aggregate.strategy));
    report.clip_norm = options.aggregate.clip_norm;
    report.noise_multiplier = options.aggregate.noise_multiplier;

    // Wait for enough live nodes.
    std::vector<uint64_t> alive;
    const absl::Time wait_until = absl::Now() + options.wait_for_nodes;
    while (true) {
      alive.clear();
      for (const NodeStatus& n : server.Nodes()) {
        if (n.alive) alive.push_back(n.node_id);
      }
      if (static_cast<int>(alive.size()) >= options.min_nodes) break;
      if (Cancelled(cancel)) return absl::CancelledError("rounds cancelled");
      if (absl::Now() >= wait_until) {
        return absl::DeadlineExceededError(absl::StrCat("round ", round, ": ", alive.size(),
                                                        " live nodes, ", options.min_nodes,
                                                        " needed"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::sort(alive.begin(), alive.end());
    for (size_t i = alive.size(); i > 1; --i) std::swap(alive[i - 1], alive[rng() % i]);
    const size_t k = std::min(alive.size(), std::max<size_t>(
        static_cast<size_t>(options.min_nodes),
        static_cast<size_t>(std::ceil(options.fraction * static_cast<double>(alive.size())))));
    report.sampled.assign(alive.begin(), alive.begin() + static_cast<long>(k));
    std::sort(report.sampled.begin(), report.sampled.end());

    const fp::RecordDict train =
        RequestContent(model, Config(round, options, true), true, options.legacy_content);
    std::vector<Reply> replies =
        Exchange(server, report.sampled, "train", train, round, options, &report, cancel);
    if (options.legacy_content) {
      for (Reply& r : replies) *r.message.mutable_content() = FromLegacy(r.message.content(), true);
    }
    if (Cancelled(cancel)) return absl::CancelledError("rounds cancelled");

    // Decode the replies; a malformed one fails its node, not the round.
    std::vector<std::vector<float>> values;
    std::vector<double> examples;
    std::vector<std::pair<const fp::MetricRecord*, double>> metrics;
    for (const Reply& r : replies) {
      const fp::RecordDict& content = r.message.content();
      if (const fp::ConfigRecord* who = FindConfig(content, "fleettwin")) {
        if (std::optional<std::string> name = GetString(*who, "asset")) report.names[r.node] = *name;
      }
      const fp::ArrayRecord* arrays = FindArrays(content, "arrays");
      const fp::MetricRecord* m = FindMetrics(content, "metrics");
      const double n = m ? GetNumber(*m, "num-examples").value_or(-1) : -1;
      std::string why;
      std::vector<float> v;
      if (arrays == nullptr || !(n >= 0) || !std::isfinite(n)) {
        why = "reply lacks arrays or metrics.num-examples";
      } else if (absl::StatusOr<std::vector<NpyArray>> a = FromArrayRecord(*arrays); !a.ok()) {
        why = std::string(a.status().message());
      } else if (auto f = ParameterLayout::Flatten(*a); !f.ok()) {
        why = std::string(f.status().message());
      } else if (!(f->first == layout)) {
        why = "reply arrays have another architecture";
      } else {
        v = std::move(f->second);
      }
      if (!why.empty()) {
        report.failed.emplace_back(r.node, why);
        continue;
      }
      values.push_back(std::move(v));
      examples.push_back(n);
      metrics.emplace_back(m, n);
      report.replied.push_back(r.node);
      report.num_examples += n;
    }
    std::sort(report.replied.begin(), report.replied.end());
    const size_t needed = std::max<size_t>(
        1, static_cast<size_t>(std::ceil(options.min_reply_fraction * static_cast<double>(k))));
    if (values.size() >= needed) {
      std::vector<ClientUpdate> updates;
      for (size_t i = 0; i < values.size(); ++i) updates.push_back({values[i], examples[i]});
      AggregateOptions aggregate = options.aggregate;
      aggregate.seed = options.aggregate.seed * 1000003 + static_cast<uint64_t>(round);
      absl::StatusOr<std::vector<float>> next = Aggregate(global, updates, aggregate);
      if (next.ok()) {
        absl::StatusOr<std::vector<NpyArray>> arrays = layout.Unflatten(*next);
        if (!arrays.ok()) return arrays.status();
        global = std::move(*next);
        model = std::move(*arrays);
        report.aggregated = true;
        report.train_metrics = WeightedMetrics(metrics);
      } else {
        report.failed.emplace_back(0, absl::StrCat("aggregation: ", std::string(next.status().message())));
      }
    }
    absl::StatusOr<std::string> id = ArrayRecordObjectId(ToArrayRecord(model));
    if (!id.ok()) return id.status();
    report.model_id = *id;

    if (options.evaluate && report.aggregated) {
      const fp::RecordDict eval =
          RequestContent(model, Config(round, options, false), false, options.legacy_content);
      RoundReport eval_report;
      std::vector<Reply> evals =
          Exchange(server, report.replied, "evaluate", eval, round, options, &eval_report, cancel);
      if (options.legacy_content) {
        for (Reply& r : evals) *r.message.mutable_content() = FromLegacy(r.message.content(), false);
      }
      std::vector<std::pair<const fp::MetricRecord*, double>> eval_metrics;
      for (const Reply& r : evals) {
        const fp::MetricRecord* m = FindMetrics(r.message.content(), "metrics");
        const double n = m ? GetNumber(*m, "num-examples").value_or(0) : 0;
        if (n > 0 && std::isfinite(n)) eval_metrics.emplace_back(m, n);
      }
      report.eval_metrics = WeightedMetrics(eval_metrics);
      for (auto& f : eval_report.failed) {
        report.failed.emplace_back(f.first, absl::StrCat("evaluate: ", f.second));
      }
    }
    report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (on_round) on_round(report);
    reports.push_back(std::move(report));
    if (Cancelled(cancel)) return absl::CancelledError("rounds cancelled");
  }
  return reports;
}

}  // namespace fleettwin::federated
