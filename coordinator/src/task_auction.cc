#include "fleettwin/coordinator/task_auction.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace fleettwin::coordinator {

absl::Status CheckTask(const protocol::TaskCall& t) {
  if (t.task_id.empty() || t.task_id.size() > 100 ||
      !std::all_of(t.task_id.begin(), t.task_id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
      })) {
    // 100: the agent's desired value "task.<id>" and the auction id "<id>#<n>" stay within the
    // 128 bytes names and ids may have.
    return absl::InvalidArgumentError("a task id is 1..100 characters of [A-Za-z0-9._-]");
  }
  if (!(t.duration > 0 && t.duration <= 1e7)) {
    return absl::InvalidArgumentError("task duration must be in (0, 1e7]");
  }
  if (!(t.deadline >= 0 && t.deadline <= 1e7)) {
    return absl::InvalidArgumentError("task deadline must be in [0, 1e7]");
  }
  if (!(t.late_cost >= 0 && t.late_cost <= 1e9)) {
    return absl::InvalidArgumentError("late cost must be in [0, 1e9]");
  }
  if (t.capability.size() > 128) return absl::InvalidArgumentError("capability too long");
  if (!std::isfinite(t.x) || !std::isfinite(t.y) || std::abs(t.x) > 1e9 || std::abs(t.y) > 1e9) {
    return absl::InvalidArgumentError("task location must be finite (|x|, |y| <= 1e9)");
  }
  return absl::OkStatus();
}

TaskAuction::TaskAuction(std::string auction, int attempt, const protocol::TaskCall& task,
                         std::vector<std::string> invited, int64_t now_unix_ns,
                         const NegotiationOptions& options)
    : invited_(invited.begin(), invited.end()),
      options_(options),
      bid_deadline_ns_(now_unix_ns + options.bid_window_ms * 1'000'000) {
  record_.auction = std::move(auction);
  record_.attempt = attempt;
  record_.task = task;
}

std::vector<Outgoing> TaskAuction::Begin() {
  if (invited_.empty()) return Finish();
  std::vector<Outgoing> out;
  protocol::CallForProposals call;
  call.negotiation = record_.auction;
  call.deadline_unix_ms = bid_deadline_ns_ / 1'000'000;
  call.is_task = true;
  call.task = record_.task;
  for (const std::string& asset : invited_) out.push_back({asset, call});
  return out;
}

void TaskAuction::Leave(const std::string& asset, std::string reason) {
  left_out_.emplace(asset, std::move(reason));
  bids_.erase(asset);
}

std::vector<Outgoing> TaskAuction::OnBid(const std::string& asset, const protocol::Bid& bid,
                                         int64_t now) {
  if (phase_ != Phase::kBidding || bid.negotiation != record_.auction ||
      !invited_.contains(asset) || bids_.contains(asset) || left_out_.contains(asset)) {
    return {};
  }
  auto bad = [](double v, double high) { return !(v >= 0 && v <= high); };
  if (now > bid_deadline_ns_) {
    Leave(asset, "no bid before the deadline");
  } else if (bid.declined) {
    Leave(asset, absl::StrCat("declined: ", protocol::Utf8Prefix(bid.decline_reason, 200)));
  } else if (!bid.is_task || bad(bid.task.cost, 1e10) || bad(bid.task.completion, 1e8) ||
             bad(bid.task.p_late, 1)) {
    Leave(asset, "invalid bid: not a task bid with costs in range");
  } else {
    bids_[asset] = {asset, bid.task.cost, bid.task.completion, bid.task.p_late};
  }
  if (bids_.size() + left_out_.size() == invited_.size()) {
    phase_ = Phase::kAwarding;
    return AwardNext(now);
  }
  return {};
}

std::vector<Outgoing> TaskAuction::AwardNext(int64_t now) {
  if (ranking_.empty() && next_ == 0) {
    for (const auto& [asset, b] : bids_) ranking_.push_back(b);
    // Exact costs decide; equal costs go to the smaller asset id (deterministic, replayable).
    std::stable_sort(ranking_.begin(), ranking_.end(),
                     [](const TaskBidRecord& a, const TaskBidRecord& b) { return a.cost < b.cost; });
    record_.bids = ranking_;
  }
  while (next_ < ranking_.size() && left_out_.contains(ranking_[next_].asset)) ++next_;
  if (next_ >= ranking_.size()) return Finish();
  awarded_ = ranking_[next_++].asset;
  reply_deadline_ns_ = now + options_.reply_timeout_ms * 1'000'000;
  return {{awarded_, protocol::Award{record_.auction, "", -1, -1, -1, record_.task.task_id}}};
}

std::vector<Outgoing> TaskAuction::OnReply(const std::string& asset,
                                           const protocol::AwardReply& reply, int64_t now) {
  if (phase_ != Phase::kAwarding || reply.negotiation != record_.auction || asset != awarded_) {
    return {};
  }
  if (reply.accept) {
    record_.winner = asset;
    record_.cost = bids_.at(asset).cost;
    return Finish();
  }
  Leave(asset, absl::StrCat("refused: ", protocol::Utf8Prefix(reply.reason, 200)));
  awarded_.clear();
  return AwardNext(now);
}

std::vector<Outgoing> TaskAuction::OnTick(int64_t now) {
  if (phase_ == Phase::kBidding && now > bid_deadline_ns_) {
    for (const std::string& asset : invited_) {
      if (!bids_.contains(asset) && !left_out_.contains(asset)) {
        Leave(asset, "no bid before the deadline");
      }
    }
    phase_ = Phase::kAwarding;
    return AwardNext(now);
  }
  if (phase_ == Phase::kAwarding && !awarded_.empty() && now > reply_deadline_ns_) {
    Leave(awarded_, "no reply to the award");
    awarded_.clear();
    return AwardNext(now);
  }
  return {};
}

std::vector<Outgoing> TaskAuction::Finish() {
  phase_ = Phase::kFinished;
  record_.left_out.clear();
  for (const auto& [asset, reason] : left_out_) record_.left_out.push_back({asset, reason});
  return {};
}

}  // namespace fleettwin::coordinator
