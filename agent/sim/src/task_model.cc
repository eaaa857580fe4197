// The task-completion model behind a task auction's bid (AskTaskCompletion): one agent working
// through its backlog and the new task while failures interrupt it.
#include <cmath>

#include "fleettwin/sim/models.h"
#include "fleettwin/sim/monte_carlo.h"
#include "fleettwin/sim/simulation.h"

namespace fleettwin::sim {
namespace {

struct TaskRun {
  double remaining = 0;     // Work (and travel) left.
  double repair = 0;        // The current repair's length, set by the failure process.
  double finished = -1;     // When the task ended.
  uint32_t failures = 0;
  bool has_breakdowns = false;
  ProcessRef breakdowns;    // Cancelled when the work is done.
};

Process Work(Simulation& sim, TaskRun& run) {
  while (run.remaining > 0) {
    const double started = sim.now();
    bool broke = false;
    try {
      co_await sim.Timeout(run.remaining);
      run.remaining = 0;
    } catch (const Interrupted&) {
      run.remaining = std::max(0.0, run.remaining - (sim.now() - started));
      broke = true;
    }
    if (broke) co_await sim.Timeout(run.repair);  // Nothing moves until repaired.
  }
  run.finished = sim.now();
  if (run.has_breakdowns) sim.Cancel(run.breakdowns);
}

Process Breakdowns(Simulation& sim, const TaskQuestion& q, TaskRun& run, ProcessRef worker,
                   Random& rng) {
  double life = q.has_life ? DrawLife(rng, q.life_mean, q.life_std)
                           : rng.Exponential(q.failure_rate);
  while (true) {
    co_await sim.Timeout(life);
    ++run.failures;
    run.repair = q.repair_mean > 0 ? rng.Exponential(1 / q.repair_mean) : 0;
    sim.Interrupt(worker, 1);
    co_await sim.Timeout(run.repair);
    life = q.has_life ? DrawLife(rng, q.renewed_life_mean, q.renewed_life_std)
                      : rng.Exponential(q.failure_rate);
  }
}

absl::Status CheckTask(const TaskQuestion& q) {
  auto time = [](double t) { return t >= 0 && t <= 1e7; };
  if (!time(q.backlog) || !time(q.travel) || !time(q.duration) || !time(q.deadline) ||
      !time(q.repair_mean)) {
    return absl::InvalidArgumentError("task times must be in [0, 1e7]");
  }
  if (!(q.late_cost >= 0 && q.late_cost <= 1e9) || !(q.failure_rate >= 0 && q.failure_rate <= 1e3)) {
    return absl::InvalidArgumentError("late cost and failure rate must be >= 0 (and bounded)");
  }
  if (q.has_life && !(q.life_mean > 0 && q.life_std > 0 && q.renewed_life_mean > 0 &&
                      q.renewed_life_std > 0 && q.life_mean <= 1e7 && q.renewed_life_mean <= 1e7)) {
    return absl::InvalidArgumentError("life means and deviations must be positive");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TaskAnswer> AskTaskCompletion(const TaskQuestion& question,
                                             const MonteCarloOptions& options) {
  if (absl::Status s = CheckTask(question); !s.ok()) return s;
  auto estimates = RunMonteCarlo(
      options, {MetricKind::kMean, MetricKind::kProportion, MetricKind::kMean, MetricKind::kMean},
      [&question](uint64_t, Random& rng, std::span<double> out) {
        Simulation sim;
        TaskRun run;
        run.remaining = question.backlog + question.travel + question.duration;
        const ProcessRef worker = sim.Start(Work(sim, run));
        if (question.has_life || question.failure_rate > 0) {
          run.breakdowns = sim.Start(Breakdowns(sim, question, run, worker, rng));
          run.has_breakdowns = true;
        }
        sim.RunAll();
        sim.RethrowProcessError();
        const bool late = run.finished > question.deadline;
        out[0] = run.finished;
        out[1] = late ? 1 : 0;
        out[2] = run.failures;
        out[3] = run.finished + (late ? question.late_cost : 0);
      });
  if (!estimates.ok()) return estimates.status();
  const std::vector<Estimate>& e = *estimates;
  return TaskAnswer{e[0], e[1], e[2], e[3]};
}

}  // namespace fleettwin::sim
