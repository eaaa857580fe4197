#include "fleettwin/sim/monte_carlo.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "fleettwin/sim/distributions.h"

namespace fleettwin::sim {

Estimate MeanEstimate(std::span<const double> values, double confidence) {
  Estimate e;
  e.n = values.size();
  if (values.empty()) return e;
  double sum = 0;
  for (double v : values) sum += v;
  e.mean = sum / static_cast<double>(e.n);
  double squares = 0;
  for (double v : values) squares += (v - e.mean) * (v - e.mean);
  e.stddev = e.n > 1 ? std::sqrt(squares / static_cast<double>(e.n - 1)) : 0;
  const double half = e.n > 1
                          ? StudentTQuantile(static_cast<int64_t>(e.n - 1), 0.5 + confidence / 2) *
                                e.stddev / std::sqrt(static_cast<double>(e.n))
                          : 0;
  e.ci_low = e.mean - half;
  e.ci_high = e.mean + half;
  return e;
}

Estimate ProportionEstimate(std::span<const double> zero_one, double confidence) {
  Estimate e = MeanEstimate(zero_one, confidence);
  if (e.n == 0) return e;
  const double n = static_cast<double>(e.n);
  const double z = NormalQuantile(0.5 + confidence / 2);
  const double z2n = z * z / n;
  const double center = (e.mean + z2n / 2) / (1 + z2n);
  const double half = z / (1 + z2n) * std::sqrt(e.mean * (1 - e.mean) / n + z2n / (4 * n));
  e.ci_low = std::max(0.0, center - half);
  e.ci_high = std::min(1.0, center + half);
  return e;
}

absl::StatusOr<std::vector<Estimate>> RunMonteCarlo(const MonteCarloOptions& options,
                                                    const std::vector<MetricKind>& metrics,
                                                    const Replication& replicate) {
  if (options.replications < 2) {
    return absl::InvalidArgumentError("Monte Carlo needs at least 2 replications");
  }
  if (options.replications > 100'000'000) {
    return absl::InvalidArgumentError("Monte Carlo replications are capped at 100000000");
  }
  if (options.threads < 1 || options.threads > 256) {
    return absl::InvalidArgumentError("Monte Carlo threads must be in [1, 256]");
  }
  if (!(options.confidence > 0 && options.confidence < 1)) {
    return absl::InvalidArgumentError("confidence must be in (0, 1)");
  }
  if (metrics.empty()) return absl::InvalidArgumentError("no metric to estimate");
  const uint64_t k = options.replications;
  const size_t m = metrics.size();
  std::vector<double> values(k * m, 0.0);  // Replication-major.
  std::atomic<uint64_t> next{0};
  std::mutex error_mu;
  uint64_t error_index = std::numeric_limits<uint64_t>::max();
  std::string error_text;
  auto work = [&] {
    constexpr uint64_t kChunk = 16;
    while (true) {
      const uint64_t begin = next.fetch_add(kChunk);
      if (begin >= k) return;
      for (uint64_t i = begin; i < std::min(k, begin + kChunk); ++i) {
        Random rng = Random::Stream(options.seed, i);
        try {
          replicate(i, rng, std::span<double>(values.data() + i * m, m));
        } catch (const std::exception& e) {
          std::lock_guard lock(error_mu);
          if (i < error_index) error_index = i, error_text = e.what();
        } catch (...) {
          std::lock_guard lock(error_mu);
          if (i < error_index) error_index = i, error_text = "unknown exception";
        }
      }
    }
  };
  const int threads = static_cast<int>(std::min<uint64_t>(options.threads, k));
  std::vector<std::thread> workers;
  for (int t = 1; t < threads; ++t) workers.emplace_back(work);
  work();
  for (std::thread& w : workers) w.join();
  if (error_index != std::numeric_limits<uint64_t>::max()) {
    return absl::InternalError(absl::StrCat("replication ", error_index, " failed: ", error_text));
  }
  std::vector<Estimate> estimates;
  std::vector<double> column(k);
  for (size_t j = 0; j < m; ++j) {
    for (uint64_t i = 0; i < k; ++i) column[i] = values[i * m + j];
    estimates.push_back(metrics[j] == MetricKind::kProportion
                            ? ProportionEstimate(column, options.confidence)
                            : MeanEstimate(column, options.confidence));
  }
  return estimates;
}

namespace {

absl::Status CheckConveyor(const ConveyorQuestion& q) {
  const ConveyorParams& p = q.params;
  if (p.capacity < 0 || p.capacity > 1'000'000) {
    return absl::InvalidArgumentError("capacity must be in [0, 1000000]");
  }
  if (!(p.failure_rate >= 0 && p.failure_rate <= 1)) {
    return absl::InvalidArgumentError("failure_rate must be in [0, 1]");
  }
  if (!(p.repair_time > 0 && p.repair_time <= 1e6)) {
    return absl::InvalidArgumentError("repair_time must be in (0, 1e6]");
  }
  if (!(q.horizon > 0 && q.horizon <= 1e7)) {
    return absl::InvalidArgumentError("horizon must be in (0, 1e7]");
  }
  if (!(q.failure_before >= 0 && q.failure_before <= q.horizon)) {
    return absl::InvalidArgumentError("failure_before must be in [0, horizon]");
  }
  if (!(q.failure_rate_shape >= 0 && std::isfinite(q.failure_rate_shape))) {
    return absl::InvalidArgumentError("failure_rate_shape must be >= 0");
  }
  if (q.live && !(q.feed_period > 0 && std::isfinite(q.feed_period))) {
    return absl::InvalidArgumentError("feed_period must be finite and > 0");
  }
  return absl::OkStatus();
}

// The conveyor question's feed from the live twin (ConveyorQuestion::live), one per
// replication: `drawn` is the failure rate this replication drew.
class LiveConveyorFeed final : public ConveyorFeed {
 public:
  LiveConveyorFeed(const ConveyorQuestion& q, float drawn) : q_(q), drawn_(drawn) {}
  void Refresh(double now, ConveyorParams& params) override {
    const ConveyorLive live = q_.live(now);
    if (q_.live_failure_rate && live.failure_rate >= 0 && live.failure_rate <= 1) {
      const float rate = static_cast<float>(live.failure_rate);
      if (rate == q_.params.failure_rate) {
        params.failure_rate = drawn_;
      } else if (q_.params.failure_rate > 0) {
        params.failure_rate = static_cast<float>(
            std::min(1.0, live.failure_rate * (drawn_ / q_.params.failure_rate)));
      } else {
        params.failure_rate = rate;
      }
    }
    if (q_.live_repair_time && live.repair_time > 0 && live.repair_time <= 1e6) {
      params.repair_time = static_cast<float>(live.repair_time);
    }
  }

 private:
  const ConveyorQuestion& q_;
  const float drawn_;
};

absl::Status CheckTurbofan(const TurbofanQuestion& q) {
  const TurbofanParams& p = q.params;
  auto positive = [](double v) { return v > 0 && v <= 1e7; };
  if (!positive(p.rul_mean) || !positive(p.rul_std) || !positive(p.renewed_life_mean) ||
      !positive(p.renewed_life_std)) {
    return absl::InvalidArgumentError("RUL means and standard deviations must be in (0, 1e7]");
  }
  if (!positive(p.maintenance_duration) || !positive(p.repair_duration) || !positive(q.horizon)) {
    return absl::InvalidArgumentError("durations and horizon must be in (0, 1e7]");
  }
  if (p.maintenance_at.has_value() && !(*p.maintenance_at >= 0 && *p.maintenance_at <= 1e7)) {
    return absl::InvalidArgumentError("maintenance_at must be in [0, 1e7]");
  }
  for (double cost : {q.failure_cost, q.preventive_cost, q.wasted_life_cost}) {
    if (!(cost >= 0 && cost <= 1e12)) return absl::InvalidArgumentError("costs must be >= 0");
  }
  if (!(q.failure_before >= 0 && q.failure_before <= 1e7)) {
    return absl::InvalidArgumentError("failure_before must be in [0, 1e7]");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ConveyorAnswer> AskConveyor(const ConveyorQuestion& question,
                                           const MonteCarloOptions& options) {
  if (absl::Status s = CheckConveyor(question); !s.ok()) return s;
  auto estimates = RunMonteCarlo(
      options,
      {MetricKind::kMean, MetricKind::kMean, MetricKind::kMean, MetricKind::kMean,
       MetricKind::kProportion},
      [&question](uint64_t, Random& rng, std::span<double> out) {
        std::optional<LiveConveyorFeed> feed;  // Outlives the simulation that calls it.
        Simulation sim;
        ConveyorBelt belt;
        belt.params = question.params;
        if (question.failure_rate_shape > 0 && question.params.failure_rate > 0) {
          const double shape = question.failure_rate_shape;
          belt.params.failure_rate = static_cast<float>(
              std::min(1.0, rng.Gamma(shape, question.params.failure_rate / shape)));
        }
        sim.Start(RunConveyorBelt(sim, belt, rng));
        if (question.live) {
          feed.emplace(question, belt.params.failure_rate);
          sim.Start(FeedConveyorBelt(sim, belt, *feed, question.feed_period));
        }
        sim.Run(question.horizon);
        sim.RethrowProcessError();  // A model error fails the question (Internal).
        const ConveyorStats& s = belt.stats;
        const double down = s.DownUntil(question.horizon);
        out[0] = down;
        out[1] = s.items;
        out[2] = s.working / question.horizon;
        out[3] = s.failures;
        out[4] = s.first_failure >= 0 && s.first_failure <= question.failure_before ? 1 : 0;
      });
  if (!estimates.ok()) return estimates.status();
  const std::vector<Estimate>& e = *estimates;
  return ConveyorAnswer{e[0], e[1], e[2], e[3], e[4]};
}

namespace {

// One run of the turbofan model over the question's horizon; its outcome and cost.
double RunTurbofanOnce(const TurbofanQuestion& question, const TurbofanParams& params, Random& rng,
                       TurbofanOutcome& outcome) {
  Simulation sim;
  StartTurbofan(sim, params, outcome, rng);
  sim.Run(question.horizon);
  sim.RethrowProcessError();
  double cost =
      question.failure_cost * outcome.failures + question.preventive_cost * outcome.maintenances;
  if (outcome.life_at_maintenance > 0) {
    cost += question.wasted_life_cost * outcome.life_at_maintenance;
  }
  return cost;
}

}  // namespace

absl::StatusOr<TurbofanAnswer> AskTurbofan(const TurbofanQuestion& question,
                                           const MonteCarloOptions& options) {
  if (absl::Status s = CheckTurbofan(question); !s.ok()) return s;
  auto estimates = RunMonteCarlo(
      options, {MetricKind::kMean, MetricKind::kMean, MetricKind::kMean, MetricKind::kProportion},
      [&question](uint64_t, Random& rng, std::span<double> out) {
        TurbofanOutcome outcome;
        out[0] = RunTurbofanOnce(question, question.params, rng, outcome);
        out[1] = outcome.DownUntil(question.horizon);
        out[2] = outcome.failures;
        out[3] = outcome.first_failure >= 0 && outcome.first_failure <= question.failure_before;
      });
  if (!estimates.ok()) return estimates.status();
  const std::vector<Estimate>& e = *estimates;
  return TurbofanAnswer{e[0], e[1], e[2], e[3]};
}

absl::StatusOr<std::vector<Estimate>> AskTurbofanSchedule(const TurbofanQuestion& question,
                                                          std::span<const double> starts,
                                                          const MonteCarloOptions& options) {
  TurbofanQuestion base = question;
  base.params.maintenance_at.reset();
  if (absl::Status s = CheckTurbofan(base); !s.ok()) return s;
  if (starts.size() > 4096) return absl::InvalidArgumentError("at most 4096 maintenance starts");
  for (double start : starts) {
    if (!(start >= 0 && start <= 1e7)) {
      return absl::InvalidArgumentError("maintenance starts must be in [0, 1e7]");
    }
  }
  const std::vector<MetricKind> metrics(starts.size() + 1, MetricKind::kMean);
  return RunMonteCarlo(options, metrics, [&](uint64_t, Random& rng, std::span<double> out) {
    const Random origin = rng;
    for (size_t k = 0; k <= starts.size(); ++k) {
      Random replay = origin;  // The same draws for every option.
      TurbofanParams params = base.params;
      if (k < starts.size()) params.maintenance_at = starts[k];
      TurbofanOutcome outcome;
      out[k] = RunTurbofanOnce(base, params, replay, outcome);
    }
  });
}

}  // namespace fleettwin::sim
