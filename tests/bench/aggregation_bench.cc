// aggregation_bench: the server's aggregation speed. U updates of a P-parameter float32 model
// (random values, random example counts) are aggregated in one process by each strategy;
// prints the median time of several repetitions and the GB/s of update data consumed
// (U * P * 4 bytes per aggregation). Target: >= 2 GB/s for FedAvg at U = 100, P = 1 M.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "fleettwin/federated/strategy.h"

namespace ff = fleettwin::federated;

int main(int argc, char** argv) {
  CLI::App app{"Times FedAvg, median and trimmed-mean aggregation of many model updates."};
  int updates = 100, repetitions = 7, threads = 2;
  size_t parameters = 1'000'000;
  bool quick = false;
  app.add_option("--updates", updates, "Updates per aggregation")->capture_default_str();
  app.add_option("--parameters", parameters, "float32 values per update")->capture_default_str();
  app.add_option("--repetitions", repetitions, "Timed aggregations per strategy (median shown)")
      ->capture_default_str();
  app.add_option("--threads", threads, "Aggregation threads")->capture_default_str();
  app.add_flag("--quick", quick, "Smoke run: 10 updates of 10 000 values, 2 repetitions");
  CLI11_PARSE(app, argc, argv);
  if (quick) {
    updates = 10;
    parameters = 10'000;
    repetitions = 2;
  }
  if (updates < 1 || parameters < 1 || repetitions < 1 || threads < 1) {
    std::fprintf(stderr, "aggregation_bench: every count must be >= 1\n");
    return 2;
  }

  std::mt19937_64 rng(42);
  std::uniform_real_distribution<float> value(-1, 1);
  std::uniform_int_distribution<int> examples(100, 10000);
  std::vector<std::vector<float>> data(static_cast<size_t>(updates), std::vector<float>(parameters));
  std::vector<ff::ClientUpdate> views;
  for (std::vector<float>& d : data) {
    for (float& x : d) x = value(rng);
    views.push_back({d, static_cast<double>(examples(rng))});
  }
  const std::vector<float> global(parameters, 0.0f);
  const double bytes = static_cast<double>(updates) * static_cast<double>(parameters) * 4;
  std::printf("%d updates x %zu float32 parameters = %.1f MB per aggregation, %d threads\n",
              updates, parameters, bytes / 1e6, threads);

  struct Case {
    const char* name;
    ff::Strategy strategy;
    double clip;
    double noise;
  };
  const Case cases[] = {{"fedavg", ff::Strategy::kFedAvg, 0, 0},
                        {"trimmed-mean (20 %)", ff::Strategy::kTrimmedMean, 0, 0},
                        {"median", ff::Strategy::kMedian, 0, 0},
                        {"fedavg + DP (clip, noise 1)", ff::Strategy::kFedAvg, 100, 1}};
  for (const Case& c : cases) {
    ff::AggregateOptions options;
    options.strategy = c.strategy;
    options.clip_norm = c.clip;
    options.noise_multiplier = c.noise;
    options.threads = threads;
    std::vector<double> seconds;
    for (int r = 0; r < repetitions; ++r) {
      const auto started = std::chrono::steady_clock::now();
      absl::StatusOr<std::vector<float>> out = ff::Aggregate(global, views, options);
      seconds.push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      if (!out.ok()) {
        std::fprintf(stderr, "aggregation_bench: %s\n", std::string(out.status().message()).c_str());
        return 1;
      }
    }
    std::sort(seconds.begin(), seconds.end());
    const double median = seconds[seconds.size() / 2];
    std::printf("%-28s median %8.1f ms  %6.2f GB/s of updates consumed\n", c.name, median * 1e3,
                bytes / median / 1e9);
  }
  return 0;
}
