// The inside of RulModel, shared by its inference, persistence and training files.
#ifndef FLEETTWIN_MODEL_SRC_RUL_MODEL_IMPL_H_
#define FLEETTWIN_MODEL_SRC_RUL_MODEL_IMPL_H_

#include <string>
#include <vector>

#include "fleettwin/model/rul_model.h"
#include "fleettwin/model/shared_start.h"
#include "mlp.h"
#include "window_features.h"

namespace fleettwin::model {

// Everything that defines the model's function apart from the network weights; all of it
// goes into version().
struct ModelSpec {
  std::vector<std::string> channels;
  int window = 30;
  FeatureSet features;  // window_features.h.
  ZScore input_norm;
  std::vector<double> feature_mean, feature_std;
  std::vector<int> layers;  // Widths, input first, 1 last.
  int members = 1;
  double rul_cap = 125;
  // rul_std = max(kMinSigma, sigma_a + sigma_b * rul): a Gaussian whose spread grows with the
  // estimate, fitted on validation residuals (docs/failure-model.md).
  double sigma_a = 10, sigma_b = 0;
};

inline constexpr double kMinSigma = 1.0;

// Facts about the training run, saved for people; not part of version().
struct TrainingInfo {
  uint64_t seed = 0;
  int units = 0;
  int windows = 0;
  int epochs = 0;
  double validation_rmse = 0;
  double seconds = 0;
  double prox_mu = 0;
  bool from_start = false;  // TrainFrom rather than Train.
};

struct RulModel::Impl {
  ModelSpec spec;
  std::vector<Mlp> members;
  int horizon = 30;
  TrainingInfo training;
};

// The z-score of every channel of `summary`: its mean, and its standard deviation floored at
// 1e-12 * max(1, |mean|) so that Apply never divides by 0.
ZScore ZScoreOf(const ChannelSummary& summary);

// Checks that `spec` is self-consistent (sizes, ranges, finite numbers); InvalidArgument.
absl::Status ValidateSpec(const ModelSpec& spec);

// The spec as compact JSON with a fixed key order: hashed by version(), saved in model.json.
std::string CanonicalSpecJson(const ModelSpec& spec);

// The standardised features of the window ending at `end` of `rows` (raw channel values);
// `age` is the asset's age in cycles at row `end` (a feature only when spec.features.age).
void ModelFeatures(const ModelSpec& spec, const std::vector<std::vector<double>>& rows,
                   size_t end, double age, float* out);

}  // namespace fleettwin::model

#endif  // FLEETTWIN_MODEL_SRC_RUL_MODEL_IMPL_H_
