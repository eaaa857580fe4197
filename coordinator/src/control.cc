// The operators' control socket: one JSON request per message, answered on the loop's
// thread (docs/protocols.md).
#include <algorithm>
#include <functional>
#include <set>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "coordinator_impl.h"
#include "fleettwin/common/encoding.h"
#include "fleettwin/ledger/note.h"

namespace fleettwin::coordinator {

void Coordinator::Impl::ReplyControl(const std::string& routing_id, const std::string& json) {
  try {
    control->send(zmq::buffer(routing_id), zmq::send_flags::sndmore);
    control->send(zmq::const_buffer(nullptr, 0), zmq::send_flags::sndmore);
    control->send(zmq::buffer(json), zmq::send_flags::dontwait);
  } catch (const zmq::error_t&) {
    // The operator went away.
  }
}

namespace {

std::string ErrorJson(const absl::Status& s) {
  return nlohmann::json{{"ok", false},
                        {"code", absl::StatusCodeToString(s.code())},
                        {"error", std::string(s.message())}}
      .dump();
}

std::string ResultJson(const std::string& result_json) {
  return absl::StrCat("{\"ok\":true,\"result\":", result_json, "}");
}

// An optional field: absent, or `is` holds for it; else InvalidArgument saying what it must be.
absl::Status CheckField(const nlohmann::json& request, const char* key,
                        const std::function<bool(const nlohmann::json&)>& is, const char* what) {
  if (!request.contains(key) || is(request[key])) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("\"", key, "\" must be ", what));
}

}  // namespace

std::string Coordinator::Impl::ErrorJsonOf(const absl::Status& s) { return ErrorJson(s); }

void Coordinator::Impl::OnMaintenanceDone(const std::string& asset,
                                          const protocol::MaintenanceDoneReply& reply) {
  auto it = maintenance_relays.find(reply.request);
  if (it == maintenance_relays.end() || it->second.asset != asset) {
    ++stats.unexpected;  // Too late (answered already) or not this agent's.
    return;
  }
  const std::string peer = it->second.peer;
  const std::string id = it->second.id;
  maintenance_relays.erase(it);
  if (reply.ok) {
    ++stats.maintenance_records;
    nlohmann::json result = {{"asset", asset}, {"revision", reply.revision}};
    if (!id.empty()) result["id"] = id;
    return ReplyControl(peer, ResultJson(result.dump()));
  }
  ++stats.control_errors;
  const auto code = reply.code >= 1 && reply.code <= 16 ? static_cast<absl::StatusCode>(reply.code)
                                                        : absl::StatusCode::kUnknown;
  ReplyControl(peer, ErrorJson(absl::Status(code, absl::StrCat(asset, ": ", reply.error))));
}

void Coordinator::Impl::ExpireMaintenanceRelays(int64_t now_ns) {
  for (auto it = maintenance_relays.begin(); it != maintenance_relays.end();) {
    if (now_ns < it->second.deadline_ns) {
      ++it;
      continue;
    }
    ++stats.control_errors;
    ReplyControl(it->second.peer,
                 ErrorJson(absl::DeadlineExceededError(absl::StrCat(
                     "agent ", it->second.asset, " did not answer within ", it->second.timeout_ms,
                     " ms; the record may still land: see "
                     "its twin's maintenance list"))));
    it = maintenance_relays.erase(it);
  }
}

absl::StatusOr<PlanRecord> Coordinator::Impl::CancelPlan(const std::string& id,
                                                         const std::string& reason,
                                                         const std::string& replaced_by,
                                                         const std::set<std::string>& keep) {
  PlanRecord* target = nullptr;  // plans only grows on this (the loop's) thread.
  {
    std::lock_guard<std::mutex> lock(mutex);
    for (PlanRecord& p : plans) {
      if (p.negotiation == id) target = &p;
    }
  }
  if (target == nullptr) return absl::NotFoundError(absl::StrCat("no plan ", id));
  if (target->cancelled) {
    return absl::FailedPreconditionError(absl::StrCat("plan ", id, " is cancelled"));
  }
  uint64_t index = 0;
  if (ledger) {
    nlohmann::json entry{{"negotiation", id}, {"reason", reason}};
    if (!replaced_by.empty()) entry["replaced_by"] = replaced_by;
    absl::StatusOr<uint64_t> appended =
        ledger->Append({"plan.cancel", protocol::kCoordinatorName, 0, 0, entry.dump()});
    if (!appended.ok()) {
      ++stats.ledger_errors;
      return appended.status();
    }
    index = *appended;
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    target->cancelled = true;
    target->cancel_reason = reason;
  }
  // Every agent of the plan is told: no maintenance under this plan.
  std::string raw_hash;
  absl::StatusOr<std::vector<uint8_t>> hash_bytes = HexDecode(target->plan_hash);
  if (hash_bytes.ok()) raw_hash.assign(hash_bytes->begin(), hash_bytes->end());
  for (const plan::MaintenanceAssignment& a : target->plan.assignments) {
    if (keep.contains(a.asset)) continue;
    SendTo(a.asset, protocol::Commit{id, raw_hash, -1, -1, -1, index});
  }
  return *target;
}

void Coordinator::Impl::HandleControl(const zmq::message_t& routing_id,
                                      const zmq::message_t& payload) {
  ++stats.control_requests;
  const std::string peer = routing_id.to_string();
  nlohmann::json request = nlohmann::json::parse(payload.to_string_view(), nullptr, false);
  auto fail = [&](const absl::Status& s) {
    ++stats.control_errors;
    ReplyControl(peer, ErrorJson(s));
  };
  if (request.is_discarded() || !request.is_object() || !request.contains("command") ||
      !request["command"].is_string()) {
    return fail(absl::InvalidArgumentError("a request is a JSON object with a \"command\""));
  }
  const std::string command = request["command"];
  try {
    if (command == "agents") {
      std::vector<Member> members;
      {
        std::lock_guard<std::mutex> lock(mutex);
        for (const auto& [asset, m] : membership.members()) members.push_back(m);
      }
      return ReplyControl(peer, ResultJson(MembersJson(members, clock.NowUnixNanos())));
    }
    if (command == "plans") {
      nlohmann::json list = nlohmann::json::array();
      std::lock_guard<std::mutex> lock(mutex);
      for (const PlanRecord& p : plans) list.push_back(nlohmann::json::parse(PlanRecordJson(p)));
      return ReplyControl(peer, ResultJson(list.dump()));
    }
    if (command == "plan") {
      const std::string id = request.at("id").get<std::string>();
      std::lock_guard<std::mutex> lock(mutex);
      for (const PlanRecord& p : plans) {
        if (p.negotiation == id) return ReplyControl(peer, ResultJson(PlanRecordJson(p)));
      }
      return fail(absl::NotFoundError(absl::StrCat("no plan ", id)));
    }
    if (command == "plan.maintenance") {
      auto r = std::make_unique<Request>();
      r->id = request.at("id").get<std::string>();
      r->call.horizon = request.value("horizon", 150u);
      r->call.duration = request.value("duration", 5u);
      r->call.crews = request.value("crews", 2u);
      r->call.failure_cost = request.value("failure_cost", 100.0);
      r->call.preventive_cost = request.value("preventive_cost", 20.0);
      r->call.wasted_life_cost = request.value("wasted_life_cost", 0.5);
      r->options.bid_window_ms = request.value("bid_window_ms", int64_t{5000});
      r->options.reply_timeout_ms = request.value("reply_timeout_ms", int64_t{5000});
      if (r->options.bid_window_ms < 1 || r->options.bid_window_ms > 3'600'000 ||
          r->options.reply_timeout_ms < 1 || r->options.reply_timeout_ms > 3'600'000) {
        return fail(absl::InvalidArgumentError("windows must be 1 ms .. 1 h"));
      }
      // Re-planning: the new plan replaces a committed one once it commits itself (a failed
      // negotiation leaves the old plan standing).
      const std::string replaces = request.value("replaces", "");
      if (!replaces.empty()) {
        std::lock_guard<std::mutex> lock(mutex);
        auto old = std::find_if(plans.begin(), plans.end(),
                                [&](const PlanRecord& p) { return p.negotiation == replaces; });
        if (old == plans.end())
          return fail(absl::NotFoundError(absl::StrCat("no plan ", replaces)));
        if (old->cancelled) {
          return fail(absl::FailedPreconditionError(
              absl::StrCat("plan ", replaces, " is cancelled; nothing to replace")));
        }
      }
      r->replaces = replaces;
      r->done = [this, peer, replaces, replaced = r->replaced](absl::StatusOr<PlanRecord> result) {
        if (!result.ok()) {
          ++stats.control_errors;
          return ReplyControl(peer, ErrorJson(result.status()));
        }
        nlohmann::json reply = nlohmann::json::parse(PlanRecordJson(*result));
        if (!replaces.empty()) {
          // The new plan stands either way; the operator learns whether the old one fell.
          reply["replaces"] = replaces;
          reply["replaced"] = replaced->ok();
          if (!replaced->ok()) reply["replace_error"] = std::string(replaced->message());
        }
        ReplyControl(peer, ResultJson(reply.dump()));
      };
      if (absl::Status s = Enqueue(std::move(r)); !s.ok()) return fail(s);
      return;  // Answered when the plan commits.
    }
    if (command == "maintenance.record") {
      // An operator's record of maintenance done, for the agent to ledger in its twin; answered
      // when the agent has (or says why not), or after timeout_ms. Checked here as the agent's
      // POST /maintenance checks it, so a bad record is refused at once rather than dropped.
      for (const auto& [key, value] : request.items()) {
        static const std::set<std::string> kKeys = {"command", "asset",  "time",       "note",
                                                    "author",  "renews", "timeout_ms", "id"};
        if (!kKeys.contains(key)) {
          return fail(absl::InvalidArgumentError(absl::StrCat("unknown key \"", key, "\"")));
        }
      }
      const auto is_string = [](const nlohmann::json& j) { return j.is_string(); };
      const auto is_number = [](const nlohmann::json& j) { return j.is_number(); };
      const auto is_integer = [](const nlohmann::json& j) { return j.is_number_integer(); };
      const auto is_boolean = [](const nlohmann::json& j) { return j.is_boolean(); };
      for (const absl::Status& s : {CheckField(request, "asset", is_string, "a string"),
                                    CheckField(request, "note", is_string, "a string"),
                                    CheckField(request, "author", is_string, "a string"),
                                    CheckField(request, "id", is_string, "a string"),
                                    CheckField(request, "time", is_number, "a number"),
                                    CheckField(request, "renews", is_boolean, "true or false"),
                                    CheckField(request, "timeout_ms", is_integer, "an integer")}) {
        if (!s.ok()) return fail(s);
      }
      if (!request.contains("asset"))
        return fail(absl::InvalidArgumentError("\"asset\" is required"));
      const std::string asset = request["asset"].get<std::string>();
      protocol::MaintenanceDone m;
      m.note = request.value("note", std::string("maintenance"));
      m.renews = request.value("renews", true);
      if (request.contains("time")) {
        m.has_time = true;
        m.time = request["time"].get<double>();
      }
      // Who asked is the operator key's name (ZAP); an author given names who did the work.
      const std::string who = protocol::PeerName(payload);
      const std::string op = who.empty() ? std::string("operator") : absl::StrCat("operator:", who);
      m.author = request.contains("author")
                     ? absl::StrCat(request["author"].get<std::string>(), " (via ", op, ")")
                     : op;
      if (m.note.size() > protocol::kMaxMaintenanceNote ||
          m.author.size() > protocol::kMaxMaintenanceAuthor) {
        return fail(absl::InvalidArgumentError(
            absl::StrCat("a maintenance note is at most ", protocol::kMaxMaintenanceNote,
                         " bytes, its author (with \" (via operator:NAME)\") ",
                         protocol::kMaxMaintenanceAuthor)));
      }
      if (m.note.find('\0') != std::string::npos || m.author.find('\0') != std::string::npos ||
          !protocol::IsUtf8(m.note) || !protocol::IsUtf8(m.author)) {
        return fail(absl::InvalidArgumentError("a note or author must be UTF-8 without NUL"));
      }
      m.id = request.value("id", std::string());
      if (!m.id.empty() && !protocol::IsMaintenanceRecordId(m.id)) {
        return fail(absl::InvalidArgumentError("an id is 1..64 letters, digits and - _ . :"));
      }
      const int64_t timeout_ms = request.value("timeout_ms", int64_t{10000});
      if (timeout_ms < 1 || timeout_ms > 600'000) {
        return fail(absl::InvalidArgumentError("timeout_ms must be 1 ms .. 10 min"));
      }
      {
        std::lock_guard<std::mutex> lock(mutex);
        const Member* member = membership.Find(asset);
        if (member == nullptr) return fail(absl::NotFoundError(absl::StrCat("no agent ", asset)));
        if (member->state != MemberState::kActive) {
          return fail(absl::UnavailableError(absl::StrCat("agent ", asset, " is lost")));
        }
      }
      m.request = next_maintenance_request++;
      maintenance_relays[m.request] = {peer, asset, clock.NowUnixNanos() + timeout_ms * 1'000'000,
                                       timeout_ms, m.id};
      SendTo(asset, std::move(m));
      return;  // Answered when the agent does.
    }
    if (command == "task.submit") {
      protocol::TaskCall call;
      call.task_id = request.at("id").get<std::string>();
      call.duration = request.at("duration").get<double>();
      call.deadline = request.at("deadline").get<double>();
      call.capability = request.value("capability", "");
      call.late_cost = request.value("late_cost", 100.0);
      if (request.contains("location")) {
        call.has_location = true;
        call.x = request.at("location").at(0).get<double>();
        call.y = request.at("location").at(1).get<double>();
      }
      NegotiationOptions options;
      options.bid_window_ms = request.value("bid_window_ms", int64_t{2000});
      options.reply_timeout_ms = request.value("reply_timeout_ms", int64_t{2000});
      if (options.bid_window_ms < 1 || options.bid_window_ms > 3'600'000 ||
          options.reply_timeout_ms < 1 || options.reply_timeout_ms > 3'600'000) {
        return fail(absl::InvalidArgumentError("windows must be 1 ms .. 1 h"));
      }
      absl::Status submitted = SubmitTask(call, options, [this, peer](const std::string& task) {
        ReplyControl(peer, ResultJson(task));
      });
      if (!submitted.ok()) return fail(submitted);
      return;  // Answered when its first auction ends.
    }
    if (command == "rounds.start" || command == "rounds") {
      if (!fl) {
        return fail(absl::FailedPreconditionError(
            "this coordinator serves no federated rounds (start it with --fl-listen)"));
      }
      if (command == "rounds") return ReplyControl(peer, ResultJson(fl->StatusJson()));
      absl::Status begun = fl->Begin(request, [this, peer](absl::StatusOr<std::string> result) {
        if (!result.ok()) ++stats.control_errors;
        PostControlReply(peer, result.ok() ? ResultJson(*result) : ErrorJson(result.status()));
      });
      if (!begun.ok()) return fail(begun);
      return;  // Answered when the rounds end.
    }
    if (command == "tasks") {
      nlohmann::json list = nlohmann::json::array();
      std::lock_guard<std::mutex> lock(mutex);
      std::vector<std::pair<uint64_t, const std::string*>> order;
      for (const auto& [id, t] : tasks) order.emplace_back(t.order, &id);
      std::sort(order.begin(), order.end());
      for (const auto& [n, id] : order) list.push_back(TaskStateJson(*id, tasks.at(*id)));
      return ReplyControl(peer, ResultJson(list.dump()));
    }
    if (command == "task") {
      const std::string id = request.at("id").get<std::string>();
      std::lock_guard<std::mutex> lock(mutex);
      auto it = tasks.find(id);
      if (it == tasks.end()) return fail(absl::NotFoundError(absl::StrCat("no task ", id)));
      return ReplyControl(peer, ResultJson(TaskStateJson(id, it->second).dump()));
    }
    if (command == "twin") {
      const std::string asset = request.at("asset").get<std::string>();
      std::vector<Member> one;
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (const Member* m = membership.Find(asset)) one.push_back(*m);
      }
      if (one.empty()) return fail(absl::NotFoundError(absl::StrCat("no agent ", asset)));
      const nlohmann::json list = nlohmann::json::parse(MembersJson(one, clock.NowUnixNanos()));
      return ReplyControl(peer, ResultJson(list[0].dump()));
    }
    if (command == "ledger.heads") {
      nlohmann::json heads = {{"coordinator", nullptr}, {"agents", nlohmann::json::array()}};
      if (ledger) {
        absl::StatusOr<ledger::SignedCheckpoint> cp = ledger->LatestCheckpoint();
        if (cp.ok()) {
          heads["coordinator"] = {{"origin", cp->checkpoint.origin},
                                  {"size", cp->checkpoint.size},
                                  {"root", HexEncode(cp->checkpoint.root)},
                                  {"note", cp->note}};
        }
      }
      std::lock_guard<std::mutex> lock(mutex);
      for (const auto& [asset, m] : membership.members()) {
        nlohmann::json h = {{"asset", asset}, {"anchored", anchored.contains(asset)}};
        const size_t split = m.last.checkpoint.find("\n\n");
        if (split != std::string::npos) {
          absl::StatusOr<ledger::Checkpoint> cp =
              ledger::ParseCheckpointBody(std::string_view(m.last.checkpoint).substr(0, split + 1));
          if (cp.ok()) {
            h["origin"] = cp->origin;
            h["size"] = cp->size;
            h["root"] = HexEncode(cp->root);
          }
        }
        heads["agents"].push_back(h);
      }
      return ReplyControl(peer, ResultJson(heads.dump()));
    }
    if (command == "plan.cancel") {
      const std::string id = request.at("id").get<std::string>();
      const std::string reason = request.value("reason", "cancelled by an operator");
      absl::StatusOr<PlanRecord> cancelled = CancelPlan(id, reason, "", {});
      if (!cancelled.ok()) return fail(cancelled.status());
      return ReplyControl(peer, ResultJson(PlanRecordJson(*cancelled)));
    }
    if (command == "status") {
      const nlohmann::json status = {{"session", session},
                                     {"received", stats.received.load()},
                                     {"malformed", stats.malformed.load()},
                                     {"impersonated", stats.impersonated.load()},
                                     {"replayed", stats.replayed.load()},
                                     {"unauthenticated", zap ? zap->refused() : 0},
                                     {"registrations", stats.registrations.load()},
                                     {"heartbeats", stats.heartbeats.load()},
                                     {"lost", stats.lost.load()},
                                     {"plans", stats.plans.load()},
                                     {"task_auctions", stats.task_auctions.load()},
                                     {"task_reauctions", stats.task_reauctions.load()},
                                     {"task_reports", stats.task_reports.load()},
                                     {"task_revokes", stats.task_revokes.load()},
                                     {"resumed_negotiations", stats.resumed_negotiations.load()},
                                     {"abandoned_plans", stats.abandoned_plans.load()},
                                     {"maintenance_records", stats.maintenance_records.load()},
                                     {"handler_errors", stats.handler_errors.load()},
                                     {"anchors", stats.anchors.load()},
                                     {"ledger_errors", stats.ledger_errors.load()},
                                     {"ledger_size", ledger ? ledger->Size() : 0}};
      return ReplyControl(peer, ResultJson(status.dump()));
    }
  } catch (const nlohmann::json::exception& e) {
    return fail(absl::InvalidArgumentError(absl::StrCat("bad request: ", e.what())));
  } catch (const std::exception& e) {
    return fail(absl::InternalError(absl::StrCat("request failed: ", e.what())));
  }
  fail(absl::InvalidArgumentError(
      absl::StrCat("unknown command '", protocol::Utf8Prefix(command, 64), "'")));
}

}  // namespace fleettwin::coordinator
