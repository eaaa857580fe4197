// Fleet maintenance planning: which asset is maintained in which slot by which crew, so that
// the fleet's expected cost (failures, preventive work, remaining life thrown away) is least
// while no crew is double-booked. The solver is exact and deterministic: the same problem and
// bids (in any order) give the identical plan on any machine, so an auditor can re-solve a
// ledgered decision.
#ifndef FLEETTWIN_PLAN_MAINTENANCE_H_
#define FLEETTWIN_PLAN_MAINTENANCE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace fleettwin::plan {

// Recorded with every plan; changes whenever the solver could choose differently.
inline constexpr char kMaintenanceSolverVersion[] = "fleettwin-maintenance-mcf/1";

// Costs are compared in whole thousandths (rounded half away from zero), so that the choice
// never depends on the last bits of a floating-point sum.
inline constexpr double kCostResolution = 1e-3;

// The planning horizon is cut into slots of one maintenance's duration: slot k starts
// k * duration cycles from now, and each of the `crews` crews does at most one maintenance per
// slot. Every planned maintenance ends within the horizon.
struct MaintenanceProblem {
  int horizon = 150;  // Cycles from now, 1 .. 1e6.
  int duration = 5;   // Cycles per maintenance, 1 .. horizon.
  int crews = 2;      // Maintenances at the same time, 0 .. 1e6.

  int slots() const { return horizon / duration; }
  int SlotStart(int slot) const { return slot * duration; }
};

// One asset's answer to a call for proposals: its expected cost over the horizon if its
// maintenance starts in each slot, and if it is not maintained within the horizon.
struct MaintenanceBid {
  std::string asset;             // Non-empty, unique within a problem.
  std::vector<double> slot_cost;  // One per slot, in [0, 1e9].
  double none_cost = 0;           // In [0, 1e9].
};

struct MaintenanceAssignment {
  std::string asset;
  int slot = -1;  // -1: not maintained within the horizon.
  int crew = -1;  // 0 .. crews-1 when slot >= 0; crews are filled in asset order per slot.
  int start = -1;  // Cycles from now (SlotStart(slot)); -1 when not maintained.
  double cost = 0;  // The bid's cost of this option.
};

struct MaintenancePlan {
  std::vector<MaintenanceAssignment> assignments;  // One per bid, sorted by asset.
  int64_t cost_milli = 0;     // Sum of the chosen options' costs, in kCostResolution units.
  int64_t none_cost_milli = 0;  // The same with nobody maintained (the run-to-failure plan).
  int maintained = 0;
  std::string solver = kMaintenanceSolverVersion;

  double cost() const { return static_cast<double>(cost_milli) * kCostResolution; }
};

// Solves the problem exactly: minimum total bid cost subject to the crews' capacity per slot,
// by min-cost flow (assets -> slots -> crews). Ties between plans of equal cost go to the one
// the asset order determines. Errors: InvalidArgument for a problem out of range, an empty or
// duplicate asset, a bid with the wrong number of slot costs, a cost that is not finite or
// outside [0, 1e9], or more than 1e6 bids.
absl::StatusOr<MaintenancePlan> SolveMaintenance(const MaintenanceProblem& problem,
                                                 std::vector<MaintenanceBid> bids);

// The cost, in thousandths, of one option of a bid as the solver counts it.
int64_t CostMilli(double cost);

}  // namespace fleettwin::plan

#endif  // FLEETTWIN_PLAN_MAINTENANCE_H_
