#include "min_cost_flow.h"

#include "gtest/gtest.h"

namespace fleettwin::plan {
namespace {

TEST(MinCostFlowTest, SendsFlowAlongCheapestPathsAndReroutesThroughReverseEdges) {
  // Two units from 0 to 3. Cheapest first path 0-1-2-3 (cost 3); the second unit must undo
  // 1-2 to use 0-1-3 and 0-2-3: total optimum 0-1-3 (1+5) + 0-2-3 (4+1) = 11, not 3 + 10.
  MinCostFlow flow(4);
  const int e01 = flow.AddEdge(0, 1, 1, 1);
  const int e02 = flow.AddEdge(0, 2, 1, 4);
  const int e12 = flow.AddEdge(1, 2, 1, 1);
  const int e13 = flow.AddEdge(1, 3, 1, 5);
  const int e23 = flow.AddEdge(2, 3, 1, 1);
  EXPECT_EQ(flow.Run(0, 3, 2, 1'000'000), 2);
  EXPECT_EQ(flow.total_cost(), 11);
  EXPECT_EQ(flow.flow(e01), 1);
  EXPECT_EQ(flow.flow(e02), 1);
  EXPECT_EQ(flow.flow(e12), 0);
  EXPECT_EQ(flow.flow(e13), 1);
  EXPECT_EQ(flow.flow(e23), 1);
  EXPECT_EQ(flow.augmentations(), 2);
}

TEST(MinCostFlowTest, StopsWhenAnotherUnitWouldNotLowerTheCost) {
  MinCostFlow flow(3);
  flow.AddEdge(0, 1, 5, 0);
  flow.AddEdge(1, 2, 1, -7);
  flow.AddEdge(1, 2, 1, -2);
  flow.AddEdge(1, 2, 3, 4);
  flow.SetPotentials({0, 0, -7});
  EXPECT_EQ(flow.Run(0, 2, 5, 0), 2);  // The third unit would cost +4.
  EXPECT_EQ(flow.total_cost(), -9);
}

TEST(MinCostFlowTest, RespectsTheLimitAndUnreachableSinks) {
  MinCostFlow flow(4);
  flow.AddEdge(0, 1, 10, 2);
  flow.AddEdge(1, 2, 10, 3);
  EXPECT_EQ(flow.Run(0, 2, 4, 1'000'000), 4);
  EXPECT_EQ(flow.total_cost(), 20);
  MinCostFlow apart(3);
  apart.AddEdge(0, 1, 1, 1);
  EXPECT_EQ(apart.Run(0, 2, 1, 1'000'000), 0);
}

}  // namespace
}  // namespace fleettwin::plan
