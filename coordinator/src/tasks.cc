// Task allocation on the coordinator's loop: the task table, one auction at a time, re-auction
// when a winner is lost or drops its task, and the task.* ledger entries (docs/planning.md).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "coordinator_impl.h"
#include "task_json.h"

namespace fleettwin::coordinator {

nlohmann::json Coordinator::Impl::TaskStateJson(const std::string& id, const TaskState& t) {
  nlohmann::json auctions = nlohmann::json::array();
  for (const TaskAuctionRecord& r : t.auctions) auctions.push_back(TaskAuctionJson(r));
  return {{"id", id},
          {"task", TaskCallJson(t.call)},
          {"status", t.status},
          {"winner", t.winner},
          {"cost", t.cost},
          {"auction", t.auction},
          {"attempts", t.attempts},
          {"excluded", t.excluded},
          {"history", t.history},
          {"auctions", auctions}};
}

void Coordinator::Impl::LedgerTask(const std::string& kind, const std::string& asset,
                                   const nlohmann::json& body) {
  if (!ledger) return;
  if (!ledger->Append({kind, asset.empty() ? protocol::kCoordinatorName : asset, 0, 0, body.dump()})
           .ok()) {
    ++stats.ledger_errors;
  }
}

absl::Status Coordinator::Impl::SubmitTask(const protocol::TaskCall& call,
                                           const NegotiationOptions& options,
                                           std::function<void(const std::string&)> done) {
  if (absl::Status s = CheckTask(call); !s.ok()) return s;
  TaskState state;
  state.call = call;
  state.options = options;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (tasks.contains(call.task_id)) {
      return absl::AlreadyExistsError(absl::StrCat("task ", call.task_id, " exists"));
    }
    state.order = tasks.size();
  }
  // Ledgered before anything else happens, so a restart finds the task and auctions it.
  if (ledger) {
    absl::StatusOr<uint64_t> index = ledger->Append(
        {"task.submit", protocol::kCoordinatorName, 0, 0, TaskSubmitJson(call, options).dump()});
    if (!index.ok()) {
      ++stats.ledger_errors;
      return index.status();
    }
  }
  state.history.push_back("submitted");
  {
    std::lock_guard<std::mutex> lock(mutex);
    tasks.emplace(call.task_id, std::move(state));
  }
  task_waiters[call.task_id] = std::move(done);
  task_queue.push_back(call.task_id);
  return absl::OkStatus();
}

void Coordinator::Impl::StartPendingTask() {
  if (auction || task_queue.empty() || clock.NowUnixNanos() < resume_not_before_ns) return;
  const std::string id = task_queue.front();
  task_queue.pop_front();
  std::vector<std::string> invited;
  protocol::TaskCall call;
  NegotiationOptions options;
  int attempt = 0;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = tasks.find(id);
    if (it == tasks.end() || it->second.status != "queued") return;
    TaskState& t = it->second;
    t.status = "auctioning";
    attempt = ++t.attempts;
    t.auction = absl::StrCat(id, "#", attempt);
    call = t.call;
    options = t.options;
    for (const auto& [asset, m] : membership.members()) {
      if (m.state == MemberState::kActive && !t.excluded.contains(asset)) {
        invited.push_back(asset);
      }
    }
  }
  // Ledgered before the calls go out, so a restart never reuses an auction id.
  LedgerTask("task.start", "",
             {{"task", id},
              {"auction", absl::StrCat(id, "#", attempt)},
              {"attempt", attempt},
              {"invited", invited}});
  auction.emplace(absl::StrCat(id, "#", attempt), attempt, call, std::move(invited),
                  clock.NowUnixNanos(), options);
  SendAll(auction->Begin());
  FinishTaskIfDone();
}

void Coordinator::Impl::FinishTaskIfDone() {
  if (!auction || !auction->finished()) return;
  const TaskAuctionRecord record = auction->record();
  auction.reset();
  ++stats.task_auctions;
  LedgerTask("task.award", "", TaskAuctionJson(record));
  std::string reply;
  {
    std::lock_guard<std::mutex> lock(mutex);
    TaskState& t = tasks.at(record.task.task_id);
    t.auctions.push_back(record);
    if (record.winner.empty()) {
      t.status = "unassigned";
      t.winner.clear();
      t.history.push_back(absl::StrCat(record.auction, ": nobody took it"));
    } else {
      t.status = "assigned";
      t.winner = record.winner;
      assigned_to[record.winner].insert(record.task.task_id);
      t.cost = record.cost;
      t.history.push_back(absl::StrCat(record.auction, ": assigned to ", record.winner));
    }
    reply = TaskStateJson(record.task.task_id, t).dump();
  }
  auto waiter = task_waiters.find(record.task.task_id);
  if (waiter != task_waiters.end()) {
    waiter->second(reply);
    task_waiters.erase(waiter);
  }
}

void Coordinator::Impl::OnTaskReport(const std::string& asset, const protocol::TaskReport& r) {
  const std::string dropped = absl::StrCat("dropped: ", protocol::Utf8Prefix(r.reason, 200));
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = tasks.find(r.task_id);
    // Only the current winner of the current auction speaks for the task.
    if (it == tasks.end() || it->second.status != "assigned" || it->second.winner != asset ||
        it->second.auction != r.auction) {
      ++stats.unexpected;
      return;
    }
    TaskState& t = it->second;
    if (r.done) {
      Unassign(r.task_id, t);
      t.status = "done";
      t.history.push_back(absl::StrCat(r.auction, ": done by ", asset));
    } else {
      TakeBack(r.task_id, t, asset, dropped);
    }
  }
  if (r.done) {
    LedgerTask("task.done", "", {{"task", r.task_id}, {"auction", r.auction}, {"asset", asset}});
  } else {
    Reauction(r.task_id, r.auction, asset, dropped);
  }
}

namespace {
constexpr char kNotHeld[] = "no longer holds it (it restarted)";
}  // namespace

void Coordinator::Impl::Unassign(const std::string& id, TaskState& t) {
  auto it = assigned_to.find(t.winner);
  if (it != assigned_to.end()) {
    it->second.erase(id);
    if (it->second.empty()) assigned_to.erase(it);
  }
}

void Coordinator::Impl::TakeBack(const std::string& id, TaskState& t, const std::string& asset,
                                 const std::string& why) {
  Unassign(id, t);
  t.winner.clear();
  t.status = "queued";
  t.excluded.insert(asset);
  t.history.push_back(absl::StrCat(t.auction, ": ", asset, " ", why));
}

void Coordinator::Impl::Reauction(const std::string& id, const std::string& auction,
                                  const std::string& asset, const std::string& why) {
  ++stats.task_reauctions;
  LedgerTask("task.reauction", "",
             {{"task", id}, {"auction", auction}, {"asset", asset}, {"reason", why}});
  task_queue.push_back(id);
}

void Coordinator::Impl::ReconcileTasks(const std::string& asset,
                                       const std::vector<std::string>& held) {
  const std::set<std::string> holds(held.begin(), held.end());
  std::vector<std::pair<std::string, std::string>> forgotten;  // Task, auction.
  std::vector<protocol::TaskRevoke> revoke;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto mine = assigned_to.find(asset);
    if (holds.empty() && mine == assigned_to.end()) return;  // The common case: nothing held.
    std::set<std::string> current;                           // Auctions this agent rightly holds.
    const std::set<std::string> ids =
        mine == assigned_to.end() ? std::set<std::string>{} : mine->second;
    for (const std::string& id : ids) {
      TaskState& t = tasks.at(id);
      if (holds.contains(t.auction)) {
        current.insert(t.auction);
        continue;
      }
      forgotten.emplace_back(id, t.auction);
      TakeBack(id, t, asset, kNotHeld);
    }
    for (const std::string& auction : holds) {
      if (current.contains(auction)) continue;
      const std::string task = auction.substr(0, auction.rfind('#'));
      revoke.push_back({task, auction, "not yours: the task was auctioned again or ended"});
    }
  }
  for (const auto& [id, auction_id] : forgotten) Reauction(id, auction_id, asset, kNotHeld);
  for (protocol::TaskRevoke& r : revoke) {
    ++stats.task_revokes;
    SendTo(asset, std::move(r));
  }
}

void Coordinator::Impl::ReauctionTasksOf(const std::string& asset, const std::string& reason) {
  std::vector<std::pair<std::string, std::string>> lost;  // Task, auction.
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto mine = assigned_to.find(asset);
    if (mine == assigned_to.end()) return;
    const std::set<std::string> ids = mine->second;
    for (const std::string& id : ids) {
      TaskState& t = tasks.at(id);
      lost.emplace_back(id, t.auction);
      TakeBack(id, t, asset, reason);
    }
  }
  for (const auto& [id, auction_id] : lost) Reauction(id, auction_id, asset, reason);
}

absl::Status Coordinator::Impl::LoadTask(const ledger::Entry& entry) {
  const nlohmann::json j = nlohmann::json::parse(entry.payload, nullptr, false);
  auto bad = [&](const std::string& why) {
    return absl::DataLossError(
        absl::StrCat("ledger entry ", entry.index, " (", entry.kind, "): ", why));
  };
  if (!j.is_object()) return bad("not a JSON object");
  try {
    if (entry.kind == "task.submit") {
      TaskState t;
      absl::Status s = TaskSubmitFromJson(j, t.call, t.options);
      if (!s.ok()) return bad(std::string(s.message()));
      t.order = tasks.size();
      t.history.push_back("submitted");
      tasks[t.call.task_id] = std::move(t);
      return absl::OkStatus();
    }
    auto it = tasks.find(entry.kind == "task.award" ? j.at("task").at("task_id").get<std::string>()
                                                    : j.at("task").get<std::string>());
    if (it == tasks.end()) return bad("a task that was never submitted");
    TaskState& t = it->second;
    if (entry.kind == "task.award") {
      absl::StatusOr<TaskAuctionRecord> record = TaskAuctionFromJson(j);
      if (!record.ok()) return bad(std::string(record.status().message()));
      t.auctions.push_back(*record);
      t.attempts = record->attempt;
      t.auction = record->auction;
      t.winner = record->winner;
      t.cost = record->cost;
      t.status = record->winner.empty() ? "unassigned" : "assigned";
      t.history.push_back(record->winner.empty()
                              ? absl::StrCat(record->auction, ": nobody took it")
                              : absl::StrCat(record->auction, ": assigned to ", record->winner));
    } else if (entry.kind == "task.start") {
      t.attempts = j.at("attempt").get<int>();
      t.auction = j.at("auction").get<std::string>();
    } else if (entry.kind == "task.done") {
      t.status = "done";
      t.history.push_back(absl::StrCat(j.at("auction").get<std::string>(), ": done by ",
                                       j.at("asset").get<std::string>()));
    } else if (entry.kind == "task.reauction") {
      t.status = "queued";
      t.winner.clear();
      t.excluded.insert(j.at("asset").get<std::string>());
      t.history.push_back(absl::StrCat(j.at("auction").get<std::string>(), ": ",
                                       j.at("asset").get<std::string>(), " ",
                                       j.at("reason").get<std::string>()));
    }
  } catch (const nlohmann::json::exception& e) {
    return bad(e.what());
  }
  return absl::OkStatus();
}

}  // namespace fleettwin::coordinator
