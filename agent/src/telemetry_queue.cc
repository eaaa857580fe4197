#include "fleettwin/agent/telemetry_queue.h"

#include "absl/strings/str_cat.h"

namespace fleettwin::agent {

bool TelemetryQueue::Push(Telemetry item, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  const bool room =
      not_full_.wait_for(lock, timeout, [&] { return closed_ || items_.size() < capacity_; });
  if (!room || closed_) {
    ++dropped_;
    return false;
  }
  items_.push_back(std::move(item));
  ++pushed_;
  not_empty_.notify_one();
  return true;
}

size_t TelemetryQueue::PushAll(std::vector<Telemetry> items, std::chrono::milliseconds timeout) {
  size_t dropped = 0;
  size_t i = 0;
  std::unique_lock lock(mu_);
  while (i < items.size()) {
    const bool room =
        not_full_.wait_for(lock, timeout, [&] { return closed_ || items_.size() < capacity_; });
    if (!room || closed_) {
      ++dropped_;
      ++dropped;
      ++i;
      continue;
    }
    while (i < items.size() && items_.size() < capacity_) {
      items_.push_back(std::move(items[i++]));
      ++pushed_;
    }
    not_empty_.notify_one();
  }
  return dropped;
}

bool TelemetryQueue::PushWait(Telemetry item) {
  std::unique_lock lock(mu_);
  not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
  if (closed_) return false;
  items_.push_back(std::move(item));
  ++pushed_;
  not_empty_.notify_one();
  return true;
}

std::vector<Telemetry> TelemetryQueue::PopBatch(size_t max, std::chrono::milliseconds timeout) {
  std::vector<Telemetry> out;
  std::unique_lock lock(mu_);
  not_empty_.wait_for(lock, timeout, [&] { return closed_ || !items_.empty(); });
  while (!items_.empty() && out.size() < max) {
    out.push_back(std::move(items_.front()));
    items_.pop_front();
  }
  if (!out.empty()) not_full_.notify_all();
  return out;
}

void TelemetryQueue::Close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  not_full_.notify_all();
  not_empty_.notify_all();
}

bool TelemetryQueue::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

size_t TelemetryQueue::depth() const {
  std::lock_guard lock(mu_);
  return items_.size();
}

uint64_t TelemetryQueue::pushed() const {
  std::lock_guard lock(mu_);
  return pushed_;
}

uint64_t TelemetryQueue::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

void SourceStats::Deliver(absl::StatusOr<DecodedBatch> batch, size_t message_bytes,
                          std::string_view asset, bool asset_optional, TelemetryQueue& queue,
                          std::chrono::milliseconds timeout) {
  ++messages_;
  if (!batch.ok()) {
    ++malformed_;
    SetError(
        absl::StrCat("malformed message of ", message_bytes, " bytes: ", batch.status().message()));
    return;
  }
  if (batch->asset != asset && !(asset_optional && batch->asset.empty())) {
    ++foreign_;
    SetError(absl::StrCat("message for asset '", batch->asset.substr(0, 128), "' refused"));
    return;
  }
  samples_ += batch->samples.size();
  // While this waits, the source reads nothing more: that is the backpressure.
  dropped_ += queue.PushAll(std::move(batch->samples), timeout);
}

void SourceStats::SetError(std::string error) {
  std::lock_guard lock(error_mu_);
  last_error_ = std::move(error);
}

std::string SourceStats::last_error() const {
  std::lock_guard lock(error_mu_);
  return last_error_;
}

}  // namespace fleettwin::agent
