// The failure model of a run-to-failure asset kind: from the last `window` cycles of a few
// sensors it estimates the remaining useful life (RUL, in cycles, capped like its training
// target), an uncertainty of that estimate and the probability of failure within a horizon of
// H cycles. It is a small ensemble of MLPs over engineered window features, trained with Adam
// on Eigen (float32), deterministic for a seed. Parameters are float32 arrays saved as `.npy`;
// the federated rounds of a later issue exchange them through parameters()/SetParameters()
// and TrainFrom() with a FedProx term. The protocol and the design are in
// docs/failure-model.md. Data loading and metrics are in cmapss.h.
#ifndef FLEETTWIN_MODEL_RUL_MODEL_H_
#define FLEETTWIN_MODEL_RUL_MODEL_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fleettwin/common/npy.h"
#include "fleettwin/model/cmapss.h"
#include "fleettwin/model/shared_start.h"

namespace fleettwin::model {

struct TrainOptions {
  // Channels the model may use; the constant ones (InformativeChannels) are dropped. Empty:
  // s1..s21 (for FD001 the operational settings carry no information).
  std::vector<std::string> candidate_channels;
  int window = 30;         // Cycles per input window.
  int feature_blocks = 3;  // Block means per channel and window (at most `window`).
  bool feature_std = false;  // Adds each channel's standard deviation over the window.
  std::vector<double> feature_ewma;  // Adds each channel's last EWMA value per factor (0, 1].
  bool feature_raw = false;  // Adds the normalised window itself (window x channels values).
  // Adds the asset's age: cycles run at the window's last row (C-MAPSS: the cycle number).
  bool feature_age = true;
  double rul_cap = 125;    // Piecewise-linear target cap, in cycles.
  int horizon = 30;        // H of RulPrediction::p_fail, in cycles.
  std::vector<int> hidden = {64, 32};  // Hidden layer widths of each MLP (ReLU).
  int ensemble = 16;       // MLPs averaged; each holds out different validation units.
  int max_epochs = 150;    // Upper bound on passes over the training windows.
  int patience = 20;       // Early stopping: epochs without validation gain; 0 = run all.
  int batch_size = 64;
  double learning_rate = 1e-3;  // Adam.
  double weight_decay = 3e-4;   // L2 on weights (not biases).
  double input_noise = 0.1;  // Std of Gaussian noise on the standardised training features.
  double validation_fraction = 0.15;  // Whole units per member; 0 = no validation split.
  uint64_t seed = 1;       // Same seed and data -> bit-identical parameters.
  int threads = 2;         // Ensemble members trained in parallel; no effect on results.
  double prox_mu = 0;      // FedProx: adds mu/2 * ||w - w0||^2 (w0 = starting parameters).
};

// What a training run did.
struct TrainReport {
  int epochs_run = 0;          // Longest member's epochs.
  double validation_rmse = 0;  // Mean over members of their best validation RMSE (cycles).
  double baseline_rmse = 0;    // Predicting the mean training target, on the same windows.
  double seconds = 0;          // Wall time.
};

// One estimate for one asset.
struct RulPrediction {
  double rul = 0;      // Remaining useful life in cycles, in [0, cap].
  double rul_std = 0;  // Standard deviation of the estimate (from validation residuals).
  double p_fail = 0;   // P(failure within `horizon` cycles) under N(rul, rul_std^2).
  int horizon = 0;
};

class RulModel;

// Trains a new model on run-to-failure units (each fails right after its last row): chooses
// the channels, fits the normalisation, trains options.ensemble MLPs with early stopping on
// held-out units and fits the uncertainty on their validation residuals. Errors:
// InvalidArgument for bad options, fewer than 2 units, or no informative channel.
absl::StatusOr<RulModel> Train(const Dataset& train, const TrainOptions& options,
                               TrainReport* report = nullptr);

// Continues training from `start`'s parameters with its channels, window, normalisation and
// architecture (the corresponding options are ignored), for options.max_epochs epochs (with
// early stopping if options.patience > 0 and validation_fraction > 0), adding the FedProx
// term options.prox_mu relative to `start`. The uncertainty is refitted when there is a
// validation split. Errors: InvalidArgument if `train` lacks one of start's channels.
absl::StatusOr<RulModel> TrainFrom(const RulModel& start, const Dataset& train,
                                   const TrainOptions& options, TrainReport* report = nullptr);

// A trained model. Immutable after construction except SetParameters/set_horizon; const
// methods are thread-safe. Copyable value.
class RulModel final {
 public:
  RulModel();
  ~RulModel();
  RulModel(const RulModel&);
  RulModel& operator=(const RulModel&);
  RulModel(RulModel&&) noexcept;
  RulModel& operator=(RulModel&&) noexcept;

  // Reads model.json and param_NNN.npy from `dir`. Errors: NotFound (missing files),
  // InvalidArgument/DataLoss for a malformed spec, a parameter of the wrong dtype or shape,
  // a non-finite value, or a stored version that does not match the content.
  static absl::StatusOr<RulModel> Load(const std::filesystem::path& dir);

  // A model from its spec (SpecJson() of a model with the same architecture, e.g. sent by a
  // federation's server) and parameters. Errors: InvalidArgument for a malformed or
  // inconsistent spec, parameters that do not fit it, or a horizon out of range.
  static absl::StatusOr<RulModel> FromSpec(std::string_view spec_json,
                                           const std::vector<NpyArray>& parameters,
                                           int horizon = 30);
  // The spec (channels, window, normalisations, architecture, cap, uncertainty) as compact
  // JSON: what version() hashes apart from the parameters.
  std::string SpecJson() const;

  // Writes model.json and param_000.npy, param_001.npy, ... into `dir` (created if missing).
  // Errors: Unavailable.
  absl::Status Save(const std::filesystem::path& dir) const;

  // The estimate after `rows`, the most recent cycles oldest first, each holding one value per
  // input_channels() in order, for an asset that has run `age` cycles at the last row (since
  // new or since its last renewal; C-MAPSS: the last row's cycle number). Only the last
  // window() rows are used; with fewer, the first row is repeated in front. A model without
  // the age feature (uses_age() false) ignores the value of `age` (it is still checked). The
  // shipped model was trained on ages 30..362 (FD001's training units); far outside that range
  // its estimates are extrapolations. Errors: InvalidArgument for no rows, a row of the wrong
  // size, a non-finite value or an age that is negative or not finite.
  absl::StatusOr<RulPrediction> Predict(const std::vector<std::vector<double>>& rows,
                                        double age) const;
  // As above with a horizon other than horizon(). REQUIRES: horizon >= 0.
  absl::StatusOr<RulPrediction> Predict(const std::vector<std::vector<double>>& rows, double age,
                                        int horizon) const;
  // Before the age existed, the second argument was the horizon; an integer there is refused
  // at compile time so no old call silently passes a horizon as an age.
  absl::StatusOr<RulPrediction> Predict(const std::vector<std::vector<double>>& rows,
                                        int horizon_or_age) const = delete;

  // The estimated RUL after the last row of each unit of `units`, in order (the protocol's
  // test evaluation). `units` may hold more channels; InvalidArgument if it lacks one of
  // input_channels(), or as Predict.
  absl::StatusOr<std::vector<double>> PredictLast(const Dataset& units) const;

  // Sensor names the rows of Predict hold, in order (e.g. "s2", "s3", ...).
  const std::vector<std::string>& input_channels() const;
  int window() const;
  bool uses_age() const;  // Whether Predict's `age` is one of the model's inputs.
  double rul_cap() const;
  int horizon() const;
  void set_horizon(int horizon);  // REQUIRES: horizon >= 0. Not part of version().

  // The learned float32 arrays in a fixed order (per member: weights (out, in) and biases
  // (out,) of each layer). The normalisation is part of the spec, not of these.
  std::vector<NpyArray> parameters() const;
  // Replaces the parameters. InvalidArgument if the count, a dtype or a shape differs from
  // parameters(), or a value is not finite; the model is unchanged then.
  absl::Status SetParameters(const std::vector<NpyArray>& parameters);

  // The statistics of the raw (not yet standardised) features of `data`'s training windows
  // under this model's channels and input normalisation (shared_start.h). InvalidArgument if
  // `data` lacks one of input_channels().
  absl::StatusOr<FeatureSummary> SummarizeFeatures(const Dataset& data) const;
  // Standardises the features with the mean and standard deviation of `total` (a merge of
  // SummarizeFeatures over the federation). InvalidArgument if its size is not the feature
  // count, a count is 0 or a value is not finite; the model is unchanged then.
  absl::Status SetFeatureNormalization(const FeatureSummary& total);

  // The uncertainty rul_std = max(1, a + b * rul) as {a, b}, fitted on validation residuals.
  std::pair<double, double> uncertainty() const;
  // Replaces it (a federation averages its members' fits). InvalidArgument if not finite.
  absl::Status SetUncertainty(double a, double b);

  // Lower-case hex SHA-256 over the spec (channels, window, normalisation, architecture,
  // target cap, uncertainty) and the `.npy` bytes of every parameter; training metadata and
  // the horizon are left out. Stable across Save/Load.
  std::string version() const;

  // A one-line description, e.g. "mlp-ensemble 5x[56-64-32-1], 14 channels, window 30".
  std::string Describe() const;

  struct Impl;  // Opaque outside the library.

 private:
  explicit RulModel(std::unique_ptr<Impl> impl);
  friend absl::StatusOr<RulModel> Train(const Dataset&, const TrainOptions&, TrainReport*);
  friend absl::StatusOr<RulModel> StartFromSummary(const ChannelSummary&, const TrainOptions&);
  friend absl::StatusOr<RulModel> TrainFrom(const RulModel&, const Dataset&, const TrainOptions&,
                                            TrainReport*);
  std::unique_ptr<Impl> impl_;
};

// The standard protocol's evaluation: the estimate after the last cycle of each test unit
// against the true RUL.
struct Evaluation {
  std::vector<double> predicted;
  std::vector<double> truth;
  double rmse = 0;
  double phm_score = 0;
};
// InvalidArgument if the sizes differ or `test` lacks an input channel.
absl::StatusOr<Evaluation> Evaluate(const RulModel& model, const Dataset& test,
                                    const std::vector<double>& true_rul);

}  // namespace fleettwin::model

#endif  // FLEETTWIN_MODEL_RUL_MODEL_H_
