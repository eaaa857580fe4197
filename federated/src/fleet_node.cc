// The Fleet API node (fleet_node.h): a worker thread for the pull/handle/push loop and a
// heartbeat thread, both on one gRPC channel.
#include "fleettwin/federated/fleet_node.h"

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "fleettwin/federated/objects.h"
#include "flwr/proto/fleet.grpc.pb.h"

namespace fleettwin::federated {
namespace {

namespace fp = flwr::proto;

// Flower's error code for an exception raised by the client app.
constexpr int64_t kClientAppError = 2;

void CollectIds(const fp::ObjectTree& tree, std::set<std::string>& out) {
  out.insert(tree.object_id());
  for (const fp::ObjectTree& c : tree.children()) CollectIds(c, out);
}

bool LostRegistration(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
         s.error_code() == grpc::StatusCode::FAILED_PRECONDITION ||
         s.error_code() == grpc::StatusCode::NOT_FOUND;
}

class GrpcFleetNode final : public FleetNode {
 public:
  GrpcFleetNode(FleetNodeOptions options, NodeKey key, MessageHandler* handler,
                std::shared_ptr<grpc::Channel> channel)
      : options_(std::move(options)), key_(std::move(key)), handler_(handler),
        stub_(fp::Fleet::NewStub(channel)) {}
  ~GrpcFleetNode() override { Stop(); }

  void Start() override {
    std::lock_guard lock(mu_);
    if (started_) return;
    started_ = true;
    worker_ = std::thread([this] { WorkLoop(); });
    heartbeat_ = std::thread([this] { HeartbeatLoop(); });
  }

  void Stop() override {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
    if (heartbeat_.joinable()) heartbeat_.join();
    const uint64_t id = node_id_.load();
    if (id != 0) {
      fp::DeactivateNodeRequest d;
      d.set_node_id(id);
      fp::DeactivateNodeResponse dr;
      Call(&fp::Fleet::Stub::DeactivateNode, d, &dr);
      fp::UnregisterNodeFleetRequest u;
      u.set_node_id(id);
      fp::UnregisterNodeFleetResponse ur;
      Call(&fp::Fleet::Stub::UnregisterNode, u, &ur);
    }
  }

  FleetNodeStats stats() const override {
    std::lock_guard lock(mu_);
    FleetNodeStats s = stats_;
    s.node_id = node_id_.load();
    return s;
  }

 private:
  template <typename Req, typename Resp>
  using Method = grpc::Status (fp::Fleet::Stub::*)(grpc::ClientContext*, const Req&, Resp*);

  template <typename Req, typename Resp>
  grpc::Status Call(Method<Req, Resp> method, const Req& req, Resp* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_timeout));
    absl::StatusOr<AuthHeaders> h = MakeAuthHeaders(key_, options_.clock());
    if (!h.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, std::string(h.status().message()));
    ctx.AddMetadata(kPublicKeyHeader, h->public_key_pem);
    ctx.AddMetadata(kTimestampHeader, h->timestamp);
    ctx.AddMetadata(kSignatureHeader, h->signature);
    return (stub_.get()->*method)(&ctx, req, resp);
  }

  // Sleeps `d` or until Stop(); false when stopping.
  bool Sleep(absl::Duration d) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, absl::ToChronoNanoseconds(d), [this] { return stopping_; });
    return !stopping_;
  }

  bool stopping() {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  grpc::Status Connect() {
    fp::RegisterNodeFleetRequest r;
    r.set_public_key(key_.public_key_pem());
    fp::RegisterNodeFleetResponse rr;
    grpc::Status s = Call(&fp::Fleet::Stub::RegisterNode, r, &rr);
    if (!s.ok()) return s;
    fp::ActivateNodeRequest a;
    a.set_public_key(key_.public_key_pem());
    a.set_heartbeat_interval(options_.heartbeat_interval_s);
    fp::ActivateNodeResponse ar;
    s = Call(&fp::Fleet::Stub::ActivateNode, a, &ar);
    if (!s.ok()) return s;
    node_id_ = ar.node_id();
    return s;
  }

  void WorkLoop() {
    absl::Duration backoff = options_.backoff_initial;
    bool ever_connected = false;
    while (!stopping()) {
      if (node_id_ == 0 || reregister_.exchange(false)) {
        node_id_ = 0;
        if (grpc::Status s = Connect(); !s.ok()) {
          if (!Sleep(backoff)) return;
          backoff = std::min(backoff * 2, options_.backoff_max);
          continue;
        }
        if (ever_connected) {
          std::lock_guard lock(mu_);
          ++stats_.reconnects;
        }
        ever_connected = true;
      }
      fp::PullMessagesRequest req;
      req.mutable_node()->set_node_id(node_id_);
      fp::PullMessagesResponse resp;
      grpc::Status s = Call(&fp::Fleet::Stub::PullMessages, req, &resp);
      if (!s.ok()) {
        if (LostRegistration(s) || s.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
          reregister_ = true;
        }
        if (!Sleep(backoff)) return;
        backoff = std::min(backoff * 2, options_.backoff_max);
        continue;
      }
      backoff = options_.backoff_initial;
      const int n = std::min(resp.messages_list_size(), resp.message_object_trees_size());
      for (int i = 0; i < n && !stopping(); ++i) {
        HandleOne(resp.messages_list(i), resp.message_object_trees(i));
      }
      if (n == 0 && !Sleep(options_.poll_interval)) return;
    }
  }

  void HeartbeatLoop() {
    const absl::Duration every = absl::Seconds(std::max(0.05, options_.heartbeat_interval_s * 0.8));
    while (Sleep(every)) {
      const uint64_t id = node_id_.load();
      if (id == 0) continue;
      fp::SendNodeHeartbeatRequest req;
      req.mutable_node()->set_node_id(id);
      req.set_heartbeat_interval(options_.heartbeat_interval_s);
      fp::SendNodeHeartbeatResponse resp;
      grpc::Status s = Call(&fp::Fleet::Stub::SendNodeHeartbeat, req, &resp);
      if (s.ok() && resp.success()) {
        std::lock_guard lock(mu_);
        ++stats_.heartbeats;
      } else if ((s.ok() && !resp.success()) || LostRegistration(s)) {
        reregister_ = true;
      }
    }
  }

  // Fetches one message's objects, confirms it, runs the handler and pushes the reply.
  void HandleOne(const fp::Message& header, const fp::ObjectTree& tree) {
    const fp::Metadata& md = header.metadata();
    std::set<std::string> ids;
    CollectIds(tree, ids);
    std::map<std::string, std::string> contents;
    for (const std::string& id : ids) {
      fp::PullObjectRequest req;
      req.mutable_node()->set_node_id(node_id_);
      req.set_run_id(md.run_id());
      req.set_object_id(id);
      fp::PullObjectResponse resp;
      // A transient failure is retried; an object the server no longer has (the message was
      // given up on) ends the message: the server has stopped waiting for its reply.
      bool got = false;
      for (int attempt = 0; attempt < 4 && !got; ++attempt) {
        if (attempt > 0 && !Sleep(options_.backoff_initial * (1 << attempt))) return;
        resp.Clear();
        grpc::Status s = Call(&fp::Fleet::Stub::PullObject, req, &resp);
        if (s.ok() && !resp.object_found()) return;
        got = s.ok() && resp.object_available();
      }
      if (!got) return;
      contents.emplace(id, resp.object_content());
    }
    fp::ConfirmMessageReceivedRequest confirm;
    confirm.mutable_node()->set_node_id(node_id_);
    confirm.set_run_id(md.run_id());
    confirm.set_message_object_id(md.message_id());
    fp::ConfirmMessageReceivedResponse confirmed;
    Call(&fp::Fleet::Stub::ConfirmMessageReceived, confirm, &confirmed);

    absl::StatusOr<fp::Message> message = MessageFromObjects(md.message_id(), contents);
    absl::StatusOr<fp::RecordDict> content =
        message.ok() ? handler_->Handle(*message) : absl::StatusOr<fp::RecordDict>(message.status());

    fp::Message reply;
    fp::Metadata* out = reply.mutable_metadata();
    const double now = static_cast<double>(absl::ToUnixMicros(options_.clock())) / 1e6;
    out->set_run_id(md.run_id());
    out->set_src_node_id(node_id_);
    out->set_dst_node_id(md.src_node_id());
    out->set_reply_to_message_id(md.message_id());
    out->set_group_id(md.group_id());
    out->set_message_type(md.message_type());
    out->set_created_at(now);
    out->set_ttl(std::max(1.0, md.created_at() + md.ttl() - now));
    if (content.ok()) {
      *reply.mutable_content() = std::move(*content);
    } else {
      reply.mutable_error()->set_code(kClientAppError);
      reply.mutable_error()->set_reason(std::string(content.status().message()));
    }
    absl::StatusOr<ObjectSet> objects = MessageToObjects(reply);
    if (!objects.ok()) {
      reply.clear_content();
      reply.mutable_error()->set_code(kClientAppError);
      reply.mutable_error()->set_reason(std::string(objects.status().message()));
      objects = MessageToObjects(reply);
      if (!objects.ok()) return;
    }
    reply.clear_content();
    out->set_message_id(objects->root);
    fp::PushMessagesRequest push;
    push.mutable_node()->set_node_id(node_id_);
    *push.add_messages_list() = reply;
    *push.add_message_object_trees() = objects->tree;
    fp::PushMessagesResponse pushed;
    if (!Call(&fp::Fleet::Stub::PushMessages, push, &pushed).ok()) return;
    for (const std::string& id : pushed.objects_to_push()) {
      auto it = objects->contents.find(id);
      if (it == objects->contents.end()) continue;
      fp::PushObjectRequest obj;
      obj.mutable_node()->set_node_id(node_id_);
      obj.set_run_id(md.run_id());
      obj.set_object_id(id);
      obj.set_object_content(it->second);
      fp::PushObjectResponse stored;
      if (!Call(&fp::Fleet::Stub::PushObject, obj, &stored).ok()) return;
    }
    std::lock_guard lock(mu_);
    ++stats_.messages_handled;
    if (reply.has_error()) ++stats_.handler_errors;
  }

  const FleetNodeOptions options_;
  const NodeKey key_;
  MessageHandler* const handler_;
  std::unique_ptr<fp::Fleet::Stub> stub_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false, stopping_ = false;
  std::thread worker_, heartbeat_;
  std::atomic<uint64_t> node_id_{0};
  std::atomic<bool> reregister_{false};
  FleetNodeStats stats_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<FleetNode>> MakeFleetNode(FleetNodeOptions options, NodeKey key,
                                                         MessageHandler* handler) {
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!options.tls_root_cert_file.empty()) {
    std::ifstream in(options.tls_root_cert_file, std::ios::binary);
    if (!in) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot read ", options.tls_root_cert_file.string()));
    }
    std::stringstream roots;
    roots << in.rdbuf();
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = roots.str();
    credentials = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options.server, credentials, args);
  return std::unique_ptr<FleetNode>(
      new GrpcFleetNode(std::move(options), std::move(key), handler, std::move(channel)));
}

}  // namespace fleettwin::federated
