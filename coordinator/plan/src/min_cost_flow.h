// Minimum-cost flow on a small directed graph with integer capacities and costs, by successive
// shortest paths (Dijkstra on reduced costs with Johnson potentials). Deterministic: ties are
// broken by node number and edge insertion order, never by addresses or hashing.
#ifndef FLEETTWIN_PLAN_SRC_MIN_COST_FLOW_H_
#define FLEETTWIN_PLAN_SRC_MIN_COST_FLOW_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fleettwin::plan {

class MinCostFlow final {
 public:
  explicit MinCostFlow(int nodes);

  // Adds the edge from -> to and returns its id. REQUIRES: nodes in range, capacity >= 0.
  int AddEdge(int from, int to, int64_t capacity, int64_t cost);

  // Sets the starting potentials: the shortest-path distance from the source to every node
  // in the empty-flow graph. REQUIRES (for optimality): every edge's reduced cost
  // cost + p[from] - p[to] is >= 0. Without a call, all potentials are 0, which requires
  // every cost to be >= 0.
  void SetPotentials(std::vector<int64_t> potentials);

  // Sends flow from `source` to `sink` along cheapest paths while a path costs less than
  // `stop_at_cost` per unit (0: only flow that lowers the total; a large value: maximum flow
  // at minimum cost), at most `limit` units. Returns the flow sent.
  int64_t Run(int source, int sink, int64_t limit, int64_t stop_at_cost);

  int64_t flow(int edge) const { return edges_[static_cast<size_t>(edge) * 2].flow; }
  int64_t total_cost() const { return total_cost_; }
  int augmentations() const { return augmentations_; }

 private:
  struct Edge {
    int to;
    int64_t capacity;
    int64_t flow;
    int64_t cost;
  };
  // Edge 2k is the k-th added edge; 2k + 1 its reverse (capacity 0, cost -cost).
  std::vector<Edge> edges_;
  std::vector<std::vector<int>> out_;  // Edge indices leaving each node, in insertion order.
  std::vector<int64_t> potential_;
  int64_t total_cost_ = 0;
  int augmentations_ = 0;
};

}  // namespace fleettwin::plan

#endif  // FLEETTWIN_PLAN_SRC_MIN_COST_FLOW_H_
