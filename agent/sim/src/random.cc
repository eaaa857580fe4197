#include "fleettwin/sim/random.h"

#include <cmath>

namespace fleettwin::sim {
namespace {

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

Random::Random(uint64_t seed) {
  uint64_t state = seed;
  for (uint64_t& word : s_) word = SplitMix64(state);
}

Random Random::Stream(uint64_t seed, uint64_t stream) {
  uint64_t state = seed ^ (stream * 0xd1b54a32d192ed03ULL);
  return Random(SplitMix64(state) ^ Rotl(stream + 1, 17));
}

uint64_t Random::Next() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

double Random::Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

double Random::Uniform(double low, double high) { return low + (high - low) * Uniform(); }

int64_t Random::UniformInt(int64_t low, int64_t high) {
  const uint64_t range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low) + 1;
  if (range == 0) return static_cast<int64_t>(Next());  // The whole 64-bit range.
  // Lemire's multiply-shift with rejection of the biased low part.
  unsigned __int128 m = static_cast<unsigned __int128>(Next()) * range;
  uint64_t low_bits = static_cast<uint64_t>(m);
  if (low_bits < range) {
    const uint64_t threshold = -range % range;
    while (low_bits < threshold) {
      m = static_cast<unsigned __int128>(Next()) * range;
      low_bits = static_cast<uint64_t>(m);
    }
  }
  return low + static_cast<int64_t>(m >> 64);
}

double Random::Normal(double mean, double stddev) {
  // Marsaglia's polar method; the second variate is dropped to keep the state simple.
  double u, v, s;
  do {
    u = 2 * Uniform() - 1;
    v = 2 * Uniform() - 1;
    s = u * u + v * v;
  } while (s >= 1 || s == 0);
  return mean + stddev * u * std::sqrt(-2 * std::log(s) / s);
}

double Random::Exponential(double rate) { return -std::log1p(-Uniform()) / rate; }

double Random::Gamma(double shape, double scale) {
  if (shape < 1) {
    // Boost: Gamma(a) = Gamma(a + 1) * U^(1/a).
    const double u = Uniform();
    return Gamma(shape + 1, scale) * std::pow(u == 0 ? 0x1.0p-53 : u, 1 / shape);
  }
  const double d = shape - 1.0 / 3;
  const double c = 1 / std::sqrt(9 * d);
  while (true) {
    double x, v;
    do {
      x = Normal(0, 1);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const double u = Uniform();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v * scale;
    if (std::log(u) < 0.5 * x * x + d * (1 - v + std::log(v))) return d * v * scale;
  }
}

}  // namespace fleettwin::sim
