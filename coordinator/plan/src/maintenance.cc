#include "fleettwin/plan/maintenance.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "min_cost_flow.h"

namespace fleettwin::plan {
namespace {

constexpr double kMaxCost = 1e9;
constexpr size_t kMaxBids = 1'000'000;

absl::Status CheckProblem(const MaintenanceProblem& p) {
  if (p.horizon < 1 || p.horizon > 1'000'000) {
    return absl::InvalidArgumentError("maintenance: horizon must be 1 .. 1e6 cycles");
  }
  if (p.duration < 1 || p.duration > p.horizon) {
    return absl::InvalidArgumentError("maintenance: duration must be 1 .. horizon cycles");
  }
  if (p.crews < 0 || p.crews > 1'000'000) {
    return absl::InvalidArgumentError("maintenance: crews must be 0 .. 1e6");
  }
  return absl::OkStatus();
}

absl::Status CheckCost(const std::string& asset, double cost) {
  if (!(cost >= 0 && cost <= kMaxCost)) {
    return absl::InvalidArgumentError(
        absl::StrCat("maintenance: bid of ", asset, " has a cost outside [0, 1e9]"));
  }
  return absl::OkStatus();
}

}  // namespace

int64_t CostMilli(double cost) { return std::llround(cost / kCostResolution); }

absl::StatusOr<MaintenancePlan> SolveMaintenance(const MaintenanceProblem& problem,
                                                 std::vector<MaintenanceBid> bids) {
  if (absl::Status s = CheckProblem(problem); !s.ok()) return s;
  if (bids.size() > kMaxBids) return absl::InvalidArgumentError("maintenance: over 1e6 bids");
  const int slots = problem.slots();
  for (const MaintenanceBid& bid : bids) {
    if (bid.asset.empty()) return absl::InvalidArgumentError("maintenance: a bid has no asset");
    if (bid.slot_cost.size() != static_cast<size_t>(slots)) {
      return absl::InvalidArgumentError(absl::StrCat("maintenance: bid of ", bid.asset, " has ",
                                                     bid.slot_cost.size(), " slot costs, expected ",
                                                     slots));
    }
    if (absl::Status s = CheckCost(bid.asset, bid.none_cost); !s.ok()) return s;
    for (double c : bid.slot_cost) {
      if (absl::Status s = CheckCost(bid.asset, c); !s.ok()) return s;
    }
  }
  // The asset order fixes every tie, so the input order cannot matter.
  std::sort(bids.begin(), bids.end(),
            [](const MaintenanceBid& a, const MaintenanceBid& b) { return a.asset < b.asset; });
  for (size_t i = 1; i < bids.size(); ++i) {
    if (bids[i].asset == bids[i - 1].asset) {
      return absl::InvalidArgumentError(absl::StrCat("maintenance: two bids of ", bids[i].asset));
    }
  }

  // Every asset starts unmaintained; an edge asset -> slot carries what maintaining it there
  // saves (a negative cost), slot -> sink the crews. Only options cheaper than none get an
  // edge, so the least-cost flow of any size is the best plan.
  const int assets = static_cast<int>(bids.size());
  const int source = 0, first_slot = assets + 1, sink = assets + slots + 1;
  MinCostFlow flow(sink + 1);
  std::vector<int64_t> potential(static_cast<size_t>(sink) + 1, 0);
  struct Option {
    int edge;
    int asset;
    int slot;
  };
  std::vector<Option> options;
  MaintenancePlan plan;
  for (int a = 0; a < assets; ++a) {
    const MaintenanceBid& bid = bids[static_cast<size_t>(a)];
    const int64_t none = CostMilli(bid.none_cost);
    plan.none_cost_milli += none;
    flow.AddEdge(source, a + 1, 1, 0);
    for (int k = 0; k < slots; ++k) {
      const int64_t gain = CostMilli(bid.slot_cost[static_cast<size_t>(k)]) - none;
      if (gain >= 0 || problem.crews == 0) continue;
      options.push_back({flow.AddEdge(a + 1, first_slot + k, 1, gain), a, k});
      int64_t& p = potential[static_cast<size_t>(first_slot + k)];
      p = std::min(p, gain);
    }
  }
  for (int k = 0; k < slots; ++k) {
    flow.AddEdge(first_slot + k, sink, problem.crews, 0);
    potential[static_cast<size_t>(sink)] =
        std::min(potential[static_cast<size_t>(sink)], potential[static_cast<size_t>(first_slot + k)]);
  }
  // Shortest distances of the empty-flow graph (a DAG), so every reduced cost starts >= 0.
  flow.SetPotentials(std::move(potential));
  flow.Run(source, sink, assets, 0);

  plan.assignments.resize(bids.size());
  for (int a = 0; a < assets; ++a) {
    MaintenanceAssignment& out = plan.assignments[static_cast<size_t>(a)];
    out.asset = bids[static_cast<size_t>(a)].asset;
    out.cost = bids[static_cast<size_t>(a)].none_cost;
  }
  std::vector<int> crews_used(static_cast<size_t>(slots), 0);
  for (const Option& o : options) {  // In asset order, so crews are numbered in asset order.
    if (flow.flow(o.edge) <= 0) continue;
    MaintenanceAssignment& out = plan.assignments[static_cast<size_t>(o.asset)];
    out.slot = o.slot;
    out.crew = crews_used[static_cast<size_t>(o.slot)]++;
    out.start = problem.SlotStart(o.slot);
    out.cost = bids[static_cast<size_t>(o.asset)].slot_cost[static_cast<size_t>(o.slot)];
    ++plan.maintained;
  }
  for (const MaintenanceAssignment& a : plan.assignments) plan.cost_milli += CostMilli(a.cost);
  return plan;
}

}  // namespace fleettwin::plan
