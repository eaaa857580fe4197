// Run-to-failure data and the standard C-MAPSS evaluation protocol (docs/failure-model.md):
// reading NASA's text files, choosing the informative sensors from training data, the capped
// piecewise-linear RUL target, windows padded at the start, z-score normalisation fitted on
// training data only, RMSE and the PHM 2008 score. No learning happens here (rul_model.h).
#ifndef FLEETTWIN_MODEL_CMAPSS_H_
#define FLEETTWIN_MODEL_CMAPSS_H_

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace fleettwin::model {

// One unit's series: one row of channel values per operating cycle, oldest first.
struct UnitSeries {
  int unit = 0;
  std::vector<std::vector<double>> rows;
};

// Units sharing one list of channel names; every row has channels.size() values.
struct Dataset {
  std::vector<std::string> channels;
  std::vector<UnitSeries> units;
};

// The 24 channel names of a C-MAPSS row after unit and cycle: os1..os3, s1..s21 (the channels
// of the cmapss-turbofan asset kind).
std::vector<std::string> CmapssChannels();

// Reads a train_FD00x.txt or test_FD00x.txt file: 26 whitespace-separated numbers per line.
// Units must appear in contiguous blocks with cycles 1, 2, 3, ... Errors: NotFound, or
// InvalidArgument naming the line for a wrong column count, a non-number or a cycle out of
// sequence.
absl::StatusOr<Dataset> ReadCmapss(const std::filesystem::path& file);

// Reads RUL_FD00x.txt: one non-negative integer per line, the true RUL after the last cycle of
// each test unit. Errors: NotFound, InvalidArgument.
absl::StatusOr<std::vector<double>> ReadRulFile(const std::filesystem::path& file);

// The names in `candidates` (in that order) that vary in `train`: a channel is constant when
// its standard deviation over all rows is below its quantisation step (the smallest gap
// between two distinct recorded values), or when it has a single value. Unknown names are
// skipped. For FD001 and candidates s1..s21 this keeps s2 s3 s4 s7 s8 s9 s11 s12 s13 s14 s15
// s17 s20 s21.
std::vector<std::string> InformativeChannels(const Dataset& train,
                                             absl::Span<const std::string> candidates);

// `data` restricted to `names`, in that order. InvalidArgument if a name is missing.
absl::StatusOr<Dataset> SelectChannels(const Dataset& data, absl::Span<const std::string> names);

// The piecewise-linear target of a unit that fails after its last row: row i of n has
// min(cap, n - 1 - i) cycles left.
std::vector<double> CappedRul(size_t rows, double cap);

// The `window` rows ending at row `end` (inclusive), oldest first. When fewer than `window`
// rows exist up to `end`, the first row is repeated in front. REQUIRES: end < rows.size(),
// window >= 1.
std::vector<std::vector<double>> WindowEndingAt(const std::vector<std::vector<double>>& rows,
                                                size_t end, int window);

// Per-channel z-score normalisation.
struct ZScore {
  std::vector<double> mean;
  std::vector<double> std;  // Never below 1e-12 * max(1, |mean|), so Apply never divides by 0.

  // Fits on every row of `data` (give it training data only).
  static ZScore Fit(const Dataset& data);
  // (row[c] - mean[c]) / std[c] in place. REQUIRES: row.size() == mean.size().
  void Apply(std::vector<double>& row) const;
};

// Tuning data that leaves the test set alone: 20 training units (a fixed choice) become a
// development set, each cut 5 times like the test set (true RUL 7..145 after the cut, at least
// 31 cycles kept); the other units train. Deterministic.
struct DevelopmentSplit {
  Dataset train;
  Dataset dev;                  // The cut units (up to 100), named by their training unit.
  std::vector<double> dev_rul;  // True RUL after each dev unit's last row.
};
DevelopmentSplit SplitForDevelopment(const Dataset& all);

// Root mean squared error. REQUIRES: equal non-zero sizes.
double Rmse(absl::Span<const double> predicted, absl::Span<const double> truth);

// PHM 2008 challenge score, summed over units with d = predicted - truth: exp(-d/13) - 1 for
// d < 0 (early), exp(d/10) - 1 for d >= 0 (late; punished harder). Lower is better.
// REQUIRES: equal sizes.
double PhmScore(absl::Span<const double> predicted, absl::Span<const double> truth);

}  // namespace fleettwin::model

#endif  // FLEETTWIN_MODEL_CMAPSS_H_
