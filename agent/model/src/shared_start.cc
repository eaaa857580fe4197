// Channel and feature summaries for a shared starting model (shared_start.h): computation,
// exact merging, and their float64 `.npy` form for the wire.
#include "fleettwin/model/shared_start.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "rul_model_impl.h"

namespace fleettwin::model {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Chan et al.: the count, mean and m2 of two disjoint parts' union. A part with count 0
// leaves the other unchanged bit for bit.
void MergeMoments(double& n, double& mean, double& m2, double n_b, double mean_b, double m2_b) {
  if (n_b == 0) return;
  if (n == 0) {
    n = n_b;
    mean = mean_b;
    m2 = m2_b;
    return;
  }
  const double total = n + n_b;
  const double delta = mean_b - mean;
  mean += delta * n_b / total;
  m2 += m2_b + delta * delta * n * n_b / total;
  n = total;
}

bool SameSizes(size_t n, std::initializer_list<const std::vector<double>*> vs) {
  for (const std::vector<double>* v : vs) {
    if (v->size() != n) return false;
  }
  return true;
}

// Rows of a float64 (rows, n) array; InvalidArgument otherwise.
absl::StatusOr<std::vector<std::vector<double>>> Rows(const NpyArray& array, int64_t rows,
                                                      const char* what) {
  if (array.dtype != NpyArray::Dtype::kFloat64 || array.shape.size() != 2 ||
      array.shape[0] != rows) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": expected a float64 array of shape (", rows, ", n)"));
  }
  absl::StatusOr<std::vector<double>> v = NpyValues<double>(array);
  if (!v.ok()) return v.status();
  const size_t n = static_cast<size_t>(array.shape[1]);
  std::vector<std::vector<double>> out(static_cast<size_t>(rows));
  for (size_t r = 0; r < out.size(); ++r) {
    out[r].assign(v->begin() + static_cast<long>(r * n), v->begin() + static_cast<long>((r + 1) * n));
  }
  return out;
}

absl::Status CheckMoments(const std::vector<double>& count, const std::vector<double>& mean,
                          const std::vector<double>& m2, const char* what) {
  for (size_t i = 0; i < count.size(); ++i) {
    if (!(std::isfinite(count[i]) && count[i] >= 0 && std::isfinite(mean[i]) &&
          std::isfinite(m2[i]) && m2[i] >= 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": entry ", i, " needs a finite count >= 0, mean and m2 >= 0"));
    }
  }
  return absl::OkStatus();
}

NpyArray StackRows(std::initializer_list<const std::vector<double>*> rows) {
  std::vector<double> flat;
  const size_t n = (*rows.begin())->size();
  for (const std::vector<double>* r : rows) {
    // +infinity does not survive every JSON-ish path; a step of 0 encodes "none".
    for (double x : *r) flat.push_back(std::isinf(x) ? 0.0 : x);
  }
  return MakeNpy<double>({static_cast<int64_t>(rows.size()), static_cast<int64_t>(n)}, flat);
}

}  // namespace

ChannelSummary SummarizeChannels(const Dataset& data, absl::Span<const std::string> candidates) {
  ChannelSummary s;
  s.channels.assign(candidates.begin(), candidates.end());
  for (const std::string& name : candidates) {
    const auto it = std::find(data.channels.begin(), data.channels.end(), name);
    std::vector<double> values;
    if (it != data.channels.end()) {
      const size_t c = static_cast<size_t>(it - data.channels.begin());
      for (const UnitSeries& u : data.units) {
        for (const std::vector<double>& row : u.rows) values.push_back(row[c]);
      }
    }
    double mean = 0;
    for (double v : values) mean += v;
    if (!values.empty()) mean /= static_cast<double>(values.size());
    double m2 = 0;
    for (double v : values) m2 += (v - mean) * (v - mean);
    std::sort(values.begin(), values.end());
    double step = kInf;
    for (size_t i = 1; i < values.size(); ++i) {
      if (values[i] > values[i - 1]) step = std::min(step, values[i] - values[i - 1]);
    }
    s.count.push_back(static_cast<double>(values.size()));
    s.mean.push_back(mean);
    s.m2.push_back(m2);
    s.step.push_back(step);
  }
  return s;
}

ZScore ZScoreOf(const ChannelSummary& summary) {
  ZScore z;
  for (size_t c = 0; c < summary.channels.size(); ++c) {
    const double n = std::max(summary.count[c], 1.0);
    z.mean.push_back(summary.mean[c]);
    z.std.push_back(
        std::max(std::sqrt(summary.m2[c] / n), 1e-12 * std::max(1.0, std::abs(summary.mean[c]))));
  }
  return z;
}

std::vector<std::string> VaryingChannels(const ChannelSummary& summary) {
  std::vector<std::string> kept;
  for (size_t c = 0; c < summary.channels.size(); ++c) {
    if (summary.count[c] < 2) continue;
    // A single distinct value leaves the step infinite: constant.
    if (std::sqrt(summary.m2[c] / summary.count[c]) >= summary.step[c]) {
      kept.push_back(summary.channels[c]);
    }
  }
  return kept;
}

absl::Status ChannelSummary::Merge(const ChannelSummary& other) {
  const size_t n = channels.size();
  if (other.channels != channels || !SameSizes(n, {&count, &mean, &m2, &step}) ||
      !SameSizes(n, {&other.count, &other.mean, &other.m2, &other.step})) {
    return absl::InvalidArgumentError("channel summaries of different channels");
  }
  for (size_t c = 0; c < n; ++c) {
    MergeMoments(count[c], mean[c], m2[c], other.count[c], other.mean[c], other.m2[c]);
    step[c] = std::min(step[c], other.step[c]);
  }
  return absl::OkStatus();
}

NpyArray ChannelSummary::ToNpy() const { return StackRows({&count, &mean, &m2, &step}); }

absl::StatusOr<ChannelSummary> ChannelSummary::FromNpy(absl::Span<const std::string> channels,
                                                       const NpyArray& array) {
  absl::StatusOr<std::vector<std::vector<double>>> rows = Rows(array, 4, "channel summary");
  if (!rows.ok()) return rows.status();
  if ((*rows)[0].size() != channels.size()) {
    return absl::InvalidArgumentError(absl::StrCat("channel summary: ", (*rows)[0].size(),
                                                   " channels, expected ", channels.size()));
  }
  ChannelSummary s{{channels.begin(), channels.end()},
                   (*rows)[0], (*rows)[1], (*rows)[2], (*rows)[3]};
  if (absl::Status st = CheckMoments(s.count, s.mean, s.m2, "channel summary"); !st.ok()) return st;
  for (double& step : s.step) {
    if (!(std::isfinite(step) && step >= 0)) {
      return absl::InvalidArgumentError("channel summary: a step must be finite and >= 0");
    }
    if (step == 0) step = kInf;
  }
  return s;
}

absl::Status FeatureSummary::Merge(const FeatureSummary& other) {
  const size_t n = count.size();
  if (!SameSizes(n, {&mean, &m2, &other.count, &other.mean, &other.m2})) {
    return absl::InvalidArgumentError("feature summaries of different sizes");
  }
  for (size_t f = 0; f < n; ++f) {
    MergeMoments(count[f], mean[f], m2[f], other.count[f], other.mean[f], other.m2[f]);
  }
  return absl::OkStatus();
}

NpyArray FeatureSummary::ToNpy() const { return StackRows({&count, &mean, &m2}); }

absl::StatusOr<FeatureSummary> FeatureSummary::FromNpy(const NpyArray& array) {
  absl::StatusOr<std::vector<std::vector<double>>> rows = Rows(array, 3, "feature summary");
  if (!rows.ok()) return rows.status();
  FeatureSummary s{(*rows)[0], (*rows)[1], (*rows)[2]};
  if (absl::Status st = CheckMoments(s.count, s.mean, s.m2, "feature summary"); !st.ok()) return st;
  return s;
}

}  // namespace fleettwin::model
