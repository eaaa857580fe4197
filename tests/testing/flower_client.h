// A raw Fleet API client for tests: authenticated calls with a chosen key, clock skew and,
// optionally, a corrupted signature, so tests can act as a well- or ill-behaved Flower node.
#ifndef FLEETTWIN_TESTS_TESTING_FLOWER_CLIENT_H_
#define FLEETTWIN_TESTS_TESTING_FLOWER_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "fleettwin/federated/node_auth.h"
#include "fleettwin/federated/objects.h"
#include "fleettwin/federated/records.h"
#include "flwr/proto/fleet.grpc.pb.h"

namespace fleettwin::testing {

struct RawFlowerClient {
  RawFlowerClient(int port, federated::NodeKey k)
      : key(std::move(k)),
        stub(flwr::proto::Fleet::NewStub(grpc::CreateChannel(
            absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()))) {}

  federated::NodeKey key;
  std::unique_ptr<flwr::proto::Fleet::Stub> stub;
  absl::Duration skew;             // Added to the timestamp.
  bool corrupt_signature = false;  // Flips one bit of the signature.

  void Auth(grpc::ClientContext& ctx) {
    federated::AuthHeaders h = *federated::MakeAuthHeaders(key, absl::Now() + skew);
    if (corrupt_signature) h.signature[h.signature.size() / 2] ^= 1;
    ctx.AddMetadata(federated::kPublicKeyHeader, h.public_key_pem);
    ctx.AddMetadata(federated::kTimestampHeader, h.timestamp);
    ctx.AddMetadata(federated::kSignatureHeader, h.signature);
  }

  // RegisterNode then ActivateNode (asking for `heartbeat_interval_s`); the node id in *id.
  grpc::Status Register(uint64_t* id, double heartbeat_interval_s = 30) {
    grpc::ClientContext ctx;
    Auth(ctx);
    flwr::proto::RegisterNodeFleetRequest r;
    r.set_public_key(key.public_key_pem());
    flwr::proto::RegisterNodeFleetResponse resp;
    grpc::Status s = stub->RegisterNode(&ctx, r, &resp);
    if (!s.ok()) return s;
    grpc::ClientContext ctx2;
    Auth(ctx2);
    flwr::proto::ActivateNodeRequest a;
    a.set_public_key(key.public_key_pem());
    a.set_heartbeat_interval(heartbeat_interval_s);
    flwr::proto::ActivateNodeResponse ar;
    s = stub->ActivateNode(&ctx2, a, &ar);
    *id = ar.node_id();
    return s;
  }

  // DeactivateNode then UnregisterNode.
  grpc::Status Leave(uint64_t id) {
    grpc::ClientContext ctx;
    Auth(ctx);
    flwr::proto::DeactivateNodeRequest d;
    d.set_node_id(id);
    flwr::proto::DeactivateNodeResponse dr;
    grpc::Status s = stub->DeactivateNode(&ctx, d, &dr);
    if (!s.ok()) return s;
    grpc::ClientContext ctx2;
    Auth(ctx2);
    flwr::proto::UnregisterNodeFleetRequest u;
    u.set_node_id(id);
    flwr::proto::UnregisterNodeFleetResponse ur;
    return stub->UnregisterNode(&ctx2, u, &ur);
  }

  // PullMessages once for node `id`.
  grpc::Status Pull(uint64_t id, flwr::proto::PullMessagesResponse* out) {
    grpc::ClientContext ctx;
    Auth(ctx);
    flwr::proto::PullMessagesRequest pull;
    pull.mutable_node()->set_node_id(id);
    return stub->PullMessages(&ctx, pull, out);
  }

  // Replies to `request` from node `id` with `content`, pushing every object the server asks
  // for, the first of them with one bit flipped when `tamper`. Returns how many objects the
  // server stored, or -1 if PushMessages failed.
  int Reply(uint64_t id, const flwr::proto::Metadata& request, flwr::proto::RecordDict content,
            bool tamper) {
    flwr::proto::Message reply;
    flwr::proto::Metadata* md = reply.mutable_metadata();
    md->set_run_id(request.run_id());
    md->set_src_node_id(id);
    md->set_dst_node_id(request.src_node_id());
    md->set_reply_to_message_id(request.message_id());
    md->set_message_type(request.message_type());
    *reply.mutable_content() = std::move(content);
    absl::StatusOr<federated::ObjectSet> objects = federated::MessageToObjects(reply);
    if (!objects.ok()) return -1;
    reply.clear_content();
    md->set_message_id(objects->root);
    grpc::ClientContext ctx;
    Auth(ctx);
    flwr::proto::PushMessagesRequest push;
    push.mutable_node()->set_node_id(id);
    *push.add_messages_list() = reply;
    *push.add_message_object_trees() = objects->tree;
    flwr::proto::PushMessagesResponse pushed;
    if (!stub->PushMessages(&ctx, push, &pushed).ok()) return -1;
    int stored_count = 0;
    for (const std::string& oid : pushed.objects_to_push()) {
      std::string bytes = objects->contents.at(oid);
      if (tamper) {
        bytes.back() ^= 1;
        tamper = false;
      }
      grpc::ClientContext octx;
      Auth(octx);
      flwr::proto::PushObjectRequest obj;
      obj.mutable_node()->set_node_id(id);
      obj.set_run_id(request.run_id());
      obj.set_object_id(oid);
      obj.set_object_content(bytes);
      flwr::proto::PushObjectResponse stored;
      if (stub->PushObject(&octx, obj, &stored).ok() && stored.stored()) ++stored_count;
    }
    objects_pushed = pushed.objects_to_push_size();
    return stored_count;
  }
  int objects_pushed = 0;  // Objects the server asked for in the last Reply.
};

}  // namespace fleettwin::testing

#endif  // FLEETTWIN_TESTS_TESTING_FLOWER_CLIENT_H_
