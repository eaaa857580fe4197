// The random source injected into simulation models: xoshiro256** seeded through splitmix64,
// with distributions written here (not <random>'s, whose outputs differ between standard
// libraries), so a seed gives the same run on every platform.
#ifndef FLEETTWIN_SIM_RANDOM_H_
#define FLEETTWIN_SIM_RANDOM_H_

#include <cstdint>

namespace fleettwin::sim {

// Not thread-safe: one per thread (Monte Carlo gives each replication its own stream).
class Random final {
 public:
  explicit Random(uint64_t seed);
  // Stream `stream` of `seed`: streams are independent, and replication i of a Monte Carlo run
  // uses stream i whatever thread runs it.
  static Random Stream(uint64_t seed, uint64_t stream);

  uint64_t Next();
  double Uniform();                      // [0, 1), 53 random bits.
  double Uniform(double low, double high);
  // REQUIRES: low <= high. Every integer in [low, high] with equal probability (no modulo bias).
  int64_t UniformInt(int64_t low, int64_t high);
  bool Bernoulli(double p) { return Uniform() < p; }
  double Normal(double mean, double stddev);
  double Exponential(double rate);  // REQUIRES: rate > 0.
  // Gamma(shape, scale) by Marsaglia and Tsang. REQUIRES: shape > 0, scale > 0.
  double Gamma(double shape, double scale);

 private:
  uint64_t s_[4];
};

}  // namespace fleettwin::sim

#endif  // FLEETTWIN_SIM_RANDOM_H_
