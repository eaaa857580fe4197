// fleettwin's Fleet API server (Flower's `flwr.proto.Fleet` over gRPC, docs/federated.md):
// registers and authenticates nodes (ours and Flower SuperNodes), tracks their liveness, queues
// messages per node, keeps a content-addressed object store that verifies every object id,
// and serves run bookkeeping (GetRun, GetFab). The round logic (rounds.h) drives it through
// Send/TakeReply. Hosted by fleet-coordinator; runnable alone through the same library.
#ifndef FLEETTWIN_FEDERATED_FLEET_SERVER_H_
#define FLEETTWIN_FEDERATED_FLEET_SERVER_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "flwr/proto/message.pb.h"

namespace fleettwin::federated {

inline constexpr uint64_t kServerNodeId = 1;  // Flower's id of the server side.

struct FleetServerOptions {
  std::string address = "127.0.0.1:0";  // host:port to listen on; port 0 picks a free one.
  uint64_t run_id = 1;                  // The run every message belongs to.
  std::string fab_id = "fleettwin/rul-model";  // Reported by GetRun.
  std::string fab_version = "1.0.0";
  // A Flower app bundle (zip) served by GetFab, for Python SuperNodes; empty = none.
  std::filesystem::path fab_file;
  // TLS: PEM certificate chain and private key files; both empty = plaintext.
  std::filesystem::path tls_cert_file, tls_key_file;
  absl::Duration max_timestamp_ahead = absl::Seconds(5);    // Of a call's flwr-timestamp.
  absl::Duration max_timestamp_behind = absl::Seconds(305);
  // A node is alive while its last call is younger than this many heartbeat intervals.
  double liveness_intervals = 2;
  double max_heartbeat_interval_s = 3600;  // Larger intervals a node asks for are capped.
  int max_nodes = 100000;
  size_t max_message_bytes = 64 << 20;  // gRPC receive limit per call.
  // Bytes the object store may hold (messages in flight and replies); pushes beyond are
  // refused (stored=false, counted). A reply may announce at most 65 536 objects.
  size_t max_store_bytes = size_t{4} << 30;
  std::function<absl::Time()> clock = [] { return absl::Now(); };  // Injected in tests.
};

struct NodeStatus {
  uint64_t node_id = 0;
  std::string public_key_pem;
  bool active = false;  // Between ActivateNode and DeactivateNode.
  bool alive = false;   // Active and heard from within the liveness window.
  absl::Time last_seen;
  double heartbeat_interval_s = 0;
};

// Counters of what the server refused or did; monotonic.
struct FleetServerCounters {
  uint64_t refused_auth = 0;       // Bad or missing signature, stale timestamp, unknown key.
  uint64_t refused_objects = 0;    // Object id not matching its bytes, unexpected, malformed.
  uint64_t refused_messages = 0;   // Replies to unknown messages, wrong sender, bad tree.
  uint64_t messages_sent = 0;      // Delivered by PullMessages.
  uint64_t replies_received = 0;   // Complete replies (message and all objects).
  uint64_t objects_stored = 0;
};

// Thread-safe.
class FleetServer {
 public:
  virtual ~FleetServer() = default;
  virtual int port() const = 0;  // The bound port.
  virtual std::vector<NodeStatus> Nodes() const = 0;

  // Queues `message` for node `node_id`: fills run_id, src (the server), dst, created_at and,
  // if 0, ttl (seconds); stores its objects. Returns the message id (its object id). Errors:
  // NotFound (unknown node), InvalidArgument (content that does not encode).
  virtual absl::StatusOr<std::string> Send(uint64_t node_id, flwr::proto::Message message) = 0;
  // The reply to message `id` once it and all its objects arrived (then forgotten); nullopt
  // while waiting. The StatusOr holds the reply or why it could not be decoded. NotFound if
  // `id` was never sent or already taken/forgotten.
  virtual absl::StatusOr<std::optional<absl::StatusOr<flwr::proto::Message>>> TakeReply(
      const std::string& id) = 0;
  // Gives up on message `id` (a deadline passed): frees it; a late reply is refused.
  virtual void Forget(const std::string& id) = 0;

  virtual FleetServerCounters counters() const = 0;
  // Stops serving (waits for calls in progress). Idempotent.
  virtual void Shutdown() = 0;
};

// Binds and starts serving. Errors: Unavailable (cannot bind), InvalidArgument (bad options or
// unreadable TLS/FAB files).
absl::StatusOr<std::unique_ptr<FleetServer>> StartFleetServer(FleetServerOptions options);

}  // namespace fleettwin::federated

#endif  // FLEETTWIN_FEDERATED_FLEET_SERVER_H_
