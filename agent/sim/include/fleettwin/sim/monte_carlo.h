// Monte Carlo what-if: K independent replications of a model over worker threads, each
// question answered with a mean and a confidence interval. Deterministic for a seed whatever
// the number of threads: replication i always draws from Random::Stream(seed, i), and results
// are combined in replication order.
#ifndef FLEETTWIN_SIM_MONTE_CARLO_H_
#define FLEETTWIN_SIM_MONTE_CARLO_H_

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fleettwin/sim/models.h"
#include "fleettwin/sim/random.h"

namespace fleettwin::sim {

struct Estimate {
  double mean = 0;
  double stddev = 0;  // Of one replication's value.
  double ci_low = 0;  // Confidence interval of the mean.
  double ci_high = 0;
  uint64_t n = 0;
  bool operator==(const Estimate&) const = default;
};

struct MonteCarloOptions {
  uint64_t replications = 1000;  // K, >= 2.
  int threads = 2;               // Workers, >= 1; replications are split between them.
  uint64_t seed = 1;
  double confidence = 0.95;  // In (0, 1).
};

// How a metric's interval is computed (quantiles from distributions.h): Student t for means,
// Wilson score for a 0/1 outcome
// (a probability), which stays inside [0, 1] and is honest near 0 and 1.
enum class MetricKind { kMean, kProportion };

// One replication: fills `out` (one value per metric) from its own random stream.
using Replication = std::function<void(uint64_t index, Random& rng, std::span<double> out)>;

// Runs options.replications replications of `replicate`. Errors: InvalidArgument for bad
// options; Internal if a replication threw (the message says which and why).
absl::StatusOr<std::vector<Estimate>> RunMonteCarlo(const MonteCarloOptions& options,
                                                    const std::vector<MetricKind>& metrics,
                                                    const Replication& replicate);

// Summaries of samples, exposed for tests and for callers with their own samples.
Estimate MeanEstimate(std::span<const double> values, double confidence);
Estimate ProportionEstimate(std::span<const double> zero_one, double confidence);

// ---- The questions the twins answer ---------------------------------------------------

// "Expected downtime and items over the next `horizon` units with these parameters (e.g.
// capacity raised to 8), and the probability of a failure before `failure_before`."
// The live twin's belt parameters, as the conveyor model's feed process reads them (`now`: the
// simulated time of the read). Called from the Monte Carlo's worker threads at once, so it
// must be thread-safe.
struct ConveyorLive {
  double failure_rate = 0;  // Per working unit, in [0, 1].
  double repair_time = 0;   // > 0.
};
using ConveyorLiveSource = std::function<ConveyorLive(double now)>;

struct ConveyorQuestion {
  ConveyorParams params;
  double horizon = 500;
  double failure_before = 100;
  // Parameter uncertainty: when > 0, each replication draws its failure rate from a Gamma with
  // this shape and the given failure_rate as mean (the calibration's posterior).
  double failure_rate_shape = 0;
  // The model's second process: with `live`, every `feed_period` units a feed process
  // refreshes the belt from the live twin — the failure rate when `live_failure_rate` (a
  // replication that drew its rate from the posterior keeps its draw while the live rate
  // equals params.failure_rate, and scales the live rate by the same factor once it moves),
  // the repair time when `live_repair_time`. Values out of range are ignored.
  ConveyorLiveSource live;
  bool live_failure_rate = false;
  bool live_repair_time = false;
  double feed_period = 5;
};
struct ConveyorAnswer {
  Estimate downtime;
  Estimate items;
  Estimate availability;
  Estimate failures;
  Estimate p_failure_before;
};
absl::StatusOr<ConveyorAnswer> AskConveyor(const ConveyorQuestion& question,
                                           const MonteCarloOptions& options);

// "What does a preventive maintenance at `maintenance_at` (or none) cost over `horizon`
// cycles, and how likely is a failure before it?" Cost per replication: failure_cost per
// failure, preventive_cost per maintenance, wasted_life_cost per cycle of remaining life thrown
// away by the maintenance.
struct TurbofanQuestion {
  TurbofanParams params;
  double horizon = 150;
  double failure_cost = 100;
  double preventive_cost = 20;
  double wasted_life_cost = 0.5;
  double failure_before = 30;
};
struct TurbofanAnswer {
  Estimate cost;
  Estimate downtime;
  Estimate failures;
  Estimate p_failure_before;
};
absl::StatusOr<TurbofanAnswer> AskTurbofan(const TurbofanQuestion& question,
                                           const MonteCarloOptions& options);

// "When would this task be finished, after the work already held, and how likely is it to be
// late?" (a task auction's bid). The agent works `backlog`, then travels `travel`, then works
// `duration` time units; a failure stops the work for a repair (exponential with mean
// `repair_mean`) and the work resumes where it stopped. Failures come from the remaining life
// (Gamma with life_mean / life_std, the twin's RUL estimate; after a repair a renewed life) when
// has_life, else at a constant `failure_rate` per time unit (0: never).
struct TaskQuestion {
  double backlog = 0;
  double travel = 0;
  double duration = 1;
  double deadline = 100;  // From now.
  double late_cost = 0;   // Added to the cost times P(late).
  bool has_life = false;
  double life_mean = 100, life_std = 20;
  double renewed_life_mean = 200, renewed_life_std = 40;
  double failure_rate = 0;
  double repair_mean = 10;
};
struct TaskAnswer {
  Estimate completion;  // Time units from now to the task's end.
  Estimate p_late;      // Completion after the deadline.
  Estimate failures;    // Before the task's end.
  Estimate cost;        // completion + late_cost * 1{late}: what an auction compares.
};
// Errors: InvalidArgument for times outside [0, 1e7], a negative cost or rate, or life
// parameters that are not positive.
absl::StatusOr<TaskAnswer> AskTaskCompletion(const TaskQuestion& question,
                                             const MonteCarloOptions& options);

// The cost of AskTurbofan for each maintenance start in `starts` (cycles from now, in order)
// and, last, for no maintenance (question.params.maintenance_at is ignored): a maintenance
// bid. Every option of replication i replays the same random draws (common random numbers),
// so differences between options are not blurred by sampling noise. Errors: InvalidArgument
// as AskTurbofan, for more than 4096 starts or a start outside [0, 1e7].
absl::StatusOr<std::vector<Estimate>> AskTurbofanSchedule(const TurbofanQuestion& question,
                                                          std::span<const double> starts,
                                                          const MonteCarloOptions& options);

}  // namespace fleettwin::sim

#endif  // FLEETTWIN_SIM_MONTE_CARLO_H_
