// JSON views of the membership and of plans, as the control socket answers them.
#include <nlohmann/json.hpp>

#include "call_json.h"

#include "fleettwin/coordinator/coordinator.h"

namespace fleettwin::coordinator {

std::string MembersJson(const std::vector<Member>& members, int64_t now_unix_ns) {
  nlohmann::json out = nlohmann::json::array();
  for (const Member& m : members) {
    nlohmann::json j = {
        {"asset", m.asset},
        {"kind", m.kind},
        {"state", m.state == MemberState::kActive ? "active" : "lost"},
        {"last_seen_ms_ago", (now_unix_ns - m.last_seen_unix_ns) / 1'000'000},
        {"registrations", m.registrations},
        {"heartbeats", m.heartbeats},
        {"times_lost", m.times_lost},
    };
    if (m.has_heartbeat) {
      j["twin"] = {{"revision", m.last.revision}, {"health", m.last.health},
                   {"anomaly", m.last.anomaly},   {"drift", m.last.drift},
                   {"model_version", m.last.model_version},
                   {"has_checkpoint", !m.last.checkpoint.empty()}};
      if (m.last.has_rul) {
        j["twin"]["rul"] = m.last.rul;
        j["twin"]["rul_std"] = m.last.rul_std;
        j["twin"]["p_fail"] = m.last.p_fail;
      }
    }
    out.push_back(std::move(j));
  }
  return out.dump();
}

std::string PlanRecordJson(const PlanRecord& r) {
  nlohmann::json assignments = nlohmann::json::array();
  for (const plan::MaintenanceAssignment& a : r.plan.assignments) {
    assignments.push_back({{"asset", a.asset}, {"slot", a.slot}, {"start", a.start},
                           {"crew", a.crew}, {"cost", a.cost}});
  }
  nlohmann::json left = nlohmann::json::array();
  for (const LeftOut& l : r.left_out) left.push_back({{"asset", l.asset}, {"reason", l.reason}});
  nlohmann::json bids = nlohmann::json::array();
  for (const plan::MaintenanceBid& b : r.bids) {
    bids.push_back({{"asset", b.asset}, {"slot_cost", b.slot_cost}, {"none_cost", b.none_cost}});
  }
  return nlohmann::json{
      {"negotiation", r.negotiation},
      {"plan_hash", r.plan_hash},
      {"bids_digest", r.bids_digest},
      {"solver", r.plan.solver},
      {"rounds", r.rounds},
      {"call", CallJson(r.call)},
      {"cost", r.plan.cost()},
      {"none_cost", static_cast<double>(r.plan.none_cost_milli) * plan::kCostResolution},
      {"maintained", r.plan.maintained},
      {"assignments", assignments},
      {"left_out", left},
      {"bids", bids},
      {"cancelled", r.cancelled},
      {"cancel_reason", r.cancel_reason}}
      .dump();
}

}  // namespace fleettwin::coordinator

namespace fleettwin::coordinator {

absl::StatusOr<PlanRecord> PlanRecordFromJson(std::string_view text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return absl::InvalidArgumentError("plan: not JSON");
  try {
    PlanRecord r;
    r.negotiation = j.at("negotiation").get<std::string>();
    r.plan_hash = j.at("plan_hash").get<std::string>();
    r.bids_digest = j.at("bids_digest").get<std::string>();
    r.rounds = j.at("rounds").get<int>();
    r.call = CallFromJson(j.at("call"));
    r.plan.solver = j.at("solver").get<std::string>();
    r.plan.maintained = j.at("maintained").get<int>();
    r.plan.cost_milli = plan::CostMilli(j.at("cost").get<double>());
    r.plan.none_cost_milli = plan::CostMilli(j.at("none_cost").get<double>());
    for (const nlohmann::json& a : j.at("assignments")) {
      r.plan.assignments.push_back({a.at("asset").get<std::string>(), a.at("slot").get<int>(),
                                    a.at("crew").get<int>(), a.at("start").get<int>(),
                                    a.at("cost").get<double>()});
    }
    for (const nlohmann::json& l : j.at("left_out")) {
      r.left_out.push_back({l.at("asset").get<std::string>(), l.at("reason").get<std::string>()});
    }
    r.cancelled = j.value("cancelled", false);
    r.cancel_reason = j.value("cancel_reason", "");
    for (const nlohmann::json& b : j.at("bids")) {
      r.bids.push_back({b.at("asset").get<std::string>(),
                        b.at("slot_cost").get<std::vector<double>>(),
                        b.at("none_cost").get<double>()});
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(std::string("plan: ") + e.what());
  }
}

}  // namespace fleettwin::coordinator
