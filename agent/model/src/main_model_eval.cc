// model_eval: trains the failure model on C-MAPSS FD001 for each seed, scores it on the test
// units with the standard protocol (docs/failure-model.md) and prints the figures.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "fleettwin/model/cmapss.h"
#include "fleettwin/model/rul_model.h"

namespace {

constexpr double kTargetRmse = 13.0;

struct SeedResult {
  uint64_t seed;
  double rmse, score, seconds, validation_rmse;
  int epochs;
};

double Mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

// Sample standard deviation (n - 1); 0 for one value.
double Std(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = Mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

}  // namespace

int main(int argc, char** argv) {
  using namespace fleettwin::model;
  CLI::App app{"Trains the RUL model on C-MAPSS FD001 per seed and scores it on the test set."};
  std::string data_dir = "data/cmapss";
  std::string seeds_text = "1,2,3";
  std::string out_dir;
  bool quick = false;
  TrainOptions options;
  app.add_option("--data", data_dir, "Folder with train_FD001.txt, test_FD001.txt, RUL_FD001.txt")
      ->capture_default_str();
  app.add_option("--seeds", seeds_text, "Comma-separated training seeds")->capture_default_str();
  app.add_option("--epochs", options.max_epochs, "Maximum epochs per ensemble member")
      ->capture_default_str();
  app.add_option("--blocks", options.feature_blocks, "Block means per channel and window")
      ->capture_default_str();
  app.add_flag("--feature-std,!--no-feature-std", options.feature_std,
               "Add each channel's standard deviation over the window");
  std::string ewma_text;
  app.add_option("--ewma", ewma_text, "Comma-separated EWMA factors in (0, 1]; empty: none");
  app.add_flag("--age,!--no-age", options.feature_age,
               "Add the asset's age (cycles run) as a feature")
      ->capture_default_str();
  app.add_flag("--raw,!--no-raw", options.feature_raw, "Add the normalised window itself");
  app.add_option("--ensemble", options.ensemble, "MLPs per model")->capture_default_str();
  app.add_option("--threads", options.threads, "Training threads")->capture_default_str();
  app.add_option("--horizon", options.horizon, "H of P(failure within H cycles)")
      ->capture_default_str();
  std::string hidden_text = "64,32";
  app.add_option("--hidden", hidden_text, "Hidden layer widths")->capture_default_str();
  app.add_option("--lr", options.learning_rate, "Adam learning rate")->capture_default_str();
  app.add_option("--batch", options.batch_size, "Mini-batch size")->capture_default_str();
  app.add_option("--patience", options.patience, "Early-stopping patience (epochs)")
      ->capture_default_str();
  app.add_option("--noise", options.input_noise, "Std of Gaussian noise on training features")
      ->capture_default_str();
  app.add_option("--weight-decay", options.weight_decay, "L2 on weights")->capture_default_str();
  app.add_option("--validation-fraction", options.validation_fraction,
                 "Share of training units each member holds out")
      ->capture_default_str();
  bool dev = false;
  app.add_flag("--dev", dev,
               "Tuning mode: never reads the test set; holds out 20 training units, cut like "
               "the test set, and scores on those instead");
  app.add_option("--out", out_dir, "Save the first seed's model into this folder");
  app.add_flag("--quick", quick, "Smoke mode: 20 training units, 2 members, 3 epochs");
  CLI11_PARSE(app, argc, argv);

  options.hidden.clear();
  for (absl::string_view part : absl::StrSplit(hidden_text, ',')) {
    int width;
    if (!absl::SimpleAtoi(part, &width)) {
      std::fprintf(stderr, "model_eval: bad --hidden\n");
      return 2;
    }
    options.hidden.push_back(width);
  }
  options.feature_ewma.clear();
  for (absl::string_view part : absl::StrSplit(ewma_text, ',', absl::SkipEmpty())) {
    double alpha;
    if (!absl::SimpleAtod(part, &alpha)) {
      std::fprintf(stderr, "model_eval: bad --ewma\n");
      return 2;
    }
    options.feature_ewma.push_back(alpha);
  }
  std::vector<uint64_t> seeds;
  for (absl::string_view part : absl::StrSplit(seeds_text, ',')) {
    uint64_t seed;
    if (!absl::SimpleAtoi(part, &seed)) {
      std::fprintf(stderr, "model_eval: bad seed '%.*s'\n", static_cast<int>(part.size()),
                   part.data());
      return 2;
    }
    seeds.push_back(seed);
  }

  absl::StatusOr<Dataset> train = ReadCmapss(data_dir + "/train_FD001.txt");
  absl::StatusOr<Dataset> test;
  absl::StatusOr<std::vector<double>> rul;
  if (dev) {
    if (train.ok()) {
      DevelopmentSplit split = SplitForDevelopment(*train);
      *train = std::move(split.train);
      test = std::move(split.dev);
      rul = std::move(split.dev_rul);
    }
  } else {
    test = ReadCmapss(data_dir + "/test_FD001.txt");
    rul = ReadRulFile(data_dir + "/RUL_FD001.txt");
  }
  for (const absl::Status& s : {train.status(), test.status(), rul.status()}) {
    if (!s.ok()) {
      std::fprintf(stderr, "model_eval: %s\n", std::string(s.message()).c_str());
      return 1;
    }
  }
  if (quick) {
    train->units.resize(std::min<size_t>(train->units.size(), 20));
    options.ensemble = std::min(options.ensemble, 2);
    options.max_epochs = std::min(options.max_epochs, 3);
  }
  std::printf("C-MAPSS FD001: %zu training units, %zu %s units; window %d, RUL cap %g%s\n",
              train->units.size(), test->units.size(), dev ? "development (not test)" : "test",
              options.window, options.rul_cap,
              quick ? " (quick smoke mode: figures are meaningless)" : "");

  std::vector<SeedResult> results;
  for (size_t i = 0; i < seeds.size(); ++i) {
    options.seed = seeds[i];
    TrainReport report;
    absl::StatusOr<RulModel> model = Train(*train, options, &report);
    if (!model.ok()) {
      std::fprintf(stderr, "model_eval: %s\n", std::string(model.status().message()).c_str());
      return 1;
    }
    absl::StatusOr<Evaluation> eval = Evaluate(*model, *test, *rul);
    if (!eval.ok()) {
      std::fprintf(stderr, "model_eval: %s\n", std::string(eval.status().message()).c_str());
      return 1;
    }
    if (i == 0) {
      std::printf("model: %s\n", model->Describe().c_str());
      if (!out_dir.empty()) {
        if (absl::Status s = model->Save(out_dir); !s.ok()) {
          std::fprintf(stderr, "model_eval: %s\n", std::string(s.message()).c_str());
          return 1;
        }
        std::printf("saved seed %llu to %s (version %s)\n",
                    static_cast<unsigned long long>(seeds[i]), out_dir.c_str(),
                    model->version().c_str());
      }
    }
    results.push_back({seeds[i], eval->rmse, eval->phm_score, report.seconds,
                       report.validation_rmse, report.epochs_run});
    std::printf("seed %llu: %s RMSE %.3f  PHM score %.1f  epochs %d  train %.1f s  "
                "(validation RMSE %.2f, mean-predictor %.2f)\n",
                static_cast<unsigned long long>(seeds[i]), dev ? "dev" : "test", eval->rmse,
                eval->phm_score, report.epochs_run, report.seconds, report.validation_rmse,
                report.baseline_rmse);
    std::fflush(stdout);
  }
  std::vector<double> rmse, score, seconds;
  for (const SeedResult& r : results) {
    rmse.push_back(r.rmse);
    score.push_back(r.score);
    seconds.push_back(r.seconds);
  }
  std::printf("mean over %zu seeds: %s RMSE %.3f (std %.3f)  PHM score %.1f (std %.1f)  "
              "train %.1f s\n",
              results.size(), dev ? "dev" : "test", Mean(rmse), Std(rmse), Mean(score), Std(score), Mean(seconds));
  std::printf("target RMSE <= %.1f: %s\n", kTargetRmse,
              Mean(rmse) <= kTargetRmse ? "met" : "NOT met");
  return 0;
}
