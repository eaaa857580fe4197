#include "fleettwin/agent/coordinator_link.h"

#include <thread>

#include <zmq.hpp>

#include "absl/strings/str_cat.h"
#include "fleettwin/protocol/curve_zmq.h"

namespace fleettwin::agent {

struct CoordinatorLink::Impl {
  CoordinatorLinkOptions options;
  const Clock* clock = nullptr;
  CoordinatorLinkHandlers handlers;
  CoordinatorLink* owner = nullptr;
  uint64_t session = 0;
  uint64_t next_message_id = 1;
  zmq::context_t context{1};
  std::unique_ptr<zmq::socket_t> dealer;
  std::thread thread;
  std::atomic<bool> stop{false};
  CoordinatorLinkStats stats;
  uint64_t peer_session = 0;     // The coordinator's latest session seen.
  uint64_t peer_message_id = 0;  // The highest message id accepted in it.

  void Send(protocol::Body body) {
    protocol::Envelope e;
    e.session = session;
    e.message_id = next_message_id++;
    e.sender = options.asset;
    e.sent_unix_ms = clock->NowUnixNanos() / 1'000'000;
    if (std::holds_alternative<protocol::Register>(body)) ++stats.registrations_sent;
    e.body = std::move(body);
    const std::string bytes = protocol::Encode(e);
    try {
      // DEALER queues while disconnected (up to its high-water mark), so nothing blocks here.
      if (dealer->send(zmq::buffer(bytes), zmq::send_flags::dontwait)) ++stats.sent;
    } catch (const zmq::error_t&) {
    }
  }

  void SendRegister() {
    Send(protocol::Register{options.kind, options.agent_version,
                            static_cast<uint32_t>(options.heartbeat_ms)});
  }

  void Receive(const zmq::message_t& payload) {
    absl::StatusOr<protocol::Envelope> e = protocol::Decode(
        std::string_view(static_cast<const char*>(payload.data()), payload.size()));
    if (!e.ok() || e->sender != protocol::kCoordinatorName) {
      ++stats.ignored;
      return;
    }
    // Messages of a later coordinator session (it restarted) are new; within a session, ids
    // must grow. Anything else is a duplicate or a replay.
    if (e->session > peer_session) {
      peer_session = e->session;
      peer_message_id = e->message_id;
    } else if (e->session == peer_session && e->message_id > peer_message_id) {
      peer_message_id = e->message_id;
    } else {
      ++stats.ignored;
      return;
    }
    if (const auto* w = std::get_if<protocol::Welcome>(&e->body)) {
      owner->coordinator_session_ = w->coordinator_session;
      owner->registered_ = true;
      ++stats.welcomes;
      return;
    }
    if (std::holds_alternative<protocol::Refused>(e->body)) {
      ++stats.refusals;
      owner->registered_ = false;
      SendRegister();  // The coordinator does not know this session (e.g. it restarted).
      return;
    }
    if (const auto* call = std::get_if<protocol::CallForProposals>(&e->body)) {
      ++stats.calls;
      protocol::Bid bid;
      if (handlers.bid) {
        bid = handlers.bid(*call);
      } else {
        bid.declined = true;
        bid.decline_reason = "this agent does not bid";
      }
      bid.negotiation = call->negotiation;
      Send(std::move(bid));
      return;
    }
    if (const auto* award = std::get_if<protocol::Award>(&e->body)) {
      ++stats.awards;
      protocol::AwardReply reply;
      if (handlers.award) {
        reply = handlers.award(*award);
      } else {
        reply.accept = true;
      }
      reply.negotiation = award->negotiation;
      reply.plan_hash = award->plan_hash;
      Send(std::move(reply));
      return;
    }
    if (const auto* revoke = std::get_if<protocol::TaskRevoke>(&e->body)) {
      if (handlers.task_revoke) handlers.task_revoke(*revoke);
      return;
    }
    if (const auto* done = std::get_if<protocol::MaintenanceDone>(&e->body)) {
      protocol::MaintenanceDoneReply reply;
      if (handlers.maintenance) {
        reply = handlers.maintenance(*done);
      } else {
        reply.code = static_cast<uint32_t>(absl::StatusCode::kUnimplemented);
        reply.error = "this agent does not record maintenance";
      }
      reply.request = done->request;
      Send(std::move(reply));
      return;
    }
    if (const auto* commit = std::get_if<protocol::Commit>(&e->body)) {
      ++stats.commits;
      if (handlers.commit) handlers.commit(*commit);
      return;
    }
    ++stats.ignored;
  }

  void Run() {
    SendRegister();
    int64_t next_beat = clock->NowUnixNanos() + options.heartbeat_ms * 1'000'000;
    while (!stop) {
      zmq::pollitem_t item{dealer->handle(), 0, ZMQ_POLLIN, 0};
      try {
        zmq::poll(&item, 1, std::chrono::milliseconds(std::min<int64_t>(options.heartbeat_ms, 50)));
        for (int i = 0; i < 1024 && (item.revents & ZMQ_POLLIN); ++i) {
          zmq::message_t payload;
          if (!dealer->recv(payload, zmq::recv_flags::dontwait)) break;
          if (payload.more()) {  // One frame per message.
            zmq::message_t extra;
            while (payload.more() && dealer->recv(extra, zmq::recv_flags::none)) {
              payload = std::move(extra);
            }
            ++stats.ignored;
            continue;
          }
          Receive(payload);
        }
      } catch (const zmq::error_t&) {
        if (stop) break;
      }
      const int64_t now = clock->NowUnixNanos();
      if (now >= next_beat) {
        next_beat = now + options.heartbeat_ms * 1'000'000;
        // Until welcomed, keep asking to register (the first one may have been lost).
        if (owner->registered_) {
          Send(handlers.summary ? handlers.summary() : protocol::Heartbeat{});
          if (handlers.task_reports) {
            for (protocol::TaskReport& r : handlers.task_reports()) Send(std::move(r));
          }
        } else {
          SendRegister();
        }
      }
    }
  }
};

absl::StatusOr<std::unique_ptr<CoordinatorLink>> CoordinatorLink::Start(
    const CoordinatorLinkOptions& options, const Clock& clock, CoordinatorLinkHandlers handlers) {
  if (options.asset.empty() || options.heartbeat_ms < 1) {
    return absl::InvalidArgumentError("coordinator link: an asset and heartbeat_ms >= 1");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->clock = &clock;
  impl->handlers = std::move(handlers);
  impl->session = static_cast<uint64_t>(std::max<int64_t>(clock.NowUnixNanos(), 1));
  try {
    impl->dealer = std::make_unique<zmq::socket_t>(impl->context, zmq::socket_type::dealer);
    impl->dealer->set(zmq::sockopt::linger, 0);
    impl->dealer->set(zmq::sockopt::maxmsgsize, int64_t{16} << 20);
    if (absl::Status s =
            protocol::MakeCurveClient(*impl->dealer, options.keys, options.coordinator_key);
        !s.ok()) {
      return s;
    }
    impl->dealer->connect(options.endpoint);
  } catch (const zmq::error_t& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("coordinator link: connect ", options.endpoint, ": ", e.what()));
  }
  auto link = std::unique_ptr<CoordinatorLink>(new CoordinatorLink(std::move(impl)));
  link->impl_->owner = link.get();
  Impl* raw = link->impl_.get();
  raw->thread = std::thread([raw] { raw->Run(); });
  return link;
}

CoordinatorLink::CoordinatorLink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

CoordinatorLink::~CoordinatorLink() { Stop(); }

void CoordinatorLink::Stop() {
  if (!impl_ || impl_->stop.exchange(true)) return;
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->dealer.reset();
}

const CoordinatorLinkStats& CoordinatorLink::stats() const { return impl_->stats; }

}  // namespace fleettwin::agent
