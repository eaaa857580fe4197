// A fully connected ReLU network with one linear output, its Adam training on a feature matrix
// and the random numbers it needs, all deterministic for a seed. Private to the model library.
#ifndef FLEETTWIN_MODEL_SRC_MLP_H_
#define FLEETTWIN_MODEL_SRC_MLP_H_

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace fleettwin::model {

// Uniform double in [0, 1) from the top 53 bits; std::uniform_real_distribution's output is
// implementation-defined and would break bit-identical results across standard libraries.
inline double Uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1p-53; }
// Uniform integer in [0, n). The modulo bias (n << 2^64) does not matter here.
inline size_t UniformIndex(std::mt19937_64& rng, size_t n) { return static_cast<size_t>(rng() % n); }
// Fisher-Yates with UniformIndex (std::shuffle's use of the engine is unspecified).
template <typename T>
void Shuffle(std::vector<T>& v, std::mt19937_64& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[UniformIndex(rng, i)]);
}
// Standard normal draw (Box-Muller on Uniform01; std::normal_distribution is
// implementation-defined).
inline double Normal(std::mt19937_64& rng) {
  const double u1 = 1.0 - Uniform01(rng), u2 = Uniform01(rng);  // u1 in (0, 1].
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}
// Independent seeds for several streams from one user seed (SplitMix64 finaliser).
uint64_t MixSeed(uint64_t seed, uint64_t stream);

struct Mlp {
  std::vector<Eigen::MatrixXf> w;  // w[l]: out x in.
  std::vector<Eigen::VectorXf> b;  // b[l]: out.

  // He-uniform weights and zero biases for layer widths `layers` (input first, 1 last).
  static Mlp Random(const std::vector<int>& layers, std::mt19937_64& rng);
  // One output per column of `x` (features x samples).
  Eigen::RowVectorXf Forward(const Eigen::MatrixXf& x) const;
  // The output for one sample; `scratch` avoids allocations when reused.
  float Forward(const Eigen::VectorXf& x, std::vector<Eigen::VectorXf>& scratch) const;
};

struct FitOptions {
  int max_epochs = 100;
  int patience = 0;  // 0: no early stopping.
  int batch_size = 256;
  float learning_rate = 1e-3f;
  float weight_decay = 0;
  float prox_mu = 0;
  float input_noise = 0;   // Std of Gaussian noise added to every training input, per batch.
  float output_scale = 1;  // Validation RMSE is reported in output units times this.
};

struct FitResult {
  Mlp net;                  // The parameters of the best validation epoch (or the last).
  int epochs = 0;           // Epochs run.
  double validation_rmse = 0;  // Of `net`, times output_scale; 0 without validation data.
};

// Minimises mean squared error of net(x) against y with Adam from `start`, plus weight decay
// and the FedProx term prox_mu/2 ||w - start||^2. `x_val` may have 0 columns. Deterministic
// for `rng`'s state.
FitResult Fit(const Mlp& start, const Eigen::MatrixXf& x, const Eigen::RowVectorXf& y,
              const Eigen::MatrixXf& x_val, const Eigen::RowVectorXf& y_val,
              const FitOptions& options, std::mt19937_64& rng);

}  // namespace fleettwin::model

#endif  // FLEETTWIN_MODEL_SRC_MLP_H_
