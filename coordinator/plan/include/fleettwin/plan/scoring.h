// Scoring a maintenance plan after the fact, with the truth: what each asset's option really
// cost once its true remaining life is known, and the oracle's plan (the same solver and crews,
// bidding with the truth). Benchmarks and the local fleet's summary use these to say how much
// of the possible saving over run-to-failure a negotiated plan achieved.
#ifndef FLEETTWIN_PLAN_SCORING_H_
#define FLEETTWIN_PLAN_SCORING_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fleettwin/plan/maintenance.h"

namespace fleettwin::plan {

struct MaintenanceCosts {
  double failure = 100;      // A failure within the horizon.
  double preventive = 20;    // One maintenance.
  double wasted_life = 0.5;  // Per cycle of remaining life thrown away by maintaining early.
};

// What maintenance starting `start` cycles from now (-1: none) really costs an asset whose true
// remaining life is `true_rul`: maintained before it fails -> preventive + wasted life;
// otherwise a failure if that falls within the horizon, else nothing.
double RealizedCost(const MaintenanceProblem& problem, const MaintenanceCosts& costs,
                    double true_rul, int start);

struct TrueLife {
  std::string asset;
  double rul = 0;  // Cycles, >= 0.
};

// The oracle: the plan SolveMaintenance makes from bids that are each option's realized cost.
// Errors: as SolveMaintenance.
absl::StatusOr<MaintenancePlan> OraclePlan(const MaintenanceProblem& problem,
                                           const MaintenanceCosts& costs,
                                           const std::vector<TrueLife>& assets);

}  // namespace fleettwin::plan

#endif  // FLEETTWIN_PLAN_SCORING_H_
