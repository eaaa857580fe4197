#include "mlp.h"

#include <cmath>
#include <limits>

namespace fleettwin::model {
namespace {

struct Adam {
  explicit Adam(const Mlp& shape) {
    for (size_t l = 0; l < shape.w.size(); ++l) {
      mw.push_back(Eigen::MatrixXf::Zero(shape.w[l].rows(), shape.w[l].cols()));
      vw.push_back(mw.back());
      mb.push_back(Eigen::VectorXf::Zero(shape.b[l].size()));
      vb.push_back(mb.back());
    }
  }
  std::vector<Eigen::MatrixXf> mw, vw;
  std::vector<Eigen::VectorXf> mb, vb;
  int step = 0;
};

constexpr float kBeta1 = 0.9f, kBeta2 = 0.999f, kEpsilon = 1e-8f;

template <typename Param, typename Grad>
void AdamUpdate(Param& p, const Grad& g, Param& m, Param& v, float lr_t) {
  m = kBeta1 * m + (1 - kBeta1) * g;
  v = kBeta2 * v + (1 - kBeta2) * g.cwiseProduct(g);
  p.array() -= lr_t * m.array() / (v.array().sqrt() + kEpsilon);
}

double Rmse(const Mlp& net, const Eigen::MatrixXf& x, const Eigen::RowVectorXf& y) {
  if (x.cols() == 0) return 0;
  const Eigen::RowVectorXf d = net.Forward(x) - y;
  return std::sqrt(d.cast<double>().squaredNorm() / static_cast<double>(d.size()));
}

}  // namespace

uint64_t MixSeed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

Mlp Mlp::Random(const std::vector<int>& layers, std::mt19937_64& rng) {
  Mlp net;
  for (size_t l = 0; l + 1 < layers.size(); ++l) {
    const int in = layers[l], out = layers[l + 1];
    const double limit = std::sqrt(6.0 / in);
    Eigen::MatrixXf w(out, in);
    for (int i = 0; i < out; ++i) {
      for (int j = 0; j < in; ++j) w(i, j) = static_cast<float>((2 * Uniform01(rng) - 1) * limit);
    }
    net.w.push_back(std::move(w));
    net.b.push_back(Eigen::VectorXf::Zero(out));
  }
  return net;
}

Eigen::RowVectorXf Mlp::Forward(const Eigen::MatrixXf& x) const {
  Eigen::MatrixXf a = x;
  for (size_t l = 0; l < w.size(); ++l) {
    Eigen::MatrixXf z = w[l] * a;
    z.colwise() += b[l];
    if (l + 1 < w.size()) z = z.cwiseMax(0.f);
    a = std::move(z);
  }
  return a.row(0);
}

float Mlp::Forward(const Eigen::VectorXf& x, std::vector<Eigen::VectorXf>& scratch) const {
  scratch.resize(w.size());
  const Eigen::VectorXf* in = &x;
  for (size_t l = 0; l < w.size(); ++l) {
    scratch[l].noalias() = w[l] * *in;
    scratch[l] += b[l];
    if (l + 1 < w.size()) scratch[l] = scratch[l].cwiseMax(0.f);
    in = &scratch[l];
  }
  return (*in)(0);
}

FitResult Fit(const Mlp& start, const Eigen::MatrixXf& x, const Eigen::RowVectorXf& y,
              const Eigen::MatrixXf& x_val, const Eigen::RowVectorXf& y_val,
              const FitOptions& options, std::mt19937_64& rng) {
  const size_t layers = start.w.size();
  const Eigen::Index n = x.cols();
  const Eigen::Index batch = std::min<Eigen::Index>(options.batch_size, std::max<Eigen::Index>(n, 1));
  Mlp net = start;
  Adam adam(net);
  FitResult result{net, 0, std::numeric_limits<double>::infinity()};
  int best_epoch = 0;
  int plateau_start = 0;
  float learning_rate = options.learning_rate;

  std::vector<Eigen::Index> order(static_cast<size_t>(n));
  for (Eigen::Index i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  std::vector<Eigen::MatrixXf> act(layers + 1);  // act[0] is the batch input.
  std::vector<Eigen::MatrixXf> grad_w(layers);
  std::vector<Eigen::VectorXf> grad_b(layers);
  Eigen::RowVectorXf target;
  Eigen::MatrixXf delta, next_delta;

  for (int epoch = 1; epoch <= options.max_epochs && n > 0; ++epoch) {
    Shuffle(order, rng);
    for (Eigen::Index first = 0; first < n; first += batch) {
      const Eigen::Index size = std::min(batch, n - first);
      act[0].resize(x.rows(), size);
      target.resize(size);
      for (Eigen::Index j = 0; j < size; ++j) {
        const Eigen::Index i = order[static_cast<size_t>(first + j)];
        act[0].col(j) = x.col(i);
        target(j) = y(i);
      }
      if (options.input_noise > 0) {
        float* a = act[0].data();
        for (Eigen::Index k = 0; k < act[0].size(); ++k) {
          a[k] += options.input_noise * static_cast<float>(Normal(rng));
        }
      }
      for (size_t l = 0; l < layers; ++l) {
        act[l + 1].noalias() = net.w[l] * act[l];
        act[l + 1].colwise() += net.b[l];
        if (l + 1 < layers) act[l + 1] = act[l + 1].cwiseMax(0.f);
      }
      // d(mean squared error)/d(output).
      delta = (act[layers] - target) * (2.f / static_cast<float>(size));
      for (size_t l = layers; l-- > 0;) {
        grad_w[l].noalias() = delta * act[l].transpose();
        grad_b[l] = delta.rowwise().sum().transpose();
        if (l > 0) {
          next_delta.noalias() = net.w[l].transpose() * delta;
          delta = next_delta.cwiseProduct((act[l].array() > 0.f).cast<float>().matrix());
        }
      }
      ++adam.step;
      const float lr_t = learning_rate *
                         std::sqrt(1 - std::pow(kBeta2, static_cast<float>(adam.step))) /
                         (1 - std::pow(kBeta1, static_cast<float>(adam.step)));
      for (size_t l = 0; l < layers; ++l) {
        if (options.weight_decay > 0) grad_w[l] += options.weight_decay * net.w[l];
        if (options.prox_mu > 0) {
          grad_w[l] += options.prox_mu * (net.w[l] - start.w[l]);
          grad_b[l] += options.prox_mu * (net.b[l] - start.b[l]);
        }
        AdamUpdate(net.w[l], grad_w[l], adam.mw[l], adam.vw[l], lr_t);
        AdamUpdate(net.b[l], grad_b[l], adam.mb[l], adam.vb[l], lr_t);
      }
    }
    result.epochs = epoch;
    if (x_val.cols() == 0) continue;
    const double rmse = Rmse(net, x_val, y_val) * options.output_scale;
    if (rmse < result.validation_rmse) {
      result.validation_rmse = rmse;
      result.net = net;
      best_epoch = epoch;
      plateau_start = epoch;
    } else if (options.patience > 0 && epoch - best_epoch >= options.patience) {
      break;
    } else if (options.patience > 0 && epoch - plateau_start >= std::max(1, options.patience / 3)) {
      // Reduce on plateau: smaller steps average out the noise of the mini-batches.
      learning_rate *= 0.5f;
      plateau_start = epoch;
    }
  }
  if (x_val.cols() == 0) {
    result.net = net;
    result.validation_rmse = 0;
  }
  return result;
}

}  // namespace fleettwin::model
