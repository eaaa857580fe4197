#include "fleettwin/coordinator/negotiation.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "call_json.h"

#include "absl/strings/str_cat.h"
#include "fleettwin/common/crypto.h"
#include "fleettwin/common/encoding.h"

namespace fleettwin::coordinator {
namespace {

using nlohmann::json;

std::string Raw(const Hash& h) { return std::string(h.begin(), h.end()); }

Hash HashText(const std::string& text) {
  return Sha256(Bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

json AssignmentsJson(const std::vector<plan::MaintenanceAssignment>& assignments) {
  json out = json::array();
  for (const plan::MaintenanceAssignment& a : assignments) {
    out.push_back({{"asset", a.asset}, {"slot", a.slot}, {"crew", a.crew}, {"start", a.start}});
  }
  return out;
}

// Whether a bid fits the call; the reason when not.
std::string BidProblem(const protocol::MaintenanceCall& call, const protocol::MaintenanceBid& b) {
  const size_t slots = call.duration == 0 ? 0 : call.horizon / call.duration;
  if (b.slot_cost.size() != slots) {
    return absl::StrCat(b.slot_cost.size(), " slot costs for ", slots, " slots");
  }
  auto bad = [](double c) { return !(c >= 0 && c <= 1e9); };
  if (bad(b.none_cost) || std::any_of(b.slot_cost.begin(), b.slot_cost.end(), bad)) {
    return "a cost outside [0, 1e9]";
  }
  return "";
}

}  // namespace

std::string BidsDigest(const std::vector<plan::MaintenanceBid>& bids) {
  json out = json::array();
  for (const plan::MaintenanceBid& b : bids) {
    out.push_back({{"asset", b.asset}, {"slot_cost", b.slot_cost}, {"none_cost", b.none_cost}});
  }
  return HexEncode(HashText(out.dump()));
}

std::string CanonicalPlanJson(const PlanRecord& r) {
  json left = json::array();
  for (const LeftOut& l : r.left_out) left.push_back({{"asset", l.asset}, {"reason", l.reason}});
  const json doc = {
      {"negotiation", r.negotiation},
      {"call", CallJson(r.call)},
      {"solver", r.plan.solver},
      {"bids_digest", r.bids_digest},
      {"assignments", AssignmentsJson(r.plan.assignments)},
      {"cost_milli", r.plan.cost_milli},
      {"left_out", left},
      {"rounds", r.rounds},
  };
  return doc.dump();
}

MaintenanceNegotiation::MaintenanceNegotiation(std::string id, const protocol::MaintenanceCall& call,
                                               std::vector<std::string> invited,
                                               int64_t now_unix_ns,
                                               const NegotiationOptions& options)
    : id_(std::move(id)),
      call_(call),
      invited_(invited.begin(), invited.end()),
      options_(options),
      bid_deadline_ns_(now_unix_ns + options.bid_window_ms * 1'000'000) {}

std::vector<Outgoing> MaintenanceNegotiation::Begin() {
  std::vector<Outgoing> out;
  for (const std::string& asset : invited_) {
    out.push_back({asset, protocol::CallForProposals{id_, bid_deadline_ns_ / 1'000'000, call_}});
  }
  if (invited_.empty()) return Solve(bid_deadline_ns_);
  return out;
}

void MaintenanceNegotiation::Leave(const std::string& asset, std::string reason) {
  left_out_.emplace(asset, std::move(reason));
  bids_.erase(asset);
  awarded_.erase(asset);
  accepted_.erase(asset);
  pending_.erase(asset);
}

std::vector<Outgoing> MaintenanceNegotiation::OnBid(const std::string& asset,
                                                    const protocol::Bid& bid, int64_t now) {
  if (phase_ != Phase::kBidding || bid.negotiation != id_ || !invited_.contains(asset) ||
      bids_.contains(asset) || left_out_.contains(asset)) {
    return {};  // Not ours, not invited, or a second answer.
  }
  if (now > bid_deadline_ns_) {
    Leave(asset, "no bid before the deadline");
  } else if (bid.declined) {
    Leave(asset, absl::StrCat("declined: ", protocol::Utf8Prefix(bid.decline_reason, 200)));
  } else if (std::string problem = BidProblem(call_, bid.maintenance); !problem.empty()) {
    Leave(asset, absl::StrCat("invalid bid: ", problem));
  } else {
    bids_[asset] = {asset, bid.maintenance.slot_cost, bid.maintenance.none_cost};
  }
  if (bids_.size() + left_out_.size() == invited_.size()) return Solve(now);
  return {};
}

std::vector<Outgoing> MaintenanceNegotiation::Solve(int64_t now) {
  ++record_.rounds;
  std::vector<plan::MaintenanceBid> bids;
  for (const auto& [asset, bid] : bids_) bids.push_back(bid);
  const plan::MaintenanceProblem problem{static_cast<int>(call_.horizon),
                                         static_cast<int>(call_.duration),
                                         static_cast<int>(call_.crews)};
  absl::StatusOr<plan::MaintenancePlan> solved = plan::SolveMaintenance(problem, bids);
  if (!solved.ok()) {  // Only a call out of range gets here: nobody can be planned.
    std::vector<std::string> assets;
    for (const auto& [asset, bid] : bids_) assets.push_back(asset);
    for (const std::string& asset : assets) {
      Leave(asset, absl::StrCat("solver: ", solved.status().message()));
    }
    solved = plan::MaintenancePlan{};
  }
  record_.plan = *std::move(solved);
  // The proposal: every agent whose assignment is new (or changed) must accept it.
  json proposal = {{"negotiation", id_}, {"round", record_.rounds},
                   {"assignments", AssignmentsJson(record_.plan.assignments)}};
  proposal_hash_ = Raw(HashText(proposal.dump()));
  std::vector<Outgoing> out;
  pending_.clear();
  const bool last_round = record_.rounds > options_.max_rounds;
  for (const plan::MaintenanceAssignment& a : record_.plan.assignments) {
    auto it = awarded_.find(a.asset);
    const bool unchanged = it != awarded_.end() && it->second.slot == a.slot &&
                           it->second.crew == a.crew && accepted_.contains(a.asset);
    awarded_[a.asset] = a;
    if (unchanged || last_round) continue;  // After the last round the plan is imposed.
    accepted_.erase(a.asset);
    pending_.insert(a.asset);
    out.push_back({a.asset, protocol::Award{id_, proposal_hash_, a.slot, a.start, a.crew}});
  }
  if (pending_.empty()) return Commit();
  phase_ = Phase::kAwarding;
  reply_deadline_ns_ = now + options_.reply_timeout_ms * 1'000'000;
  refused_this_round_ = false;
  return out;
}

std::vector<Outgoing> MaintenanceNegotiation::OnReply(const std::string& asset,
                                                      const protocol::AwardReply& reply,
                                                      int64_t now) {
  if (phase_ != Phase::kAwarding || reply.negotiation != id_ || !pending_.contains(asset) ||
      reply.plan_hash != proposal_hash_) {
    return {};  // Not awaited, or an answer to an older proposal.
  }
  pending_.erase(asset);
  if (reply.accept) {
    accepted_.insert(asset);
  } else {
    Leave(asset, absl::StrCat("refused: ", protocol::Utf8Prefix(reply.reason, 200)));
    refused_this_round_ = true;
  }
  if (!pending_.empty()) return {};
  return refused_this_round_ ? Solve(now) : Commit();
}

std::vector<Outgoing> MaintenanceNegotiation::OnTick(int64_t now) {
  if (phase_ == Phase::kBidding && now > bid_deadline_ns_) {
    for (const std::string& asset : invited_) {
      if (!bids_.contains(asset) && !left_out_.contains(asset)) {
        Leave(asset, "no bid before the deadline");
      }
    }
    return Solve(now);
  }
  if (phase_ == Phase::kAwarding && now > reply_deadline_ns_) {
    for (const std::string& asset : std::set<std::string>(pending_)) {
      Leave(asset, "no reply to the award");
    }
    return Solve(now);
  }
  return {};
}

std::vector<Outgoing> MaintenanceNegotiation::Commit() {
  phase_ = Phase::kCommitted;
  record_.negotiation = id_;
  record_.call = call_;
  record_.bids.clear();
  for (const auto& [asset, bid] : bids_) record_.bids.push_back(bid);
  record_.left_out.clear();
  for (const auto& [asset, reason] : left_out_) record_.left_out.push_back({asset, reason});
  record_.bids_digest = BidsDigest(record_.bids);
  record_.plan_hash = HexEncode(HashText(CanonicalPlanJson(record_)));
  std::vector<Outgoing> out;
  const std::string raw_hash = Raw(HashText(CanonicalPlanJson(record_)));
  for (const plan::MaintenanceAssignment& a : record_.plan.assignments) {
    out.push_back({a.asset, protocol::Commit{id_, raw_hash, a.slot, a.start, a.crew, 0}});
  }
  return out;
}

}  // namespace fleettwin::coordinator
