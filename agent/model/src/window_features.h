// Engineered features of one normalised input window, shared by training and Predict so the
// two cannot drift apart. Per channel: the means of `blocks` consecutive blocks of cycles
// (oldest first; a denoised, down-sampled copy of the window), the least-squares slope times
// the window length (the change over the window) and, when chosen, the standard deviation
// over the window and the last value of exponentially weighted moving averages; then, when
// chosen, the whole window itself (row-major, oldest row first); then, when chosen, the asset's
// age (cycles run at the window's last row).
#ifndef FLEETTWIN_MODEL_SRC_WINDOW_FEATURES_H_
#define FLEETTWIN_MODEL_SRC_WINDOW_FEATURES_H_

#include <cstddef>
#include <vector>

namespace fleettwin::model {

// Which features a window yields. The default is the original block-means+slope set.
struct FeatureSet {
  int blocks = 3;             // Block means per channel. REQUIRES: 1 <= blocks <= rows.
  bool std = false;           // Standard deviation per channel over the window.
  std::vector<double> ewma;   // Smoothing factors in (0, 1]: last EWMA value per channel.
  bool raw = false;           // The rows * channels normalised values themselves.
  bool age = false;           // The asset's age in cycles at the last row.

  // True without std, EWMA and raw (blocks, slope and perhaps age), saved in the short format.
  bool basic() const { return !std && ewma.empty() && !raw; }
};

// Features per window of `rows` x `channels`.
int FeatureCount(int rows, int channels, const FeatureSet& set);

// Writes FeatureCount(rows, channels, set) values to `out`. `window` holds rows * channels
// values, row-major, oldest row first; `age` is used when set.age.
void WindowFeatures(const double* window, int rows, int channels, const FeatureSet& set,
                    double age, float* out);

}  // namespace fleettwin::model

#endif  // FLEETTWIN_MODEL_SRC_WINDOW_FEATURES_H_
