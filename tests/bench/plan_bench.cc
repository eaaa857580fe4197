// plan_bench: the quality of a negotiated maintenance plan on real data (issue 5). The 100
// engines of C-MAPSS FD001 test form a fleet, all aligned at "now" (the end of each test
// trajectory). Each engine's twin estimates its RUL with the failure model and bids, from the
// turbofan Monte Carlo (sim::AskTurbofanSchedule), its expected cost for every maintenance
// slot and for none; the coordinator's solver (plan::SolveMaintenance) chooses under the crews'
// capacity. Horizon 150 cycles, 2 crews, maintenance 5 cycles; costs: failure 100, preventive
// 20, remaining life thrown away 0.5 per cycle.
//
// Every policy is scored with the true RUL r (RUL_FD001.txt): a maintenance starting at t < r
// costs 20 + 0.5 (r - t); otherwise the engine fails (100) if r <= horizon, else costs nothing
// within the horizon. Policies: run to failure; a fixed threshold on the predicted RUL (the
// threshold chosen on training units: a model trained without 20 of them scores their cuts);
// the negotiated plan, committed once at "now"; the negotiated plan re-planned at every slot
// (rolling: at each slot's start the engines still running and not yet maintained bid again and
// only the maintenances starting then are carried out; a simulation of an operator running
// `fleetctl plan maintenance --replaces` each slot, not the coordinator and agents doing it);
// the oracle (bids from the true RUL, same solver and capacity). Prints
// each policy's total cost and share of the oracle's saving over run to failure (target >= 0.8).
// Exits non-zero only on errors, never on the figures.
//
// The test trajectories end at "now", so a re-planning twin of the test fleet has no new
// sensor data: its new bid only knows that the engine has survived so far (its estimate
// conditioned on that). On the held-out training pseudo-fleet (whose trajectories go on after
// each cut) the rolling policy is also run as live twins run it, re-estimating from the cycles
// seen since. `--noisy-oracle SIGMA…` measures instead how good estimates must be for a plan
// committed once to reach the target (the true RUL plus calibrated Gaussian noise).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "fleettwin/model/cmapss.h"
#include "fleettwin/model/rul_model.h"
#include "fleettwin/plan/maintenance.h"
#include "fleettwin/plan/scoring.h"
#include "fleettwin/sim/distributions.h"
#include "fleettwin/sim/monte_carlo.h"
#include "fleettwin/sim/random.h"

namespace {

using fleettwin::model::Dataset;
using fleettwin::model::RulModel;
using fleettwin::model::UnitSeries;
using fleettwin::plan::MaintenanceBid;
using fleettwin::plan::MaintenanceProblem;

using Costs = fleettwin::plan::MaintenanceCosts;
using fleettwin::plan::RealizedCost;

struct Estimate {
  double rul;
  double rul_std;
};

absl::StatusOr<std::vector<Estimate>> PredictAll(const RulModel& model, const Dataset& units) {
  absl::StatusOr<Dataset> selected =
      fleettwin::model::SelectChannels(units, model.input_channels());
  if (!selected.ok()) return selected.status();
  std::vector<Estimate> out;
  for (const auto& unit : selected->units) {
    // Every unit starts new at its first row, so its age is its number of rows.
    absl::StatusOr<fleettwin::model::RulPrediction> p =
        model.Predict(unit.rows, static_cast<double>(unit.rows.size()));
    if (!p.ok()) return p.status();
    out.push_back({p->rul, p->rul_std});
  }
  return out;
}

// The threshold policy: maintain when the predicted RUL falls to `threshold`, i.e. start at
// rul - threshold cycles from now (rounded down to a slot); a full slot sends the engine to the
// next one with a free crew; past the horizon it is not maintained. Engines are placed in
// order of their wished start (then by index), so urgent ones go first.
std::vector<int> ThresholdStarts(const MaintenanceProblem& p, const std::vector<Estimate>& e,
                                 double threshold) {
  std::vector<size_t> order(e.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto wish = [&](size_t i) { return std::max(0.0, e[i].rul - threshold); };
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return wish(a) < wish(b); });
  std::vector<int> used(static_cast<size_t>(p.slots()), 0), start(e.size(), -1);
  for (size_t i : order) {
    for (int k = static_cast<int>(wish(i) / p.duration); k < p.slots(); ++k) {
      if (used[static_cast<size_t>(k)] < p.crews) {
        ++used[static_cast<size_t>(k)];
        start[i] = p.SlotStart(k);
        break;
      }
    }
  }
  return start;
}

struct Score {
  double cost = 0;
  int maintained = 0;
  int failures = 0;
};

Score ScoreStarts(const MaintenanceProblem& p, const Costs& c, const std::vector<double>& rul,
                  const std::vector<int>& starts) {
  Score s;
  for (size_t i = 0; i < rul.size(); ++i) {
    s.cost += RealizedCost(p, c, rul[i], starts[i]);
    if (starts[i] >= 0 && starts[i] < rul[i]) {
      ++s.maintained;
    } else if (rul[i] <= p.horizon) {
      ++s.failures;
    }
  }
  return s;
}

std::string EngineName(size_t i) {
  char name[32];
  std::snprintf(name, sizeof name, "engine-%03zu", i + 1);
  return name;
}

// The plan's start per engine (-1: none), in engine order.
absl::StatusOr<std::vector<int>> Solve(const MaintenanceProblem& p,
                                       std::vector<MaintenanceBid> bids) {
  absl::StatusOr<fleettwin::plan::MaintenancePlan> plan =
      fleettwin::plan::SolveMaintenance(p, std::move(bids));
  if (!plan.ok()) return plan.status();
  std::vector<int> starts;
  for (const auto& a : plan->assignments) starts.push_back(a.start);  // Names sort as engines.
  return starts;
}

// Each twin's bid from its Monte Carlo. One life per engine, as the plan is scored: the
// renewed engine outlives the horizon.
absl::StatusOr<std::vector<MaintenanceBid>> Bids(const MaintenanceProblem& problem,
                                                 const Costs& costs,
                                                 const std::vector<Estimate>& estimates,
                                                 uint64_t replications, int threads,
                                                 double sigma_scale) {
  std::vector<double> starts;
  for (int k = 0; k < problem.slots(); ++k) starts.push_back(problem.SlotStart(k));
  std::vector<MaintenanceBid> bids;
  for (size_t i = 0; i < estimates.size(); ++i) {
    fleettwin::sim::TurbofanQuestion q;
    q.params.rul_mean = std::max(estimates[i].rul, 0.5);
    q.params.rul_std = std::max(sigma_scale * estimates[i].rul_std, 1.0);
    q.params.maintenance_duration = problem.duration;
    q.params.renewed_life_mean = 1e6;
    q.params.renewed_life_std = 1;
    q.horizon = problem.horizon;
    q.failure_cost = costs.failure;
    q.preventive_cost = costs.preventive;
    q.wasted_life_cost = costs.wasted_life;
    absl::StatusOr<std::vector<fleettwin::sim::Estimate>> answer =
        fleettwin::sim::AskTurbofanSchedule(
            q, starts, {.replications = replications, .threads = threads, .seed = i + 1});
    if (!answer.ok()) return answer.status();
    MaintenanceBid bid{EngineName(i), {}, answer->back().mean};
    for (size_t k = 0; k < starts.size(); ++k) bid.slot_cost.push_back((*answer)[k].mean);
    bids.push_back(std::move(bid));
  }
  return bids;
}

// The oracle's starts: the same solver and crews, bidding with the true RUL.
absl::StatusOr<std::vector<int>> OracleStarts(const MaintenanceProblem& problem, const Costs& costs,
                                              const std::vector<double>& rul) {
  std::vector<fleettwin::plan::TrueLife> truth;
  for (size_t i = 0; i < rul.size(); ++i) truth.push_back({EngineName(i), rul[i]});
  absl::StatusOr<fleettwin::plan::MaintenancePlan> plan =
      fleettwin::plan::OraclePlan(problem, costs, truth);
  if (!plan.ok()) return plan.status();
  std::vector<int> starts;
  for (const auto& a : plan->assignments) starts.push_back(a.start);  // Names sort as engines.
  return starts;
}

// One line per engine, by true RUL: what it was told, what it is, what each plan did and cost.
void PrintDetail(const char* title, const MaintenanceProblem& p, const Costs& c,
                 const std::vector<Estimate>& e, const std::vector<double>& rul,
                 const std::vector<int>& plan, const std::vector<int>& oracle) {
  std::vector<size_t> order(rul.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rul[a] < rul[b]; });
  std::printf("\n%s\n%-11s %9s %8s %8s %6s %6s %9s %9s\n", title, "engine", "rul_est", "rul_std",
              "true_rul", "plan", "oracle", "plan_cost", "best_cost");
  for (size_t i : order) {
    std::printf("%-11s %9.1f %8.1f %8.0f %6d %6d %9.1f %9.1f\n", EngineName(i).c_str(), e[i].rul,
                e[i].rul_std, rul[i], plan[i], oracle[i], RealizedCost(p, c, rul[i], plan[i]),
                RealizedCost(p, c, rul[i], oracle[i]));
  }
}

// The estimate of an engine known to have survived `t` cycles since it was made: the Gamma of
// the twin's Monte Carlo (sim::DrawLife) conditioned on life > t; the remaining life's mean and
// standard deviation, from the Gamma's truncated moments.
Estimate Survived(const Estimate& e, double t) {
  const double mean = std::max(e.rul, 0.5), sd = std::max(e.rul_std, 1.0);
  const double k = mean * mean / (sd * sd), theta = sd * sd / mean;
  const double q0 = fleettwin::sim::RegularizedGammaQ(k, t / theta);
  if (!(q0 > 1e-12)) return {1.0, 1.0};
  const double m1 = k * theta * fleettwin::sim::RegularizedGammaQ(k + 1, t / theta) / q0;
  const double m2 =
      k * (k + 1) * theta * theta * fleettwin::sim::RegularizedGammaQ(k + 2, t / theta) / q0;
  const double var = std::max(m2 - m1 * m1, 1.0);
  return {std::max(m1 - t, 0.5), std::sqrt(var)};
}

// What a twin estimates for engine i at `now` cycles after the fleet's "now".
using EstimateAt = std::function<absl::StatusOr<Estimate>(size_t i, int now)>;

// Rolling re-planning: at every slot's start the engines still running and not yet maintained
// bid again from their current estimates (`estimate_at`), the coordinator solves the rest of
// the horizon, and only the maintenances starting now are carried out.
absl::StatusOr<std::vector<int>> Rolling(const MaintenanceProblem& problem, const Costs& costs,
                                         const EstimateAt& estimate_at,
                                         const std::vector<double>& rul, uint64_t replications,
                                         int threads, double sigma_scale) {
  std::vector<int> start(rul.size(), -1);
  for (int k = 0; k < problem.slots(); ++k) {
    const int now = problem.SlotStart(k);
    std::vector<size_t> open;
    std::vector<Estimate> current;
    for (size_t i = 0; i < rul.size(); ++i) {
      // Maintained, or failed by now: the fleet knows both. The true RUL is used for nothing
      // else; scoring uses it afterwards as for every policy.
      if (start[i] >= 0 || rul[i] <= now) continue;
      absl::StatusOr<Estimate> e = estimate_at(i, now);
      if (!e.ok()) return e.status();
      open.push_back(i);
      current.push_back(*e);
    }
    if (open.empty()) break;
    MaintenanceProblem rest{
        .horizon = problem.horizon - now, .duration = problem.duration, .crews = problem.crews};
    absl::StatusOr<std::vector<MaintenanceBid>> bids =
        Bids(rest, costs, current, replications, threads, sigma_scale);
    if (!bids.ok()) return bids.status();
    absl::StatusOr<std::vector<int>> plan = Solve(rest, *bids);
    if (!plan.ok()) return plan.status();
    for (size_t j = 0; j < open.size(); ++j) {
      if ((*plan)[j] == 0) start[open[j]] = now;
    }
  }
  return start;
}

// Re-bidding without new sensor data: the estimate made at "now", conditioned on survival.
EstimateAt SurvivalOnly(const std::vector<Estimate>& estimates) {
  return [&estimates](size_t i, int now) -> absl::StatusOr<Estimate> {
    return Survived(estimates[i], now);
  };
}

// Re-bidding as a live twin does: the model re-estimates from the engine's sensor rows up to
// the current cycle. Needs each engine's whole trajectory (`full[i]`, in the model's channels)
// and the length of its cut at the fleet's "now" (`cut[i]` rows); an engine bids only while
// it runs, so the rows exist.
EstimateAt LiveReestimate(const RulModel& model, const std::vector<const UnitSeries*>& full,
                          const std::vector<size_t>& cut) {
  return [&model, &full, &cut](size_t i, int now) -> absl::StatusOr<Estimate> {
    const size_t rows = cut[i] + static_cast<size_t>(now);
    if (rows > full[i]->rows.size()) return absl::OutOfRangeError("engine bids after its end");
    std::vector<std::vector<double>> seen(full[i]->rows.begin(),
                                          full[i]->rows.begin() + static_cast<long>(rows));
    absl::StatusOr<fleettwin::model::RulPrediction> p =
        model.Predict(seen, static_cast<double>(rows));
    if (!p.ok()) return p.status();
    return Estimate{p->rul, p->rul_std};
  };
}

// A calibrated noisy oracle, for the information ceiling of a plan committed once: each
// engine's estimate is its true RUL plus Gaussian noise of standard deviation `sigma` (capped
// at `cap` like a model trained on the capped target, when cap > 0), and it bids with that
// sigma as its uncertainty. Not a policy: a measure of how good estimates must be.
std::vector<Estimate> NoisyOracle(const std::vector<double>& rul, double sigma, double cap,
                                  uint64_t seed) {
  fleettwin::sim::Random rng(seed);
  std::vector<Estimate> out;
  for (double r : rul) {
    double v = r + rng.Normal(0, sigma);
    if (cap > 0) v = std::min(v, cap);
    out.push_back({std::max(v, 0.5), std::max(sigma, 1.0)});
  }
  return out;
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "plan_bench: %s\n", std::string(s.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Maintenance plan quality on C-MAPSS FD001 test: run to failure, threshold, "
      "negotiated plan and oracle, scored with the true RUL"};
  std::string data_dir = "data/cmapss", model_dir = "data/models/cmapss-fd001-mlp";
  MaintenanceProblem problem{.horizon = 150, .duration = 5, .crews = 2};
  uint64_t replications = 2000;
  int threads = 2;
  bool quick = false, detail = false;
  double sigma_scale = 1;
  app.add_option("--data", data_dir, "Folder with the FD001 files")->capture_default_str();
  app.add_option("--model", model_dir, "The agents' failure model")->capture_default_str();
  app.add_option("--horizon", problem.horizon, "Cycles")->capture_default_str();
  app.add_option("--crews", problem.crews, "Maintenances at once")->capture_default_str();
  app.add_option("--duration", problem.duration, "Cycles per maintenance")->capture_default_str();
  app.add_option("--replications", replications, "Monte Carlo runs per bid")->capture_default_str();
  app.add_option("--threads", threads, "Threads for the bids' Monte Carlo and the dev model")
      ->capture_default_str();
  app.add_flag("--quick", quick,
               "Smoke mode: 200 replications, a tiny dev model (figures meaningless)");
  app.add_option("--sigma-scale", sigma_scale,
                 "Scales every twin's RUL standard deviation in its bids (1: as the model says)")
      ->capture_default_str();
  app.add_flag("--detail", detail,
               "Also print every engine: estimate, true RUL, the plan's and the oracle's start");
  std::vector<double> noisy_sigmas;
  int noisy_draws = 5;
  app.add_option("--noisy-oracle", noisy_sigmas,
                 "Instead of the policies: the share a plan committed once reaches when every "
                 "estimate is the true RUL plus Gaussian noise of each SIGMA given (bidding "
                 "with that SIGMA), uncapped and capped at 125 like the model")
      ->expected(1, 64);
  app.add_option("--noisy-draws", noisy_draws, "Noise draws per SIGMA for --noisy-oracle")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);
  if (quick) replications = std::min<uint64_t>(replications, 200);
  const Costs costs;

  absl::StatusOr<Dataset> test = fleettwin::model::ReadCmapss(data_dir + "/test_FD001.txt");
  if (!test.ok()) return Fail(test.status());
  absl::StatusOr<std::vector<double>> rul =
      fleettwin::model::ReadRulFile(data_dir + "/RUL_FD001.txt");
  if (!rul.ok()) return Fail(rul.status());
  absl::StatusOr<Dataset> train = fleettwin::model::ReadCmapss(data_dir + "/train_FD001.txt");
  if (!train.ok()) return Fail(train.status());
  absl::StatusOr<RulModel> model = RulModel::Load(model_dir);
  if (!model.ok()) return Fail(model.status());
  if (rul->size() != test->units.size()) return Fail(absl::InvalidArgumentError("RUL count"));
  const size_t n = test->units.size();
  std::printf(
      "fleet: %zu FD001 test engines; horizon %d cycles, %d crews, maintenance %d cycles "
      "(%d slots); costs failure %g, preventive %g, wasted life %g/cycle\n",
      n, problem.horizon, problem.crews, problem.duration, problem.slots(), costs.failure,
      costs.preventive, costs.wasted_life);

  for (const double sigma : noisy_sigmas) {
    if (!(sigma >= 0) || !std::isfinite(sigma)) {
      return Fail(absl::InvalidArgumentError("--noisy-oracle: SIGMA must be finite and >= 0"));
    }
  }
  if (!noisy_sigmas.empty()) {
    // The information ceiling of a plan committed once (see NoisyOracle).
    absl::StatusOr<std::vector<int>> oracle = OracleStarts(problem, costs, *rul);
    if (!oracle.ok()) return Fail(oracle.status());
    const double none = ScoreStarts(problem, costs, *rul, std::vector<int>(n, -1)).cost;
    const double best = ScoreStarts(problem, costs, *rul, *oracle).cost;
    std::printf(
        "\nplan committed once from a calibrated noisy oracle (true RUL + N(0, sigma)); "
        "share of the oracle's saving over %d noise draws\n%-7s %-12s %7s %7s %7s\n",
        noisy_draws, "sigma", "estimates", "median", "min", "max");
    for (const double sigma : noisy_sigmas) {
      for (const double cap : {0.0, model->rul_cap()}) {
        std::vector<double> shares;
        for (int d = 0; d < noisy_draws; ++d) {
          absl::StatusOr<std::vector<MaintenanceBid>> b =
              Bids(problem, costs, NoisyOracle(*rul, sigma, cap, 1000 + static_cast<uint64_t>(d)),
                   replications, threads, 1);
          if (!b.ok()) return Fail(b.status());
          absl::StatusOr<std::vector<int>> starts = Solve(problem, *b);
          if (!starts.ok()) return Fail(starts.status());
          shares.push_back((none - ScoreStarts(problem, costs, *rul, *starts).cost) /
                           (none - best));
        }
        std::sort(shares.begin(), shares.end());
        char label[32];
        std::snprintf(label, sizeof label, cap > 0 ? "capped %g" : "uncapped", cap);
        std::printf("%-7g %-12s %7.3f %7.3f %7.3f\n", sigma, label, shares[shares.size() / 2],
                    shares.front(), shares.back());
        std::fflush(stdout);
      }
    }
    return 0;
  }

  // 1. Each agent's estimate from its own (the shipped) model.
  absl::StatusOr<std::vector<Estimate>> estimates = PredictAll(*model, *test);
  if (!estimates.ok()) return Fail(estimates.status());

  // 2. Bids from each twin's Monte Carlo.
  const auto bids_started = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<MaintenanceBid>> bids =
      Bids(problem, costs, *estimates, replications, threads, sigma_scale);
  if (!bids.ok()) return Fail(bids.status());
  const double bid_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - bids_started).count();
  const auto solve_started = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<int>> negotiated = Solve(problem, *bids);
  if (!negotiated.ok()) return Fail(negotiated.status());
  const double solve_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - solve_started)
          .count();

  // 3. The oracle: exact bids from the true RUL, the same solver and crews.
  absl::StatusOr<std::vector<int>> oracle = OracleStarts(problem, costs, *rul);
  if (!oracle.ok()) return Fail(oracle.status());

  // 4. The threshold, chosen on training units: a model with the shipped options trained
  // without 20 training units estimates their 100 cuts; the threshold with the least true
  // cost on that pseudo-fleet (same horizon and crews) is applied to the test fleet.
  fleettwin::model::DevelopmentSplit split = fleettwin::model::SplitForDevelopment(*train);
  fleettwin::model::TrainOptions options;
  options.threads = threads;
  if (quick) {
    options.ensemble = 2;
    options.max_epochs = 3;
  }
  const auto dev_started = std::chrono::steady_clock::now();
  absl::StatusOr<RulModel> dev_model = fleettwin::model::Train(split.train, options);
  if (!dev_model.ok()) return Fail(dev_model.status());
  absl::StatusOr<std::vector<Estimate>> dev_estimates = PredictAll(*dev_model, split.dev);
  if (!dev_estimates.ok()) return Fail(dev_estimates.status());
  {
    // How well the estimates' uncertainty matches their errors on the dev cuts (1 = calibrated).
    double z2 = 0, err2 = 0;
    for (size_t i = 0; i < split.dev_rul.size(); ++i) {
      const double e = split.dev_rul[i] - (*dev_estimates)[i].rul;
      z2 += e * e / ((*dev_estimates)[i].rul_std * (*dev_estimates)[i].rul_std);
      err2 += e * e;
    }
    std::printf("dev cuts: RMSE %.2f, RMS of error / rul_std %.2f\n",
                std::sqrt(err2 / split.dev_rul.size()), std::sqrt(z2 / split.dev_rul.size()));
  }
  double best_threshold = 0, best_dev_cost = 1e300;
  for (int threshold = 0; threshold <= 125; ++threshold) {
    const double c = ScoreStarts(problem, costs, split.dev_rul,
                                 ThresholdStarts(problem, *dev_estimates, threshold))
                         .cost;
    if (c < best_dev_cost) {
      best_dev_cost = c;
      best_threshold = threshold;
    }
  }
  std::printf(
      "threshold chosen on %zu cuts of %zu held-out training units: %g cycles (dev "
      "cost %.1f; dev model trained in %.1f s)\n",
      split.dev.units.size(), split.dev.units.size() / 5, best_threshold, best_dev_cost,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - dev_started).count());

  // The negotiated plan on the same held-out pseudo-fleet: what the figures below look like on
  // data no choice was made on.
  {
    absl::StatusOr<std::vector<MaintenanceBid>> dev_bids =
        Bids(problem, costs, *dev_estimates, replications, threads, sigma_scale);
    if (!dev_bids.ok()) return Fail(dev_bids.status());
    absl::StatusOr<std::vector<int>> dev_plan = Solve(problem, *dev_bids);
    absl::StatusOr<std::vector<int>> dev_oracle = OracleStarts(problem, costs, split.dev_rul);
    if (!dev_plan.ok()) return Fail(dev_plan.status());
    if (!dev_oracle.ok()) return Fail(dev_oracle.status());
    const std::vector<double>& r = split.dev_rul;
    if (detail) PrintDetail("dev fleet", problem, costs, *dev_estimates, r, *dev_plan, *dev_oracle);

    const double none = ScoreStarts(problem, costs, r, std::vector<int>(r.size(), -1)).cost;
    const double planned = ScoreStarts(problem, costs, r, *dev_plan).cost;
    const double best = ScoreStarts(problem, costs, r, *dev_oracle).cost;
    std::printf(
        "dev fleet: run to failure %.1f, threshold %.1f, negotiated %.1f, oracle %.1f; "
        "negotiated share %.3f\n",
        none, best_dev_cost, planned, best, (none - planned) / (none - best));
    absl::StatusOr<std::vector<int>> dev_rolling = Rolling(
        problem, costs, SurvivalOnly(*dev_estimates), r, replications, threads, sigma_scale);
    if (!dev_rolling.ok()) return Fail(dev_rolling.status());
    const double rolled = ScoreStarts(problem, costs, r, *dev_rolling).cost;
    std::printf("dev fleet, re-planned each slot: %.1f; share %.3f\n", rolled,
                (none - rolled) / (none - best));

    // The dev engines' trajectories go on after their cut, so here a re-bidding twin can do
    // what a live one does: re-estimate from the cycles it has seen since.
    absl::StatusOr<Dataset> whole =
        fleettwin::model::SelectChannels(*train, dev_model->input_channels());
    if (!whole.ok()) return Fail(whole.status());
    std::vector<const UnitSeries*> full;
    std::vector<size_t> cut;
    for (const UnitSeries& u : split.dev.units) {
      const auto it = std::find_if(whole->units.begin(), whole->units.end(),
                                   [&](const UnitSeries& w) { return w.unit == u.unit; });
      if (it == whole->units.end()) return Fail(absl::InternalError("dev unit not in training"));
      full.push_back(&*it);
      cut.push_back(u.rows.size());
    }
    absl::StatusOr<std::vector<int>> dev_live =
        Rolling(problem, costs, LiveReestimate(*dev_model, full, cut), r, replications, threads,
                sigma_scale);
    if (!dev_live.ok()) return Fail(dev_live.status());
    const Score live = ScoreStarts(problem, costs, r, *dev_live);
    std::printf(
        "dev fleet, re-planned each slot with live re-estimates: %.1f (%d maintained, %d "
        "failures); share %.3f\n",
        live.cost, live.maintained, live.failures, (none - live.cost) / (none - best));
  }
  if (detail) PrintDetail("test fleet", problem, costs, *estimates, *rul, *negotiated, *oracle);
  // 5. Rolling re-planning on the test fleet.
  const auto rolling_started = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<int>> rolling =
      Rolling(problem, costs, SurvivalOnly(*estimates), *rul, replications, threads, sigma_scale);
  if (!rolling.ok()) return Fail(rolling.status());
  const double rolling_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - rolling_started).count();
  const Score rtf = ScoreStarts(problem, costs, *rul, std::vector<int>(n, -1));
  const Score threshold =
      ScoreStarts(problem, costs, *rul, ThresholdStarts(problem, *estimates, best_threshold));
  const Score plan = ScoreStarts(problem, costs, *rul, *negotiated);
  const Score replanned = ScoreStarts(problem, costs, *rul, *rolling);
  const Score best = ScoreStarts(problem, costs, *rul, *oracle);
  const double oracle_saving = rtf.cost - best.cost;
  auto share = [&](const Score& s) {
    return oracle_saving > 0 ? (rtf.cost - s.cost) / oracle_saving : 0.0;
  };
  std::printf("\n%-34s %10s %10s %9s %16s\n", "policy", "cost", "maintained", "failures",
              "share of oracle");
  auto row = [&](const char* name, const Score& s) {
    std::printf("%-34s %10.1f %10d %9d %16.3f\n", name, s.cost, s.maintained, s.failures, share(s));
  };
  row("run to failure", rtf);
  char name[64];
  std::snprintf(name, sizeof name, "threshold (predicted RUL <= %g)", best_threshold);
  row(name, threshold);
  row("negotiated plan, committed once", plan);
  row("negotiated, re-planned each slot", replanned);
  row("oracle (true RUL)", best);
  std::printf(
      "\nbids: %zu engines x %d options x %llu replications in %.2f s (%.1f ms per "
      "agent); solve %.2f ms\n",
      n, problem.slots() + 1, static_cast<unsigned long long>(replications), bid_seconds,
      1000 * bid_seconds / static_cast<double>(n), solve_ms);
  std::printf("rolling: %d negotiations in %.1f s\n", problem.slots(), rolling_seconds);
  std::printf(
      "share of the oracle's saving over run to failure (target >= 0.8): committed once "
      "%.3f (%s); re-planned each slot, a bench simulation using what is learned after "
      "\"now\", %.3f (%s)%s\n",
      share(plan), share(plan) >= 0.8 ? "met" : "NOT met", share(replanned),
      share(replanned) >= 0.8 ? ">= 0.8" : "< 0.8",
      quick ? " (quick smoke mode: figures are meaningless)" : "");
  return 0;
}
