#include "fleettwin/plan/replay.h"

#include <nlohmann/json.hpp>

#include "fleettwin/plan/maintenance.h"
#include "gtest/gtest.h"

namespace fleettwin::plan {
namespace {

// A plan as the coordinator ledgers it (the fields replay reads).
nlohmann::json Ledgered() {
  const MaintenanceProblem p{.horizon = 10, .duration = 5, .crews = 1};
  const std::vector<MaintenanceBid> bids = {
      {"a", {50, 60}, 100}, {"b", {20, 90}, 100}, {"c", {90, 95}, 100}};
  absl::StatusOr<MaintenancePlan> plan = SolveMaintenance(p, bids);
  EXPECT_TRUE(plan.ok());
  nlohmann::json j = {{"negotiation", "p1"},
                      {"solver", plan->solver},
                      {"call", {{"horizon", 10}, {"duration", 5}, {"crews", 1}}}};
  for (const MaintenanceBid& b : bids) {
    j["bids"].push_back({{"asset", b.asset}, {"slot_cost", b.slot_cost}, {"none_cost", b.none_cost}});
  }
  for (const MaintenanceAssignment& a : plan->assignments) {
    j["assignments"].push_back({{"asset", a.asset}, {"slot", a.slot}, {"crew", a.crew}});
  }
  return j;
}

TEST(ReplayTest, ALedgeredPlanReSolvesIdenticallyAndATamperedOneDoesNot) {
  nlohmann::json j = Ledgered();
  absl::StatusOr<ReplayReport> ok = ReplayMaintenancePlan(j.dump());
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->negotiation, "p1");
  EXPECT_EQ(ok->assets, 3);
  EXPECT_EQ(ok->maintained, 2);
  // The record says c got the crew instead of a.
  nlohmann::json tampered = j;
  tampered["assignments"][0]["slot"] = -1;
  tampered["assignments"][2]["slot"] = 1;
  absl::StatusOr<ReplayReport> bad = ReplayMaintenancePlan(tampered.dump());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(bad.status().message().find("a was given slot -1"), std::string::npos)
      << bad.status();
  // A changed bid changes the decision too.
  nlohmann::json rebid = j;
  rebid["bids"][2]["slot_cost"] = {10, 10};
  EXPECT_EQ(ReplayMaintenancePlan(rebid.dump()).status().code(), absl::StatusCode::kDataLoss);
  nlohmann::json other = j;
  other["solver"] = "someone-else/9";
  EXPECT_EQ(ReplayMaintenancePlan(other.dump()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReplayMaintenancePlan("{").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReplayMaintenancePlan(R"({"negotiation": 3})").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fleettwin::plan
