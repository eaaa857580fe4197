#include "window_features.h"

#include <cmath>

namespace fleettwin::model {

int FeatureCount(int rows, int channels, const FeatureSet& set) {
  const int per_channel =
      set.blocks + 1 + (set.std ? 1 : 0) + static_cast<int>(set.ewma.size());
  return channels * per_channel + (set.raw ? rows * channels : 0) + (set.age ? 1 : 0);
}

void WindowFeatures(const double* window, int rows, int channels, const FeatureSet& set,
                    double age, float* out) {
  const int blocks = set.blocks;
  const int per_channel = blocks + 1 + (set.std ? 1 : 0) + static_cast<int>(set.ewma.size());
  const double t_mean = (rows - 1) / 2.0;
  double t_var = 0;
  for (int t = 0; t < rows; ++t) t_var += (t - t_mean) * (t - t_mean);
  for (int c = 0; c < channels; ++c) {
    float* f = out + c * per_channel;
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
    int next = blocks + 1;
    if (set.std) {
      double sum = 0, sum_sq = 0;
      for (int t = 0; t < rows; ++t) sum += window[t * channels + c];
      const double mean = sum / rows;
      for (int t = 0; t < rows; ++t) {
        const double d = window[t * channels + c] - mean;
        sum_sq += d * d;
      }
      f[next++] = static_cast<float>(std::sqrt(sum_sq / rows));
    }
    for (double alpha : set.ewma) {
      double s = window[c];
      for (int t = 1; t < rows; ++t) s += alpha * (window[t * channels + c] - s);
      f[next++] = static_cast<float>(s);
    }
  }
  float* f = out + channels * per_channel;
  if (set.raw) {
    for (int i = 0; i < rows * channels; ++i) *f++ = static_cast<float>(window[i]);
  }
  if (set.age) *f = static_cast<float>(age);
}

}  // namespace fleettwin::model
