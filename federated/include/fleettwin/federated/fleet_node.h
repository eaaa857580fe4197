// A Flower node (SuperNode role) in C++: the Fleet API client an agent runs to take part in
// federated rounds of our server or of a real Flower SuperLink (docs/federated.md).
//
//   RegisterNode -> ActivateNode -> { heartbeat every interval (own thread) }
//   loop: PullMessages -> PullObject for every object of each message -> ConfirmMessageReceived
//         -> handler -> PushMessages(reply) -> PushObject for each id in objects_to_push
//   Stop(): DeactivateNode -> UnregisterNode
//
// Every call carries the three authentication headers (node_auth.h). Lost connections are
// retried with exponential backoff; the node registers again after a server restart.
#ifndef FLEETTWIN_FEDERATED_FLEET_NODE_H_
#define FLEETTWIN_FEDERATED_FLEET_NODE_H_

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "fleettwin/federated/node_auth.h"
#include "flwr/proto/message.pb.h"

namespace fleettwin::federated {

// The node's work: the reply content for a message (content decoded). An error becomes the
// reply's Error (code, reason) so the server learns why. Called on the node's thread.
class MessageHandler {
 public:
  virtual ~MessageHandler() = default;
  virtual absl::StatusOr<flwr::proto::RecordDict> Handle(const flwr::proto::Message& message) = 0;
};

struct FleetNodeOptions {
  std::string server = "127.0.0.1:9092";  // host:port of the Fleet API.
  std::filesystem::path tls_root_cert_file;  // PEM roots to trust; empty = plaintext.
  double heartbeat_interval_s = 30;          // Asked of the server; heartbeats at 0.8x.
  absl::Duration poll_interval = absl::Seconds(1);  // Between empty PullMessages.
  absl::Duration call_timeout = absl::Seconds(60);  // Per gRPC call.
  absl::Duration backoff_initial = absl::Milliseconds(200);
  absl::Duration backoff_max = absl::Seconds(30);
  std::function<absl::Time()> clock = [] { return absl::Now(); };  // For the timestamp header.
};

struct FleetNodeStats {
  uint64_t node_id = 0;
  uint64_t messages_handled = 0;  // Replies pushed.
  uint64_t handler_errors = 0;    // Replies that carried an Error.
  uint64_t reconnects = 0;        // Times the node registered again after an error.
  uint64_t heartbeats = 0;
};

// Thread-safe.
class FleetNode {
 public:
  virtual ~FleetNode() = default;
  // Starts the node's threads. The handler must outlive the node.
  virtual void Start() = 0;
  // Deactivates and unregisters (best effort, bounded by call_timeout), stops the threads.
  // Idempotent.
  virtual void Stop() = 0;
  virtual FleetNodeStats stats() const = 0;
};

// Errors: InvalidArgument (unreadable root certificate).
absl::StatusOr<std::unique_ptr<FleetNode>> MakeFleetNode(FleetNodeOptions options, NodeKey key,
                                                         MessageHandler* handler);

}  // namespace fleettwin::federated

#endif  // FLEETTWIN_FEDERATED_FLEET_NODE_H_
