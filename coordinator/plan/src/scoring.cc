#include "fleettwin/plan/scoring.h"

namespace fleettwin::plan {

double RealizedCost(const MaintenanceProblem& problem, const MaintenanceCosts& costs,
                    double true_rul, int start) {
  if (start >= 0 && start < true_rul) return costs.preventive + costs.wasted_life * (true_rul - start);
  return true_rul <= problem.horizon ? costs.failure : 0.0;
}

absl::StatusOr<MaintenancePlan> OraclePlan(const MaintenanceProblem& problem,
                                           const MaintenanceCosts& costs,
                                           const std::vector<TrueLife>& assets) {
  std::vector<MaintenanceBid> bids;
  bids.reserve(assets.size());
  for (const TrueLife& a : assets) {
    MaintenanceBid bid{a.asset, {}, RealizedCost(problem, costs, a.rul, -1)};
    for (int k = 0; k < problem.slots(); ++k) {
      bid.slot_cost.push_back(RealizedCost(problem, costs, a.rul, problem.SlotStart(k)));
    }
    bids.push_back(std::move(bid));
  }
  return SolveMaintenance(problem, std::move(bids));
}

}  // namespace fleettwin::plan
