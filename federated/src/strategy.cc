// The aggregation strategies (strategy.h). Every strategy walks the coordinates in blocks,
// blocks are dealt to threads by index, and all per-block work (including the DP noise,
// seeded by block) depends only on the block, so the result does not depend on `threads`.
#include "fleettwin/federated/strategy.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include "absl/strings/str_cat.h"

namespace fleettwin::federated {
namespace {

constexpr size_t kBlock = 16384;  // Coordinates per block: 64 KiB of floats per update.

uint64_t SplitMix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Runs fn(begin, end) over [0, n) in kBlock pieces on `threads` threads.
template <typename Fn>
void ForBlocks(size_t n, int threads, const Fn& fn) {
  const size_t blocks = (n + kBlock - 1) / kBlock;
  const size_t t_count = std::max<size_t>(1, std::min<size_t>(static_cast<size_t>(threads), blocks));
  auto run = [&](size_t t) {
    for (size_t b = t; b < blocks; b += t_count) fn(b, b * kBlock, std::min(n, (b + 1) * kBlock));
  };
  if (t_count == 1) {
    run(0);
    return;
  }
  std::vector<std::thread> pool;
  for (size_t t = 1; t < t_count; ++t) pool.emplace_back(run, t);
  run(0);
  for (std::thread& th : pool) th.join();
}

// sum_i weight[i] * x_i over the block, into out.
void WeightedSum(absl::Span<const ClientUpdate> updates, const std::vector<float>& weight,
                 size_t begin, size_t end, float* out) {
  std::fill(out + begin, out + end, 0.0f);
  for (size_t i = 0; i < updates.size(); ++i) {
    const float w = weight[i];
    const float* x = updates[i].values.data();
    for (size_t j = begin; j < end; ++j) out[j] += w * x[j];
  }
}

// Coordinate-wise order statistics: the median, or the mean of the values ranked
// [trim, n - trim).
void OrderStatistic(absl::Span<const ClientUpdate> updates, bool median, size_t trim,
                    size_t begin, size_t end, float* out) {
  const size_t n = updates.size();
  constexpr size_t kLanes = 64;
  std::vector<float> buffer(kLanes * n);
  for (size_t j0 = begin; j0 < end; j0 += kLanes) {
    const size_t lanes = std::min(kLanes, end - j0);
    // Gather: column-major by coordinate, so each coordinate's n values are contiguous.
    for (size_t i = 0; i < n; ++i) {
      const float* x = updates[i].values.data() + j0;
      for (size_t l = 0; l < lanes; ++l) buffer[l * n + i] = x[l];
    }
    for (size_t l = 0; l < lanes; ++l) {
      float* v = buffer.data() + l * n;
      if (median) {
        std::nth_element(v, v + n / 2, v + n);
        float m = v[n / 2];
        if (n % 2 == 0) m = 0.5f * (m + *std::max_element(v, v + n / 2));
        out[j0 + l] = m;
      } else {
        if (trim > 0) {
          std::nth_element(v, v + trim, v + n);                 // v[0..trim) are the smallest.
          std::nth_element(v + trim, v + (n - trim), v + n);    // v[n-trim..n) the largest.
        }
        double sum = 0;
        for (size_t k = trim; k < n - trim; ++k) sum += v[k];
        out[j0 + l] = static_cast<float>(sum / static_cast<double>(n - 2 * trim));
      }
    }
  }
}

absl::Status Check(absl::Span<const float> global, absl::Span<const ClientUpdate> updates,
                   const AggregateOptions& o) {
  if (updates.empty()) return absl::InvalidArgumentError("aggregate: no updates");
  if (!(o.trim_fraction >= 0 && o.trim_fraction < 0.5)) {
    return absl::InvalidArgumentError("aggregate: trim fraction must be in [0, 0.5)");
  }
  if (!(o.clip_norm >= 0) || !std::isfinite(o.clip_norm) || !(o.noise_multiplier >= 0) ||
      !std::isfinite(o.noise_multiplier)) {
    return absl::InvalidArgumentError("aggregate: clip norm and noise multiplier must be >= 0");
  }
  if (o.noise_multiplier > 0 && o.clip_norm == 0) {
    return absl::InvalidArgumentError("aggregate: DP noise needs a clip norm");
  }
  if (o.noise_multiplier > 0 && o.strategy != Strategy::kFedAvg && o.strategy != Strategy::kFedProx) {
    // The noise is calibrated to the mean's sensitivity (clip_norm / n); the median's and the
    // trimmed mean's are not that, so no guarantee would hold.
    return absl::InvalidArgumentError("aggregate: DP noise is for fedavg and fedprox only");
  }
  if (o.threads < 1) return absl::InvalidArgumentError("aggregate: threads must be >= 1");
  const size_t n = updates[0].values.size();
  if (o.clip_norm > 0 && global.size() != n) {
    return absl::InvalidArgumentError(absl::StrCat("aggregate: clipping needs the global model of ",
                                                   n, " values, got ", global.size()));
  }
  for (size_t i = 0; i < updates.size(); ++i) {
    if (updates[i].values.size() != n) {
      return absl::InvalidArgumentError(absl::StrCat("aggregate: update ", i, " has ",
                                                     updates[i].values.size(),
                                                     " values, the first has ", n));
    }
  }
  return absl::OkStatus();
}

// False if any value of any update is NaN or infinite (checked in parallel).
bool AllFinite(absl::Span<const ClientUpdate> updates, int threads) {
  const size_t n = updates[0].values.size();
  std::vector<char> bad((n + kBlock - 1) / kBlock, 0);
  ForBlocks(n, threads, [&](size_t b, size_t begin, size_t end) {
    for (const ClientUpdate& u : updates) {
      float acc = 0;  // Any NaN or infinity makes x * 0 NaN.
      for (size_t j = begin; j < end; ++j) acc += u.values[j] * 0.0f;
      if (acc != 0) bad[b] = 1;
    }
  });
  return std::find(bad.begin(), bad.end(), 1) == bad.end();
}

}  // namespace

std::string_view StrategyName(Strategy strategy) {
  switch (strategy) {
    case Strategy::kFedAvg: return "fedavg";
    case Strategy::kFedProx: return "fedprox";
    case Strategy::kMedian: return "median";
    case Strategy::kTrimmedMean: return "trimmed-mean";
  }
  return "?";
}

absl::StatusOr<Strategy> ParseStrategy(std::string_view name) {
  for (Strategy s : {Strategy::kFedAvg, Strategy::kFedProx, Strategy::kMedian,
                     Strategy::kTrimmedMean}) {
    if (StrategyName(s) == name) return s;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown strategy '", std::string(name),
                                                 "' (fedavg, fedprox, median, trimmed-mean)"));
}

absl::StatusOr<std::vector<float>> Aggregate(absl::Span<const float> global,
                                             absl::Span<const ClientUpdate> updates,
                                             const AggregateOptions& options) {
  if (absl::Status s = Check(global, updates, options); !s.ok()) return s;
  const absl::Status not_finite =
      absl::InvalidArgumentError("aggregate: an update holds a non-finite value");
  const size_t n = updates[0].values.size();
  const size_t count = updates.size();

  // With clipping, the strategies run on clipped copies: global + min(1, C / ||x - global||)
  // * (x - global).
  std::vector<std::vector<float>> clipped;
  std::vector<ClientUpdate> clipped_updates;
  if (options.clip_norm > 0) {
    for (const ClientUpdate& u : updates) {
      double sq = 0;
      for (size_t j = 0; j < n; ++j) sq += double(u.values[j] - global[j]) * (u.values[j] - global[j]);
      const double norm = std::sqrt(sq);
      if (!std::isfinite(norm)) return not_finite;
      const float scale = norm > options.clip_norm ? static_cast<float>(options.clip_norm / norm) : 1.0f;
      std::vector<float> c(n);
      for (size_t j = 0; j < n; ++j) c[j] = global[j] + scale * (u.values[j] - global[j]);
      clipped.push_back(std::move(c));
      clipped_updates.push_back({clipped.back(), u.num_examples});
    }
    updates = clipped_updates;
  }

  std::vector<float> out(n);
  switch (options.strategy) {
    case Strategy::kFedAvg:
    case Strategy::kFedProx: {
      std::vector<float> weight(count);
      double total = 0;
      for (size_t i = 0; i < count; ++i) {
        // DP-FedAvg averages with fixed weights: the sensitivity bound needs them.
        const double w = options.clip_norm > 0 ? 1.0 : updates[i].num_examples;
        if (!(w >= 0) || !std::isfinite(w)) {
          return absl::InvalidArgumentError(absl::StrCat(
              "aggregate: update ", i, " reports ", w, " examples (needs a finite count >= 0)"));
        }
        total += w;
      }
      if (!(total > 0)) return absl::InvalidArgumentError("aggregate: no update has examples");
      for (size_t i = 0; i < count; ++i) {
        const double w = options.clip_norm > 0 ? 1.0 : updates[i].num_examples;
        weight[i] = static_cast<float>(w / total);
      }
      ForBlocks(n, options.threads, [&](size_t, size_t begin, size_t end) {
        WeightedSum(updates, weight, begin, end, out.data());
      });
      // A NaN or infinity in any input (even with weight 0) reaches the sum.
      if (!AllFinite({ClientUpdate{out, 1}}, options.threads)) return not_finite;
      break;
    }
    case Strategy::kMedian:
    case Strategy::kTrimmedMean: {
      const bool median = options.strategy == Strategy::kMedian;
      const size_t trim = static_cast<size_t>(std::floor(options.trim_fraction * count));
      // nth_element needs a strict weak order, which NaN breaks: check first.
      if (options.clip_norm == 0 && !AllFinite(updates, options.threads)) return not_finite;
      ForBlocks(n, options.threads, [&](size_t, size_t begin, size_t end) {
        OrderStatistic(updates, median, trim, begin, end, out.data());
      });
      break;
    }
  }

  if (options.noise_multiplier > 0) {
    const double sigma = options.noise_multiplier * options.clip_norm / static_cast<double>(count);
    ForBlocks(n, options.threads, [&](size_t b, size_t begin, size_t end) {
      uint64_t state = SplitMix(options.seed ^ SplitMix(b));
      auto uniform = [&] {  // (0, 1].
        state = SplitMix(state);
        return (static_cast<double>(state >> 11) + 1.0) * 0x1p-53;
      };
      for (size_t j = begin; j < end; ++j) {
        const double z = std::sqrt(-2.0 * std::log(uniform())) * std::cos(6.283185307179586 * uniform());
        out[j] += static_cast<float>(sigma * z);
      }
    });
  }
  return out;
}

size_t ParameterLayout::size() const {
  size_t total = 0;
  for (const std::vector<int64_t>& shape : shapes) {
    size_t n = 1;
    for (int64_t d : shape) n *= static_cast<size_t>(d);
    total += n;
  }
  return total;
}

absl::StatusOr<std::pair<ParameterLayout, std::vector<float>>> ParameterLayout::Flatten(
    const std::vector<NpyArray>& arrays) {
  std::pair<ParameterLayout, std::vector<float>> out;
  for (size_t i = 0; i < arrays.size(); ++i) {
    if (arrays[i].dtype != NpyArray::Dtype::kFloat32) {
      return absl::InvalidArgumentError(absl::StrCat("parameter array ", i, " is ",
                                                     std::string(NpyDescr(arrays[i].dtype)),
                                                     ", expected float32 (<f4)"));
    }
    absl::StatusOr<std::vector<float>> v = NpyValues<float>(arrays[i]);
    if (!v.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("parameter array ", i, ": ", std::string(v.status().message())));
    }
    out.first.shapes.push_back(arrays[i].shape);
    out.second.insert(out.second.end(), v->begin(), v->end());
  }
  return out;
}

absl::StatusOr<std::vector<NpyArray>> ParameterLayout::Unflatten(
    absl::Span<const float> values) const {
  if (values.size() != size()) {
    return absl::InvalidArgumentError(absl::StrCat("expected ", size(), " parameter values, got ",
                                                   values.size()));
  }
  std::vector<NpyArray> out;
  size_t at = 0;
  for (const std::vector<int64_t>& shape : shapes) {
    size_t n = 1;
    for (int64_t d : shape) n *= static_cast<size_t>(d);
    out.push_back(MakeNpy<float>(shape, values.subspan(at, n)));
    at += n;
  }
  return out;
}

}  // namespace fleettwin::federated
