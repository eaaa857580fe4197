#include "fleettwin/ledger/crosscheck.h"

#include <gtest/gtest.h>

#include "ledger_test_util.h"

namespace fleettwin::ledger {
namespace {

using testing::KeyFromByte;
using testing::TempDir;

constexpr char kAgent[] = "fleettwin/agent/engine-1";
constexpr char kFleet[] = "fleettwin/coordinator";

class CrossCheckTest : public ::testing::Test {
 protected:
  std::unique_ptr<Ledger> Open(const std::string& name, const std::string& origin, int key) {
    LedgerOptions options;
    options.directory = dir_.path() / name;
    options.origin = origin;
    auto ledger = OpenLedger(options, clock_, KeyFromByte(origin, key));
    EXPECT_TRUE(ledger.ok()) << ledger.status();
    return ledger.ok() ? *std::move(ledger) : nullptr;
  }
  static void Fill(Ledger& l, int n, const std::string& text) {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(l.Append({"twin.update", "engine-1", 0, 0, text + std::to_string(i)}).ok());
    }
  }
  static void AnchorLatest(Ledger& fleet, const Ledger& agent) {
    absl::StatusOr<SignedCheckpoint> cp = agent.LatestCheckpoint();
    ASSERT_TRUE(cp.ok());
    ASSERT_TRUE(fleet.Append({kAnchorKind, "engine-1", 0, 0, cp->note}).ok());
  }

  TempDir dir_;
  FakeClock clock_{1'700'000'000'000'000'000};
};

TEST_F(CrossCheckTest, AGrowingLedgerAgreesARewrittenOneDoesNot) {
  auto fleet = Open("fleet", kFleet, 1);
  auto agent = Open("agent", kAgent, 2);
  EXPECT_EQ(CrossCheck(*fleet, *agent).status().code(), absl::StatusCode::kFailedPrecondition);
  Fill(*agent, 10, "a");
  EXPECT_EQ(CrossCheck(*fleet, *agent).status().code(), absl::StatusCode::kFailedPrecondition);
  AnchorLatest(*fleet, *agent);
  Fill(*agent, 7, "b");
  AnchorLatest(*fleet, *agent);
  Fill(*agent, 5, "c");  // Grew after the last anchor: still consistent.
  // Another agent's anchor is skipped.
  auto other = Open("other", "fleettwin/agent/engine-2", 3);
  Fill(*other, 3, "z");
  AnchorLatest(*fleet, *other);
  absl::StatusOr<CrossCheckReport> r = CrossCheck(*fleet, *agent);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->origin, kAgent);
  EXPECT_EQ(r->anchors, 2u);
  EXPECT_EQ(r->largest_anchored, 17u);
  EXPECT_EQ(r->agent_size, 22u);

  // The same origin, a different history of the same length and longer: caught.
  auto rewritten = Open("rewritten", kAgent, 2);
  Fill(*rewritten, 10, "a");
  Fill(*rewritten, 7, "B");  // Entries 10..16 differ.
  Fill(*rewritten, 9, "c");
  absl::StatusOr<CrossCheckReport> bad = CrossCheck(*fleet, *rewritten);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(bad.status().message().find("anchored size 17"), std::string::npos)
      << bad.status();
  EXPECT_NE(bad.status().message().find("root differs"), std::string::npos) << bad.status();
  // A shorter history than the fleet saw: caught.
  auto truncated = Open("truncated", kAgent, 2);
  Fill(*truncated, 10, "a");
  Fill(*truncated, 3, "b");
  EXPECT_EQ(CrossCheck(*fleet, *truncated).status().code(), absl::StatusCode::kDataLoss);
  // An anchor that is not a note.
  ASSERT_TRUE(fleet->Append({kAnchorKind, "engine-1", 0, 0, "garbage"}).ok());
  EXPECT_EQ(CrossCheck(*fleet, *agent).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fleettwin::ledger
