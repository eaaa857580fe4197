#include "fleettwin/model/rul_model.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "rul_model_impl.h"
#include "window_features.h"

namespace fleettwin::model {
namespace {

// Standard normal CDF.
double Phi(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

NpyArray ToNpy(const Eigen::MatrixXf& m) {
  std::vector<float> values(static_cast<size_t>(m.size()));
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    for (Eigen::Index j = 0; j < m.cols(); ++j) values[static_cast<size_t>(i * m.cols() + j)] = m(i, j);
  }
  return MakeNpy<float>({m.rows(), m.cols()}, values);
}

NpyArray ToNpy(const Eigen::VectorXf& v) {
  return MakeNpy<float>({v.size()}, absl::Span<const float>(v.data(), static_cast<size_t>(v.size())));
}

bool AllFinite(const std::vector<double>& v) {
  for (double x : v) {
    if (!std::isfinite(x)) return false;
  }
  return true;
}

}  // namespace

absl::Status ValidateSpec(const ModelSpec& s) {
  auto bad = [](std::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("model spec: ", absl::string_view(what.data(), what.size())));
  };
  if (s.channels.empty() || s.channels.size() > 1024) return bad("1 to 1024 channels");
  for (size_t i = 0; i < s.channels.size(); ++i) {
    if (s.channels[i].empty()) return bad("empty channel name");
    for (size_t j = 0; j < i; ++j) {
      if (s.channels[i] == s.channels[j]) return bad("duplicate channel name");
    }
  }
  if (s.window < 1 || s.window > 10000) return bad("window must be 1..10000");
  if (s.features.blocks < 1 || s.features.blocks > s.window) return bad("blocks must be 1..window");
  if (s.features.ewma.size() > 8) return bad("at most 8 EWMA factors");
  for (double a : s.features.ewma) {
    if (!(a > 0 && a <= 1)) return bad("EWMA factors must be in (0, 1]");
  }
  if (s.input_norm.mean.size() != s.channels.size() ||
      s.input_norm.std.size() != s.channels.size()) {
    return bad("input normalisation does not match the channels");
  }
  const size_t features =
      static_cast<size_t>(FeatureCount(s.window, static_cast<int>(s.channels.size()), s.features));
  if (s.feature_mean.size() != features || s.feature_std.size() != features) {
    return bad("feature normalisation does not match the channels and features");
  }
  if (!AllFinite(s.input_norm.mean) || !AllFinite(s.input_norm.std) ||
      !AllFinite(s.feature_mean) || !AllFinite(s.feature_std)) {
    return bad("non-finite normalisation");
  }
  for (double d : s.input_norm.std) {
    if (d <= 0) return bad("normalisation std must be positive");
  }
  for (double d : s.feature_std) {
    if (d <= 0) return bad("normalisation std must be positive");
  }
  if (s.layers.size() < 2 || s.layers.size() > 8) return bad("2 to 8 layer widths");
  if (s.layers.front() != static_cast<int>(features)) return bad("input width != feature count");
  if (s.layers.back() != 1) return bad("output width must be 1");
  for (int w : s.layers) {
    if (w < 1 || w > 4096) return bad("layer widths must be 1..4096");
  }
  if (s.members < 1 || s.members > 64) return bad("1 to 64 ensemble members");
  int64_t weights = 0;
  for (size_t l = 0; l + 1 < s.layers.size(); ++l) {
    weights += int64_t{s.layers[l] + 1} * s.layers[l + 1];
  }
  if (weights * s.members > (int64_t{1} << 24)) return bad("more than 2^24 parameters");
  if (!(s.rul_cap > 0 && s.rul_cap < 1e6)) return bad("rul_cap must be in (0, 1e6)");
  if (!std::isfinite(s.sigma_a) || !std::isfinite(s.sigma_b)) return bad("non-finite sigma");
  return absl::OkStatus();
}

void ModelFeatures(const ModelSpec& spec, const std::vector<std::vector<double>>& rows,
                   size_t end, double age, float* out) {
  const int w = spec.window, c = static_cast<int>(spec.channels.size());
  std::vector<double> window(static_cast<size_t>(w * c));
  const long first = static_cast<long>(end) - w + 1;
  for (int t = 0; t < w; ++t) {
    const std::vector<double>& row = rows[static_cast<size_t>(std::max(0L, first + t))];
    for (int k = 0; k < c; ++k) {
      window[static_cast<size_t>(t * c + k)] =
          (row[static_cast<size_t>(k)] - spec.input_norm.mean[k]) / spec.input_norm.std[k];
    }
  }
  WindowFeatures(window.data(), w, c, spec.features, age, out);
  for (size_t i = 0; i < spec.feature_mean.size(); ++i) {
    out[i] = static_cast<float>((out[i] - spec.feature_mean[i]) / spec.feature_std[i]);
  }
}

RulModel::RulModel() : impl_(std::make_unique<Impl>()) {}
RulModel::RulModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RulModel::~RulModel() = default;
RulModel::RulModel(const RulModel& other) : impl_(std::make_unique<Impl>(*other.impl_)) {}
RulModel& RulModel::operator=(const RulModel& other) {
  if (this != &other) impl_ = std::make_unique<Impl>(*other.impl_);
  return *this;
}
RulModel::RulModel(RulModel&&) noexcept = default;
RulModel& RulModel::operator=(RulModel&&) noexcept = default;

absl::StatusOr<RulPrediction> RulModel::Predict(const std::vector<std::vector<double>>& rows,
                                                double age) const {
  return Predict(rows, age, impl_->horizon);
}

absl::StatusOr<RulPrediction> RulModel::Predict(const std::vector<std::vector<double>>& rows,
                                                double age, int horizon) const {
  const ModelSpec& spec = impl_->spec;
  if (impl_->members.empty()) return absl::FailedPreconditionError("model has no parameters");
  if (rows.empty()) return absl::InvalidArgumentError("Predict needs at least one row");
  if (!std::isfinite(age) || age < 0) {
    return absl::InvalidArgumentError("Predict: the age must be a finite number of cycles >= 0");
  }
  const size_t first = rows.size() > static_cast<size_t>(spec.window) ? rows.size() - spec.window : 0;
  for (size_t i = first; i < rows.size(); ++i) {
    if (rows[i].size() != spec.channels.size()) {
      return absl::InvalidArgumentError(absl::StrCat("row has ", rows[i].size(), " values, expected ",
                                                     spec.channels.size()));
    }
    for (size_t k = 0; k < rows[i].size(); ++k) {
      if (!std::isfinite(rows[i][k])) {
        return absl::InvalidArgumentError(
            absl::StrCat("non-finite value for channel ", spec.channels[k]));
      }
    }
  }
  Eigen::VectorXf x(spec.layers.front());
  ModelFeatures(spec, rows, rows.size() - 1, age, x.data());
  std::vector<Eigen::VectorXf> scratch;
  double sum = 0;
  for (const Mlp& net : impl_->members) sum += net.Forward(x, scratch);
  const double rul = std::clamp(sum / impl_->members.size() * spec.rul_cap, 0.0, spec.rul_cap);
  RulPrediction p;
  p.rul = rul;
  p.rul_std = std::max(kMinSigma, spec.sigma_a + spec.sigma_b * rul);
  p.horizon = horizon;
  // Failure within H cycles: the true RUL is at most H.
  p.p_fail = Phi((horizon - rul) / p.rul_std);
  return p;
}

absl::StatusOr<std::vector<double>> RulModel::PredictLast(const Dataset& units) const {
  absl::StatusOr<Dataset> selected = SelectChannels(units, impl_->spec.channels);
  if (!selected.ok()) return selected.status();
  std::vector<double> out;
  for (const UnitSeries& u : selected->units) {
    // A unit's rows run from its first cycle (ReadCmapss checks), so its age is their count.
    absl::StatusOr<RulPrediction> p = Predict(u.rows, static_cast<double>(u.rows.size()));
    if (!p.ok()) return p.status();
    out.push_back(p->rul);
  }
  return out;
}

const std::vector<std::string>& RulModel::input_channels() const { return impl_->spec.channels; }
int RulModel::window() const { return impl_->spec.window; }
bool RulModel::uses_age() const { return impl_->spec.features.age; }
double RulModel::rul_cap() const { return impl_->spec.rul_cap; }
int RulModel::horizon() const { return impl_->horizon; }
void RulModel::set_horizon(int horizon) { impl_->horizon = horizon; }

std::vector<NpyArray> RulModel::parameters() const {
  std::vector<NpyArray> out;
  for (const Mlp& net : impl_->members) {
    for (size_t l = 0; l < net.w.size(); ++l) {
      out.push_back(ToNpy(net.w[l]));
      out.push_back(ToNpy(net.b[l]));
    }
  }
  return out;
}

absl::Status RulModel::SetParameters(const std::vector<NpyArray>& parameters) {
  const std::vector<NpyArray> current = this->parameters();
  if (parameters.size() != current.size()) {
    return absl::InvalidArgumentError(absl::StrCat("expected ", current.size(), " parameter arrays, got ",
                                                   parameters.size()));
  }
  std::vector<std::vector<float>> values;
  for (size_t i = 0; i < parameters.size(); ++i) {
    if (parameters[i].dtype != NpyArray::Dtype::kFloat32 ||
        parameters[i].shape != current[i].shape) {
      return absl::InvalidArgumentError(absl::StrCat("parameter ", i, " is not float32 of the shape ",
                                                     current[i].shape.size() == 2 ? "(out, in)" : "(out,)",
                                                     " the architecture needs"));
    }
    absl::StatusOr<std::vector<float>> v = NpyValues<float>(parameters[i]);
    if (!v.ok()) return v.status();
    for (float f : *v) {
      if (!std::isfinite(f)) {
        return absl::InvalidArgumentError(absl::StrCat("parameter ", i, " holds a non-finite value"));
      }
    }
    values.push_back(std::move(*v));
  }
  size_t i = 0;
  for (Mlp& net : impl_->members) {
    for (size_t l = 0; l < net.w.size(); ++l) {
      const std::vector<float>& w = values[i++];
      for (Eigen::Index r = 0; r < net.w[l].rows(); ++r) {
        for (Eigen::Index c = 0; c < net.w[l].cols(); ++c) {
          net.w[l](r, c) = w[static_cast<size_t>(r * net.w[l].cols() + c)];
        }
      }
      const std::vector<float>& b = values[i++];
      for (Eigen::Index r = 0; r < net.b[l].size(); ++r) net.b[l](r) = b[static_cast<size_t>(r)];
    }
  }
  return absl::OkStatus();
}

std::pair<double, double> RulModel::uncertainty() const {
  return {impl_->spec.sigma_a, impl_->spec.sigma_b};
}

absl::Status RulModel::SetUncertainty(double a, double b) {
  if (!std::isfinite(a) || !std::isfinite(b)) {
    return absl::InvalidArgumentError("uncertainty: a and b must be finite");
  }
  impl_->spec.sigma_a = a;
  impl_->spec.sigma_b = b;
  return absl::OkStatus();
}

std::string RulModel::Describe() const {
  const ModelSpec& s = impl_->spec;
  std::string layers;
  for (size_t i = 0; i < s.layers.size(); ++i) absl::StrAppend(&layers, i ? "-" : "", s.layers[i]);
  return absl::StrCat("mlp-ensemble ", s.members, "x[", layers, "], ", s.channels.size(),
                      " channels, window ", s.window, ", rul cap ", s.rul_cap);
}

absl::StatusOr<Evaluation> Evaluate(const RulModel& model, const Dataset& test,
                                    const std::vector<double>& true_rul) {
  if (test.units.size() != true_rul.size() || test.units.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(test.units.size(), " test units but ",
                                                   true_rul.size(), " true RUL values"));
  }
  absl::StatusOr<std::vector<double>> predicted = model.PredictLast(test);
  if (!predicted.ok()) return predicted.status();
  Evaluation e;
  e.predicted = std::move(*predicted);
  e.truth = true_rul;
  e.rmse = Rmse(e.predicted, e.truth);
  e.phm_score = PhmScore(e.predicted, e.truth);
  return e;
}

}  // namespace fleettwin::model
