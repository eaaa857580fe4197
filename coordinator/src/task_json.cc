#include "task_json.h"

#include "absl/strings/str_cat.h"

namespace fleettwin::coordinator {

using nlohmann::json;

json TaskCallJson(const protocol::TaskCall& t) {
  json j = {{"task_id", t.task_id},   {"duration", t.duration},   {"capability", t.capability},
            {"deadline", t.deadline}, {"late_cost", t.late_cost}, {"has_location", t.has_location}};
  if (t.has_location) j["location"] = {t.x, t.y};
  return j;
}

protocol::TaskCall TaskCallFromJson(const json& j) {
  protocol::TaskCall t;
  t.task_id = j.at("task_id").get<std::string>();
  t.duration = j.at("duration").get<double>();
  t.capability = j.at("capability").get<std::string>();
  t.deadline = j.at("deadline").get<double>();
  t.late_cost = j.at("late_cost").get<double>();
  t.has_location = j.at("has_location").get<bool>();
  if (t.has_location) {
    t.x = j.at("location").at(0).get<double>();
    t.y = j.at("location").at(1).get<double>();
  }
  return t;
}

json TaskSubmitJson(const protocol::TaskCall& t, const NegotiationOptions& o) {
  return {{"task", TaskCallJson(t)},
          {"bid_window_ms", o.bid_window_ms},
          {"reply_timeout_ms", o.reply_timeout_ms}};
}

absl::Status TaskSubmitFromJson(const json& j, protocol::TaskCall& t, NegotiationOptions& o) {
  try {
    t = TaskCallFromJson(j.at("task"));
    o.bid_window_ms = j.at("bid_window_ms").get<int64_t>();
    o.reply_timeout_ms = j.at("reply_timeout_ms").get<int64_t>();
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(e.what());
  }
  return CheckTask(t);
}

json TaskAuctionJson(const TaskAuctionRecord& r) {
  json bids = json::array(), left = json::array();
  for (const TaskBidRecord& b : r.bids) {
    bids.push_back({{"asset", b.asset},
                    {"cost", b.cost},
                    {"completion", b.completion},
                    {"p_late", b.p_late}});
  }
  for (const LeftOut& l : r.left_out) left.push_back({{"asset", l.asset}, {"reason", l.reason}});
  return {{"auction", r.auction}, {"attempt", r.attempt}, {"task", TaskCallJson(r.task)},
          {"bids", bids},         {"left_out", left},     {"winner", r.winner},
          {"cost", r.cost}};
}

absl::StatusOr<TaskAuctionRecord> TaskAuctionFromJson(const json& j) {
  TaskAuctionRecord r;
  try {
    r.auction = j.at("auction").get<std::string>();
    r.attempt = j.at("attempt").get<int>();
    r.task = TaskCallFromJson(j.at("task"));
    for (const json& b : j.at("bids")) {
      r.bids.push_back({b.at("asset").get<std::string>(), b.at("cost").get<double>(),
                        b.at("completion").get<double>(), b.at("p_late").get<double>()});
    }
    for (const json& l : j.at("left_out")) {
      r.left_out.push_back({l.at("asset").get<std::string>(), l.at("reason").get<std::string>()});
    }
    r.winner = j.at("winner").get<std::string>();
    r.cost = j.at("cost").get<double>();
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("task auction: ", e.what()));
  }
  return r;
}

}  // namespace fleettwin::coordinator
