// The distribution functions behind the Monte Carlo intervals and the calibration.
#include "fleettwin/sim/distributions.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

namespace fleettwin::sim {
namespace {

// Reference values below were computed with 30-digit arbitrary-precision arithmetic.

void ExpectRelativelyNear(double actual, double expected, double tolerance) {
  EXPECT_LE(std::abs(actual - expected), tolerance * std::abs(expected))
      << "actual " << actual << " expected " << expected;
}

TEST(GammaFunctionTest, IncompleteGammaMatchesReferenceValues) {
  struct Case {
    double a, x, p, q;
  };
  const Case cases[] = {
      {0.5, 0.1, 0.34527915398142297956, 0.65472084601857702044},
      {3, 2.5, 0.456186884116670482, 0.543813115883329518},
      {10, 5, 0.031828057306204811737, 0.96817194269379518826},
      {10, 20, 0.99500458769169241283, 0.0049954123083075871662},
      {100, 90, 0.1582209891864301681, 0.8417790108135698319},
      {100, 120, 0.97213626010947933852, 0.027863739890520661484},
      {0.1, 0.001, 0.52676856839244511182, 0.47323143160755488818},
      {1e4, 1e4, 0.50132980833995520038, 0.49867019166004479962},
      {2.5, 40, 0.99999999999999916082, 8.3918251148316100895e-16},
      {50.5, 30, 0.00039413629552777348175, 0.99960586370447222652},
      {1e6, 1e6 + 1000, 0.84134478636834029163, 0.15865521363165970837},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "a=" << c.a << " x=" << c.x);
    ExpectRelativelyNear(RegularizedGammaP(c.a, c.x), c.p, 1e-12);
    ExpectRelativelyNear(RegularizedGammaQ(c.a, c.x), c.q, 1e-12);
  }
}

TEST(GammaFunctionTest, IncompleteGammaClosedForms) {
  for (double x : {1e-8, 0.01, 0.3, 1.0, 2.0, 5.0, 11.0, 30.0}) {
    // Exponential, erf for a = 1/2, and the Poisson sum for integer a.
    ExpectRelativelyNear(RegularizedGammaP(1, x), -std::expm1(-x), 1e-13);
    ExpectRelativelyNear(RegularizedGammaP(0.5, x), std::erf(std::sqrt(x)), 1e-13);
    ExpectRelativelyNear(RegularizedGammaQ(0.5, x), std::erfc(std::sqrt(x)), 1e-12);
    double term = 1;
    double sum = 0;
    for (int n = 1; n <= 20; ++n) {
      sum += term;  // Σ_{k<n} x^k / k!
      term *= x / n;
      ExpectRelativelyNear(RegularizedGammaQ(n, x), std::exp(-x) * sum, 1e-12);
    }
  }
  EXPECT_EQ(RegularizedGammaP(2, 0), 0);
  EXPECT_EQ(RegularizedGammaQ(2, 0), 1);
  EXPECT_EQ(RegularizedGammaP(2, std::numeric_limits<double>::infinity()), 1);
  EXPECT_TRUE(std::isnan(RegularizedGammaP(0, 1)));
  EXPECT_TRUE(std::isnan(RegularizedGammaP(1, -1)));
  EXPECT_TRUE(std::isnan(RegularizedGammaQ(std::nan(""), 1)));
}

TEST(GammaFunctionTest, QuantileMatchesChiSquareTable) {
  struct Case {
    double dof, p, quantile;
  };
  const Case cases[] = {
      {1, 0.95, 3.8414588206941244691},    {2, 0.95, 5.9914645471079802105},
      {3, 0.975, 9.3484036044961458456},   {5, 0.99, 15.086272469388987961},
      {10, 0.025, 3.2469727802368411248},  {10, 0.975, 20.483177350807393835},
      {30, 0.5, 29.336031516661585933},    {100, 0.001, 61.917939206936623192},
      {100, 0.999, 149.44925277903870637}, {1, 1e-6, 1.5707963267957189441e-12},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "dof=" << c.dof << " p=" << c.p);
    // Chi-square(k) is Gamma(k/2, rate 1/2).
    ExpectRelativelyNear(GammaQuantile(c.dof / 2, 0.5, c.p), c.quantile, 1e-10);
  }
  ExpectRelativelyNear(GammaQuantile(0.5, 1, 1e-10), 7.8539816339744836685e-21, 1e-9);
  ExpectRelativelyNear(GammaQuantile(0.05, 1, 0.3), 2.0378971887326643863e-11, 1e-9);
  ExpectRelativelyNear(GammaQuantile(1000.5, 1, 0.025), 939.45752414416881299, 1e-12);
  ExpectRelativelyNear(GammaQuantile(1000.5, 1, 0.975), 1063.4366455565284227, 1e-12);
}

TEST(GammaFunctionTest, QuantileInvertsTheCdfInBothTails) {
  for (double a : {0.01, 0.1, 0.5, 1.0, 2.5, 10.0, 100.0, 1e4, 1e6}) {
    for (double p : {1e-12, 1e-6, 0.025, 0.5, 0.975}) {
      SCOPED_TRACE(testing::Message() << "a=" << a << " p=" << p);
      if (RegularizedGammaP(a, 1e-300) > p) {
        // The answer is below what a double holds: (p Γ(a + 1))^(1/a) for a = 0.01.
        EXPECT_LE(GammaQuantile(a, 1, p), 1e-300);
        continue;
      }
      const double lower = GammaQuantile(a, 1, p);
      ExpectRelativelyNear(RegularizedGammaP(a, lower), p, 1e-8);
      // The upper tail at the same small probability keeps its digits too.
      const double upper = GammaQuantile(a, 1, 1 - p);
      ExpectRelativelyNear(RegularizedGammaQ(a, upper), 1 - (1 - p), 1e-8);
    }
  }
}

TEST(GammaFunctionTest, QuantileClosedFormsAndEdges) {
  for (double p : {1e-9, 0.01, 0.3, 0.5, 0.9, 0.999999}) {
    ExpectRelativelyNear(GammaQuantile(1, 4, p), -std::log1p(-p) / 4, 1e-12);    // Exponential.
    ExpectRelativelyNear(GammaQuantile(1, 0.5, p), -2 * std::log1p(-p), 1e-12);  // Chi-square(2).
  }
  EXPECT_EQ(GammaQuantile(3, 1, 0), 0);
  EXPECT_EQ(GammaQuantile(3, 1, 1), std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(GammaQuantile(0, 1, 0.5)));
  EXPECT_TRUE(std::isnan(GammaQuantile(1, 0, 0.5)));
  EXPECT_TRUE(std::isnan(GammaQuantile(1, 1, 1.5)));
  EXPECT_TRUE(std::isnan(GammaQuantile(1, 1, std::nan(""))));
}

TEST(GammaFunctionTest, NormalAndStudentTQuantiles) {
  ExpectRelativelyNear(NormalQuantile(0.975), 1.9599639845400542355, 1e-13);
  ExpectRelativelyNear(NormalQuantile(0.995), 2.575829303548900761, 1e-13);
  ExpectRelativelyNear(NormalQuantile(1e-10), -6.3613409024040562047, 1e-12);
  ExpectRelativelyNear(NormalQuantile(0.6), 0.2533471031357997988, 1e-12);
  ExpectRelativelyNear(NormalQuantile(0.5000001), 2.5066282746310267518e-7, 1e-8);
  EXPECT_EQ(NormalQuantile(0.5), 0);
  ExpectRelativelyNear(NormalQuantile(0.025), -NormalQuantile(0.975), 1e-14);

  struct Case {
    int64_t dof;
    double t975, t995;
  };
  const Case cases[] = {
      {1, 12.706204736174693314, 63.656741162871524447},
      {2, 4.3026527297494617894, 9.9248432009182886403},
      {3, 3.1824463052837084359, 5.8409093097333554113},
      {4, 2.7764451051977934898, 4.6040948713499920459},
      {5, 2.5705818356363147828, 4.0321429835552271793},
      {10, 2.2281388519862742245, 3.1692726726169507118},
      {29, 2.0452296421327038745, 2.7563859036706051204},
      {30, 2.0422724563012378878, 2.7499956535672249664},
      {31, 2.0395134463964080672, 2.7440419192942689588},
      {100, 1.9839715185235518946, 2.625890521438017607},
      {101, 1.9837310029556058011, 2.6253859646684408864},
      {300, 1.9679030112610866462, 2.5923164108477921856},
      {301, 1.9678765312856950597, 2.5922613083735593828},
      {1000, 1.9623390808264081039, 2.5807546980659507706},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "dof=" << c.dof);
    ExpectRelativelyNear(StudentTQuantile(c.dof, 0.975), c.t975, 1e-10);
    ExpectRelativelyNear(StudentTQuantile(c.dof, 0.995), c.t995, 1e-10);
    ExpectRelativelyNear(StudentTQuantile(c.dof, 0.025), -StudentTQuantile(c.dof, 0.975), 1e-13);
  }
  EXPECT_TRUE(std::isnan(StudentTQuantile(0, 0.9)));
}

TEST(GammaFunctionTest, PoissonTwoSidedPValue) {
  ExpectRelativelyNear(PoissonTwoSidedPValue(12, 5), 0.0109061838260187187, 1e-12);
  ExpectRelativelyNear(PoissonTwoSidedPValue(0, 3), 0.099574136735727885959, 1e-12);
  ExpectRelativelyNear(PoissonTwoSidedPValue(1, 10), 0.00099879845477466673378, 1e-12);
  ExpectRelativelyNear(PoissonTwoSidedPValue(25, 10), 0.000093898762853599412973, 1e-12);
  EXPECT_EQ(PoissonTwoSidedPValue(10, 10), 1);
  EXPECT_EQ(PoissonTwoSidedPValue(0, 0), 1);
  EXPECT_EQ(PoissonTwoSidedPValue(2, 0), 0);
  EXPECT_TRUE(std::isnan(PoissonTwoSidedPValue(-1, 2)));
}

}  // namespace
}  // namespace fleettwin::sim
