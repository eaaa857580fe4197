// The one bounded queue every telemetry source feeds and the twin drains. When it is full a
// source waits (backpressure: the ZeroMQ socket stops reading and its high-water mark pushes
// back, the MQTT client stops reading and the broker holds the messages); a sample is dropped only
// if the wait times out, and every drop is counted.
#ifndef FLEETTWIN_AGENT_TELEMETRY_QUEUE_H_
#define FLEETTWIN_AGENT_TELEMETRY_QUEUE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "fleettwin/agent/validation.h"

namespace fleettwin::agent {

// A sample in transit, with the form it arrived in (kept for the quarantine).
struct Telemetry {
  RawSample sample;
  std::string raw;  // Empty: the twin describes the sample itself if it rejects it.
};

// What a network source decoded from one message.
struct DecodedBatch {
  std::string asset;  // Empty if the message did not name one.
  std::vector<Telemetry> samples;
};

// Thread-safe; many producers, one consumer.
class TelemetryQueue final {
 public:
  // REQUIRES: capacity > 0.
  explicit TelemetryQueue(size_t capacity) : capacity_(capacity) {}

  // Waits up to `timeout` for room. Returns false (and counts a drop) if there was none, or
  // if the queue is closed.
  bool Push(Telemetry item, std::chrono::milliseconds timeout);

  // Push for each of `items` in order, taking the lock once for as many as fit (what network
  // sources use for a message's samples). Returns how many were dropped (and counted).
  size_t PushAll(std::vector<Telemetry> items, std::chrono::milliseconds timeout);

  // Waits for room as long as it takes (a source that can hold back, like file replay).
  // Returns false only if the queue is closed; that is not a drop, the source keeps the sample.
  bool PushWait(Telemetry item);

  // Waits up to `timeout` for at least one item, then takes up to `max` at once. Empty if none
  // came, or if the queue is closed and drained.
  std::vector<Telemetry> PopBatch(size_t max, std::chrono::milliseconds timeout);

  // Producers are refused from now on; the consumer still drains what is queued.
  void Close();
  bool closed() const;

  size_t capacity() const { return capacity_; }
  size_t depth() const;
  uint64_t pushed() const;
  uint64_t dropped() const;

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  std::deque<Telemetry> items_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t pushed_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
};

// What every network source does with a received message, and the counters it keeps: a
// message that does not decode is `malformed`, one for another asset `foreign` (both keep
// their reason in last_error()); the samples of a good one go into the queue, waiting up to
// the push timeout for room each, and the ones that found none are `dropped`. Thread-safe.
class SourceStats final {
 public:
  // `asset`: the agent's. A batch naming no asset is accepted only if `asset_optional`.
  void Deliver(absl::StatusOr<DecodedBatch> batch, size_t message_bytes, std::string_view asset,
               bool asset_optional, TelemetryQueue& queue, std::chrono::milliseconds timeout);
  void SetError(std::string error);

  uint64_t messages() const { return messages_.load(); }
  uint64_t malformed() const { return malformed_.load(); }
  uint64_t foreign() const { return foreign_.load(); }
  uint64_t samples() const { return samples_.load(); }
  uint64_t dropped() const { return dropped_.load(); }
  // Why the latest message was refused (or, for MQTT, the connection's latest trouble); empty
  // if nothing went wrong yet.
  std::string last_error() const;

 private:
  std::atomic<uint64_t> messages_{0};
  std::atomic<uint64_t> malformed_{0};
  std::atomic<uint64_t> foreign_{0};
  std::atomic<uint64_t> samples_{0};
  std::atomic<uint64_t> dropped_{0};
  mutable std::mutex error_mu_;
  std::string last_error_ ABSL_GUARDED_BY(error_mu_);
};

}  // namespace fleettwin::agent

#endif  // FLEETTWIN_AGENT_TELEMETRY_QUEUE_H_
