// The fleet protocol's messages as plain values, and their Cap'n Proto encoding
// (proto/fleet.capnp; docs/protocols.md). Shared by fleet-coordinator and the agents' link to
// it, so both sides encode and check messages the same way.
#ifndef FLEETTWIN_PROTOCOL_MESSAGES_H_
#define FLEETTWIN_PROTOCOL_MESSAGES_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

namespace fleettwin::protocol {

inline constexpr uint16_t kVersion = 1;
inline constexpr char kCoordinatorName[] = "coordinator";

struct Register {
  std::string kind{};
  std::string agent_version{};
  uint32_t heartbeat_ms = 0;
  bool operator==(const Register&) const = default;
};

struct Welcome {
  uint64_t coordinator_session = 0;
  uint32_t heartbeat_timeout_ms = 0;
  bool operator==(const Welcome&) const = default;
};

struct Heartbeat {
  uint64_t revision = 0;
  std::string health{};  // "ok", "warning", "alarm", "unknown".
  bool has_rul = false;
  double rul = 0;
  double rul_std = 0;
  double p_fail = 0;
  bool anomaly = false;
  bool drift = false;
  std::string model_version{};
  std::string checkpoint{};          // Signed note text of the agent ledger's latest checkpoint.
  std::vector<std::string> tasks{};  // Auctions whose tasks the agent holds.
  bool operator==(const Heartbeat&) const = default;
};

struct Refused {
  uint64_t message_id = 0;
  std::string reason{};
  bool operator==(const Refused&) const = default;
};

struct MaintenanceCall {
  uint32_t horizon = 0;
  uint32_t duration = 0;
  uint32_t crews = 0;
  double failure_cost = 0;
  double preventive_cost = 0;
  double wasted_life_cost = 0;
  bool operator==(const MaintenanceCall&) const = default;
};

// A task for one agent (docs/planning.md, task allocation); times in the twin's time units.
struct TaskCall {
  std::string task_id{};
  double duration = 0;
  std::string capability{};  // Required; empty: any.
  bool has_location = false;
  double x = 0, y = 0;
  double deadline = 0;  // From now.
  double late_cost = 0;
  bool operator==(const TaskCall&) const = default;
};

struct CallForProposals {
  std::string negotiation{};
  int64_t deadline_unix_ms = 0;
  MaintenanceCall maintenance{};  // Unless is_task.
  bool is_task = false;
  TaskCall task{};  // When is_task: a task auction (negotiation is the auction id).
  bool operator==(const CallForProposals&) const = default;
};

struct TaskBid {
  double cost = 0;        // completion + late_cost * p_late.
  double completion = 0;  // Mean, time units from now.
  double p_late = 0;
  uint32_t replications = 0;
  bool operator==(const TaskBid&) const = default;
};

struct MaintenanceBid {
  std::vector<double> slot_cost{};
  double none_cost = 0;
  double rul = 0;
  double rul_std = 0;
  uint32_t replications = 0;
  std::string model_version{};
  bool operator==(const MaintenanceBid&) const = default;
};

struct Bid {
  std::string negotiation{};
  bool declined = false;
  std::string decline_reason{};  // When declined.
  MaintenanceBid maintenance{};  // When not declined and not is_task.
  bool is_task = false;
  TaskBid task{};  // When not declined and is_task.
  bool operator==(const Bid&) const = default;
};

struct Award {
  std::string negotiation{};
  std::string plan_hash{};  // 32 raw bytes.
  int32_t slot = -1;
  int32_t start = -1;
  int32_t crew = -1;
  std::string task_id{};  // Set for a task auction's award.
  bool operator==(const Award&) const = default;
};

struct AwardReply {
  std::string negotiation{};
  std::string plan_hash{};
  bool accept = false;
  std::string reason{};
  bool operator==(const AwardReply&) const = default;
};

struct Commit {
  std::string negotiation{};
  std::string plan_hash{};
  int32_t slot = -1;
  int32_t start = -1;
  int32_t crew = -1;
  uint64_t fleet_ledger_index = 0;
  bool operator==(const Commit&) const = default;
};

// Agent -> coordinator: a task it was awarded has ended.
struct TaskReport {
  std::string task_id{};
  std::string auction{};
  bool done = false;  // False: dropped.
  std::string reason{};
  bool operator==(const TaskReport&) const = default;
};

// Coordinator -> agent: stop holding this task (it is someone else's now).
struct TaskRevoke {
  std::string task_id{};
  std::string auction{};
  std::string reason{};
  bool operator==(const TaskRevoke&) const = default;
};

// Coordinator -> agent: an operator's record of maintenance done (fleetctl record).
struct MaintenanceDone {
  uint64_t request = 0;  // Echoed in the reply.
  bool has_time = false;
  double time = 0;  // On the twin's clock when has_time; else the latest sample's.
  std::string note{};
  std::string author{};
  bool renews = true;
  std::string id{};  // Optional (IsMaintenanceRecordId); a retry with it is refused.
  bool operator==(const MaintenanceDone&) const = default;
};

// Agent -> coordinator: whether the twin recorded it.
struct MaintenanceDoneReply {
  uint64_t request = 0;
  bool ok = false;
  uint64_t revision = 0;  // When ok.
  uint32_t code = 0;      // absl::StatusCode when not ok (2, unknown, for a number out of range).
  std::string error{};
  bool operator==(const MaintenanceDoneReply&) const = default;
};

using Body =
    std::variant<Register, Welcome, Heartbeat, Refused, CallForProposals, Bid, Award, AwardReply,
                 Commit, TaskReport, TaskRevoke, MaintenanceDone, MaintenanceDoneReply>;

struct Envelope {
  uint64_t session = 0;
  uint64_t message_id = 0;
  std::string sender{};
  int64_t sent_unix_ms = 0;
  Body body{};
  bool operator==(const Envelope&) const = default;
};

// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or code points above
// U+10FFFF). Decode refuses texts that are not, so everything decoded can go into JSON.
bool IsUtf8(std::string_view text);
// The longest prefix of `text` (well-formed UTF-8) of at most `max_bytes`, cut between
// characters.
std::string Utf8Prefix(std::string_view text, size_t max_bytes);

// The longest note and author a maintenance record may have, in bytes (the agent refuses
// longer ones; the coordinator and fleetctl refuse them before sending).
inline constexpr size_t kMaxMaintenanceNote = 256;
inline constexpr size_t kMaxMaintenanceAuthor = 128;

// A maintenance record id: 1..64 letters, digits and - _ . : (checked by coordinator and agent).
bool IsMaintenanceRecordId(std::string_view id);

// A short name of the body's type ("register", "heartbeat", ...) for logs and counters.
std::string_view BodyName(const Body& body);

// The version-1 encoding (one flat Cap'n Proto message).
std::string Encode(const Envelope& envelope);

// Errors: InvalidArgument for bytes that are not a well-formed version-1 Envelope within the
// limits (texts up to 64 KiB, a sender of 1..128 bytes, session and message id >= 1, up to
// 100 000 slot costs, finite numbers, a known body). Never crashes, whatever the bytes.
absl::StatusOr<Envelope> Decode(std::string_view bytes);

// Message-level duplicate and replay filter of one receiver: remembers, per sender, the latest
// session and the highest message id accepted in it. Not thread-safe.
class ReplayGuard final {
 public:
  // True (and remembered) when the message is new: the first from its sender, a later session
  // than the sender's last (only a Register may open one), or the same session with a higher
  // id. False for a duplicate, a replay or a message of an older session.
  bool Accept(const Envelope& envelope);
  // Forgets a sender (e.g. when it is removed from the fleet).
  void Forget(const std::string& sender);

 private:
  struct Seen {
    uint64_t session = 0;
    uint64_t message_id = 0;
  };
  std::unordered_map<std::string, Seen> seen_;
};

}  // namespace fleettwin::protocol

#endif  // FLEETTWIN_PROTOCOL_MESSAGES_H_
