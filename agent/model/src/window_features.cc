#include "window_features.h"

namespace fleettwin::model {

void WindowFeatures(const double* window, int rows, int channels, int blocks, float* out) {
  const double t_mean = (rows - 1) / 2.0;
  double t_var = 0;
  for (int t = 0; t < rows; ++t) t_var += (t - t_mean) * (t - t_mean);
  for (int c = 0; c < channels; ++c) {
    float* f = out + c * (blocks + 1);
    for (int k = 0; k < blocks; ++k) {
      // Integer boundaries spread any remainder over the blocks.
      const int begin = k * rows / blocks, end = (k + 1) * rows / blocks;
      double sum = 0;
      for (int t = begin; t < end; ++t) sum += window[t * channels + c];
      f[k] = static_cast<float>(sum / (end - begin));
    }
    double cov = 0;
    for (int t = 0; t < rows; ++t) cov += (t - t_mean) * window[t * channels + c];
    f[blocks] = t_var > 0 ? static_cast<float>(cov / t_var * rows) : 0.f;
  }
}

}  // namespace fleettwin::model
