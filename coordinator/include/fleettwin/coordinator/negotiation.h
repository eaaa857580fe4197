// One contract-net negotiation of a maintenance plan, as a state machine without sockets:
// call for proposals -> bids until every invited agent answered or the deadline passed ->
// the exact solver -> awards -> accept/refuse until every awarded agent answered or the reply
// timeout passed -> re-solve without those who refused or stayed silent (bounded rounds) ->
// commit. Late, missing, invalid or refused bids never stall it; the plan names who was left
// out and why. The coordinator's loop feeds it messages and clock ticks and sends what it
// returns. Not thread-safe.
#ifndef FLEETTWIN_COORDINATOR_NEGOTIATION_H_
#define FLEETTWIN_COORDINATOR_NEGOTIATION_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fleettwin/plan/maintenance.h"
#include "fleettwin/protocol/messages.h"

namespace fleettwin::coordinator {

struct NegotiationOptions {
  int64_t bid_window_ms = 2000;     // Bids after the call's deadline are late (left out).
  int64_t reply_timeout_ms = 2000;  // Per award round.
  int max_rounds = 3;               // Award rounds before the plan is fixed as it stands.
};

// A message to send to one agent.
struct Outgoing {
  std::string asset;
  protocol::Body body;
};

struct LeftOut {
  std::string asset;
  std::string reason;  // "no bid before the deadline", "declined: …", "invalid bid: …",
                       // "refused: …", "no reply to the award".
  bool operator==(const LeftOut&) const = default;
};

// What a committed negotiation decided; all of it is ledgered and hashed.
struct PlanRecord {
  std::string negotiation;
  protocol::MaintenanceCall call;
  std::vector<plan::MaintenanceBid> bids;  // The bids solved on, sorted by asset.
  std::vector<LeftOut> left_out;           // Sorted by asset.
  plan::MaintenancePlan plan;              // One assignment per asset of `bids`.
  int rounds = 0;                          // Award rounds it took.
  std::string bids_digest;                 // Hex SHA-256 of the canonical bids.
  std::string plan_hash;                   // Hex SHA-256 of CanonicalPlanJson.
  // Set when an operator cancelled the plan (ledgered as "plan.cancel"); not hashed.
  bool cancelled = false;
  std::string cancel_reason;
};

// The canonical form that plan_hash covers: compact JSON with sorted keys (negotiation, call,
// solver, bids digest, assignments, left out).
std::string CanonicalPlanJson(const PlanRecord& record);
// Hex SHA-256 of the canonical bids (asset, slot costs, none cost, in asset order).
std::string BidsDigest(const std::vector<plan::MaintenanceBid>& bids);

class MaintenanceNegotiation final {
 public:
  MaintenanceNegotiation(std::string id, const protocol::MaintenanceCall& call,
                         std::vector<std::string> invited, int64_t now_unix_ns,
                         const NegotiationOptions& options);

  // The calls for proposals, one per invited agent.
  std::vector<Outgoing> Begin();
  std::vector<Outgoing> OnBid(const std::string& asset, const protocol::Bid& bid, int64_t now);
  std::vector<Outgoing> OnReply(const std::string& asset, const protocol::AwardReply& reply,
                                int64_t now);
  // Deadlines: call on every loop turn.
  std::vector<Outgoing> OnTick(int64_t now);

  bool committed() const { return phase_ == Phase::kCommitted; }
  const PlanRecord& record() const { return record_; }  // Complete once committed().
  const std::string& id() const { return id_; }

 private:
  enum class Phase { kBidding, kAwarding, kCommitted };
  std::vector<Outgoing> Solve(int64_t now);
  std::vector<Outgoing> Commit();
  void Leave(const std::string& asset, std::string reason);

  std::string id_;
  protocol::MaintenanceCall call_;
  std::set<std::string> invited_;
  NegotiationOptions options_;
  Phase phase_ = Phase::kBidding;
  int64_t bid_deadline_ns_ = 0;
  int64_t reply_deadline_ns_ = 0;
  std::map<std::string, plan::MaintenanceBid> bids_;  // Valid bids of agents still in.
  std::map<std::string, std::string> left_out_;        // asset -> reason.
  std::map<std::string, plan::MaintenanceAssignment> awarded_;  // Current proposal.
  std::set<std::string> pending_;   // Awarded agents whose reply is awaited this round.
  std::set<std::string> accepted_;  // Agents that accepted their current assignment.
  std::string proposal_hash_;       // Raw SHA-256 of the current proposal.
  bool refused_this_round_ = false;
  PlanRecord record_;
};

}  // namespace fleettwin::coordinator

#endif  // FLEETTWIN_COORDINATOR_NEGOTIATION_H_
