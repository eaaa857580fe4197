#include "fleettwin/protocol/curve_zmq.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace fleettwin::protocol {
namespace {

constexpr char kZapEndpoint[] = "inproc://zeromq.zap.01";

absl::Status Configure(const char* what, const std::function<void()>& set) {
  try {
    set();
  } catch (const zmq::error_t& e) {
    return absl::InternalError(absl::StrCat(what, ": ", e.what()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::array<uint8_t, 32>, std::string>> AllowList(
    const std::vector<common::CurvePublicKey>& keys) {
  std::map<std::array<uint8_t, 32>, std::string> out;
  std::map<std::string, int> names;
  for (const common::CurvePublicKey& k : keys) {
    if (++names[k.name] > 1) {
      return absl::InvalidArgumentError(absl::StrCat("two allowed keys are named ", k.name));
    }
    if (!out.emplace(k.key, k.name).second) {
      return absl::InvalidArgumentError(absl::StrCat("the key of ", k.name, " is allowed twice"));
    }
  }
  return out;
}

}  // namespace

absl::Status MakeCurveServer(zmq::socket_t& socket, const common::CurveKeyPair& keys,
                             const char* domain) {
  return Configure("CURVE server", [&] {
    socket.set(zmq::sockopt::curve_server, true);
    socket.set(zmq::sockopt::curve_secretkey,
               zmq::const_buffer(keys.secret_key.data(), keys.secret_key.size()));
    socket.set(zmq::sockopt::zap_domain, domain);
  });
}

absl::Status MakeCurveClient(zmq::socket_t& socket, const common::CurveKeyPair& keys,
                             const std::array<uint8_t, 32>& server_public) {
  return Configure("CURVE client", [&] {
    socket.set(zmq::sockopt::curve_serverkey,
               zmq::const_buffer(server_public.data(), server_public.size()));
    socket.set(zmq::sockopt::curve_publickey,
               zmq::const_buffer(keys.public_key.data(), keys.public_key.size()));
    socket.set(zmq::sockopt::curve_secretkey,
               zmq::const_buffer(keys.secret_key.data(), keys.secret_key.size()));
  });
}

std::string PeerName(const zmq::message_t& message) {
  const char* value = zmq_msg_gets(message.handle(), "User-Id");
  return value == nullptr ? std::string() : std::string(value);
}

absl::StatusOr<std::unique_ptr<ZapAuthenticator>> ZapAuthenticator::Start(
    zmq::context_t& context, const std::vector<common::CurvePublicKey>& allowed) {
  absl::StatusOr<std::map<std::array<uint8_t, 32>, std::string>> list = AllowList(allowed);
  if (!list.ok()) return list.status();
  std::unique_ptr<ZapAuthenticator> zap(new ZapAuthenticator());
  zap->allowed_[kZapDomain] = *std::move(list);
  try {
    zap->socket_ = std::make_unique<zmq::socket_t>(context, zmq::socket_type::rep);
    zap->socket_->set(zmq::sockopt::linger, 0);
    zap->socket_->bind(kZapEndpoint);
  } catch (const zmq::error_t& e) {
    return absl::AlreadyExistsError(absl::StrCat("ZAP handler: ", e.what()));
  }
  zap->thread_ = std::thread([z = zap.get()] { z->Run(); });
  return zap;
}

ZapAuthenticator::~ZapAuthenticator() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

absl::Status ZapAuthenticator::SetAllowed(const std::vector<common::CurvePublicKey>& allowed,
                                          const std::string& domain) {
  absl::StatusOr<std::map<std::array<uint8_t, 32>, std::string>> list = AllowList(allowed);
  if (!list.ok()) return list.status();
  std::lock_guard<std::mutex> lock(mutex_);
  allowed_[domain] = *std::move(list);
  return absl::OkStatus();
}

void ZapAuthenticator::Run() {
  zmq::socket_t& socket = *socket_;
  while (!stop_) {
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    try {
      if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0) continue;
      // Request: version, request id, domain, address, identity, mechanism, credentials...
      std::vector<zmq::message_t> frames;
      do {
        frames.emplace_back();
        if (!socket.recv(frames.back(), zmq::recv_flags::none)) break;
      } while (frames.back().more() && frames.size() < 16);
      while (frames.back().more()) {  // Drain an oversized request.
        zmq::message_t extra;
        if (!socket.recv(extra, zmq::recv_flags::none)) break;
      }
      std::string status = "400", text = "refused", user;
      if (frames.size() >= 7 && frames[0].to_string() == "1.0" &&
          frames[5].to_string() == "CURVE" && frames[6].size() == 32) {
        std::array<uint8_t, 32> key;
        std::memcpy(key.data(), frames[6].data(), key.size());
        std::lock_guard<std::mutex> lock(mutex_);
        if (auto domain = allowed_.find(frames[2].to_string()); domain != allowed_.end()) {
          if (auto it = domain->second.find(key); it != domain->second.end()) {
            status = "200";
            text = "OK";
            user = it->second;
          }
        }
      }
      (status == "200" ? admitted_ : refused_)++;
      const std::string request_id = frames.size() >= 2 ? frames[1].to_string() : std::string();
      socket.send(zmq::buffer(std::string_view("1.0")), zmq::send_flags::sndmore);
      socket.send(zmq::buffer(request_id), zmq::send_flags::sndmore);
      socket.send(zmq::buffer(status), zmq::send_flags::sndmore);
      socket.send(zmq::buffer(text), zmq::send_flags::sndmore);
      socket.send(zmq::buffer(user), zmq::send_flags::sndmore);
      socket.send(zmq::message_t(), zmq::send_flags::none);  // No metadata.
    } catch (const zmq::error_t&) {
      if (stop_) break;  // Context terminating.
    }
  }
}

}  // namespace fleettwin::protocol
