#include "fleettwin/protocol/messages.h"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "proto/fleet.capnp.h"

namespace fleettwin::protocol {
namespace {

constexpr size_t kMaxText = 64 << 10;
constexpr size_t kMaxSender = 128;
constexpr size_t kMaxSlots = 100'000;
constexpr size_t kMaxTasks = 4096;

capnp::Text::Reader TextOf(const std::string& s) { return {s.data(), s.size()}; }
capnp::Data::Reader DataOf(const std::string& s) {
  return {reinterpret_cast<const kj::byte*>(s.data()), s.size()};
}

// Decoding errors are collected here instead of thrown, so one message's problem is one status.
struct Checker {
  absl::Status status;
  std::string Text(capnp::Text::Reader t, const char* field, size_t limit = kMaxText) {
    if (t.size() > limit && status.ok()) {
      status = absl::InvalidArgumentError(absl::StrCat(field, " is longer than ", limit));
    }
    std::string out(t.begin(), std::min(t.size(), limit));
    if (status.ok() && !IsUtf8(out)) {
      status = absl::InvalidArgumentError(absl::StrCat(field, " is not UTF-8"));
    }
    return out;
  }
  std::string Data(capnp::Data::Reader d, const char* field) {
    if (d.size() > kMaxText && status.ok()) {
      status = absl::InvalidArgumentError(absl::StrCat(field, " is too long"));
    }
    return std::string(reinterpret_cast<const char*>(d.begin()), std::min(d.size(), kMaxText));
  }
  double Number(double v, const char* field) {
    if (!std::isfinite(v) && status.ok()) {
      status = absl::InvalidArgumentError(absl::StrCat(field, " is not finite"));
    }
    return v;
  }
};

void EncodeBody(const Body& body, proto::Envelope::Body::Builder b) {
  std::visit(
      [&b](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Register>) {
          auto r = b.initRegister();
          r.setKind(TextOf(m.kind));
          r.setAgentVersion(TextOf(m.agent_version));
          r.setHeartbeatMs(m.heartbeat_ms);
        } else if constexpr (std::is_same_v<T, Welcome>) {
          auto w = b.initWelcome();
          w.setCoordinatorSession(m.coordinator_session);
          w.setHeartbeatTimeoutMs(m.heartbeat_timeout_ms);
        } else if constexpr (std::is_same_v<T, Heartbeat>) {
          auto h = b.initHeartbeat();
          h.setRevision(m.revision);
          h.setHealth(TextOf(m.health));
          h.setHasRul(m.has_rul);
          h.setRul(m.rul);
          h.setRulStd(m.rul_std);
          h.setPFail(m.p_fail);
          h.setAnomaly(m.anomaly);
          h.setDrift(m.drift);
          h.setModelVersion(TextOf(m.model_version));
          h.setCheckpoint(TextOf(m.checkpoint));
          auto tasks = h.initTasks(static_cast<unsigned>(m.tasks.size()));
          for (size_t i = 0; i < m.tasks.size(); ++i) {
            tasks.set(static_cast<unsigned>(i), TextOf(m.tasks[i]));
          }
        } else if constexpr (std::is_same_v<T, Refused>) {
          auto r = b.initRefused();
          r.setMessageId(m.message_id);
          r.setReason(TextOf(m.reason));
        } else if constexpr (std::is_same_v<T, CallForProposals>) {
          auto c = b.initCallForProposals();
          c.setNegotiation(TextOf(m.negotiation));
          c.setDeadlineUnixMs(m.deadline_unix_ms);
          auto mc = c.initMaintenance();
          mc.setHorizon(m.maintenance.horizon);
          mc.setDuration(m.maintenance.duration);
          mc.setCrews(m.maintenance.crews);
          mc.setFailureCost(m.maintenance.failure_cost);
          mc.setPreventiveCost(m.maintenance.preventive_cost);
          mc.setWastedLifeCost(m.maintenance.wasted_life_cost);
          if (m.is_task) {
            auto t = c.initTask();
            t.setTaskId(TextOf(m.task.task_id));
            t.setDuration(m.task.duration);
            t.setCapability(TextOf(m.task.capability));
            t.setHasLocation(m.task.has_location);
            t.setX(m.task.x);
            t.setY(m.task.y);
            t.setDeadline(m.task.deadline);
            t.setLateCost(m.task.late_cost);
          }
        } else if constexpr (std::is_same_v<T, Bid>) {
          auto bid = b.initBid();
          bid.setNegotiation(TextOf(m.negotiation));
          if (m.declined) {
            bid.setDecline(TextOf(m.decline_reason));
          } else if (m.is_task) {
            auto t = bid.initTask();
            t.setCost(m.task.cost);
            t.setCompletion(m.task.completion);
            t.setPLate(m.task.p_late);
            t.setReplications(m.task.replications);
          } else {
            auto mb = bid.initMaintenance();
            auto costs = mb.initSlotCost(static_cast<unsigned>(m.maintenance.slot_cost.size()));
            for (size_t i = 0; i < m.maintenance.slot_cost.size(); ++i) {
              costs.set(static_cast<unsigned>(i), m.maintenance.slot_cost[i]);
            }
            mb.setNoneCost(m.maintenance.none_cost);
            mb.setRul(m.maintenance.rul);
            mb.setRulStd(m.maintenance.rul_std);
            mb.setReplications(m.maintenance.replications);
            mb.setModelVersion(TextOf(m.maintenance.model_version));
          }
        } else if constexpr (std::is_same_v<T, Award>) {
          auto a = b.initAward();
          a.setNegotiation(TextOf(m.negotiation));
          a.setPlanHash(DataOf(m.plan_hash));
          a.setSlot(m.slot);
          a.setStart(m.start);
          a.setCrew(m.crew);
          a.setTaskId(TextOf(m.task_id));
        } else if constexpr (std::is_same_v<T, AwardReply>) {
          auto a = b.initAwardReply();
          a.setNegotiation(TextOf(m.negotiation));
          a.setPlanHash(DataOf(m.plan_hash));
          a.setAccept(m.accept);
          a.setReason(TextOf(m.reason));
        } else if constexpr (std::is_same_v<T, TaskRevoke>) {
          auto r = b.initTaskRevoke();
          r.setTaskId(TextOf(m.task_id));
          r.setAuction(TextOf(m.auction));
          r.setReason(TextOf(m.reason));
        } else if constexpr (std::is_same_v<T, MaintenanceDone>) {
          auto d = b.initMaintenanceDone();
          d.setRequest(m.request);
          d.setHasTime(m.has_time);
          d.setTime(m.time);
          d.setNote(TextOf(m.note));
          d.setAuthor(TextOf(m.author));
          d.setRenews(m.renews);
          if (!m.id.empty()) d.setId(TextOf(m.id));
        } else if constexpr (std::is_same_v<T, MaintenanceDoneReply>) {
          auto r = b.initMaintenanceDoneReply();
          r.setRequest(m.request);
          r.setOk(m.ok);
          r.setRevision(m.revision);
          r.setCode(m.code);
          r.setError(TextOf(m.error));
        } else if constexpr (std::is_same_v<T, TaskReport>) {
          auto r = b.initTaskReport();
          r.setTaskId(TextOf(m.task_id));
          r.setAuction(TextOf(m.auction));
          r.setDone(m.done);
          r.setReason(TextOf(m.reason));
        } else {
          static_assert(std::is_same_v<T, Commit>);
          auto c = b.initCommit();
          c.setNegotiation(TextOf(m.negotiation));
          c.setPlanHash(DataOf(m.plan_hash));
          c.setSlot(m.slot);
          c.setStart(m.start);
          c.setCrew(m.crew);
          c.setFleetLedgerIndex(m.fleet_ledger_index);
        }
      },
      body);
}

absl::StatusOr<Body> DecodeBody(proto::Envelope::Body::Reader b, Checker& c) {
  switch (b.which()) {
    case proto::Envelope::Body::REGISTER: {
      auto r = b.getRegister();
      return Register{c.Text(r.getKind(), "kind"), c.Text(r.getAgentVersion(), "agentVersion"),
                      r.getHeartbeatMs()};
    }
    case proto::Envelope::Body::WELCOME: {
      auto w = b.getWelcome();
      return Welcome{w.getCoordinatorSession(), w.getHeartbeatTimeoutMs()};
    }
    case proto::Envelope::Body::HEARTBEAT: {
      auto h = b.getHeartbeat();
      Heartbeat m;
      m.revision = h.getRevision();
      m.health = c.Text(h.getHealth(), "health");
      m.has_rul = h.getHasRul();
      m.rul = c.Number(h.getRul(), "rul");
      m.rul_std = c.Number(h.getRulStd(), "rulStd");
      m.p_fail = c.Number(h.getPFail(), "pFail");
      m.anomaly = h.getAnomaly();
      m.drift = h.getDrift();
      m.model_version = c.Text(h.getModelVersion(), "modelVersion");
      m.checkpoint = c.Text(h.getCheckpoint(), "checkpoint");
      if (h.getTasks().size() > kMaxTasks) return absl::InvalidArgumentError("too many tasks");
      for (capnp::Text::Reader t : h.getTasks()) m.tasks.push_back(c.Text(t, "tasks", kMaxSender));
      return m;
    }
    case proto::Envelope::Body::REFUSED: {
      auto r = b.getRefused();
      return Refused{r.getMessageId(), c.Text(r.getReason(), "reason")};
    }
    case proto::Envelope::Body::CALL_FOR_PROPOSALS: {
      auto p = b.getCallForProposals();
      auto mc = p.getMaintenance();
      CallForProposals m;
      m.negotiation = c.Text(p.getNegotiation(), "negotiation");
      m.deadline_unix_ms = p.getDeadlineUnixMs();
      m.maintenance = {mc.getHorizon(),
                       mc.getDuration(),
                       mc.getCrews(),
                       c.Number(mc.getFailureCost(), "failureCost"),
                       c.Number(mc.getPreventiveCost(), "preventiveCost"),
                       c.Number(mc.getWastedLifeCost(), "wastedLifeCost")};
      if (p.hasTask()) {
        auto t = p.getTask();
        m.is_task = true;
        m.task.task_id = c.Text(t.getTaskId(), "taskId", kMaxSender);
        m.task.duration = c.Number(t.getDuration(), "duration");
        m.task.capability = c.Text(t.getCapability(), "capability", kMaxSender);
        m.task.has_location = t.getHasLocation();
        m.task.x = c.Number(t.getX(), "x");
        m.task.y = c.Number(t.getY(), "y");
        m.task.deadline = c.Number(t.getDeadline(), "deadline");
        m.task.late_cost = c.Number(t.getLateCost(), "lateCost");
      }
      return m;
    }
    case proto::Envelope::Body::BID: {
      auto bid = b.getBid();
      Bid m;
      m.negotiation = c.Text(bid.getNegotiation(), "negotiation");
      switch (bid.which()) {
        case proto::Bid::MAINTENANCE: {
          auto mb = bid.getMaintenance();
          if (mb.getSlotCost().size() > kMaxSlots) {
            return absl::InvalidArgumentError("bid has too many slot costs");
          }
          for (double v : mb.getSlotCost())
            m.maintenance.slot_cost.push_back(c.Number(v, "slotCost"));
          m.maintenance.none_cost = c.Number(mb.getNoneCost(), "noneCost");
          m.maintenance.rul = c.Number(mb.getRul(), "rul");
          m.maintenance.rul_std = c.Number(mb.getRulStd(), "rulStd");
          m.maintenance.replications = mb.getReplications();
          m.maintenance.model_version = c.Text(mb.getModelVersion(), "modelVersion");
          break;
        }
        case proto::Bid::TASK: {
          auto t = bid.getTask();
          m.is_task = true;
          m.task.cost = c.Number(t.getCost(), "cost");
          m.task.completion = c.Number(t.getCompletion(), "completion");
          m.task.p_late = c.Number(t.getPLate(), "pLate");
          m.task.replications = t.getReplications();
          break;
        }
        case proto::Bid::DECLINE:
          m.declined = true;
          m.decline_reason = c.Text(bid.getDecline(), "decline");
          break;
        default:
          return absl::InvalidArgumentError("bid of an unknown kind");
      }
      return m;
    }
    case proto::Envelope::Body::AWARD: {
      auto a = b.getAward();
      return Award{c.Text(a.getNegotiation(), "negotiation"),
                   c.Data(a.getPlanHash(), "planHash"),
                   a.getSlot(),
                   a.getStart(),
                   a.getCrew(),
                   c.Text(a.getTaskId(), "taskId", kMaxSender)};
    }
    case proto::Envelope::Body::AWARD_REPLY: {
      auto a = b.getAwardReply();
      return AwardReply{c.Text(a.getNegotiation(), "negotiation"),
                        c.Data(a.getPlanHash(), "planHash"), a.getAccept(),
                        c.Text(a.getReason(), "reason")};
    }
    case proto::Envelope::Body::COMMIT: {
      auto m = b.getCommit();
      return Commit{c.Text(m.getNegotiation(), "negotiation"),
                    c.Data(m.getPlanHash(), "planHash"),
                    m.getSlot(),
                    m.getStart(),
                    m.getCrew(),
                    m.getFleetLedgerIndex()};
    }
    case proto::Envelope::Body::TASK_REVOKE: {
      auto r = b.getTaskRevoke();
      return TaskRevoke{c.Text(r.getTaskId(), "taskId", kMaxSender),
                        c.Text(r.getAuction(), "auction", kMaxSender),
                        c.Text(r.getReason(), "reason")};
    }
    case proto::Envelope::Body::MAINTENANCE_DONE: {
      auto d = b.getMaintenanceDone();
      MaintenanceDone m;
      m.request = d.getRequest();
      m.has_time = d.getHasTime();
      m.time = c.Number(d.getTime(), "time");
      m.note = c.Text(d.getNote(), "note");
      m.author = c.Text(d.getAuthor(), "author");
      m.renews = d.getRenews();
      m.id = c.Text(d.getId(), "id", kMaxSender);
      return m;
    }
    case proto::Envelope::Body::MAINTENANCE_DONE_REPLY: {
      auto r = b.getMaintenanceDoneReply();
      return MaintenanceDoneReply{r.getRequest(), r.getOk(), r.getRevision(), r.getCode(),
                                  c.Text(r.getError(), "error")};
    }
    case proto::Envelope::Body::TASK_REPORT: {
      auto r = b.getTaskReport();
      return TaskReport{c.Text(r.getTaskId(), "taskId", kMaxSender),
                        c.Text(r.getAuction(), "auction", kMaxSender), r.getDone(),
                        c.Text(r.getReason(), "reason")};
    }
  }
  return absl::InvalidArgumentError("message body of an unknown type");
}

// The length of the well-formed UTF-8 character at the start of `s`, 0 if there is none.
size_t Utf8CharLength(std::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto cont = [&](size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
  if (s.empty()) return 0;
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;  // Overlong.
    if (c == 0xED && b(1) > 0x9F) return 0;  // Surrogates.
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;  // Overlong.
    if (c == 0xF4 && b(1) > 0x8F) return 0;  // Above U+10FFFF.
    return 4;
  }
  return 0;
}

}  // namespace

bool IsUtf8(std::string_view text) {
  while (!text.empty()) {
    const size_t n = Utf8CharLength(text);
    if (n == 0) return false;
    text.remove_prefix(n);
  }
  return true;
}

std::string Utf8Prefix(std::string_view text, size_t max_bytes) {
  size_t end = 0;
  while (end < text.size()) {
    const size_t n = Utf8CharLength(text.substr(end));
    if (n == 0 || end + n > max_bytes) break;
    end += n;
  }
  return std::string(text.substr(0, end));
}

bool IsMaintenanceRecordId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

std::string_view BodyName(const Body& body) {
  static constexpr std::string_view kNames[] = {"register",
                                                "welcome",
                                                "heartbeat",
                                                "refused",
                                                "cfp",
                                                "bid",
                                                "award",
                                                "award_reply",
                                                "commit",
                                                "task_report",
                                                "task_revoke",
                                                "maintenance_done",
                                                "maintenance_done_reply"};
  static_assert(std::size(kNames) == std::variant_size_v<Body>);
  return kNames[body.index()];
}

std::string Encode(const Envelope& envelope) {
  capnp::MallocMessageBuilder message;
  auto e = message.initRoot<proto::Envelope>();
  e.setVersion(kVersion);
  e.setSession(envelope.session);
  e.setMessageId(envelope.message_id);
  e.setSender(TextOf(envelope.sender));
  e.setSentUnixMs(envelope.sent_unix_ms);
  EncodeBody(envelope.body, e.initBody());
  kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  return std::string(reinterpret_cast<const char*>(words.begin()),
                     words.size() * sizeof(capnp::word));
}

absl::StatusOr<Envelope> Decode(std::string_view bytes) {
  if (bytes.empty() || bytes.size() % sizeof(capnp::word) != 0) {
    return absl::InvalidArgumentError("message is not a whole number of 8-byte words");
  }
  std::vector<capnp::word> words(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.data(), bytes.data(), bytes.size());
  capnp::ReaderOptions options;
  options.traversalLimitInWords = words.size() * 4 + 64;
  options.nestingLimit = 8;
  Envelope out;
  absl::Status status;
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&] {
                 capnp::FlatArrayMessageReader reader(kj::arrayPtr(words.data(), words.size()),
                                                      options);
                 auto env = reader.getRoot<proto::Envelope>();
                 if (env.getVersion() != kVersion) {
                   status = absl::InvalidArgumentError(
                       absl::StrCat("protocol version ", env.getVersion(), " is not ", kVersion));
                   return;
                 }
                 Checker c;
                 out.session = env.getSession();
                 out.message_id = env.getMessageId();
                 out.sender = c.Text(env.getSender(), "sender", kMaxSender);
                 out.sent_unix_ms = env.getSentUnixMs();
                 absl::StatusOr<Body> body = DecodeBody(env.getBody(), c);
                 if (!body.ok()) {
                   status = body.status();
                 } else if (!c.status.ok()) {
                   status = c.status;
                 } else if (out.sender.empty()) {
                   status = absl::InvalidArgumentError("message has no sender");
                 } else if (out.session == 0 || out.message_id == 0) {
                   status = absl::InvalidArgumentError("session and message id start at 1");
                 } else {
                   out.body = *std::move(body);
                 }
               })) {
    return absl::InvalidArgumentError(
        absl::StrCat("message does not decode: ", e->getDescription().cStr()));
  }
  if (!status.ok()) return status;
  return out;
}

bool ReplayGuard::Accept(const Envelope& envelope) {
  auto it = seen_.find(envelope.sender);
  const bool opens = std::holds_alternative<Register>(envelope.body);
  if (it == seen_.end()) {
    seen_.emplace(envelope.sender, Seen{envelope.session, envelope.message_id});
    return true;
  }
  Seen& seen = it->second;
  if (envelope.session > seen.session) {
    if (!opens) return false;  // A new session starts with a Register.
    seen = {envelope.session, envelope.message_id};
    return true;
  }
  if (envelope.session == seen.session && envelope.message_id > seen.message_id) {
    seen.message_id = envelope.message_id;
    return true;
  }
  return false;
}

void ReplayGuard::Forget(const std::string& sender) { seen_.erase(sender); }

}  // namespace fleettwin::protocol
