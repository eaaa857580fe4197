// Federated rounds on a FleetServer (docs/federated.md). Each round: wait for enough live
// nodes, sample a fraction of them, send each a Message-API `train` message (the global
// arrays, and a config with server-round, local-epochs and, for FedProx, proximal-mu), collect
// replies until all arrived or the deadline passed, aggregate with the strategy if at least
// the minimum share replied (else the model stays and the round is reported as not
// aggregated), and optionally send `evaluate` to the same nodes. A dropped, slow or failing
// node costs the round its reply, never the round; a node that stops being live (no call
// within its liveness window, or unregistered) is given up at once, not at the deadline.
#ifndef FLEETTWIN_FEDERATED_ROUNDS_H_
#define FLEETTWIN_FEDERATED_ROUNDS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "fleettwin/common/npy.h"
#include "fleettwin/federated/fleet_server.h"
#include "fleettwin/federated/strategy.h"
#include "flwr/proto/recorddict.pb.h"

namespace fleettwin::federated {

struct RoundOptions {
  int rounds = 3;
  int first_round = 1;        // Number of the first round (server-round in the config).
  int min_nodes = 2;          // Live nodes needed to start a round; also the least sampled.
  double fraction = 1.0;      // Share of live nodes sampled per round, in (0, 1].
  double min_reply_fraction = 0.5;  // Of the sampled, needed to aggregate, in (0, 1].
  absl::Duration reply_deadline = absl::Minutes(5);  // Per train (and evaluate) phase.
  absl::Duration wait_for_nodes = absl::Minutes(2);  // For min_nodes live nodes.
  AggregateOptions aggregate;
  int local_epochs = 1;
  double proximal_mu = 0.01;  // Sent with FedProx only.
  bool evaluate = false;      // Send `evaluate` after each aggregated round.
  uint64_t seed = 1;          // Of the sampling.
  flwr::proto::ConfigRecord extra_config;  // Appended to every train/evaluate config.
  // Flower's legacy content (what flwr.server.strategy sends): fitins.parameters/config and
  // evaluateins.*, arrays without dtype and shape; replies read from fitres.* / evaluateres.*.
  bool legacy_content = false;
  absl::Duration poll = absl::Milliseconds(20);
};

struct RoundReport {
  int round = 0;
  std::string strategy;
  std::vector<uint64_t> sampled, replied;
  std::vector<std::pair<uint64_t, std::string>> failed;  // Node and why (timeout, error).
  // Names the replies gave (config record "fleettwin", key "asset"), by node.
  std::map<uint64_t, std::string> names;
  bool aggregated = false;     // False: too few replies, the model stayed.
  std::string model_id;        // Object id (SHA-256) of the global ArrayRecord after the round.
  double num_examples = 0;     // Sum over the replies used.
  std::map<std::string, double> train_metrics;  // Example-weighted means of reply metrics.
  std::map<std::string, double> eval_metrics;
  double clip_norm = 0, noise_multiplier = 0;
  double seconds = 0;
};

// Runs options.rounds rounds starting from `model`, which holds the global model after each
// round. `on_round` sees every report as it completes (e.g. to ledger it). `cancel`, when set,
// ends the rounds after the current phase. Errors: InvalidArgument (bad options or model),
// DeadlineExceeded (fewer than min_nodes live nodes within wait_for_nodes), Cancelled.
absl::StatusOr<std::vector<RoundReport>> RunRounds(
    FleetServer& server, std::vector<NpyArray>& model, const RoundOptions& options,
    const std::function<void(const RoundReport&)>& on_round = {},
    const std::atomic<bool>* cancel = nullptr);

}  // namespace fleettwin::federated

#endif  // FLEETTWIN_FEDERATED_ROUNDS_H_
