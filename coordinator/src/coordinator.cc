#include "fleettwin/coordinator/coordinator.h"

#include <algorithm>
#include <cstdio>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include <zmq.hpp>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "call_json.h"
#include "coordinator_impl.h"
#include "fleettwin/ledger/ledger.h"
#include "fleettwin/ledger/note.h"
#include "fleettwin/protocol/curve_zmq.h"
#include "fleettwin/protocol/messages.h"

namespace fleettwin::coordinator {

void Coordinator::Impl::Send(const zmq::message_t& routing_id, protocol::Body body) {
  protocol::Envelope e;
  e.session = session;
  e.message_id = next_message_id++;
  e.sender = protocol::kCoordinatorName;
  e.sent_unix_ms = clock.NowUnixNanos() / 1'000'000;
  e.body = std::move(body);
  const std::string bytes = protocol::Encode(e);
  try {
    router->send(zmq::buffer(routing_id.data(), routing_id.size()), zmq::send_flags::sndmore);
    router->send(zmq::buffer(bytes), zmq::send_flags::dontwait);
  } catch (const zmq::error_t&) {
    // The peer is gone; a later message from it will be answered.
  }
}

void Coordinator::Impl::Handle(const zmq::message_t& routing_id, const zmq::message_t& payload) {
  ++stats.received;
  absl::StatusOr<protocol::Envelope> e =
      protocol::Decode(std::string_view(static_cast<const char*>(payload.data()), payload.size()));
  if (!e.ok()) {
    ++stats.malformed;
    return;
  }
  // The CURVE key (through ZAP) says who is speaking; the envelope must agree.
  if (e->sender != protocol::PeerName(payload)) {
    ++stats.impersonated;
    return;
  }
  if (!replay.Accept(*e)) {
    ++stats.replayed;
    return;
  }
  routes[e->sender] = routing_id.to_string();  // Where this agent is reachable now.
  if (const auto* reg = std::get_if<protocol::Register>(&e->body)) {
    protocol::Welcome welcome;
    {
      std::lock_guard<std::mutex> lock(mutex);
      welcome = membership.Register(e->sender, e->session, *reg, session);
    }
    ++stats.registrations;
    Send(routing_id, welcome);
    return;
  }
  if (const auto* hb = std::get_if<protocol::Heartbeat>(&e->body)) {
    absl::Status s;
    {
      std::lock_guard<std::mutex> lock(mutex);
      s = membership.Heartbeat(e->sender, *hb);
    }
    if (s.ok()) {
      ++stats.heartbeats;
      ReconcileTasks(e->sender, hb->tasks);
      if (ledger && !hb->checkpoint.empty()) Anchor(e->sender, hb->checkpoint);
    } else {
      ++stats.refused_register_first;
      Send(routing_id, protocol::Refused{e->message_id, "register first"});
    }
    return;
  }
  if (const auto* bid = std::get_if<protocol::Bid>(&e->body)) {
    ++stats.bids;
    {
      std::lock_guard<std::mutex> lock(mutex);
      membership.Seen(e->sender);
    }
    if (auction && bid->negotiation == auction->id()) {
      SendAll(auction->OnBid(e->sender, *bid, clock.NowUnixNanos()));
      FinishTaskIfDone();
      return;
    }
    if (negotiation) Dispatch(negotiation->OnBid(e->sender, *bid, clock.NowUnixNanos()));
    FinishIfCommitted();
    return;
  }
  if (const auto* reply = std::get_if<protocol::AwardReply>(&e->body)) {
    ++stats.replies;
    {
      std::lock_guard<std::mutex> lock(mutex);
      membership.Seen(e->sender);
    }
    if (auction && reply->negotiation == auction->id()) {
      SendAll(auction->OnReply(e->sender, *reply, clock.NowUnixNanos()));
      FinishTaskIfDone();
      return;
    }
    if (negotiation) Dispatch(negotiation->OnReply(e->sender, *reply, clock.NowUnixNanos()));
    FinishIfCommitted();
    return;
  }
  if (const auto* done = std::get_if<protocol::MaintenanceDoneReply>(&e->body)) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      membership.Seen(e->sender);
    }
    OnMaintenanceDone(e->sender, *done);
    return;
  }
  if (const auto* report = std::get_if<protocol::TaskReport>(&e->body)) {
    ++stats.task_reports;
    {
      std::lock_guard<std::mutex> lock(mutex);
      membership.Seen(e->sender);
    }
    OnTaskReport(e->sender, *report);
    return;
  }
  ++stats.unexpected;
}

void Coordinator::Impl::SendTo(const std::string& asset, protocol::Body body) {
  auto it = routes.find(asset);
  if (it == routes.end()) return;  // Never heard from: the negotiation's deadlines cover it.
  zmq::message_t id(it->second.data(), it->second.size());
  Send(id, std::move(body));
}

void Coordinator::Impl::SendAll(std::vector<Outgoing> out) {
  for (Outgoing& o : out) SendTo(o.asset, std::move(o.body));
}

void Coordinator::Impl::Dispatch(std::vector<Outgoing> out) {
  if (negotiation && negotiation->committed() && running_request &&
      !running_request->replaces.empty() && !running_request->abandoned) {
    // A re-plan must cover every agent the old plan maintains (one that was silent, late or
    // declined would lose its maintenance, or keep it on crews the new plan reuses): else the
    // new plan is dropped before any commit goes out, and the old one stands whole.
    const PlanRecord& record = negotiation->record();
    std::set<std::string> covered;
    for (const plan::MaintenanceAssignment& a : record.plan.assignments) covered.insert(a.asset);
    std::vector<std::string> orphaned;
    {
      std::lock_guard<std::mutex> lock(mutex);
      for (const PlanRecord& p : plans) {
        if (p.negotiation != running_request->replaces || p.cancelled) continue;
        for (const plan::MaintenanceAssignment& a : p.plan.assignments) {
          if (a.slot >= 0 && !covered.contains(a.asset)) orphaned.push_back(a.asset);
        }
      }
    }
    if (!orphaned.empty()) {
      const std::string reason =
          absl::StrCat("plan ", record.negotiation, " not committed: it leaves out ",
                       absl::StrJoin(orphaned, ", "), ", maintained by plan ",
                       running_request->replaces, ", which stands");
      running_request->abandoned = absl::FailedPreconditionError(reason);
      if (ledger &&
          !ledger
               ->Append(
                   {"plan.abandon", protocol::kCoordinatorName, 0, 0,
                    nlohmann::json{{"negotiation", record.negotiation}, {"reason", reason}}.dump()})
               .ok()) {
        ++stats.ledger_errors;
      }
      std::erase_if(
          out, [](const Outgoing& o) { return std::holds_alternative<protocol::Commit>(o.body); });
      SendAll(std::move(out));
      return;
    }
  }
  if (negotiation && negotiation->committed() && ledger) {
    const PlanRecord& record = negotiation->record();
    absl::StatusOr<uint64_t> index =
        ledger->Append({"plan.commit", protocol::kCoordinatorName, 0, 0, PlanRecordJson(record)});
    if (index.ok()) {
      for (Outgoing& o : out) {
        if (auto* commit = std::get_if<protocol::Commit>(&o.body)) {
          commit->fleet_ledger_index = *index;
        }
      }
    } else {
      ++stats.ledger_errors;
    }
  }
  SendAll(std::move(out));
}

void Coordinator::Impl::Anchor(const std::string& asset, const std::string& checkpoint) {
  const int64_t now = clock.NowUnixNanos();
  Anchored& a = anchored[asset];
  if (a.checkpoint == checkpoint || now - a.at_ns < options.anchor_interval_ms * 1'000'000) {
    return;
  }
  a = {checkpoint, now};
  pending_anchors.push_back({"agent.checkpoint", asset, 0, 0, checkpoint});
}

void Coordinator::Impl::FlushAnchors() {
  if (pending_anchors.empty() || !ledger) return;
  // One group commit for all of them.
  if (ledger->AppendBatch(pending_anchors).ok()) {
    stats.anchors += pending_anchors.size();
  } else {
    ++stats.ledger_errors;
  }
  pending_anchors.clear();
}

void Coordinator::Impl::StartPending() {
  if (negotiation || clock.NowUnixNanos() < resume_not_before_ns) return;
  std::unique_ptr<Request> request;
  std::vector<std::string> invited;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (requests.empty()) return;
    request = std::move(requests.front());
    requests.erase(requests.begin());
    for (const auto& [asset, m] : membership.members()) {
      if (m.state == MemberState::kActive) invited.push_back(asset);
    }
  }
  // Ledgered before the first call goes out, so a restarted coordinator runs it again.
  if (ledger) {
    nlohmann::json started = {{"negotiation", request->id},
                              {"call", CallJson(request->call)},
                              {"bid_window_ms", request->options.bid_window_ms},
                              {"reply_timeout_ms", request->options.reply_timeout_ms},
                              {"replaces", request->replaces}};
    if (!ledger->Append({"plan.request", protocol::kCoordinatorName, 0, 0, started.dump()}).ok()) {
      ++stats.ledger_errors;
    }
  }
  running_request = std::move(request);
  negotiation.emplace(running_request->id, running_request->call, std::move(invited),
                      clock.NowUnixNanos(), running_request->options);
  Dispatch(negotiation->Begin());
  FinishIfCommitted();
}

void Coordinator::Impl::FinishIfCommitted() {
  if (!negotiation || !negotiation->committed()) return;
  if (running_request->abandoned) {
    ++stats.abandoned_plans;
    running_request->done(*running_request->abandoned);
    running_request.reset();
    negotiation.reset();
    return;
  }
  PlanRecord record = negotiation->record();
  {
    std::lock_guard<std::mutex> lock(mutex);
    plans.push_back(record);
  }
  ++stats.plans;
  if (!running_request->replaces.empty()) {
    std::set<std::string> keep;  // Every agent of the new plan got its Commit from it.
    for (const plan::MaintenanceAssignment& a : record.plan.assignments) keep.insert(a.asset);
    absl::StatusOr<PlanRecord> old =
        CancelPlan(running_request->replaces, absl::StrCat("replaced by plan ", record.negotiation),
                   record.negotiation, keep);
    *running_request->replaced = old.status();
  }
  running_request->done(std::move(record));
  running_request.reset();
  negotiation.reset();
}

void Coordinator::Impl::Run() {
  int64_t last_sweep = clock.NowUnixNanos();
  const int64_t started_ns = last_sweep;
  bool absent_winners_checked = false;
  while (!stop) {
    loop_turned_ns.store(std::chrono::steady_clock::now().time_since_epoch().count());
    zmq::pollitem_t items[2] = {{router->handle(), 0, ZMQ_POLLIN, 0},
                                {control ? control->handle() : nullptr, 0, ZMQ_POLLIN, 0}};
    zmq::pollitem_t& item = items[0];
    try {
      // Short, so a posted negotiation and its deadlines are served promptly.
      zmq::poll(
          items, control ? 2 : 1,
          std::chrono::milliseconds(std::clamp<int64_t>(options.sweep_interval_ms / 2, 1, 5)));
      for (int i = 0; i < 64 && control && (items[1].revents & ZMQ_POLLIN); ++i) {
        zmq::message_t routing_id, payload;
        if (!control->recv(routing_id, zmq::recv_flags::dontwait)) break;
        std::vector<zmq::message_t> parts;
        for (bool more = routing_id.more(); more && parts.size() < 8;) {
          parts.emplace_back();
          if (!control->recv(parts.back(), zmq::recv_flags::none)) break;
          more = parts.back().more();
        }
        while (!parts.empty() && parts.back().more()) {  // Drain an oversized request.
          zmq::message_t extra;
          if (!control->recv(extra, zmq::recv_flags::none)) break;
          parts.push_back(std::move(extra));
        }
        // REQ clients put an empty delimiter frame before the request.
        if (parts.size() == 2 && parts[0].size() == 0) {
          try {
            HandleControl(routing_id, parts[1]);
          } catch (const std::exception&) {
            ++stats.handler_errors;
          }
        } else {
          ++stats.control_errors;
        }
      }
      // Drain what is there, a bounded batch at a time, so the sweep still runs under load.
      for (int i = 0; i < 4096 && (item.revents & ZMQ_POLLIN); ++i) {
        zmq::message_t routing_id, payload;
        if (!router->recv(routing_id, zmq::recv_flags::dontwait)) break;
        if (!routing_id.more()) continue;  // ROUTER always prefixes the routing id.
        if (!router->recv(payload, zmq::recv_flags::none)) break;
        if (payload.more()) {  // One frame per message: a multi-part message is malformed.
          zmq::message_t extra;
          while (payload.more() && router->recv(extra, zmq::recv_flags::none)) {
            payload = std::move(extra);
          }
          ++stats.received;
          ++stats.malformed;
          continue;
        }
        try {
          Handle(routing_id, payload);
        } catch (const std::exception&) {
          // Nothing an agent sends may stop the loop; a bug that lets one through is counted.
          ++stats.handler_errors;
        }
      }
    } catch (const zmq::error_t&) {
      if (stop) break;
    }
    {
      std::vector<std::pair<std::string, std::string>> replies;
      {
        std::lock_guard<std::mutex> lock(posted_mutex);
        replies.swap(posted);
      }
      for (const auto& [peer, json] : replies) ReplyControl(peer, json);
    }
    StartPending();
    if (negotiation) {
      Dispatch(negotiation->OnTick(clock.NowUnixNanos()));
      FinishIfCommitted();
    }
    if (!maintenance_relays.empty()) ExpireMaintenanceRelays(clock.NowUnixNanos());
    StartPendingTask();
    if (auction) {
      SendAll(auction->OnTick(clock.NowUnixNanos()));
      FinishTaskIfDone();
    }
    const int64_t now = clock.NowUnixNanos();
    if (now - last_sweep >= options.sweep_interval_ms * 1'000'000) {
      last_sweep = now;
      FlushAnchors();
      std::vector<std::string> lost;
      {
        std::lock_guard<std::mutex> lock(mutex);
        lost = membership.Sweep();
      }
      stats.lost += lost.size();
      for (const std::string& asset : lost) ReauctionTasksOf(asset, "lost (missed heartbeats)");
      // After a restart, a winner that never comes back is as lost as one that goes silent.
      if (!absent_winners_checked &&
          now - started_ns > options.membership.heartbeat_timeout_ms * 1'000'000) {
        absent_winners_checked = true;
        std::set<std::string> absent;
        {
          std::lock_guard<std::mutex> lock(mutex);
          for (const auto& [id, t] : tasks) {
            if (t.status == "assigned" && membership.Find(t.winner) == nullptr) {
              absent.insert(t.winner);
            }
          }
        }
        for (const std::string& asset : absent) {
          ReauctionTasksOf(asset, "not back after the coordinator restarted");
        }
      }
    }
  }
}

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Start(const CoordinatorOptions& options,
                                                                const Clock& clock) {
  auto impl = std::make_unique<Impl>(options, clock);
  impl->session = static_cast<uint64_t>(std::max<int64_t>(clock.NowUnixNanos(), 1));
  impl->next_maintenance_request = impl->session;
  std::vector<std::string> fl_rounds;  // Ledgered federated rounds, for the host.
  if (!options.data_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options.data_dir, ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("cannot create ", options.data_dir.string(), ": ", ec.message()));
    }
    absl::StatusOr<ledger::SignerKey> key =
        ledger::LoadOrCreateSignerKey(options.data_dir / "coordinator.key",
                                      options.data_dir / "coordinator.vkey", options.origin);
    if (!key.ok()) return key.status();
    ledger::LedgerOptions ledger_options;
    ledger_options.directory = options.data_dir / "ledger";
    ledger_options.origin = options.origin;
    absl::StatusOr<std::unique_ptr<ledger::Ledger>> opened =
        ledger::OpenLedger(ledger_options, clock, *key);
    if (!opened.ok()) return opened.status();
    impl->ledger = *std::move(opened);
    // The plans committed before a restart, negotiations started but not committed, tasks.
    absl::Status bad;
    std::vector<std::unique_ptr<Impl::Request>> started_requests;
    std::set<std::string> abandoned;
    absl::Status scanned = impl->ledger->Scan(
        0, impl->ledger->Size(), [&](const ledger::Entry& entry, const std::string&) {
          if (entry.kind == "plan.cancel") {
            const nlohmann::json c = nlohmann::json::parse(entry.payload, nullptr, false);
            for (PlanRecord& p : impl->plans) {
              if (c.is_object() && p.negotiation == c.value("negotiation", "")) {
                p.cancelled = true;
                p.cancel_reason = c.value("reason", "");
              }
            }
            return true;
          }
          if (entry.kind == "plan.abandon") {
            const nlohmann::json a = nlohmann::json::parse(entry.payload, nullptr, false);
            if (a.is_object()) abandoned.insert(a.value("negotiation", ""));
            return true;
          }
          if (entry.kind == "plan.request") {
            const nlohmann::json r = nlohmann::json::parse(entry.payload, nullptr, false);
            try {
              auto request = std::make_unique<Impl::Request>();
              request->id = r.at("negotiation").get<std::string>();
              request->call = CallFromJson(r.at("call"));
              request->options.bid_window_ms = r.at("bid_window_ms").get<int64_t>();
              request->options.reply_timeout_ms = r.at("reply_timeout_ms").get<int64_t>();
              request->replaces = r.value("replaces", "");
              started_requests.push_back(std::move(request));
            } catch (const nlohmann::json::exception& e) {
              bad = absl::DataLossError(
                  absl::StrCat("ledger entry ", entry.index, " (plan.request): ", e.what()));
              return false;
            }
            return true;
          }
          if (entry.kind.starts_with("task.")) {
            bad = impl->LoadTask(entry);
            return bad.ok();
          }
          if (entry.kind == "fl.round") {
            fl_rounds.push_back(entry.payload);
            return true;
          }
          if (entry.kind != "plan.commit") return true;
          absl::StatusOr<PlanRecord> record = PlanRecordFromJson(entry.payload);
          if (!record.ok()) {
            bad = absl::DataLossError(
                absl::StrCat("ledger entry ", entry.index, ": ", record.status().message()));
            return false;
          }
          impl->plans.push_back(*std::move(record));
          return true;
        });
    if (!scanned.ok()) return scanned;
    if (!bad.ok()) return bad;
    // Tasks whose auction had not ended go back to auction, in submission order.
    std::vector<std::pair<uint64_t, std::string>> queued;
    for (const auto& [id, t] : impl->tasks) {
      if (t.status == "queued") queued.emplace_back(t.order, id);
      if (t.status == "assigned") impl->assigned_to[t.winner].insert(id);
    }
    std::sort(queued.begin(), queued.end());
    for (const auto& [order, id] : queued) impl->task_queue.push_back(id);
    // A negotiation the coordinator stopped in (at most one runs at a time) starts again with
    // the same id and call; nobody waits for its answer now (fleetctl plan show finds it).
    std::unique_ptr<Impl::Request> resumed;
    for (auto& r : started_requests) {
      const bool committed =
          std::any_of(impl->plans.begin(), impl->plans.end(),
                      [&](const PlanRecord& p) { return p.negotiation == r->id; });
      if (!committed && !abandoned.contains(r->id)) resumed = std::move(r);
    }
    if (resumed) {
      const std::string id = resumed->id;
      resumed->done = [id](absl::StatusOr<PlanRecord> result) {
        std::fprintf(stderr, "fleet-coordinator: resumed negotiation %s: %s\n", id.c_str(),
                     result.ok() ? "committed" : std::string(result.status().message()).c_str());
      };
      if (absl::Status s = impl->Enqueue(std::move(resumed)); s.ok()) {
        ++impl->stats.resumed_negotiations;
      } else {  // E.g. an id an older version allowed: reported, not fatal.
        std::fprintf(stderr, "fleet-coordinator: negotiation %s not resumed: %s\n", id.c_str(),
                     std::string(s.message()).c_str());
      }
    }
    if (impl->stats.resumed_negotiations > 0 || !impl->task_queue.empty()) {
      impl->resume_not_before_ns =
          clock.NowUnixNanos() + options.membership.heartbeat_timeout_ms * 1'000'000;
    }
  }
  if (!options.fl_address.empty()) {
    FederatedHostOptions fl;
    fl.server.address = options.fl_address;
    fl.server.fab_file = options.fl_fab_file;
    fl.server.tls_cert_file = options.fl_tls_cert_file;
    fl.server.tls_key_file = options.fl_tls_key_file;
    fl.model_dir = options.fl_model_dir;
    fl.state_dir = options.data_dir;
    absl::StatusOr<std::unique_ptr<FederatedHost>> host =
        FederatedHost::Start(std::move(fl), impl->ledger.get());
    if (!host.ok()) return host.status();
    impl->fl = std::move(*host);
    for (const std::string& payload : fl_rounds) impl->fl->LoadRound(payload);
  }
  absl::StatusOr<std::unique_ptr<protocol::ZapAuthenticator>> zap =
      protocol::ZapAuthenticator::Start(impl->context, options.allowed_agents);
  if (!zap.ok()) return zap.status();
  impl->zap = *std::move(zap);
  std::string endpoint, control_endpoint;
  try {
    impl->router = std::make_unique<zmq::socket_t>(impl->context, zmq::socket_type::router);
    impl->router->set(zmq::sockopt::linger, 0);
    impl->router->set(zmq::sockopt::maxmsgsize, options.max_message_bytes);
    impl->router->set(zmq::sockopt::router_handover, true);  // A restarted agent takes over.
    if (absl::Status s = protocol::MakeCurveServer(*impl->router, options.keys); !s.ok()) return s;
    impl->router->bind(options.endpoint);
    endpoint = impl->router->get(zmq::sockopt::last_endpoint);
    if (!options.control_endpoint.empty()) {
      if (absl::Status s = impl->zap->SetAllowed(options.operators, protocol::kControlZapDomain);
          !s.ok()) {
        return s;
      }
      impl->control = std::make_unique<zmq::socket_t>(impl->context, zmq::socket_type::router);
      impl->control->set(zmq::sockopt::linger, 0);
      impl->control->set(zmq::sockopt::maxmsgsize, int64_t{1} << 20);
      if (absl::Status s =
              protocol::MakeCurveServer(*impl->control, options.keys, protocol::kControlZapDomain);
          !s.ok()) {
        return s;
      }
      impl->control->bind(options.control_endpoint);
      control_endpoint = impl->control->get(zmq::sockopt::last_endpoint);
    }
  } catch (const zmq::error_t& e) {
    const bool in_use = e.num() == EADDRINUSE;
    const std::string text = absl::StrCat("coordinator: bind ", options.endpoint, ": ", e.what());
    return in_use ? absl::UnavailableError(text) : absl::InvalidArgumentError(text);
  }
  Impl* raw = impl.get();
  raw->thread = std::thread([raw] { raw->Run(); });
  auto c = std::unique_ptr<Coordinator>(new Coordinator(std::move(impl)));
  c->endpoint_ = endpoint;
  c->control_endpoint_ = control_endpoint;
  c->session_ = raw->session;
  return c;
}

Coordinator::Coordinator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Coordinator::~Coordinator() { Stop(); }

void Coordinator::Impl::PostControlReply(const std::string& peer, std::string json) {
  std::lock_guard<std::mutex> lock(posted_mutex);
  posted.emplace_back(peer, std::move(json));
}

bool Coordinator::running() const { return impl_ && !impl_->stop.load(); }

int64_t Coordinator::loop_idle_ms() const {
  if (!impl_ || impl_->loop_turned_ns.load() == 0) return 0;
  return (std::chrono::steady_clock::now().time_since_epoch().count() -
          impl_->loop_turned_ns.load()) /
         1'000'000;
}

int Coordinator::fl_port() const { return impl_ && impl_->fl ? impl_->fl->port() : 0; }

void Coordinator::Stop() {
  if (!impl_ || impl_->stop.exchange(true)) return;
  if (impl_->fl) impl_->fl->Stop();  // Rounds end first: they append to the ledger.
  if (impl_->thread.joinable()) impl_->thread.join();
  const absl::Status cancelled = absl::CancelledError("the coordinator stopped");
  if (impl_->running_request) impl_->running_request->done(cancelled);
  std::vector<std::unique_ptr<Impl::Request>> waiting;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    waiting.swap(impl_->requests);
  }
  for (auto& r : waiting) r->done(cancelled);
  // Operators waiting for an agent's answer to a maintenance record.
  for (const auto& [request, relay] : impl_->maintenance_relays) {
    impl_->ReplyControl(relay.peer, Impl::ErrorJsonOf(absl::UnavailableError(absl::StrCat(
                                        "the coordinator stopped before agent ", relay.asset,
                                        " answered; the record may still land"))));
  }
  impl_->maintenance_relays.clear();
  impl_->control.reset();
  impl_->router.reset();
  impl_->refused_after_stop = impl_->zap->refused();
  impl_->FlushAnchors();
  impl_->zap.reset();
}

const CoordinatorStats& Coordinator::stats() const { return impl_->stats; }

uint64_t Coordinator::unauthenticated() const {
  return impl_->zap ? impl_->zap->refused() : impl_->refused_after_stop.load();
}

std::vector<Member> Coordinator::Members() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::vector<Member> out;
  for (const auto& [asset, m] : impl_->membership.members()) out.push_back(m);
  return out;
}

}  // namespace fleettwin::coordinator

namespace fleettwin::coordinator {

absl::Status Coordinator::Impl::Enqueue(std::unique_ptr<Request> request) {
  const protocol::MaintenanceCall& call = request->call;
  if (request->id.empty() || request->id.size() > 128 ||
      request->id.find('#') != std::string::npos || !protocol::IsUtf8(request->id)) {
    // '#' is kept for task auctions ("TASK#N"), so the two never share an id.
    return absl::InvalidArgumentError("negotiation id must be 1..128 bytes of UTF-8 without '#'");
  }
  if (call.duration < 1 || call.horizon < call.duration || call.horizon > 1'000'000 ||
      call.crews > 1'000'000) {
    return absl::InvalidArgumentError("maintenance call: horizon >= duration >= 1, crews <= 1e6");
  }
  for (double c : {call.failure_cost, call.preventive_cost, call.wasted_life_cost}) {
    if (!(c >= 0 && c <= 1e9)) return absl::InvalidArgumentError("costs must be in [0, 1e9]");
  }
  std::lock_guard<std::mutex> lock(mutex);
  if (stop) return absl::CancelledError("the coordinator stopped");
  for (const PlanRecord& p : plans) {
    if (p.negotiation == request->id) {
      return absl::InvalidArgumentError("negotiation id already used");
    }
  }
  if (!requests.empty() || negotiation_running) {
    return absl::FailedPreconditionError("another negotiation is running");
  }
  negotiation_running = true;
  auto done = std::move(request->done);
  request->done = [this, done = std::move(done)](absl::StatusOr<PlanRecord> result) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      negotiation_running = false;
    }
    done(std::move(result));
  };
  requests.push_back(std::move(request));
  return absl::OkStatus();
}

absl::StatusOr<PlanRecord> Coordinator::NegotiateMaintenance(const std::string& id,
                                                             const protocol::MaintenanceCall& call,
                                                             const NegotiationOptions& options) {
  auto promise = std::make_shared<std::promise<absl::StatusOr<PlanRecord>>>();
  std::future<absl::StatusOr<PlanRecord>> done = promise->get_future();
  auto request = std::make_unique<Impl::Request>();
  request->id = id;
  request->call = call;
  request->options = options;
  request->done = [promise](absl::StatusOr<PlanRecord> r) { promise->set_value(std::move(r)); };
  if (absl::Status s = impl_->Enqueue(std::move(request)); !s.ok()) return s;
  return done.get();
}

uint64_t Coordinator::LedgerSize() const { return impl_->ledger ? impl_->ledger->Size() : 0; }

std::vector<PlanRecord> Coordinator::Plans() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->plans;
}

}  // namespace fleettwin::coordinator
