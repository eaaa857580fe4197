// Aggregation strategies of a federated round: how the server turns the parameter updates
// its nodes send back into the next global model (docs/federated.md).
//
//   FedAvg        the mean weighted by each node's number of training examples.
//   FedProx       the same aggregation; the difference is on the nodes, which train with the
//                 proximal term mu/2 * ||w - w_global||^2 (the server sends `proximal-mu`).
//   median        the coordinate-wise median (unweighted): robust to < 50 % faulty nodes.
//   trimmed-mean  per coordinate, the mean after dropping the floor(trim * n) smallest and
//                 largest values (unweighted): robust to < trim faulty nodes.
//
// Central differential privacy (optional, any strategy): each update's difference to the
// global model is clipped to L2 norm `clip_norm`, the clipped differences are averaged
// unweighted, and Gaussian noise of standard deviation noise_multiplier * clip_norm / n is
// added to every coordinate of the average (DP-FedAvg with fixed weights). The noise
// multiplier is reported so that a round's ledger entry records it. Noise is refused with median
// and trimmed mean (their sensitivity is not the mean's). No privacy accountant is kept: the
// (epsilon, delta) over many rounds is for the operator to work out from the ledgered
// parameters. The noise seed must be secret in use (the coordinator draws it at random).
//
// Parameters travel as lists of float32 arrays; the strategies work on one flat vector
// (ParameterLayout flattens and restores the list).
#ifndef FLEETTWIN_FEDERATED_STRATEGY_H_
#define FLEETTWIN_FEDERATED_STRATEGY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "fleettwin/common/npy.h"

namespace fleettwin::federated {

enum class Strategy { kFedAvg, kFedProx, kMedian, kTrimmedMean };

// "fedavg", "fedprox", "median", "trimmed-mean".
std::string_view StrategyName(Strategy strategy);
// The inverse (case-sensitive). InvalidArgument names the accepted values.
absl::StatusOr<Strategy> ParseStrategy(std::string_view name);

struct AggregateOptions {
  Strategy strategy = Strategy::kFedAvg;
  double trim_fraction = 0.2;    // trimmed-mean: share cut from each end, in [0, 0.5).
  double clip_norm = 0;          // Central DP clipping bound (L2); 0 = no clipping, no noise.
  double noise_multiplier = 0;   // Central DP noise; REQUIRES clip_norm > 0 when > 0.
  uint64_t seed = 0;             // Of the noise; same seed and inputs -> same result.
  int threads = 2;               // Results do not depend on it.
};

// One node's reply: its parameters (flat) and how many examples it trained on.
struct ClientUpdate {
  absl::Span<const float> values;
  double num_examples = 0;
};

// The next global model from `updates`. `global` (the model the round started from) is
// needed only for clipping; otherwise it may be empty. Errors: InvalidArgument for no
// updates, updates of different lengths (or not global's with clipping), non-finite values,
// FedAvg/FedProx weights that are negative, not finite or all zero, or bad options.
absl::StatusOr<std::vector<float>> Aggregate(absl::Span<const float> global,
                                             absl::Span<const ClientUpdate> updates,
                                             const AggregateOptions& options);

// The shapes of a list of float32 arrays, to flatten it into one vector and back.
struct ParameterLayout {
  std::vector<std::vector<int64_t>> shapes;

  size_t size() const;  // Total number of values.
  // The arrays' values concatenated in order, with their layout. InvalidArgument for an
  // array that is not float32 (named by index) or whose data does not match its shape.
  static absl::StatusOr<std::pair<ParameterLayout, std::vector<float>>> Flatten(
      const std::vector<NpyArray>& arrays);
  // The list back. InvalidArgument if values.size() != size().
  absl::StatusOr<std::vector<NpyArray>> Unflatten(absl::Span<const float> values) const;
  bool operator==(const ParameterLayout&) const = default;
};

}  // namespace fleettwin::federated

#endif  // FLEETTWIN_FEDERATED_STRATEGY_H_
