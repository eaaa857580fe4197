#include "fleettwin/plan/replay.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "fleettwin/plan/maintenance.h"

namespace fleettwin::plan {

absl::StatusOr<ReplayReport> ReplayMaintenancePlan(std::string_view plan_json) {
  const nlohmann::json j = nlohmann::json::parse(plan_json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return absl::InvalidArgumentError("plan: not JSON");
  ReplayReport report;
  MaintenanceProblem problem;
  std::vector<MaintenanceBid> bids;
  std::vector<std::tuple<std::string, int, int>> recorded;  // asset, slot, crew
  try {
    report.negotiation = j.at("negotiation").get<std::string>();
    report.solver = j.at("solver").get<std::string>();
    const nlohmann::json& call = j.at("call");
    problem.horizon = call.at("horizon").get<int>();
    problem.duration = call.at("duration").get<int>();
    problem.crews = call.at("crews").get<int>();
    for (const nlohmann::json& b : j.at("bids")) {
      bids.push_back({b.at("asset").get<std::string>(), b.at("slot_cost").get<std::vector<double>>(),
                      b.at("none_cost").get<double>()});
    }
    for (const nlohmann::json& a : j.at("assignments")) {
      recorded.emplace_back(a.at("asset").get<std::string>(), a.at("slot").get<int>(),
                            a.at("crew").get<int>());
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("plan: ", e.what()));
  }
  if (report.solver != kMaintenanceSolverVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "plan ", report.negotiation, " was made by ", report.solver, ", this build has ",
        kMaintenanceSolverVersion));
  }
  absl::StatusOr<MaintenancePlan> solved = SolveMaintenance(problem, bids);
  if (!solved.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("plan ", report.negotiation, ": ", solved.status().message()));
  }
  if (solved->assignments.size() != recorded.size()) {
    return absl::DataLossError(absl::StrCat("plan ", report.negotiation, ": ", recorded.size(),
                                            " assignments recorded, ",
                                            solved->assignments.size(), " re-solved"));
  }
  std::sort(recorded.begin(), recorded.end());
  for (size_t i = 0; i < recorded.size(); ++i) {
    const MaintenanceAssignment& a = solved->assignments[i];
    const auto& [asset, slot, crew] = recorded[i];
    if (a.asset != asset || a.slot != slot || a.crew != crew) {
      return absl::DataLossError(absl::StrCat(
          "plan ", report.negotiation, ": ", asset, " was given slot ", slot, " crew ", crew,
          "; re-solving gives ", a.asset, " slot ", a.slot, " crew ", a.crew));
    }
  }
  report.assets = static_cast<int>(recorded.size());
  report.maintained = solved->maintained;
  return report;
}

}  // namespace fleettwin::plan
