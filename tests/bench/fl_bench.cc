// fl_bench: federated learning of the failure model on real data. The 100 C-MAPSS FD001
// training units are split across N agents by contiguous unit ranges (non-IID); no agent's rows
// leave it: the shared start is built from merged summaries (model/shared_start.h), and each
// round every agent trains the global model on its own units for E local epochs and returns
// parameters and its example count, which a strategy (federated/strategy.h) aggregates. The
// model is the analytics issue's (same architecture and options); the centralized row trains
// it on all units with the same seed. Poisoned agents send global - 10 * (local - global).
// Prints the test RMSE and PHM score of every (strategy, poisoned) row.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fleettwin/federated/strategy.h"
#include "fleettwin/model/cmapss.h"
#include "fleettwin/model/rul_model.h"
#include "fleettwin/model/shared_start.h"

namespace {

namespace fm = fleettwin::model;
namespace ff = fleettwin::federated;

struct Setup {
  std::vector<fm::Dataset> parts;  // One per agent.
  fm::Dataset test;
  std::vector<double> true_rul;
  fm::TrainOptions options;  // The centralized model's.
  int rounds = 30;
  int local_epochs = 5;
  double prox_mu = 0.01;
  double poison_scale = -10;
  bool cosine = true;             // Learning rate: cosine decay over the rounds, else constant.
  double final_lr_fraction = 0.01;  // Of the initial rate, reached in the last round.
  double local_validation = 0;      // Share of its units an agent holds out per round.
  double learning_rate = 1e-3;      // The agents' initial Adam rate (see RoundLearningRate).
};

// The learning rate the server sends for `round` (1-based): cosine from lr to
// lr * final_fraction, the federated counterpart of the centralized run's reduce-on-plateau.
double RoundLearningRate(const Setup& setup, int round) {
  const double lr = setup.learning_rate;
  if (!setup.cosine || setup.rounds == 1) return lr;
  const double t = static_cast<double>(round - 1) / (setup.rounds - 1);
  const double low = lr * setup.final_lr_fraction;
  return low + 0.5 * (lr - low) * (1 + std::cos(M_PI * t));
}

struct Row {
  std::string name;
  double rmse = 0, score = 0, seconds = 0;
};

std::vector<std::string> Candidates() {
  std::vector<std::string> c;
  for (int i = 1; i <= 21; ++i) c.push_back(absl::StrCat("s", i));
  return c;
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "fl_bench: %s\n", std::string(s.message()).c_str());
  return 1;
}

// The shared start: two summary passes over the agents (aggregates only).
absl::StatusOr<fm::RulModel> SharedStart(const Setup& setup) {
  fm::ChannelSummary channels = fm::SummarizeChannels(setup.parts[0], Candidates());
  for (size_t k = 1; k < setup.parts.size(); ++k) {
    if (absl::Status s = channels.Merge(fm::SummarizeChannels(setup.parts[k], Candidates()));
        !s.ok()) {
      return s;
    }
  }
  absl::StatusOr<fm::RulModel> start = fm::StartFromSummary(channels, setup.options);
  if (!start.ok()) return start.status();
  fm::FeatureSummary features;
  for (size_t k = 0; k < setup.parts.size(); ++k) {
    absl::StatusOr<fm::FeatureSummary> f = start->SummarizeFeatures(setup.parts[k]);
    if (!f.ok()) return f.status();
    if (k == 0) {
      features = *f;
    } else if (absl::Status s = features.Merge(*f); !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = start->SetFeatureNormalization(features); !s.ok()) return s;
  return start;
}

// Runs the rounds; returns the final global model.
absl::StatusOr<fm::RulModel> Federate(const Setup& setup, ff::Strategy strategy, int poisoned,
                                      bool verbose) {
  absl::StatusOr<fm::RulModel> global = SharedStart(setup);
  if (!global.ok()) return global.status();
  absl::StatusOr<std::pair<ff::ParameterLayout, std::vector<float>>> flat =
      ff::ParameterLayout::Flatten(global->parameters());
  if (!flat.ok()) return flat.status();
  const ff::ParameterLayout layout = flat->first;
  std::vector<float> global_values = flat->second;

  ff::AggregateOptions aggregate;
  aggregate.strategy = strategy;
  for (int round = 1; round <= setup.rounds; ++round) {
    std::vector<std::vector<float>> values(setup.parts.size());
    std::vector<double> examples(setup.parts.size());
    double sigma_a = 0, sigma_b = 0, total = 0;
    for (size_t k = 0; k < setup.parts.size(); ++k) {
      fm::TrainOptions local = setup.options;
      local.max_epochs = setup.local_epochs;
      local.patience = 0;
      local.learning_rate = RoundLearningRate(setup, round);
      local.validation_fraction = setup.local_validation;
      local.prox_mu = strategy == ff::Strategy::kFedProx ? setup.prox_mu : 0.0;
      local.seed = setup.options.seed * 1000003 + static_cast<uint64_t>(round) * 101 + k;
      fm::TrainReport report;
      absl::StatusOr<fm::RulModel> trained = fm::TrainFrom(*global, setup.parts[k], local, &report);
      if (!trained.ok()) return trained.status();
      absl::StatusOr<std::pair<ff::ParameterLayout, std::vector<float>>> mine =
          ff::ParameterLayout::Flatten(trained->parameters());
      if (!mine.ok()) return mine.status();
      values[k] = std::move(mine->second);
      if (static_cast<int>(k) < poisoned) {
        for (size_t j = 0; j < values[k].size(); ++j) {
          values[k][j] = global_values[j] +
                         static_cast<float>(setup.poison_scale) * (values[k][j] - global_values[j]);
        }
      }
      // Example count: the agent's training windows, one per cycle from the window's end on.
      double windows = 0;
      for (const fm::UnitSeries& u : setup.parts[k].units) {
        windows += std::max<double>(1, static_cast<double>(u.rows.size()) - global->window() + 1);
      }
      examples[k] = windows;
      const auto [a, b] = trained->uncertainty();
      sigma_a += a * windows;
      sigma_b += b * windows;
      total += windows;
    }
    std::vector<ff::ClientUpdate> updates;
    for (size_t k = 0; k < values.size(); ++k) updates.push_back({values[k], examples[k]});
    absl::StatusOr<std::vector<float>> next = ff::Aggregate(global_values, updates, aggregate);
    if (!next.ok()) return next.status();
    global_values = std::move(*next);
    absl::StatusOr<std::vector<fleettwin::NpyArray>> arrays = layout.Unflatten(global_values);
    if (!arrays.ok()) return arrays.status();
    if (absl::Status s = global->SetParameters(*arrays); !s.ok()) return s;
    if (absl::Status s = global->SetUncertainty(sigma_a / total, sigma_b / total); !s.ok()) return s;
    if (verbose) {
      absl::StatusOr<fm::Evaluation> e = fm::Evaluate(*global, setup.test, setup.true_rul);
      if (e.ok()) std::fprintf(stderr, "  round %d: test RMSE %.3f\n", round, e->rmse);
    }
  }
  return global;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Federated training of the RUL model on C-MAPSS FD001 across agents, "
               "with clean and poisoned agents, against centralized training."};
  std::string data_dir = "data/cmapss";
  int agents = 10, poisoned = 2;
  uint64_t seed = 1;
  bool quick = false, verbose = false;
  std::string strategies_text = "fedavg,fedprox,median,trimmed-mean";
  Setup setup;
  app.add_option("--data", data_dir, "Folder with train_FD001.txt, test_FD001.txt, RUL_FD001.txt")
      ->capture_default_str();
  app.add_option("--agents", agents, "Agents; each gets a contiguous range of training units")
      ->capture_default_str();
  app.add_option("--poisoned", poisoned, "Agents sending poisoned updates in the attack rows")
      ->capture_default_str();
  app.add_option("--poison-scale", setup.poison_scale,
                 "A poisoned agent sends global + scale * (its update - global)")
      ->capture_default_str();
  app.add_option("--rounds", setup.rounds, "Federated rounds")->capture_default_str();
  app.add_option("--local-epochs", setup.local_epochs, "Epochs each agent trains per round")
      ->capture_default_str();
  app.add_option("--proximal-mu", setup.prox_mu, "FedProx's mu")->capture_default_str();
  app.add_flag("--cosine,!--constant-lr", setup.cosine,
               "Cosine learning-rate decay over the rounds (else constant)")
      ->capture_default_str();
  app.add_option("--final-lr-fraction", setup.final_lr_fraction,
                 "Learning rate of the last round, as a fraction of the first")
      ->capture_default_str();
  app.add_option("--learning-rate", setup.learning_rate,
                 "The agents' Adam learning rate in round 1 (a round averages ten agents' steps, "
                 "so it moves less than a centralized epoch at the same rate)")
      ->capture_default_str();
  app.add_option("--local-validation", setup.local_validation,
                 "Share of its units each agent holds out to pick its best local epoch and fit "
                 "the uncertainty (0: none)")
      ->capture_default_str();
  app.add_option("--strategies", strategies_text, "Comma-separated strategies to run")
      ->capture_default_str();
  app.add_option("--seed", seed, "Seed of the start and of every local training")
      ->capture_default_str();
  bool dev = false;
  app.add_flag("--dev", dev,
               "Tune without the test set: 80 training units train, 20 others (cut like the "
               "test set) are scored");
  app.add_flag("--verbose", verbose, "Print the test RMSE after every round");
  app.add_flag("--quick", quick,
               "Smoke run: 2 rounds of 1 epoch, a small ensemble (checks the path, not quality)");
  CLI11_PARSE(app, argc, argv);
  if (agents < 1 || agents > 100 || poisoned < 0 || poisoned >= agents || setup.rounds < 1 ||
      setup.local_epochs < 1) {
    std::fprintf(stderr, "fl_bench: need 1 <= agents <= 100, 0 <= poisoned < agents, "
                         "rounds >= 1 and local epochs >= 1\n");
    return 2;
  }
  std::vector<ff::Strategy> strategies;
  const std::vector<std::string> names = absl::StrSplit(strategies_text, ',', absl::SkipEmpty());
  for (const std::string& name : names) {
    absl::StatusOr<ff::Strategy> s = ff::ParseStrategy(name);
    if (!s.ok()) return Fail(s.status());
    strategies.push_back(*s);
  }

  absl::StatusOr<fm::Dataset> train = fm::ReadCmapss(data_dir + "/train_FD001.txt");
  if (!train.ok()) return Fail(train.status());
  absl::StatusOr<fm::Dataset> test = fm::ReadCmapss(data_dir + "/test_FD001.txt");
  if (!test.ok()) return Fail(test.status());
  absl::StatusOr<std::vector<double>> rul = fm::ReadRulFile(data_dir + "/RUL_FD001.txt");
  if (!rul.ok()) return Fail(rul.status());
  setup.test = *test;
  setup.true_rul = *rul;
  if (dev) {
    fm::DevelopmentSplit split = fm::SplitForDevelopment(*train);
    *train = std::move(split.train);
    setup.test = std::move(split.dev);
    setup.true_rul = std::move(split.dev_rul);
    std::printf("development split: scoring on %zu cut training units, not the test set\n",
                setup.test.units.size());
  }
  setup.options.seed = seed;
  if (quick) {
    setup.rounds = 2;
    setup.local_epochs = 1;
    setup.options.ensemble = 2;
    setup.options.max_epochs = 2;
  }
  setup.parts.assign(static_cast<size_t>(agents), fm::Dataset{train->channels, {}});
  for (size_t u = 0; u < train->units.size(); ++u) {
    setup.parts[u * static_cast<size_t>(agents) / train->units.size()].units.push_back(
        train->units[u]);
  }
  std::printf("C-MAPSS FD001: %zu training units over %d agents (contiguous ranges), %zu test units\n",
              train->units.size(), agents, test->units.size());
  std::printf("budget: %d rounds x %d local epochs = %d epochs per agent; centralized: up to %d "
              "epochs with early stopping\n",
              setup.rounds, setup.local_epochs, setup.rounds * setup.local_epochs,
              setup.options.max_epochs);
  std::fflush(stdout);

  std::vector<Row> rows;
  using Clock = std::chrono::steady_clock;
  auto timed = [&](const std::string& name, auto&& train_fn) -> absl::Status {
    const auto started = Clock::now();
    absl::StatusOr<fm::RulModel> model = train_fn();
    if (!model.ok()) return model.status();
    absl::StatusOr<fm::Evaluation> e = fm::Evaluate(*model, setup.test, setup.true_rul);
    if (!e.ok()) return e.status();
    rows.push_back({name, e->rmse, e->phm_score,
                    std::chrono::duration<double>(Clock::now() - started).count()});
    std::printf("%-28s test RMSE %7.3f  PHM score %9.1f  %6.1f s\n", name.c_str(), e->rmse,
                e->phm_score, rows.back().seconds);
    std::fflush(stdout);
    return absl::OkStatus();
  };
  if (absl::Status s = timed("centralized", [&] { return fm::Train(*train, setup.options); });
      !s.ok()) {
    return Fail(s);
  }
  for (int attack : {0, poisoned}) {
    if (attack == 0 || poisoned > 0) {
      for (ff::Strategy strategy : strategies) {
        const std::string name = absl::StrCat(std::string(ff::StrategyName(strategy)),
                                              attack ? absl::StrCat(", ", attack, " poisoned") : "");
        if (absl::Status s = timed(name, [&] { return Federate(setup, strategy, attack, verbose); });
            !s.ok()) {
          return Fail(s);
        }
      }
    }
    if (poisoned == 0) break;
  }

  // The targets: FedAvg (clean) within 5 % of centralized; robust strategies under attack
  // within 10 % of the clean FedAvg result.
  const double central = rows[0].rmse;
  double clean = 0;
  for (const Row& r : rows) {
    if (r.name == "fedavg") clean = r.rmse;
  }
  std::printf("\n%-28s %9s %12s %12s\n", "row", "RMSE", "vs central", "vs clean");
  for (const Row& r : rows) {
    std::printf("%-28s %9.3f %+11.1f%% %+11.1f%%\n", r.name.c_str(), r.rmse,
                100 * (r.rmse / central - 1), clean > 0 ? 100 * (r.rmse / clean - 1) : 0.0);
  }
  // Exit 1 when a target is missed (not with --quick, whose budget is far too small).
  bool met = true;
  if (clean > 0) {
    met = clean <= 1.05 * central;
    std::printf("fedavg within 5%% of centralized: %s\n", met ? "met" : "NOT met");
    for (const Row& r : rows) {
      const bool robust = r.name.starts_with("median,") || r.name.starts_with("trimmed-mean,");
      if (robust) {
        const bool ok = r.rmse <= 1.10 * clean;
        met = met && ok;
        std::printf("%s within 10%% of clean fedavg: %s\n", r.name.c_str(), ok ? "met" : "NOT met");
      }
    }
  }
  return quick || met ? 0 : 1;
}
