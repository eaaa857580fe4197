// The MQTT telemetry source: subscribes to `fleettwin/<asset>/telemetry` on a broker (e.g.
// Eclipse Mosquitto) with QoS 1 and a persistent session, and feeds JSON payloads into the
// twin's queue. It connects in the background and reconnects with exponential backoff, so an
// agent starts (and keeps its twin) while the broker is away. While the queue is full the
// delivery callback waits, so the client stops reading its connection and the broker holds
// the messages (flow control at the TCP level: paho acknowledges QoS 1 before delivery); a sample
// is dropped only after the push timeout, and counted. Payload schema: docs/ingestion.md.
#ifndef FLEETTWIN_AGENT_MQTT_SOURCE_H_
#define FLEETTWIN_AGENT_MQTT_SOURCE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "fleettwin/agent/telemetry_queue.h"

namespace fleettwin::agent {

// Payloads larger than this are refused as malformed.
inline constexpr size_t kMaxJsonPayload = 4 << 20;

// Decodes one JSON telemetry payload. Errors (InvalidArgument): not JSON, not an object, no
// "samples" array and no "time", more than kMaxJsonPayload bytes, arrays and objects nested
// more than 16 deep. Problems inside a sample
// (a time that is not a number, a value of the wrong type) are not errors here: the sample
// travels on and the validator rejects it with its reason. Never crashes.
absl::StatusOr<DecodedBatch> DecodeTelemetryJson(std::string_view payload);
// The JSON payload for `samples` (what producers, tests and benchmarks send).
std::string EncodeTelemetryJson(std::string_view asset, const std::vector<RawSample>& samples);

struct MqttSourceOptions {
  std::string broker;     // e.g. "tcp://127.0.0.1:1883".
  std::string asset;      // Payloads naming another asset are refused (counted as foreign).
  std::string topic;      // Default "fleettwin/<asset>/telemetry".
  std::string client_id;  // Default "fleet-agent-<asset>"; the broker keeps its session.
  std::string username;   // Optional broker credentials.
  std::string password;
  int qos = 1;
  std::chrono::milliseconds push_timeout{2000};
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{10000};
};

class MqttSource final {
 public:
  // Starts connecting in the background; an unreachable broker is not an error. `queue` must
  // outlive the source. Errors: InvalidArgument (broker URI, QoS, backoff).
  static absl::StatusOr<std::unique_ptr<MqttSource>> Start(const MqttSourceOptions& options,
                                                           TelemetryQueue& queue);
  ~MqttSource();  // Stops.

  // Disconnects; the broker keeps the session and the messages that arrive meanwhile.
  void Stop();

  const std::string& topic() const { return topic_; }
  bool connected() const { return connected_.load(); }
  uint64_t connects() const { return connects_.load(); }  // Successful connections.
  uint64_t connect_failures() const { return connect_failures_.load(); }
  const SourceStats& stats() const { return stats_; }

 private:
  struct Client;
  MqttSource(const MqttSourceOptions& options, TelemetryQueue& queue);
  void Run();

  const MqttSourceOptions options_;
  TelemetryQueue& queue_;
  std::string topic_;
  std::unique_ptr<Client> client_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable wake_;  // Stop, or the connection was lost.
  bool stop_ = false;             // Guarded by mu_.
  bool lost_ = false;             // Guarded by mu_.
  std::atomic<bool> connected_{false};
  std::atomic<uint64_t> connects_{0};
  std::atomic<uint64_t> connect_failures_{0};
  SourceStats stats_;
};

}  // namespace fleettwin::agent

#endif  // FLEETTWIN_AGENT_MQTT_SOURCE_H_
