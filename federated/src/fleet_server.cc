// The Fleet API server (fleet_server.h) on gRPC's synchronous API. One mutex guards all state;
// every handler holds it only for bookkeeping (signature checks and hashing run outside).
#include "fleettwin/federated/fleet_server.h"

#include <grpcpp/grpcpp.h>

#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "fleettwin/federated/node_auth.h"
#include "fleettwin/federated/objects.h"
#include "flwr/proto/fleet.grpc.pb.h"

namespace fleettwin::federated {
namespace {

namespace fp = flwr::proto;

constexpr size_t kMaxObjectBytes = kMaxArrayChunk + 64 * 1024;  // A chunk plus its header.

grpc::Status Refuse(grpc::StatusCode code, std::string_view why) {
  return grpc::Status(code, std::string(why));
}

constexpr size_t kMaxReplyObjects = 1 << 16;  // Objects one reply may announce.

// Nodes of `tree`, counting up to kMaxReplyObjects + 1.
size_t TreeSize(const fp::ObjectTree& tree, size_t budget = kMaxReplyObjects + 1) {
  size_t n = 1;
  for (const fp::ObjectTree& c : tree.children()) {
    if (n >= budget) break;
    n += TreeSize(c, budget - n);
  }
  return n;
}

void CollectIds(const fp::ObjectTree& tree, std::vector<std::string>& out) {
  out.push_back(tree.object_id());
  for (const fp::ObjectTree& c : tree.children()) CollectIds(c, out);
}

absl::StatusOr<std::string> ReadFile(const std::filesystem::path& path, size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path.string()));
  std::stringstream s;
  s << in.rdbuf();
  if (s.str().size() > limit) return absl::InvalidArgumentError(absl::StrCat(path.string(), " is too large"));
  return s.str();
}

struct Node {
  std::string pem;
  bool active = false;
  absl::Time last_seen;
  double interval_s = 30;
  std::deque<std::string> queue;           // Message ids waiting for PullMessages.
  // Object ids of messages delivered to it, counted (messages may share objects).
  std::map<std::string, int> readable;
};

// A message the server sent, until its reply is taken or it is forgotten.
struct Sent {
  uint64_t node_id = 0;
  fp::Message message;     // Metadata; content empty.
  fp::ObjectTree tree;
  std::vector<std::string> object_ids;
  bool delivered = false;
  bool confirmed = false;
  // The reply, once pushed.
  bool replied = false;
  std::string reply_id;
  fp::ObjectTree reply_tree;
  std::vector<std::string> reply_ids;
};

class FleetService final : public fp::Fleet::Service {
 public:
  explicit FleetService(FleetServerOptions options, std::string fab, std::string fab_hash)
      : options_(std::move(options)), fab_(std::move(fab)), fab_hash_(std::move(fab_hash)),
        rng_(std::random_device{}()) {}

  // ---- The server side API (FleetServer) ----

  std::vector<NodeStatus> Nodes() const {
    std::lock_guard lock(mu_);
    std::vector<NodeStatus> out;
    const absl::Time now = options_.clock();
    for (const auto& [id, n] : nodes_) {
      out.push_back({id, n.pem, n.active, Alive(n, now), n.last_seen, n.interval_s});
    }
    return out;
  }

  absl::StatusOr<std::string> Send(uint64_t node_id, fp::Message message) {
    fp::Metadata* md = message.mutable_metadata();
    md->set_run_id(options_.run_id);
    md->set_src_node_id(kServerNodeId);
    md->set_dst_node_id(node_id);
    md->set_message_id("");
    md->set_created_at(static_cast<double>(absl::ToUnixMicros(options_.clock())) / 1e6);
    if (md->ttl() <= 0) md->set_ttl(3600);
    absl::StatusOr<ObjectSet> objects = MessageToObjects(message);
    if (!objects.ok()) return objects.status();
    std::lock_guard lock(mu_);
    auto node = nodes_.find(node_id);
    if (node == nodes_.end()) return absl::NotFoundError(absl::StrCat("no node ", node_id));
    Sent s;
    s.node_id = node_id;
    s.message = message;
    s.message.clear_content();
    s.message.mutable_metadata()->set_message_id(objects->root);
    s.tree = objects->tree;
    for (auto& [id, content] : objects->contents) {
      s.object_ids.push_back(id);
      Retain(id, std::move(content));
    }
    const std::string id = objects->root;
    if (sent_.count(id)) {  // The same message again (same content and time): one copy.
      for (const std::string& o : s.object_ids) Release(o);
      return id;
    }
    sent_.emplace(id, std::move(s));
    node->second.queue.push_back(id);
    return id;
  }

  absl::StatusOr<std::optional<absl::StatusOr<fp::Message>>> TakeReply(const std::string& id) {
    std::map<std::string, std::string> contents;
    std::string root;
    {
      std::lock_guard lock(mu_);
      auto it = sent_.find(id);
      if (it == sent_.end()) return absl::NotFoundError(absl::StrCat("no message ", id));
      Sent& s = it->second;
      if (!s.replied) return std::optional<absl::StatusOr<fp::Message>>();
      for (const std::string& o : s.reply_ids) {
        auto obj = objects_.find(o);
        if (obj == objects_.end()) return std::optional<absl::StatusOr<fp::Message>>();
        contents.emplace(o, obj->second.content);
      }
      root = s.reply_id;
      ++counters_.replies_received;
      Drop(it);
    }
    return std::optional<absl::StatusOr<fp::Message>>(MessageFromObjects(root, contents));
  }

  void Forget(const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = sent_.find(id);
    if (it != sent_.end()) Drop(it);
  }

  FleetServerCounters counters() const {
    std::lock_guard lock(mu_);
    return counters_;
  }

  // ---- The Fleet API ----

  grpc::Status RegisterNode(grpc::ServerContext* ctx, const fp::RegisterNodeFleetRequest* req,
                            fp::RegisterNodeFleetResponse* resp) override {
    std::string pem;
    if (grpc::Status s = Authenticate(ctx, &pem); !s.ok()) return s;
    if (req->public_key() != pem) return RefuseAuth("public_key differs from the signing key");
    std::lock_guard lock(mu_);
    auto known = by_key_.find(pem);
    if (known != by_key_.end()) {  // A node that lost its id registers again: same id.
      resp->set_node_id(known->second);
      return grpc::Status::OK;
    }
    if (nodes_.size() >= static_cast<size_t>(options_.max_nodes)) {
      return Refuse(grpc::StatusCode::RESOURCE_EXHAUSTED, "node limit reached");
    }
    uint64_t id = 0;
    while (id <= kServerNodeId || nodes_.count(id)) id = rng_();
    nodes_[id].pem = pem;
    by_key_[pem] = id;
    resp->set_node_id(id);
    return grpc::Status::OK;
  }

  grpc::Status ActivateNode(grpc::ServerContext* ctx, const fp::ActivateNodeRequest* req,
                            fp::ActivateNodeResponse* resp) override {
    std::string pem;
    if (grpc::Status s = Authenticate(ctx, &pem); !s.ok()) return s;
    if (req->public_key() != pem) return RefuseAuth("public_key differs from the signing key");
    std::lock_guard lock(mu_);
    auto known = by_key_.find(pem);
    if (known == by_key_.end()) {
      return Refuse(grpc::StatusCode::FAILED_PRECONDITION, "node not registered");
    }
    Node& n = nodes_[known->second];
    n.active = true;
    n.last_seen = options_.clock();
    n.interval_s = Interval(req->heartbeat_interval());
    resp->set_node_id(known->second);
    return grpc::Status::OK;
  }

  grpc::Status DeactivateNode(grpc::ServerContext* ctx, const fp::DeactivateNodeRequest* req,
                              fp::DeactivateNodeResponse*) override {
    std::string pem;
    if (grpc::Status s = Authenticate(ctx, &pem); !s.ok()) return s;
    std::lock_guard lock(mu_);
    Node* n = nullptr;
    if (grpc::Status s = NodeOfKey(pem, req->node_id(), &n); !s.ok()) return s;
    n->active = false;
    return grpc::Status::OK;
  }

  grpc::Status UnregisterNode(grpc::ServerContext* ctx, const fp::UnregisterNodeFleetRequest* req,
                              fp::UnregisterNodeFleetResponse*) override {
    std::string pem;
    if (grpc::Status s = Authenticate(ctx, &pem); !s.ok()) return s;
    std::lock_guard lock(mu_);
    Node* n = nullptr;
    if (grpc::Status s = NodeOfKey(pem, req->node_id(), &n); !s.ok()) return s;
    by_key_.erase(n->pem);
    nodes_.erase(req->node_id());
    return grpc::Status::OK;
  }

  grpc::Status SendNodeHeartbeat(grpc::ServerContext* ctx, const fp::SendNodeHeartbeatRequest* req,
                                 fp::SendNodeHeartbeatResponse* resp) override {
    std::string pem;
    if (grpc::Status s = Authenticate(ctx, &pem); !s.ok()) return s;
    std::lock_guard lock(mu_);
    Node* n = nullptr;
    if (grpc::Status s = NodeOfKey(pem, req->node().node_id(), &n); !s.ok()) return s;
    n->interval_s = Interval(req->heartbeat_interval());
    resp->set_success(n->active);
    return grpc::Status::OK;
  }

  grpc::Status PullMessages(grpc::ServerContext* ctx, const fp::PullMessagesRequest* req,
                            fp::PullMessagesResponse* resp) override {
    std::string pem;
    if (grpc::Status s = Authenticate(ctx, &pem); !s.ok()) return s;
    std::lock_guard lock(mu_);
    Node* n = nullptr;
    if (grpc::Status s = NodeOfKey(pem, req->node().node_id(), &n); !s.ok()) return s;
    const std::set<std::string> wanted(req->message_ids().begin(), req->message_ids().end());
    std::deque<std::string> keep;
    for (const std::string& id : n->queue) {
      auto it = sent_.find(id);
      if (it == sent_.end()) continue;  // Forgotten meanwhile.
      if (!wanted.empty() && !wanted.count(id)) {
        keep.push_back(id);
        continue;
      }
      Sent& s = it->second;
      s.delivered = true;
      *resp->add_messages_list() = s.message;
      *resp->add_message_object_trees() = s.tree;
      for (const std::string& o : s.object_ids) ++n->readable[o];
      ++counters_.messages_sent;
    }
    n->queue = std::move(keep);
    return grpc::Status::OK;
  }

  grpc::Status PullObject(grpc::ServerContext* ctx, const fp::PullObjectRequest* req,
                          fp::PullObjectResponse* resp) override {
    std::string pem;
    if (grpc::Status s = Authenticate(ctx, &pem); !s.ok()) return s;
    std::lock_guard lock(mu_);
    Node* n = nullptr;
    if (grpc::Status s = NodeOfKey(pem, req->node().node_id(), &n); !s.ok()) return s;
    auto obj = objects_.find(req->object_id());
    // Only objects of messages delivered to this node: no reading of other nodes' messages.
    if (!n->readable.count(req->object_id()) || obj == objects_.end()) {
      resp->set_object_found(false);
      return grpc::Status::OK;
    }
    resp->set_object_found(true);
    resp->set_object_available(true);
    resp->set_object_content(obj->second.content);
    return grpc::Status::OK;
  }

  grpc::Status ConfirmMessageReceived(grpc::ServerContext* ctx,
                                      const fp::ConfirmMessageReceivedRequest* req,
                                      fp::ConfirmMessageReceivedResponse*) override {
    std::string pem;
    if (grpc::Status s = Authenticate(ctx, &pem); !s.ok()) return s;
    std::lock_guard lock(mu_);
    Node* n = nullptr;
    if (grpc::Status s = NodeOfKey(pem, req->node().node_id(), &n); !s.ok()) return s;
    auto it = sent_.find(req->message_object_id());
    if (it == sent_.end() || it->second.node_id != req->node().node_id()) {
      return Refuse(grpc::StatusCode::NOT_FOUND, "no such message for this node");
    }
    Sent& s = it->second;
    if (!s.confirmed) {
      s.confirmed = true;
      for (const std::string& o : s.object_ids) {
        Unread(*n, o);
        Release(o);
      }
      s.object_ids.clear();
    }
    return grpc::Status::OK;
  }

  grpc::Status PushMessages(grpc::ServerContext* ctx, const fp::PushMessagesRequest* req,
                            fp::PushMessagesResponse* resp) override {
    std::string pem;
    if (grpc::Status s = Authenticate(ctx, &pem); !s.ok()) return s;
    std::lock_guard lock(mu_);
    Node* n = nullptr;
    const uint64_t node_id = req->node().node_id();
    if (grpc::Status s = NodeOfKey(pem, node_id, &n); !s.ok()) return s;
    if (req->messages_list_size() != req->message_object_trees_size()) {
      ++counters_.refused_messages;
      return Refuse(grpc::StatusCode::INVALID_ARGUMENT, "one object tree per message needed");
    }
    std::set<std::string> to_push;
    for (int i = 0; i < req->messages_list_size(); ++i) {
      const fp::Message& m = req->messages_list(i);
      const fp::ObjectTree& tree = req->message_object_trees(i);
      const fp::Metadata& md = m.metadata();
      auto it = sent_.find(md.reply_to_message_id());
      std::string why;
      if (it == sent_.end() || it->second.node_id != node_id) {
        why = "reply to a message this node was not sent (or one given up on)";
      } else if (md.src_node_id() != node_id) {
        why = "src_node_id is not the calling node";
      } else if (md.run_id() != options_.run_id) {
        why = "unknown run";
      } else if (md.message_id() != tree.object_id() || md.message_id().size() != 64) {
        why = "message_id does not name the root of its object tree";
      } else if (it->second.replied) {
        why = "already replied";
      } else if (TreeSize(tree) > kMaxReplyObjects) {
        why = "object tree too large";
      }
      if (!why.empty()) {
        ++counters_.refused_messages;
        (*resp->mutable_results())[md.message_id()] = 1;
        continue;
      }
      Sent& s = it->second;
      s.replied = true;
      s.reply_id = md.message_id();
      s.reply_tree = tree;
      CollectIds(tree, s.reply_ids);
      // A stored object (e.g. the same arrays as sent) is held by the reply at once; a
      // missing one is expected until pushed, then held (PushObject moves the count).
      for (const std::string& o : s.reply_ids) {
        auto obj = objects_.find(o);
        if (obj != objects_.end()) {
          ++obj->second.refs;
        } else {
          ++expected_[o];
          to_push.insert(o);
        }
      }
      (*resp->mutable_results())[md.message_id()] = 0;
    }
    for (const std::string& o : to_push) resp->add_objects_to_push(o);
    return grpc::Status::OK;
  }

  grpc::Status PushObject(grpc::ServerContext* ctx, const fp::PushObjectRequest* req,
                          fp::PushObjectResponse* resp) override {
    std::string pem;
    if (grpc::Status s = Authenticate(ctx, &pem); !s.ok()) return s;
    const std::string& content = req->object_content();
    // Hash and parse outside the lock.
    const bool size_ok = content.size() <= kMaxObjectBytes;
    const bool id_ok = size_ok && ObjectId(content) == req->object_id();
    const bool parses = id_ok && ParseObject(content).ok();
    std::lock_guard lock(mu_);
    Node* n = nullptr;
    if (grpc::Status s = NodeOfKey(pem, req->node().node_id(), &n); !s.ok()) return s;
    resp->set_stored(false);
    if (!expected_.count(req->object_id()) || !parses ||
        stored_bytes_ + content.size() > options_.max_store_bytes) {
      ++counters_.refused_objects;
      return grpc::Status::OK;  // stored=false: the node learns the object was refused.
    }
    auto [obj, added] = objects_.try_emplace(req->object_id());
    if (added) {
      obj->second.content = content;
      stored_bytes_ += content.size();
      ++counters_.objects_stored;
    }
    // The pending replies that named it hold their references now.
    obj->second.refs += expected_[req->object_id()];
    expected_.erase(req->object_id());
    resp->set_stored(true);
    return grpc::Status::OK;
  }

  grpc::Status GetRun(grpc::ServerContext* ctx, const fp::GetRunRequest* req,
                      fp::GetRunResponse* resp) override {
    std::string pem;
    if (grpc::Status s = Authenticate(ctx, &pem); !s.ok()) return s;
    std::lock_guard lock(mu_);
    Node* n = nullptr;
    if (grpc::Status s = NodeOfKey(pem, req->node().node_id(), &n); !s.ok()) return s;
    if (req->run_id() != options_.run_id) return Refuse(grpc::StatusCode::NOT_FOUND, "no such run");
    fp::Run* run = resp->mutable_run();
    run->set_run_id(options_.run_id);
    run->set_fab_id(options_.fab_id);
    run->set_fab_version(options_.fab_version);
    run->set_fab_hash(fab_hash_);
    run->set_running_at(FlowerTimestamp(started_));
    run->mutable_status()->set_status("running");
    return grpc::Status::OK;
  }

  grpc::Status GetFab(grpc::ServerContext* ctx, const fp::GetFabRequest* req,
                      fp::GetFabResponse* resp) override {
    std::string pem;
    if (grpc::Status s = Authenticate(ctx, &pem); !s.ok()) return s;
    std::lock_guard lock(mu_);
    Node* n = nullptr;
    if (grpc::Status s = NodeOfKey(pem, req->node().node_id(), &n); !s.ok()) return s;
    if (fab_.empty() || req->hash_str() != fab_hash_) {
      return Refuse(grpc::StatusCode::NOT_FOUND, "no app bundle with that hash");
    }
    resp->mutable_fab()->set_hash_str(fab_hash_);
    resp->mutable_fab()->set_content(fab_);
    return grpc::Status::OK;
  }

 private:
  struct StoredObject {
    std::string content;
    int refs = 0;
  };

  static std::string Header(grpc::ServerContext* ctx, const char* key) {
    const auto& md = ctx->client_metadata();
    auto it = md.find(key);
    return it == md.end() ? std::string() : std::string(it->second.data(), it->second.size());
  }

  grpc::Status RefuseAuth(std::string_view why) {
    std::lock_guard lock(counter_mu_);
    ++refused_auth_;
    return Refuse(grpc::StatusCode::UNAUTHENTICATED, why);
  }

  // Checks the call's signature and timestamp; sets the caller's key. Without mu_.
  grpc::Status Authenticate(grpc::ServerContext* ctx, std::string* pem) {
    AuthHeaders h{Header(ctx, kPublicKeyHeader), Header(ctx, kTimestampHeader),
                  Header(ctx, kSignatureHeader)};
    absl::Status s = CheckAuthHeaders(h, options_.clock(), options_.max_timestamp_ahead,
                                      options_.max_timestamp_behind);
    if (!s.ok()) return RefuseAuth(std::string(s.message()));
    *pem = std::move(h.public_key_pem);
    return grpc::Status::OK;
  }

  // Under mu_: the node `node_id` must belong to `pem`; marks it seen.
  grpc::Status NodeOfKey(const std::string& pem, uint64_t node_id, Node** out) {
    auto it = nodes_.find(node_id);
    if (it == nodes_.end() || it->second.pem != pem) {
      ++counters_.refused_auth;
      return Refuse(grpc::StatusCode::PERMISSION_DENIED, "node id does not belong to this key");
    }
    it->second.last_seen = options_.clock();
    *out = &it->second;
    return grpc::Status::OK;
  }

  double Interval(double requested) const {
    if (!(requested > 0)) return 30;
    return std::min(requested, options_.max_heartbeat_interval_s);
  }

  bool Alive(const Node& n, absl::Time now) const {
    return n.active &&
           now - n.last_seen <= absl::Seconds(n.interval_s * options_.liveness_intervals);
  }

  static void Unread(Node& n, const std::string& id) {
    auto it = n.readable.find(id);
    if (it != n.readable.end() && --it->second <= 0) n.readable.erase(it);
  }

  void Retain(const std::string& id, std::string content) {
    auto [it, added] = objects_.try_emplace(id);
    if (added) {
      stored_bytes_ += content.size();
      it->second.content = std::move(content);
    }
    ++it->second.refs;
  }

  void Release(const std::string& id) {
    auto it = objects_.find(id);
    if (it != objects_.end() && --it->second.refs <= 0) {
      stored_bytes_ -= it->second.content.size();
      objects_.erase(it);
    }
  }

  void Drop(std::map<std::string, Sent>::iterator it) {
    Sent& s = it->second;
    if (!s.confirmed) {
      for (const std::string& o : s.object_ids) Release(o);
    }
    for (const std::string& o : s.reply_ids) {
      auto e = expected_.find(o);
      if (e != expected_.end()) {
        if (--e->second <= 0) expected_.erase(e);
      } else {
        Release(o);
      }
    }
    auto node = nodes_.find(s.node_id);
    if (node != nodes_.end()) {
      // Delivered and not confirmed: the node may read them no more.
      if (s.delivered && !s.confirmed) {
        for (const std::string& o : s.object_ids) Unread(node->second, o);
      }
    }
    sent_.erase(it);
  }

  const FleetServerOptions options_;
  const std::string fab_, fab_hash_;
  const absl::Time started_ = absl::Now();
  mutable std::mutex mu_;
  std::mt19937_64 rng_;
  std::map<uint64_t, Node> nodes_;
  std::map<std::string, uint64_t> by_key_;
  std::map<std::string, Sent> sent_;
  std::map<std::string, StoredObject> objects_;
  std::map<std::string, int> expected_;  // Reply objects announced but not yet pushed.
  size_t stored_bytes_ = 0;              // Content bytes in objects_.
  FleetServerCounters counters_;
  std::mutex counter_mu_;
  uint64_t refused_auth_ = 0;  // Counted without mu_ (Authenticate runs outside it).

 public:
  uint64_t refused_auth_unlocked() {
    std::lock_guard lock(counter_mu_);
    return refused_auth_;
  }
};

class GrpcFleetServer final : public FleetServer {
 public:
  GrpcFleetServer(std::unique_ptr<FleetService> service, std::unique_ptr<grpc::Server> server,
                  int port)
      : service_(std::move(service)), server_(std::move(server)), port_(port) {}
  ~GrpcFleetServer() override { Shutdown(); }

  int port() const override { return port_; }
  std::vector<NodeStatus> Nodes() const override { return service_->Nodes(); }
  absl::StatusOr<std::string> Send(uint64_t node_id, fp::Message message) override {
    return service_->Send(node_id, std::move(message));
  }
  absl::StatusOr<std::optional<absl::StatusOr<fp::Message>>> TakeReply(
      const std::string& id) override {
    return service_->TakeReply(id);
  }
  void Forget(const std::string& id) override { service_->Forget(id); }
  FleetServerCounters counters() const override {
    FleetServerCounters c = service_->counters();
    c.refused_auth += service_->refused_auth_unlocked();
    return c;
  }
  void Shutdown() override {
    std::call_once(shutdown_, [this] {
      server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
      server_->Wait();
    });
  }

 private:
  std::unique_ptr<FleetService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_;
  std::once_flag shutdown_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<FleetServer>> StartFleetServer(FleetServerOptions options) {
  if (!(options.liveness_intervals > 0) || options.max_nodes < 1 || options.max_message_bytes < 1024) {
    return absl::InvalidArgumentError("fleet server: bad options");
  }
  std::string fab, fab_hash;
  if (!options.fab_file.empty()) {
    absl::StatusOr<std::string> bytes = ReadFile(options.fab_file, 256 << 20);
    if (!bytes.ok()) return bytes.status();
    fab = std::move(*bytes);
    fab_hash = ObjectId(fab);  // SHA-256 hex of the bytes, as Flower hashes a FAB.
  }
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
    absl::StatusOr<std::string> cert = ReadFile(options.tls_cert_file, 1 << 20);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadFile(options.tls_key_file, 1 << 20);
    if (!key.ok()) return key.status();
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({*key, *cert});
    credentials = grpc::SslServerCredentials(ssl);
  }
  const std::string address = options.address;
  const int max_bytes = static_cast<int>(std::min<size_t>(options.max_message_bytes, INT32_MAX));
  auto service = std::make_unique<FleetService>(std::move(options), std::move(fab),
                                                std::move(fab_hash));
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, credentials, &port);
  builder.SetMaxReceiveMessageSize(max_bytes);
  builder.SetMaxSendMessageSize(max_bytes);
  builder.RegisterService(service.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    return absl::UnavailableError(absl::StrCat("fleet server: cannot listen on ", address));
  }
  return std::unique_ptr<FleetServer>(
      new GrpcFleetServer(std::move(service), std::move(server), port));
}

}  // namespace fleettwin::federated
