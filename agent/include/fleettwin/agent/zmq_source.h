// The ZeroMQ telemetry source: a PULL socket receiving Cap'n Proto TelemetryBatch messages
// (proto/telemetry.capnp) for one asset. While the twin's queue is full the source stops
// reading, so the socket's high-water mark pushes back on the sender; a sample is dropped only
// after the push timeout, and counted. Malformed messages never crash the agent: they are
// counted and their reason logged to the counters.
#ifndef FLEETTWIN_AGENT_ZMQ_SOURCE_H_
#define FLEETTWIN_AGENT_ZMQ_SOURCE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "fleettwin/agent/telemetry_queue.h"
#include "fleettwin/common/crypto.h"

namespace fleettwin::agent {

// The encoded TelemetryBatch for `asset` (what producers, tests and benchmarks send).
std::string EncodeTelemetryBatch(std::string_view asset, const std::vector<RawSample>& samples);

// Errors: InvalidArgument for bytes that are not a version-1 TelemetryBatch. Never crashes.
absl::StatusOr<DecodedBatch> DecodeTelemetryBatch(Bytes message);

struct ZmqSourceOptions {
  // Where to bind, e.g. "tcp://127.0.0.1:5600", "tcp://127.0.0.1:*" (a free port), "ipc:///…".
  std::string endpoint;
  // Batches for other assets are refused (counted as foreign).
  std::string asset;
  // Messages ZeroMQ may hold before the sender blocks.
  int receive_hwm = 1000;
  // Larger messages are refused by ZeroMQ (and the sending peer disconnected).
  int64_t max_message_bytes = 16 << 20;
  // How long one sample may wait for room in the queue before it is dropped.
  std::chrono::milliseconds push_timeout{2000};
};

// Owns its socket and its thread. Counters are safe to read from any thread.
class ZmqSource final {
 public:
  // Binds and starts receiving. `queue` must outlive the source. Errors: InvalidArgument (bad
  // endpoint), Unavailable (address in use).
  static absl::StatusOr<std::unique_ptr<ZmqSource>> Start(const ZmqSourceOptions& options,
                                                          TelemetryQueue& queue);
  ~ZmqSource();  // Stops.

  // The endpoint actually bound (a wildcard port resolved).
  const std::string& endpoint() const { return endpoint_; }
  // Stops receiving after taking the messages the socket already holds, for at most 2 s (PUSH/PULL
  // has no acknowledgements, so what is still in flight on the network stays with the sender's
  // socket until it reconnects to a new agent).
  void Stop();

  const SourceStats& stats() const { return stats_; }

 private:
  struct Sockets;
  ZmqSource(const ZmqSourceOptions& options, TelemetryQueue& queue);
  void Run();

  const ZmqSourceOptions options_;
  TelemetryQueue& queue_;
  std::unique_ptr<Sockets> sockets_;
  std::string endpoint_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  SourceStats stats_;
};

}  // namespace fleettwin::agent

#endif  // FLEETTWIN_AGENT_ZMQ_SOURCE_H_
