// Distribution functions for the simulator's Monte Carlo intervals and the twin's calibration:
// incomplete gamma, Gamma, normal and Student t quantiles, the Poisson two-sided test. Double
// precision, no tables.
#ifndef FLEETTWIN_SIM_DISTRIBUTIONS_H_
#define FLEETTWIN_SIM_DISTRIBUTIONS_H_

#include <cstdint>

namespace fleettwin::sim {

// The regularized lower incomplete gamma function P(a, x) = γ(a, x) / Γ(a), i.e. the CDF of
// Gamma(shape a, rate 1) at x; within 1e-13 relative for a up to ~1e6. NaN unless a > 0 and x >= 0
// (x = +inf gives 1).
double RegularizedGammaP(double a, double x);
// Q(a, x) = 1 - P(a, x), computed directly so the upper tail keeps its relative precision.
double RegularizedGammaQ(double a, double x);
// The p-quantile of Gamma(shape, rate): the x with P(shape, rate * x) = p, to ~1e-12 relative
// (a quantile below the smallest normal double, as small shapes give for tiny p, comes out as
// 0 or a subnormal). 0 for p = 0 and +inf for p = 1; NaN unless shape > 0, rate > 0 and
// 0 <= p <= 1.
double GammaQuantile(double shape, double rate, double p);
// The p-quantile of the standard normal distribution (from the chi-square(1) quantile). -inf /
// +inf at p = 0 / 1; NaN outside [0, 1].
double NormalQuantile(double p);
// The p-quantile of Student's t with `dof` >= 1 degrees of freedom, to ~1e-11 relative for
// 1e-6 < p < 1 - 1e-6: an exact finite series up to 300 degrees of freedom, a Cornish-Fisher
// expansion beyond. NaN for dof < 1 or p outside [0, 1].
double StudentTQuantile(int64_t dof, double p);
// Two-sided p-value of observing `observed` events from Poisson(`expected`):
// min(1, 2 min(P(X <= observed), P(X >= observed))). With expected = 0 it is 1 for no events and
// 0 otherwise. NaN for negative or non-finite arguments.
double PoissonTwoSidedPValue(int64_t observed, double expected);

}  // namespace fleettwin::sim

#endif  // FLEETTWIN_SIM_DISTRIBUTIONS_H_
