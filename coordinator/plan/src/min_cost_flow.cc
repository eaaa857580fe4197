#include "min_cost_flow.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <queue>
#include <utility>

namespace fleettwin::plan {
namespace {
constexpr int64_t kInfinite = std::numeric_limits<int64_t>::max() / 4;
}  // namespace

MinCostFlow::MinCostFlow(int nodes)
    : out_(static_cast<size_t>(nodes)), potential_(static_cast<size_t>(nodes), 0) {}

int MinCostFlow::AddEdge(int from, int to, int64_t capacity, int64_t cost) {
  assert(from >= 0 && to >= 0 && static_cast<size_t>(from) < out_.size() &&
         static_cast<size_t>(to) < out_.size() && capacity >= 0);
  const int id = static_cast<int>(edges_.size() / 2);
  out_[static_cast<size_t>(from)].push_back(static_cast<int>(edges_.size()));
  edges_.push_back({to, capacity, 0, cost});
  out_[static_cast<size_t>(to)].push_back(static_cast<int>(edges_.size()));
  edges_.push_back({from, 0, 0, -cost});
  return id;
}

void MinCostFlow::SetPotentials(std::vector<int64_t> potentials) {
  assert(potentials.size() == out_.size());
  potential_ = std::move(potentials);
}

int64_t MinCostFlow::Run(int source, int sink, int64_t limit, int64_t stop_at_cost) {
  const size_t n = out_.size();
  std::vector<int64_t> dist(n);
  std::vector<int> via(n);  // Edge index that reached each node on its shortest path.
  using Item = std::pair<int64_t, int>;  // (distance, node): ties go to the lower node.
  int64_t sent = 0;
  while (sent < limit) {
    std::fill(dist.begin(), dist.end(), kInfinite);
    std::fill(via.begin(), via.end(), -1);
    std::priority_queue<Item, std::vector<Item>, std::greater<>> queue;
    dist[static_cast<size_t>(source)] = 0;
    queue.push({0, source});
    while (!queue.empty()) {
      const auto [d, u] = queue.top();
      queue.pop();
      if (d != dist[static_cast<size_t>(u)]) continue;
      for (int e : out_[static_cast<size_t>(u)]) {
        const Edge& edge = edges_[static_cast<size_t>(e)];
        if (edge.capacity - edge.flow <= 0) continue;
        const int64_t reduced = edge.cost + potential_[static_cast<size_t>(u)] -
                                potential_[static_cast<size_t>(edge.to)];
        const int64_t next = d + reduced;
        if (next < dist[static_cast<size_t>(edge.to)]) {
          dist[static_cast<size_t>(edge.to)] = next;
          via[static_cast<size_t>(edge.to)] = e;
          queue.push({next, edge.to});
        }
      }
    }
    const int64_t to_sink = dist[static_cast<size_t>(sink)];
    if (to_sink >= kInfinite) break;
    // Johnson's update, bounded by the sink's distance so that nodes beyond it (or
    // unreachable) keep every residual edge's reduced cost non-negative.
    for (size_t v = 0; v < n; ++v) potential_[v] += std::min(dist[v], to_sink);
    const int64_t path_cost =
        potential_[static_cast<size_t>(sink)] - potential_[static_cast<size_t>(source)];
    if (path_cost >= stop_at_cost) break;
    int64_t push = limit - sent;
    for (int v = sink; v != source;) {
      const Edge& edge = edges_[static_cast<size_t>(via[static_cast<size_t>(v)])];
      push = std::min(push, edge.capacity - edge.flow);
      v = edges_[static_cast<size_t>(via[static_cast<size_t>(v)] ^ 1)].to;
    }
    for (int v = sink; v != source;) {
      const int e = via[static_cast<size_t>(v)];
      edges_[static_cast<size_t>(e)].flow += push;
      edges_[static_cast<size_t>(e ^ 1)].flow -= push;
      v = edges_[static_cast<size_t>(e ^ 1)].to;
    }
    sent += push;
    total_cost_ += push * path_cost;
    ++augmentations_;
  }
  return sent;
}

}  // namespace fleettwin::plan
