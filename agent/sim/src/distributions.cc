#include "fleettwin/sim/distributions.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fleettwin::sim {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kEpsilon = std::numeric_limits<double>::epsilon();
constexpr double kTiny = 1e-300;  // Keeps the continued fraction's denominators off zero.
constexpr double kPi = 3.141592653589793238462643383279502884;

// ---- Incomplete gamma ----

// log(x^a e^-x / Γ(a)) for x > 0. For large a the three terms are each ~a·log(a) and cancel, so
// they are regrouped with Stirling's formula Γ(a) = sqrt(2π/a) (a/e)^a e^s(a):
// the log becomes -a·(u - log1p(u)) + ½·log(a/2π) - s(a) with u = (x - a)/a, exact near x = a.
double LogGammaKernel(double a, double x) {
  if (a < 10) return a * std::log(x) - x - std::lgamma(a);
  const double inv = 1 / a;
  const double inv2 = inv * inv;
  // Stirling series of s(a); the first omitted term, 691 / (360360 a^11), is 2e-14 at a = 10.
  const double s =
      inv *
      (1.0 / 12 - inv2 * (1.0 / 360 - inv2 * (1.0 / 1260 - inv2 * (1.0 / 1680 - inv2 / 1188))));
  const double u = (x - a) / a;
  return -a * (u - std::log1p(u)) + 0.5 * std::log(a / (2 * kPi)) - s;
}

// Enough terms for the series and the continued fraction near x ≈ a, where both need O(sqrt(a)).
int MaxIterations(double a) { return 1000 + static_cast<int>(30 * std::sqrt(a)); }

// P(a, x) by its power series γ(a,x) = x^a e^-x Σ x^n / (a (a+1) ... (a+n)); for x < a + 1.
double GammaPSeries(double a, double x) {
  double term = 1 / a;
  double sum = term;
  const int limit = MaxIterations(a);
  for (int n = 1; n < limit; ++n) {
    term *= x / (a + n);
    sum += term;
    if (term < sum * kEpsilon) break;
  }
  return sum * std::exp(LogGammaKernel(a, x));
}

// Q(a, x) by its continued fraction, evaluated with the modified Lentz method; for x >= a + 1.
double GammaQContinuedFraction(double a, double x) {
  double b = x + 1 - a;
  double c = 1 / kTiny;
  double d = 1 / b;
  double h = d;
  const int limit = MaxIterations(a);
  for (int i = 1; i < limit; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::abs(d) < kTiny) d = kTiny;
    c = b + an / c;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double factor = d * c;
    h *= factor;
    if (std::abs(factor - 1) < kEpsilon) break;
  }
  return h * std::exp(LogGammaKernel(a, x));
}

bool GammaArgumentsValid(double a, double x) {
  return a > 0 && std::isfinite(a) && x >= 0;  // Also false for NaNs.
}

// The x with P(a, x) = p and Q(a, x) = q, where p + q = 1 and both are given to full relative
// precision: the smaller one is matched, so neither tail loses digits. Safeguarded Newton: every
// evaluation narrows a bracket, and a step leaving it is replaced by bisection (geometric while the
// bracket spans orders of magnitude, as it does for small shapes).
double SolveGamma(double a, double p, double q) {
  if (p <= 0) return 0;
  if (q <= 0) return kInf;
  const bool lower = p <= q;
  // Increasing in x, zero at the answer.
  auto f = [&](double x) {
    return lower ? RegularizedGammaP(a, x) - p : q - RegularizedGammaQ(a, x);
  };
  double lo = 0;
  double hi = kInf;
  double x = a;
  if (f(x) < 0) {
    lo = x;
    for (hi = 2 * x + 1; f(hi) < 0; hi *= 2) lo = hi;
  } else {
    hi = x;
    // γ(a, x) <= x^a / a, so P(a, x) <= x^a / Γ(a + 1): this x is never above the answer.
    // It is also close to the answer when tiny (P(a, x) >= x^a e^-x / Γ(a + 1)): an answer below
    // the normal doubles is returned as this bound, 0 or subnormal.
    lo = std::exp((std::log(p) + std::lgamma(a + 1)) / a);
    if (lo < std::numeric_limits<double>::min()) return lo;
    if (!(lo < hi)) lo = 0;
  }
  x = lo > 0 ? std::sqrt(lo * hi) : hi / 2;
  for (int i = 0; i < 400; ++i) {
    const double fx = f(x);
    if (fx == 0) return x;
    (fx < 0 ? lo : hi) = x;
    const double density = std::exp(LogGammaKernel(a, x)) / x;
    const double newton = x - fx / density;
    double next;
    if (std::isfinite(newton) && newton > lo && newton < hi) {
      next = newton;
    } else if (lo > 0 && hi > 4 * lo) {
      next = std::sqrt(lo * hi);
    } else {
      next = lo + (hi - lo) / 2;
    }
    if (std::abs(next - x) <= 4 * kEpsilon * x || hi - lo <= 4 * kEpsilon * hi) return next;
    x = next;
  }
  return x;
}

// ---- Student t ----

// P(|T| <= sqrt(dof)·tan(theta)) for integer dof >= 1, by the finite series in cos(theta)
// (Abramowitz & Stegun 26.7.3-4).
double StudentTCentralMass(int64_t dof, double theta) {
  const double s = std::sin(theta);
  const double c = std::cos(theta);
  const double c2 = c * c;
  if (dof % 2 == 0) {
    double term = 1;
    double sum = 1;
    for (int64_t k = 1; k <= dof / 2 - 1; ++k) {
      term *= c2 * static_cast<double>(2 * k - 1) / static_cast<double>(2 * k);
      sum += term;
    }
    return s * sum;
  }
  if (dof == 1) return 2 * theta / kPi;
  double term = 1;
  double sum = 1;
  for (int64_t k = 1; k <= (dof - 3) / 2; ++k) {
    term *= c2 * static_cast<double>(2 * k) / static_cast<double>(2 * k + 1);
    sum += term;
  }
  return 2 / kPi * (theta + s * c * sum);
}

}  // namespace

// ---- Distribution functions ----

double RegularizedGammaP(double a, double x) {
  if (!GammaArgumentsValid(a, x)) return kNaN;
  if (x == 0) return 0;
  if (x == kInf) return 1;
  if (x < a + 1) return GammaPSeries(a, x);
  return 1 - GammaQContinuedFraction(a, x);
}

double RegularizedGammaQ(double a, double x) {
  if (!GammaArgumentsValid(a, x)) return kNaN;
  if (x == 0) return 1;
  if (x == kInf) return 0;
  if (x < a + 1) return 1 - GammaPSeries(a, x);
  return GammaQContinuedFraction(a, x);
}

double GammaQuantile(double shape, double rate, double p) {
  if (!(shape > 0) || !std::isfinite(shape) || !(rate > 0) || !std::isfinite(rate) ||
      !(p >= 0 && p <= 1)) {
    return kNaN;
  }
  return SolveGamma(shape, p, 1 - p) / rate;
}

double NormalQuantile(double p) {
  if (!(p >= 0 && p <= 1)) return kNaN;
  if (p == 0.5) return 0;
  // Z²/2 is Gamma(1/2, 1); P(|Z| > z) = 2 min(p, 1 - p), exact in floating point.
  const double tail = 2 * std::min(p, 1 - p);
  const double z = std::sqrt(2 * SolveGamma(0.5, 1 - tail, tail));
  return p < 0.5 ? -z : z;
}

double StudentTQuantile(int64_t dof, double p) {
  if (dof < 1 || !(p >= 0 && p <= 1)) return kNaN;
  if (p == 0.5) return 0;
  if (p == 0 || p == 1) return p == 0 ? -kInf : kInf;
  const double tail = std::min(p, 1 - p);  // P(T > t) for the positive t.
  double t;
  if (dof == 1) {
    t = 1 / std::tan(kPi * tail);
  } else if (dof == 2) {
    t = (1 - 2 * tail) / std::sqrt(2 * tail * (1 - tail));
  } else if (dof <= 300) {
    // The central mass increases with theta; bisect to the last bit.
    const double target = 1 - 2 * tail;
    double lo = 0;
    double hi = kPi / 2;
    for (int i = 0; i < 200 && lo < hi; ++i) {
      const double mid = lo + (hi - lo) / 2;
      if (mid <= lo || mid >= hi) break;
      (StudentTCentralMass(dof, mid) < target ? lo : hi) = mid;
    }
    t = std::sqrt(static_cast<double>(dof)) * std::tan(lo + (hi - lo) / 2);
  } else {
    // Cornish-Fisher expansion around the normal quantile (Abramowitz & Stegun 26.7.5); its
    // first omitted term is O(dof^-5).
    const double z = NormalQuantile(1 - tail);
    const double z2 = z * z;
    const double n = static_cast<double>(dof);
    const double g1 = (z2 + 1) * z / 4;
    const double g2 = ((5 * z2 + 16) * z2 + 3) * z / 96;
    const double g3 = (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / 384;
    const double g4 = ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) * z / 92160;
    t = z + (g1 + (g2 + (g3 + g4 / n) / n) / n) / n;
  }
  return p < 0.5 ? -t : t;
}

double PoissonTwoSidedPValue(int64_t observed, double expected) {
  if (observed < 0 || !(expected >= 0) || !std::isfinite(expected)) return kNaN;
  if (expected == 0) return observed == 0 ? 1 : 0;
  const double k = static_cast<double>(observed);
  const double at_most = RegularizedGammaQ(k + 1, expected);                   // P(X <= k)
  const double at_least = observed == 0 ? 1 : RegularizedGammaP(k, expected);  // P(X >= k)
  return std::min(1.0, 2 * std::min(at_most, at_least));
}

}  // namespace fleettwin::sim
