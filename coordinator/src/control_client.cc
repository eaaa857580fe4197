#include "fleettwin/coordinator/control_client.h"

#include <cerrno>

#include <zmq.hpp>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "fleettwin/protocol/curve_zmq.h"

namespace fleettwin::coordinator {

struct ControlClient::Impl {
  zmq::context_t context{1};
  std::unique_ptr<zmq::socket_t> socket;
};

absl::StatusOr<std::unique_ptr<ControlClient>> ControlClient::Connect(
    const std::string& endpoint, const std::array<uint8_t, 32>& coordinator_key,
    const common::CurveKeyPair& operator_keys) {
  auto impl = std::make_unique<Impl>();
  try {
    impl->socket = std::make_unique<zmq::socket_t>(impl->context, zmq::socket_type::req);
    impl->socket->set(zmq::sockopt::linger, 0);
    if (absl::Status s = protocol::MakeCurveClient(*impl->socket, operator_keys, coordinator_key);
        !s.ok()) {
      return s;
    }
    impl->socket->connect(endpoint);
  } catch (const zmq::error_t& e) {
    return absl::InvalidArgumentError(absl::StrCat("connect ", endpoint, ": ", e.what()));
  }
  return std::unique_ptr<ControlClient>(new ControlClient(std::move(impl)));
}

ControlClient::ControlClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ControlClient::~ControlClient() = default;

absl::StatusOr<std::string> ControlClient::Call(const std::string& request,
                                                std::chrono::milliseconds timeout,
                                                const std::atomic<bool>* cancel) {
  zmq::message_t answer;
  try {
    impl_->socket->send(zmq::buffer(request), zmq::send_flags::none);
    zmq::pollitem_t item{impl_->socket->handle(), 0, ZMQ_POLLIN, 0};
    // Waits in slices, so that `cancel` is seen within 100 ms.
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return absl::DeadlineExceededError(
            absl::StrCat("no answer from the coordinator within ", timeout.count(),
                         " ms (is it running, and is this operator key on its list?)"));
      }
      int ready = 0;
      try {
        ready = zmq::poll(&item, 1, std::min(left, std::chrono::milliseconds(100)));
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) throw;  // A signal (Ctrl-C) woke the wait: look at `cancel`.
      }
      if (ready > 0) break;
      if (cancel != nullptr && cancel->load()) {
        return absl::CancelledError("cancelled while waiting for the coordinator's answer");
      }
    }
    if (!impl_->socket->recv(answer, zmq::recv_flags::none)) {
      return absl::UnavailableError("the answer was lost");
    }
  } catch (const zmq::error_t& e) {
    return absl::UnavailableError(absl::StrCat("control socket: ", e.what()));
  }
  const nlohmann::json doc = nlohmann::json::parse(answer.to_string_view(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("ok")) {
    return absl::InvalidArgumentError("the coordinator's answer is not JSON");
  }
  if (doc["ok"] == true) return doc.contains("result") ? doc["result"].dump() : "null";
  absl::StatusCode code = absl::StatusCode::kUnknown;
  const std::string name = doc.value("code", "");
  for (int c = 0; c <= 16; ++c) {
    if (absl::StatusCodeToString(static_cast<absl::StatusCode>(c)) == name) {
      code = static_cast<absl::StatusCode>(c);
    }
  }
  return absl::Status(code, doc.value("error", "the coordinator refused the request"));
}

}  // namespace fleettwin::coordinator
