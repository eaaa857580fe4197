// CURVE on ZeroMQ sockets: server and client set-up, and the ZAP handler that admits only
// allow-listed client keys (RFC 27 ZAP, RFC 26 CurveZMQ). The only place that configures
// ZeroMQ security, for the coordinator and the agents alike.
#ifndef FLEETTWIN_PROTOCOL_CURVE_ZMQ_H_
#define FLEETTWIN_PROTOCOL_CURVE_ZMQ_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "absl/status/statusor.h"
#include "fleettwin/common/curve.h"

namespace fleettwin::protocol {

// The ZAP domains of fleettwin's CURVE servers: agents, and operators (the control socket).
inline constexpr char kZapDomain[] = "fleettwin";
inline constexpr char kControlZapDomain[] = "fleettwin-control";

// Makes `socket` a CURVE server with the given keys, authenticated by the ZAP handler of its
// context against the allow-list of `domain` (start a ZapAuthenticator on that context before
// binding). Errors: Internal.
absl::Status MakeCurveServer(zmq::socket_t& socket, const common::CurveKeyPair& keys,
                             const char* domain = kZapDomain);

// Makes `socket` a CURVE client that only talks to the server holding `server_public`.
absl::Status MakeCurveClient(zmq::socket_t& socket, const common::CurveKeyPair& keys,
                             const std::array<uint8_t, 32>& server_public);

// The name ZAP gave the peer that sent `message` (the allow-listed key's name), or "" if none.
std::string PeerName(const zmq::message_t& message);

// Answers libzmq's authentication requests for every CURVE server socket of one context: a
// client is admitted when its public key is on the allow-list of the socket's ZAP domain, and
// its messages then carry the key's name as User-Id (PeerName). Any other domain, mechanism or
// key is refused and counted. Owns a thread.
class ZapAuthenticator final {
 public:
  // Binds inproc://zeromq.zap.01 on `context` (one handler per context) and starts answering,
  // with `allowed` as the allow-list of kZapDomain. `context` must outlive the authenticator.
  // Errors: AlreadyExists (a handler is bound), InvalidArgument (two keys with one name).
  static absl::StatusOr<std::unique_ptr<ZapAuthenticator>> Start(
      zmq::context_t& context, const std::vector<common::CurvePublicKey>& allowed);
  ~ZapAuthenticator();  // Stops answering (later handshakes fail).

  // Replaces the allow-list of `domain` (e.g. after a key rotation); thread-safe.
  absl::Status SetAllowed(const std::vector<common::CurvePublicKey>& allowed,
                          const std::string& domain = kZapDomain);

  uint64_t admitted() const { return admitted_.load(); }
  uint64_t refused() const { return refused_.load(); }

 private:
  ZapAuthenticator() = default;
  void Run();

  std::unique_ptr<zmq::socket_t> socket_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  // GUARDED_BY(mutex_): domain -> key -> name.
  std::map<std::string, std::map<std::array<uint8_t, 32>, std::string>> allowed_;
  std::atomic<uint64_t> admitted_{0};
  std::atomic<uint64_t> refused_{0};
};

}  // namespace fleettwin::protocol

#endif  // FLEETTWIN_PROTOCOL_CURVE_ZMQ_H_
