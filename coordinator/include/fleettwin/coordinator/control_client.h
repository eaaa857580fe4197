// The operator's side of the coordinator's control socket (what fleetctl uses): a CURVE REQ
// socket, one JSON request and its answer at a time.
#ifndef FLEETTWIN_COORDINATOR_CONTROL_CLIENT_H_
#define FLEETTWIN_COORDINATOR_CONTROL_CLIENT_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "fleettwin/common/curve.h"

namespace fleettwin::coordinator {

class ControlClient final {
 public:
  // Connects (lazily: nothing is sent yet). Errors: InvalidArgument (bad endpoint).
  static absl::StatusOr<std::unique_ptr<ControlClient>> Connect(
      const std::string& endpoint, const std::array<uint8_t, 32>& coordinator_key,
      const common::CurveKeyPair& operator_keys);
  ~ControlClient();

  // Sends one JSON request and returns the answer's "result" (JSON text). Errors: the
  // coordinator's own (its code and message), DeadlineExceeded if no answer came within
  // `timeout` (unreachable, or the operator key is not allowed: CURVE gives no other sign),
  // Cancelled once `cancel` (if given) is set, InvalidArgument for an answer that is not ours.
  // After DeadlineExceeded or Cancelled the client cannot send again (a REQ socket): make a
  // new one.
  absl::StatusOr<std::string> Call(const std::string& request, std::chrono::milliseconds timeout,
                                   const std::atomic<bool>* cancel = nullptr);

 private:
  struct Impl;
  explicit ControlClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fleettwin::coordinator

#endif  // FLEETTWIN_COORDINATOR_CONTROL_CLIENT_H_
