// Task allocation by auction (contract net, one task at a time), as a state machine without
// sockets: call for proposals to every invited agent -> bids (each agent's simulated completion
// cost, sim::AskTaskCompletion) until all answered or the deadline -> award to the cheapest
// (ties by asset id) -> it accepts, or refuses / stays silent and the next cheapest is awarded
// -> the task is assigned, or unassigned when nobody is left. The coordinator re-auctions a
// task whose winner is lost or drops it, without that winner. Not thread-safe.
#ifndef FLEETTWIN_COORDINATOR_TASK_AUCTION_H_
#define FLEETTWIN_COORDINATOR_TASK_AUCTION_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "fleettwin/coordinator/negotiation.h"
#include "fleettwin/protocol/messages.h"

namespace fleettwin::coordinator {

// InvalidArgument unless the task is well formed: an id of 1..100 characters from
// [A-Za-z0-9._-], duration in (0, 1e7], deadline in [0, 1e7], late cost in [0, 1e9], a
// capability of at most 128 bytes, finite coordinates.
absl::Status CheckTask(const protocol::TaskCall& task);

struct TaskBidRecord {
  std::string asset;
  double cost = 0;
  double completion = 0;
  double p_late = 0;
  bool operator==(const TaskBidRecord&) const = default;
};

// What one auction decided; ledgered as "task.award".
struct TaskAuctionRecord {
  std::string auction;  // "<task id>#<attempt>".
  int attempt = 1;
  protocol::TaskCall task;
  std::vector<TaskBidRecord> bids;  // Valid bids, cheapest first (ties by asset).
  std::vector<LeftOut> left_out;    // Sorted by asset.
  std::string winner;               // Empty: nobody took the task.
  double cost = 0;                  // The winner's bid.
};

class TaskAuction final {
 public:
  TaskAuction(std::string auction, int attempt, const protocol::TaskCall& task,
              std::vector<std::string> invited, int64_t now_unix_ns,
              const NegotiationOptions& options);

  std::vector<Outgoing> Begin();
  std::vector<Outgoing> OnBid(const std::string& asset, const protocol::Bid& bid, int64_t now);
  std::vector<Outgoing> OnReply(const std::string& asset, const protocol::AwardReply& reply,
                                int64_t now);
  std::vector<Outgoing> OnTick(int64_t now);

  bool finished() const { return phase_ == Phase::kFinished; }
  const TaskAuctionRecord& record() const { return record_; }  // Complete once finished().
  const std::string& id() const { return record_.auction; }

 private:
  enum class Phase { kBidding, kAwarding, kFinished };
  std::vector<Outgoing> AwardNext(int64_t now);
  void Leave(const std::string& asset, std::string reason);
  std::vector<Outgoing> Finish();

  std::set<std::string> invited_;
  NegotiationOptions options_;
  Phase phase_ = Phase::kBidding;
  int64_t bid_deadline_ns_ = 0;
  int64_t reply_deadline_ns_ = 0;
  std::map<std::string, TaskBidRecord> bids_;
  std::map<std::string, std::string> left_out_;
  std::vector<TaskBidRecord> ranking_;  // Set when bidding ends.
  size_t next_ = 0;                     // Next in ranking_ to award.
  std::string awarded_;                 // Awaiting its reply.
  TaskAuctionRecord record_;
};

}  // namespace fleettwin::coordinator

#endif  // FLEETTWIN_COORDINATOR_TASK_AUCTION_H_
