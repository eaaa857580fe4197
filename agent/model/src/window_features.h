// Engineered features of one normalised input window, shared by training and Predict so the
// two cannot drift apart. Per channel: the means of `blocks` consecutive blocks of cycles
// (oldest first; a denoised, down-sampled copy of the window) and the least-squares slope
// times the window length (the change over the window).
#ifndef FLEETTWIN_MODEL_SRC_WINDOW_FEATURES_H_
#define FLEETTWIN_MODEL_SRC_WINDOW_FEATURES_H_

#include <cstddef>

namespace fleettwin::model {

// Features per window of `channels` channels.
inline int FeatureCount(int channels, int blocks) { return channels * (blocks + 1); }

// Writes FeatureCount(channels, blocks) values to `out`. `window` holds rows * channels values,
// row-major, oldest row first. REQUIRES: 1 <= blocks <= rows.
void WindowFeatures(const double* window, int rows, int channels, int blocks, float* out);

}  // namespace fleettwin::model

#endif  // FLEETTWIN_MODEL_SRC_WINDOW_FEATURES_H_
