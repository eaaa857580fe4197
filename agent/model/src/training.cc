// Train() and TrainFrom(): windows and features of the training units, the validation split
// by whole units, the ensemble's members trained on parallel threads and the uncertainty fit.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "absl/strings/str_cat.h"
#include "fleettwin/model/rul_model.h"
#include "fleettwin/model/shared_start.h"
#include "rul_model_impl.h"
#include "window_features.h"

namespace fleettwin::model {
namespace {

// Every training window as a feature column with its target (RUL / cap).
struct Windows {
  Eigen::MatrixXf x;
  Eigen::RowVectorXf y;
  std::vector<int> unit;  // Index into the dataset's units.
};

// Full windows end at rows window-1 .. n-1; a unit shorter than the window contributes its
// last (padded) window, as evaluation does.
Windows MakeWindows(const ModelSpec& spec, const Dataset& data) {
  size_t count = 0;
  for (const UnitSeries& u : data.units) {
    count += u.rows.size() >= static_cast<size_t>(spec.window) ? u.rows.size() - spec.window + 1
                                                                 : (u.rows.empty() ? 0 : 1);
  }
  Windows w;
  w.x.resize(spec.layers.front(), static_cast<Eigen::Index>(count));
  w.y.resize(static_cast<Eigen::Index>(count));
  Eigen::Index col = 0;
  for (size_t k = 0; k < data.units.size(); ++k) {
    const std::vector<std::vector<double>>& rows = data.units[k].rows;
    if (rows.empty()) continue;
    const std::vector<double> target = CappedRul(rows.size(), spec.rul_cap);
    const size_t first = rows.size() >= static_cast<size_t>(spec.window) ? spec.window - 1
                                                                         : rows.size() - 1;
    for (size_t end = first; end < rows.size(); ++end, ++col) {
      // Rows are consecutive cycles from the unit's first (ReadCmapss checks), so the age at
      // row `end` is end + 1 cycles.
      ModelFeatures(spec, rows, end, static_cast<double>(end + 1), w.x.col(col).data());
      w.y(col) = static_cast<float>(target[end] / spec.rul_cap);
      w.unit.push_back(static_cast<int>(k));
    }
  }
  return w;
}

Eigen::MatrixXf Columns(const Eigen::MatrixXf& m, const std::vector<Eigen::Index>& cols) {
  Eigen::MatrixXf out(m.rows(), static_cast<Eigen::Index>(cols.size()));
  for (size_t j = 0; j < cols.size(); ++j) out.col(static_cast<Eigen::Index>(j)) = m.col(cols[j]);
  return out;
}

Eigen::RowVectorXf Entries(const Eigen::RowVectorXf& v, const std::vector<Eigen::Index>& cols) {
  Eigen::RowVectorXf out(static_cast<Eigen::Index>(cols.size()));
  for (size_t j = 0; j < cols.size(); ++j) out(static_cast<Eigen::Index>(j)) = v(cols[j]);
  return out;
}

struct MemberOutcome {
  FitResult fit;
  std::vector<double> val_pred, val_truth;  // In cycles.
  double baseline_sq = 0;                   // Sum of squared errors of the mean predictor.
};

MemberOutcome TrainMember(const Mlp& start, bool random_start, const ModelSpec& spec,
                          const Windows& w, size_t units, const TrainOptions& options, int k) {
  std::mt19937_64 rng(MixSeed(options.seed, static_cast<uint64_t>(k)));
  std::vector<int> order(units);
  for (size_t i = 0; i < units; ++i) order[i] = static_cast<int>(i);
  Shuffle(order, rng);
  size_t n_val = 0;
  if (options.validation_fraction > 0) {
    n_val = std::clamp<size_t>(
        static_cast<size_t>(std::lround(options.validation_fraction * static_cast<double>(units))),
        1, units - 1);
  }
  std::vector<bool> is_val(units, false);
  for (size_t i = 0; i < n_val; ++i) is_val[static_cast<size_t>(order[i])] = true;
  std::vector<Eigen::Index> train_cols, val_cols;
  for (Eigen::Index c = 0; c < w.x.cols(); ++c) {
    (is_val[static_cast<size_t>(w.unit[static_cast<size_t>(c)])] ? val_cols : train_cols)
        .push_back(c);
  }
  const Eigen::MatrixXf x = Columns(w.x, train_cols), x_val = Columns(w.x, val_cols);
  const Eigen::RowVectorXf y = Entries(w.y, train_cols), y_val = Entries(w.y, val_cols);

  const Mlp init = random_start ? Mlp::Random(spec.layers, rng) : start;
  FitOptions fit;
  fit.max_epochs = options.max_epochs;
  fit.patience = options.patience;
  fit.batch_size = options.batch_size;
  fit.learning_rate = static_cast<float>(options.learning_rate);
  fit.weight_decay = static_cast<float>(options.weight_decay);
  fit.prox_mu = static_cast<float>(options.prox_mu);
  fit.input_noise = static_cast<float>(options.input_noise);
  fit.output_scale = static_cast<float>(spec.rul_cap);
  MemberOutcome out;
  out.fit = Fit(init, x, y, x_val, y_val, fit, rng);
  if (x_val.cols() > 0) {
    const Eigen::RowVectorXf pred = out.fit.net.Forward(x_val);
    const double mean = y.size() > 0 ? y.cast<double>().mean() : 0.0;
    for (Eigen::Index i = 0; i < pred.size(); ++i) {
      out.val_pred.push_back(std::clamp(double{pred(i)}, 0.0, 1.0) * spec.rul_cap);
      out.val_truth.push_back(double{y_val(i)} * spec.rul_cap);
      out.baseline_sq += std::pow((mean - y_val(i)) * spec.rul_cap, 2);
    }
  }
  return out;
}

absl::Status CheckOptions(const TrainOptions& o) {
  if (o.window < 1 || o.window > 10000 || o.feature_blocks < 1 || !(o.rul_cap > 0) ||
      o.horizon < 0 ||
      o.ensemble < 1 || o.ensemble > 64 || o.max_epochs < 0 || o.patience < 0 ||
      o.batch_size < 1 || !(o.learning_rate > 0) || o.weight_decay < 0 ||
      !(o.validation_fraction >= 0 && o.validation_fraction < 1) || o.threads < 1 ||
      o.prox_mu < 0 || !(o.input_noise >= 0 && o.input_noise < 10) || o.hidden.size() > 6 ||
      o.feature_ewma.size() > 8) {
    return absl::InvalidArgumentError("train: an option is out of range");
  }
  for (double a : o.feature_ewma) {
    if (!(a > 0 && a <= 1)) return absl::InvalidArgumentError("train: EWMA factors in (0, 1]");
  }
  for (int h : o.hidden) {
    if (h < 1 || h > 4096) return absl::InvalidArgumentError("train: hidden widths 1..4096");
  }
  return absl::OkStatus();
}

// Trains impl->members (used as starting points unless `random_start`) on `selected`, whose
// channels are impl->spec.channels, and fits the uncertainty.
absl::Status TrainMembers(RulModel::Impl& impl, bool random_start, const Dataset& selected,
                          const TrainOptions& options, TrainReport* report) {
  const auto started = std::chrono::steady_clock::now();
  if (selected.units.size() < 2 && options.validation_fraction > 0) {
    return absl::InvalidArgumentError("train: need at least 2 units for a validation split");
  }
  if (selected.units.empty()) return absl::InvalidArgumentError("train: no units");
  const ModelSpec& spec = impl.spec;
  const Windows windows = MakeWindows(spec, selected);
  std::vector<MemberOutcome> outcomes(static_cast<size_t>(spec.members));
  // Each member's result depends only on its index, never on which thread ran it.
  const int threads = std::min(options.threads, spec.members);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int k = t; k < spec.members; k += threads) {
        outcomes[static_cast<size_t>(k)] =
            TrainMember(random_start ? Mlp{} : impl.members[static_cast<size_t>(k)], random_start,
                        spec, windows, selected.units.size(), options, k);
      }
    });
  }
  for (std::thread& th : pool) th.join();

  TrainReport r;
  std::vector<double> pred, truth;
  double baseline_sq = 0;
  impl.members.clear();
  for (MemberOutcome& o : outcomes) {
    impl.members.push_back(std::move(o.fit.net));
    r.epochs_run = std::max(r.epochs_run, o.fit.epochs);
    r.validation_rmse += o.fit.validation_rmse / spec.members;
    pred.insert(pred.end(), o.val_pred.begin(), o.val_pred.end());
    truth.insert(truth.end(), o.val_truth.begin(), o.val_truth.end());
    baseline_sq += o.baseline_sq;
  }
  if (!pred.empty()) {
    r.baseline_rmse = std::sqrt(baseline_sq / static_cast<double>(pred.size()));
    // Least squares of |residual| on the estimate; for a Gaussian E|e| = sigma * sqrt(2/pi).
    double sp = 0, se = 0, spp = 0, spe = 0;
    const double n = static_cast<double>(pred.size());
    for (size_t i = 0; i < pred.size(); ++i) {
      const double e = std::abs(pred[i] - truth[i]);
      sp += pred[i];
      se += e;
      spp += pred[i] * pred[i];
      spe += pred[i] * e;
    }
    const double var = spp - sp * sp / n;
    const double b = var > 1e-9 ? (spe - sp * se / n) / var : 0.0;
    const double a = (se - b * sp) / n;
    const double scale = std::sqrt(M_PI / 2);
    impl.spec.sigma_a = a * scale;
    impl.spec.sigma_b = b * scale;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  impl.training.seed = options.seed;
  impl.training.units = static_cast<int>(selected.units.size());
  impl.training.windows = static_cast<int>(windows.x.cols());
  impl.training.epochs = r.epochs_run;
  impl.training.validation_rmse = r.validation_rmse;
  impl.training.seconds = r.seconds;
  impl.training.prox_mu = options.prox_mu;
  impl.training.from_start = !random_start;
  if (report != nullptr) *report = r;
  return absl::OkStatus();
}

}  // namespace

namespace {

std::vector<std::string> Candidates(const TrainOptions& options) {
  std::vector<std::string> candidates = options.candidate_channels;
  if (candidates.empty()) {
    for (int i = 1; i <= 21; ++i) candidates.push_back(absl::StrCat("s", i));
  }
  return candidates;
}

// The spec from a channel summary: varying channels, input normalisation, features and
// layers; the feature normalisation is the identity until SetFeatureStats.
absl::StatusOr<ModelSpec> SpecFromSummary(const ChannelSummary& total, const TrainOptions& options) {
  if (absl::Status s = CheckOptions(options); !s.ok()) return s;
  ModelSpec spec;
  spec.channels = VaryingChannels(total);
  if (spec.channels.empty()) return absl::InvalidArgumentError("train: no informative channel");
  for (const std::string& name : spec.channels) {
    const size_t c = static_cast<size_t>(
        std::find(total.channels.begin(), total.channels.end(), name) - total.channels.begin());
    ChannelSummary one{{name}, {total.count[c]}, {total.mean[c]}, {total.m2[c]}, {total.step[c]}};
    const ZScore z = ZScoreOf(one);
    spec.input_norm.mean.push_back(z.mean[0]);
    spec.input_norm.std.push_back(z.std[0]);
  }
  spec.window = options.window;
  spec.features.blocks = std::min(options.feature_blocks, options.window);
  spec.features.std = options.feature_std;
  spec.features.ewma = options.feature_ewma;
  spec.features.raw = options.feature_raw;
  spec.features.age = options.feature_age;
  spec.rul_cap = options.rul_cap;
  spec.members = options.ensemble;
  const int features =
      FeatureCount(spec.window, static_cast<int>(spec.channels.size()), spec.features);
  spec.layers = {features};
  spec.layers.insert(spec.layers.end(), options.hidden.begin(), options.hidden.end());
  spec.layers.push_back(1);
  spec.feature_mean.assign(static_cast<size_t>(features), 0.0);
  spec.feature_std.assign(static_cast<size_t>(features), 1.0);
  return spec;
}

// Statistics of the raw features of `selected`'s windows under `spec` (whose feature
// normalisation must be the identity).
FeatureSummary FeatureStats(const ModelSpec& spec, const Dataset& selected) {
  const Windows raw = MakeWindows(spec, selected);
  FeatureSummary out;
  for (Eigen::Index f = 0; f < raw.x.rows(); ++f) {
    const Eigen::ArrayXd row = raw.x.row(f).cast<double>().transpose().array();
    const double mean = raw.x.cols() > 0 ? row.mean() : 0.0;
    out.count.push_back(static_cast<double>(raw.x.cols()));
    out.mean.push_back(mean);
    out.m2.push_back(raw.x.cols() > 0 ? (row - mean).square().sum() : 0.0);
  }
  return out;
}

absl::Status SetFeatureStats(ModelSpec& spec, const FeatureSummary& total) {
  const size_t n = static_cast<size_t>(spec.layers.front());
  if (total.count.size() != n || total.mean.size() != n || total.m2.size() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("feature summary of ", total.count.size(), " features, expected ", n));
  }
  std::vector<double> mean(n), std(n);
  for (size_t f = 0; f < n; ++f) {
    if (!(total.count[f] > 0) || !std::isfinite(total.mean[f]) || !std::isfinite(total.m2[f])) {
      return absl::InvalidArgumentError("feature summary: empty or non-finite entry");
    }
    mean[f] = total.mean[f];
    std[f] = std::max(std::sqrt(total.m2[f] / total.count[f]), 1e-6);
  }
  spec.feature_mean = std::move(mean);
  spec.feature_std = std::move(std);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RulModel> Train(const Dataset& train, const TrainOptions& options,
                               TrainReport* report) {
  absl::StatusOr<ModelSpec> spec = SpecFromSummary(SummarizeChannels(train, Candidates(options)),
                                                   options);
  if (!spec.ok()) return spec.status();
  absl::StatusOr<Dataset> selected = SelectChannels(train, spec->channels);
  if (!selected.ok()) return selected.status();
  if (absl::Status s = SetFeatureStats(*spec, FeatureStats(*spec, *selected)); !s.ok()) return s;
  auto impl = std::make_unique<RulModel::Impl>();
  impl->spec = std::move(*spec);
  impl->horizon = options.horizon;
  if (absl::Status s = ValidateSpec(impl->spec); !s.ok()) return s;
  if (absl::Status s = TrainMembers(*impl, true, *selected, options, report); !s.ok()) return s;
  return RulModel(std::move(impl));
}

absl::StatusOr<RulModel> StartFromSummary(const ChannelSummary& total, const TrainOptions& options) {
  absl::StatusOr<ModelSpec> spec = SpecFromSummary(total, options);
  if (!spec.ok()) return spec.status();
  auto impl = std::make_unique<RulModel::Impl>();
  impl->spec = std::move(*spec);
  impl->horizon = options.horizon;
  if (absl::Status s = ValidateSpec(impl->spec); !s.ok()) return s;
  for (int k = 0; k < impl->spec.members; ++k) {
    // Streams apart from TrainMember's (k), so a shared start is not Train's first draw.
    std::mt19937_64 rng(MixSeed(options.seed, 0x5EED0000u + static_cast<uint64_t>(k)));
    impl->members.push_back(Mlp::Random(impl->spec.layers, rng));
  }
  impl->training.seed = options.seed;
  return RulModel(std::move(impl));
}

absl::StatusOr<FeatureSummary> RulModel::SummarizeFeatures(const Dataset& data) const {
  absl::StatusOr<Dataset> selected = SelectChannels(data, impl_->spec.channels);
  if (!selected.ok()) return selected.status();
  ModelSpec raw = impl_->spec;
  std::fill(raw.feature_mean.begin(), raw.feature_mean.end(), 0.0);
  std::fill(raw.feature_std.begin(), raw.feature_std.end(), 1.0);
  return FeatureStats(raw, *selected);
}

absl::Status RulModel::SetFeatureNormalization(const FeatureSummary& total) {
  return SetFeatureStats(impl_->spec, total);
}

absl::StatusOr<RulModel> TrainFrom(const RulModel& start, const Dataset& train,
                                   const TrainOptions& options, TrainReport* report) {
  if (absl::Status s = CheckOptions(options); !s.ok()) return s;
  absl::StatusOr<Dataset> selected = SelectChannels(train, start.input_channels());
  if (!selected.ok()) return selected.status();
  auto impl = std::make_unique<RulModel::Impl>(*start.impl_);
  if (absl::Status s = TrainMembers(*impl, false, *selected, options, report); !s.ok()) return s;
  return RulModel(std::move(impl));
}

}  // namespace fleettwin::model
