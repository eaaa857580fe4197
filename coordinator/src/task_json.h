// JSON forms of tasks and task auctions: ledgered (task.submit, task.award) and answered on
// the control socket. docs/ledger.md lists the fields.
#ifndef FLEETTWIN_COORDINATOR_SRC_TASK_JSON_H_
#define FLEETTWIN_COORDINATOR_SRC_TASK_JSON_H_

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "fleettwin/coordinator/negotiation.h"
#include "fleettwin/coordinator/task_auction.h"
#include "fleettwin/protocol/messages.h"

namespace fleettwin::coordinator {

nlohmann::json TaskCallJson(const protocol::TaskCall& t);
// Throws nlohmann::json::exception on missing keys or wrong types.
protocol::TaskCall TaskCallFromJson(const nlohmann::json& j);

nlohmann::json TaskSubmitJson(const protocol::TaskCall& t, const NegotiationOptions& o);
absl::Status TaskSubmitFromJson(const nlohmann::json& j, protocol::TaskCall& t,
                                NegotiationOptions& o);

nlohmann::json TaskAuctionJson(const TaskAuctionRecord& r);
absl::StatusOr<TaskAuctionRecord> TaskAuctionFromJson(const nlohmann::json& j);

}  // namespace fleettwin::coordinator

#endif  // FLEETTWIN_COORDINATOR_SRC_TASK_JSON_H_
