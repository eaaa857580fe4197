#include "fleettwin/plan/maintenance.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "gtest/gtest.h"

namespace fleettwin::plan {
namespace {

// Integer costs drawn from the test's own generator (no std::*_distribution: its output is
// implementation-defined).
std::vector<MaintenanceBid> RandomBids(int assets, int slots, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<MaintenanceBid> bids;
  for (int a = 0; a < assets; ++a) {
    MaintenanceBid bid;
    bid.asset = "asset-" + std::to_string(a);
    bid.none_cost = static_cast<double>(rng() % 100);
    for (int k = 0; k < slots; ++k) bid.slot_cost.push_back(static_cast<double>(rng() % 100));
    bids.push_back(std::move(bid));
  }
  return bids;
}

// Every assignment of every asset to a slot or none, within the crews: the least total cost.
int64_t BruteForce(const MaintenanceProblem& p, const std::vector<MaintenanceBid>& bids) {
  const int options = p.slots() + 1;
  int64_t best = std::numeric_limits<int64_t>::max();
  std::vector<int> choice(bids.size(), 0);
  while (true) {
    std::vector<int> used(static_cast<size_t>(p.slots()), 0);
    int64_t cost = 0;
    bool feasible = true;
    for (size_t a = 0; a < bids.size(); ++a) {
      if (choice[a] == p.slots()) {
        cost += CostMilli(bids[a].none_cost);
      } else {
        cost += CostMilli(bids[a].slot_cost[static_cast<size_t>(choice[a])]);
        feasible = feasible && ++used[static_cast<size_t>(choice[a])] <= p.crews;
      }
    }
    if (feasible) best = std::min(best, cost);
    size_t i = 0;
    while (i < choice.size() && ++choice[i] == options) choice[i++] = 0;
    if (i == choice.size()) break;
  }
  return best;
}

void ExpectFeasible(const MaintenanceProblem& p, const std::vector<MaintenanceBid>& bids,
                    const MaintenancePlan& plan) {
  ASSERT_EQ(plan.assignments.size(), bids.size());
  std::vector<std::vector<int>> crews(static_cast<size_t>(p.slots()));
  int64_t total = 0;
  for (const MaintenanceAssignment& a : plan.assignments) {
    const auto bid = std::find_if(bids.begin(), bids.end(),
                                  [&](const MaintenanceBid& b) { return b.asset == a.asset; });
    ASSERT_NE(bid, bids.end());
    if (a.slot < 0) {
      EXPECT_EQ(a.crew, -1);
      EXPECT_EQ(a.start, -1);
      EXPECT_EQ(a.cost, bid->none_cost);
    } else {
      ASSERT_LT(a.slot, p.slots());
      EXPECT_EQ(a.start, a.slot * p.duration);
      EXPECT_EQ(a.cost, bid->slot_cost[static_cast<size_t>(a.slot)]);
      crews[static_cast<size_t>(a.slot)].push_back(a.crew);
    }
    total += CostMilli(a.cost);
  }
  EXPECT_EQ(total, plan.cost_milli);
  for (std::vector<int>& c : crews) {
    ASSERT_LE(static_cast<int>(c.size()), p.crews);
    std::sort(c.begin(), c.end());
    for (size_t i = 0; i < c.size(); ++i) EXPECT_EQ(c[i], static_cast<int>(i));  // No crew twice.
  }
}

TEST(MaintenanceTest, MatchesExhaustiveSearchOnSmallProblems) {
  int checked = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    const int assets = 1 + static_cast<int>(seed % 6), slots = 1 + static_cast<int>(seed % 3);
    const MaintenanceProblem p{.horizon = slots * 4, .duration = 4,
                               .crews = static_cast<int>(seed % 3)};
    const std::vector<MaintenanceBid> bids = RandomBids(assets, slots, seed);
    absl::StatusOr<MaintenancePlan> plan = SolveMaintenance(p, bids);
    ASSERT_TRUE(plan.ok()) << plan.status();
    EXPECT_EQ(plan->cost_milli, BruteForce(p, bids)) << "seed " << seed;
    ExpectFeasible(p, bids, *plan);
    ++checked;
  }
  EXPECT_EQ(checked, 60);
}

TEST(MaintenanceTest, ScarceCrewsGoWhereTheySaveMost) {
  // Three assets want slot 0; one crew. Saving: a 50, b 80, c 10. b gets slot 0; a, whose
  // second choice (slot 1) still saves 40, gets slot 1; c stays unmaintained.
  const MaintenanceProblem p{.horizon = 10, .duration = 5, .crews = 1};
  std::vector<MaintenanceBid> bids = {{"a", {50, 60}, 100}, {"b", {20, 90}, 100},
                                      {"c", {90, 95}, 100}};
  absl::StatusOr<MaintenancePlan> plan = SolveMaintenance(p, bids);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->assignments[0].slot, 1);
  EXPECT_EQ(plan->assignments[1].slot, 0);
  EXPECT_EQ(plan->assignments[2].slot, -1);
  EXPECT_EQ(plan->maintained, 2);
  EXPECT_DOUBLE_EQ(plan->cost(), 60 + 20 + 100);
  EXPECT_EQ(plan->none_cost_milli, 300'000);
  EXPECT_EQ(plan->solver, kMaintenanceSolverVersion);
  // No crews: nobody is maintained.
  absl::StatusOr<MaintenancePlan> none = SolveMaintenance({.horizon = 10, .duration = 5, .crews = 0}, bids);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->maintained, 0);
  EXPECT_EQ(none->cost_milli, none->none_cost_milli);
}

TEST(MaintenanceTest, TheInputOrderNeverChangesThePlan) {
  const MaintenanceProblem p{.horizon = 50, .duration = 5, .crews = 2};
  std::vector<MaintenanceBid> bids = RandomBids(40, p.slots(), 7);
  // Many ties: costs in a small range.
  for (MaintenanceBid& b : bids) {
    for (double& c : b.slot_cost) c = std::fmod(c, 4);
    b.none_cost = 3;
  }
  absl::StatusOr<MaintenancePlan> first = SolveMaintenance(p, bids);
  ASSERT_TRUE(first.ok());
  ExpectFeasible(p, bids, *first);
  std::mt19937_64 rng(3);
  for (int i = 0; i < 5; ++i) {
    std::shuffle(bids.begin(), bids.end(), rng);
    absl::StatusOr<MaintenancePlan> again = SolveMaintenance(p, bids);
    ASSERT_TRUE(again.ok());
    ASSERT_EQ(again->assignments.size(), first->assignments.size());
    for (size_t a = 0; a < first->assignments.size(); ++a) {
      EXPECT_EQ(again->assignments[a].asset, first->assignments[a].asset);
      EXPECT_EQ(again->assignments[a].slot, first->assignments[a].slot);
      EXPECT_EQ(again->assignments[a].crew, first->assignments[a].crew);
    }
  }
}

TEST(MaintenanceTest, CostsAreComparedInThousandths) {
  EXPECT_EQ(CostMilli(1.2345), 1235);  // Half away from zero (1234.5 is not exact: rounds up).
  EXPECT_EQ(CostMilli(0.0004), 0);
  EXPECT_EQ(CostMilli(1e9), 1'000'000'000'000);
  // A difference below the resolution is a tie, broken by the asset order.
  const MaintenanceProblem p{.horizon = 5, .duration = 5, .crews = 1};
  absl::StatusOr<MaintenancePlan> plan =
      SolveMaintenance(p, {{"b", {10.0000001}, 50}, {"a", {10.0000002}, 50}});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->assignments[0].asset, "a");
  EXPECT_EQ(plan->assignments[0].slot, 0);
  EXPECT_EQ(plan->assignments[1].slot, -1);
}

TEST(MaintenanceTest, RefusesBadProblemsAndBids) {
  const MaintenanceProblem p{.horizon = 10, .duration = 5, .crews = 1};
  auto code = [](const MaintenanceProblem& problem, std::vector<MaintenanceBid> bids) {
    return SolveMaintenance(problem, std::move(bids)).status().code();
  };
  constexpr auto kBad = absl::StatusCode::kInvalidArgument;
  EXPECT_EQ(code({.horizon = 0, .duration = 1, .crews = 1}, {}), kBad);
  EXPECT_EQ(code({.horizon = 4, .duration = 5, .crews = 1}, {}), kBad);
  EXPECT_EQ(code({.horizon = 10, .duration = 0, .crews = 1}, {}), kBad);
  EXPECT_EQ(code({.horizon = 10, .duration = 5, .crews = -1}, {}), kBad);
  EXPECT_EQ(code(p, {{"", {1, 2}, 3}}), kBad);
  EXPECT_EQ(code(p, {{"a", {1}, 3}}), kBad);
  EXPECT_EQ(code(p, {{"a", {1, 2, 3}, 3}}), kBad);
  EXPECT_EQ(code(p, {{"a", {1, NAN}, 3}}), kBad);
  EXPECT_EQ(code(p, {{"a", {1, 2}, INFINITY}}), kBad);
  EXPECT_EQ(code(p, {{"a", {-1, 2}, 3}}), kBad);
  EXPECT_EQ(code(p, {{"a", {1, 2e9}, 3}}), kBad);
  EXPECT_EQ(code(p, {{"a", {1, 2}, 3}, {"a", {1, 2}, 3}}), kBad);
  EXPECT_TRUE(SolveMaintenance(p, {}).ok());  // An empty fleet has an empty plan.
}

TEST(MaintenanceTest, TenThousandAssetsSolveExactly) {
  // Large enough to matter, checked against a bound any feasible plan must respect: the
  // solution's saving is at most the sum, over slots, of the best `crews` savings there, and at
  // least that of a greedy plan (best saving first).
  const MaintenanceProblem p{.horizon = 150, .duration = 5, .crews = 2};
  const std::vector<MaintenanceBid> bids = RandomBids(10'000, p.slots(), 11);
  absl::StatusOr<MaintenancePlan> plan = SolveMaintenance(p, bids);
  ASSERT_TRUE(plan.ok());
  ExpectFeasible(p, bids, *plan);
  EXPECT_EQ(plan->maintained, p.slots() * p.crews);
  struct Option {
    int64_t saving;
    size_t asset;
    int slot;
  };
  std::vector<Option> all;
  for (size_t a = 0; a < bids.size(); ++a) {
    for (int k = 0; k < p.slots(); ++k) {
      const int64_t s = CostMilli(bids[a].none_cost) - CostMilli(bids[a].slot_cost[k]);
      if (s > 0) all.push_back({s, a, k});
    }
  }
  std::sort(all.begin(), all.end(), [](const Option& x, const Option& y) {
    return x.saving > y.saving;
  });
  std::vector<bool> taken(bids.size(), false);
  std::vector<int> used(static_cast<size_t>(p.slots()), 0);
  int64_t greedy = 0;
  for (const Option& o : all) {
    if (taken[o.asset] || used[static_cast<size_t>(o.slot)] == p.crews) continue;
    taken[o.asset] = true;
    ++used[static_cast<size_t>(o.slot)];
    greedy += o.saving;
  }
  const int64_t saving = plan->none_cost_milli - plan->cost_milli;
  EXPECT_GE(saving, greedy);
  EXPECT_LE(saving, static_cast<int64_t>(p.slots()) * p.crews * 99'000);
}

}  // namespace
}  // namespace fleettwin::plan
