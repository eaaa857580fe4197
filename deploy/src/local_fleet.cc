#include "fleettwin/deploy/local_fleet.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "fleettwin/common/curve.h"
#include "fleettwin/coordinator/control_client.h"
#include "fleettwin/plan/scoring.h"
#include "processes.h"
#include "share.h"

namespace fleettwin::deploy {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kHeartbeatMs = 500;
constexpr char kStateFile[] = "fleet.json";

// `n` distinct ports the kernel had free a moment ago (each bound to port 0 and held until
// all are chosen, then released): good enough for a launcher on loopback; a lost race shows as
// a process failing to bind, named in its log. Empty if the kernel has none.
std::vector<int> FreePorts(int n) {
  std::vector<int> fds, ports;
  for (int i = 0; i < n; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) break;
    fds.push_back(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      break;
    }
    ports.push_back(ntohs(addr.sin_port));
  }
  for (int fd : fds) ::close(fd);
  if (static_cast<int>(ports.size()) != n) ports.clear();
  return ports;
}

// The subset's shape: rows per test unit, true RUL per test unit, training units.
struct Subset {
  std::vector<int> test_cycles;  // Index = unit - 1.
  std::vector<double> true_rul;
  int train_units = 0;
  fs::path train, test;
};

absl::StatusOr<std::map<int, int>> RowsPerUnit(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", file.string()));
  std::map<int, int> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    int unit = 0;
    if (fields >> unit) ++rows[unit];
  }
  return rows;
}

absl::StatusOr<Subset> ReadSubset(const Share& share, const std::string& subset) {
  Subset s;
  s.train = share.cmapss / absl::StrCat("train_", subset, ".txt");
  s.test = share.cmapss / absl::StrCat("test_", subset, ".txt");
  absl::StatusOr<std::map<int, int>> train = RowsPerUnit(s.train);
  if (!train.ok()) return train.status();
  absl::StatusOr<std::map<int, int>> test = RowsPerUnit(s.test);
  if (!test.ok()) return test.status();
  s.train_units = static_cast<int>(train->size());
  for (const auto& [unit, rows] : *test) s.test_cycles.push_back(rows);
  const fs::path rul_file = share.cmapss / absl::StrCat("RUL_", subset, ".txt");
  std::ifstream in(rul_file);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", rul_file.string()));
  for (double r; in >> r;) s.true_rul.push_back(r);
  if (s.true_rul.size() != s.test_cycles.size() || s.train_units == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        subset, ": ", s.test_cycles.size(), " test units but ", s.true_rul.size(), " RUL lines"));
  }
  return s;
}

// Reads one sample's value from a Prometheus text body.
std::optional<double> Metric(const std::string& text, const std::string& name_and_labels) {
  const size_t at = text.find("\n" + name_and_labels + " ");
  if (at == std::string::npos) return std::nullopt;
  const size_t start = at + name_and_labels.size() + 2;
  double v = 0;
  if (!absl::SimpleAtod(text.substr(start, text.find('\n', start) - start), &v)) return std::nullopt;
  return v;
}

// The processes a fleet.json records. Errors: DataLoss for a file that is not one of ours.
absl::StatusOr<std::vector<ChildProcess>> ReadRecorded(const fs::path& dir) {
  std::ifstream in(dir / kStateFile);
  if (!in) return absl::NotFoundError(absl::StrCat("no fleet in ", dir.string(), " (no fleet.json)"));
  const json state = json::parse(in, nullptr, false);
  std::vector<ChildProcess> out;
  try {
    if (!state.is_object() || state.at("version") != 1 || !state.contains("launcher_pid")) {
      return absl::DataLossError("not a launcher's fleet.json");
    }
    for (const json& p : state.at("processes")) {
      out.push_back({p.at("name").get<std::string>(), p.at("pid").get<pid_t>(),
                     p.at("binary").get<std::string>(), p.value("log", "")});
    }
  } catch (const json::exception& e) {
    return absl::DataLossError(absl::StrCat("a damaged fleet.json: ", e.what()));
  }
  return out;
}

class Launcher {
 public:
  Launcher(const LocalFleetOptions& o, std::ostream& out) : o_(o), out_(out) {}
  ~Launcher() {
    if (!leave_running_ && !processes_.empty()) StopFleet();
  }
  absl::StatusOr<std::string> Run();

 private:
  struct Agent {
    std::string asset;
    int unit = 0;
    int http_port = 0;
    fs::path dir;
  };

  absl::Status Prepare();
  absl::Status StartCoordinator();
  absl::Status StartAgents();
  absl::Status Rounds(json& summary);
  absl::Status Replay(json& summary);
  // Reads every agent's replay progress from its /metrics; prints it when it changed or every
  // 5 s (always with force_print). Returns the number of agents whose replay is done.
  int PollReplay(bool force_print);
  absl::Status Plan(json& summary);
  absl::Status Audit(json& summary);
  void StopFleet();
  absl::Status SaveState(const std::string& state);
  absl::StatusOr<json> Call(const json& request, int timeout_ms,
                            coordinator::ControlClient* client = nullptr);
  absl::Status WaitFor(const std::string& what, int timeout_s, const std::function<bool()>& done);
  absl::Status Interrupted() const {
    return o_.interrupted && o_.interrupted->load()
               ? absl::CancelledError("interrupted: every process started was stopped")
               : absl::OkStatus();
  }
  absl::Status Spawned(absl::StatusOr<ChildProcess> p) {
    if (!p.ok()) return p.status();
    processes_.push_back(*std::move(p));
    return SaveState("starting");
  }
  std::string Log(const std::string& name) const { return (dir_ / "logs" / (name + ".log")).string(); }
  std::unique_ptr<coordinator::ControlClient> Connect() const;

  const LocalFleetOptions& o_;
  std::ostream& out_;
  fs::path dir_;
  Share share_;
  Subset subset_;
  fs::path agent_bin_, coordinator_bin_, audit_bin_;
  std::vector<ChildProcess> processes_;
  std::vector<Agent> agents_;
  std::vector<int> ports_;
  int zmq_port_ = 0, control_port_ = 0, http_port_ = 0, fl_port_ = 0;
  std::map<std::string, double> cycles_, revision_;  // Per agent, from its /metrics.
  int last_replay_done_ = -1;
  Clock::time_point last_replay_print_;
  std::unique_ptr<coordinator::ControlClient> control_;
  bool leave_running_ = false;
  Clock::time_point started_ = Clock::now();
};

absl::Status Launcher::Prepare() {
  if (o_.assets < 1) return absl::InvalidArgumentError("--assets must be at least 1");
  if (o_.rounds < 0 || o_.local_epochs < 1) {
    return absl::InvalidArgumentError("--rounds must be >= 0 and --local-epochs >= 1");
  }
  if (o_.base_port < 0 || o_.base_port > 65535 - 10 - o_.assets) {
    return absl::InvalidArgumentError("--base-port out of range");
  }
  if (o_.data_dir.empty()) return absl::InvalidArgumentError("--data-dir is required");
  if (!std::regex_match(o_.speed, std::regex("max|[0-9]{1,6}(\\.[0-9]{1,6})?x"))) {
    return absl::InvalidArgumentError(
        absl::StrCat("--speed '", o_.speed, "': 10x, 0.5x or max"));
  }
  if (o_.strategy != "fedavg" && o_.strategy != "fedprox" && o_.strategy != "median" &&
      o_.strategy != "trimmed-mean") {
    return absl::InvalidArgumentError("--strategy: fedavg, fedprox, median or trimmed-mean");
  }
  if (o_.duration < 1 || o_.horizon < o_.duration || o_.horizon > 1'000'000 || o_.crews < 1) {
    return absl::InvalidArgumentError("need 1 <= --duration <= --horizon <= 1e6 and --crews >= 1");
  }
  absl::StatusOr<Share> share = FindShare(o_.share_dir);
  if (!share.ok()) return share.status();
  share_ = *share;
  absl::StatusOr<Subset> subset = ReadSubset(share_, o_.subset);
  if (!subset.ok()) return subset.status();
  subset_ = *std::move(subset);
  if (o_.assets > static_cast<int>(subset_.test_cycles.size()) || o_.assets > subset_.train_units) {
    return absl::InvalidArgumentError(absl::StrCat("--assets: ", o_.subset, " has ",
                                                   subset_.test_cycles.size(), " test engines"));
  }
  if (!fs::is_directory(share_.models / o_.model)) {
    return absl::NotFoundError(absl::StrCat("no model ", (share_.models / o_.model).string()));
  }
  for (auto [name, path] : {std::pair{"fleet-agent", &agent_bin_},
                            std::pair{"fleet-coordinator", &coordinator_bin_},
                            std::pair{"fleet-audit", &audit_bin_}}) {
    absl::StatusOr<fs::path> found = FindBinary(name, o_.bin_dir);
    if (!found.ok()) return found.status();
    *path = *found;
  }
  // The data directory: new, empty, or one a previous launcher made (and nothing runs there).
  // Only what a launcher writes is replaced; anything else in it is left alone.
  std::error_code ec;
  dir_ = fs::absolute(o_.data_dir);
  if (fs::exists(dir_ / kStateFile, ec)) {
    absl::StatusOr<std::vector<ChildProcess>> recorded = ReadRecorded(dir_);
    if (!recorded.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          dir_.string(), " has a fleet.json that fleetctl up did not write (", 
          recorded.status().message(), "): give another --data-dir"));
    }
    for (const ChildProcess& c : *recorded) {
      if (Running(c)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "a fleet is running in ", dir_.string(), " (", c.name, ", pid ", c.pid,
            "): stop it with fleetctl down --data-dir ", dir_.string()));
      }
    }
    out_ << "  replacing the previous fleet's keys, ledgers and logs in " << dir_.string() << "\n";
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
      const std::string name = entry.path().filename().string();
      if (name == "keys" || name == "logs" || name == "coordinator" || name.starts_with("engine-") ||
          name == "summary.json" || name.starts_with(kStateFile)) {
        fs::remove_all(entry.path(), ec);
      }
    }
  } else if (fs::exists(dir_, ec) && !fs::is_empty(dir_, ec)) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir_.string(), " exists and was not made by fleetctl up: give another --data-dir"));
  }
  for (const fs::path& d : {dir_ / "logs", dir_ / "keys" / "agents", dir_ / "keys" / "operators"}) {
    fs::create_directories(d, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", d.string(), ": ", ec.message()));
  }
  return absl::OkStatus();
}

absl::Status Launcher::SaveState(const std::string& state) {
  json processes = json::array();
  for (const ChildProcess& p : processes_) {
    processes.push_back({{"name", p.name}, {"pid", p.pid}, {"binary", p.binary.string()},
                         {"log", p.log.string()}});
  }
  const json j = {{"version", 1},
                  {"state", state},
                  {"launcher_pid", ::getpid()},
                  {"control", absl::StrCat("tcp://127.0.0.1:", control_port_)},
                  {"coordinator_key", (dir_ / "keys" / "coordinator.curve-public").string()},
                  {"operator_key", (dir_ / "keys" / "operators" / "operator.curve-secret").string()},
                  {"coordinator_http", absl::StrCat("127.0.0.1:", http_port_)},
                  {"processes", processes}};
  const fs::path tmp = dir_ / (std::string(kStateFile) + ".tmp");
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << j.dump(2) << "\n";
    if (!f.flush()) return absl::UnavailableError(absl::StrCat("cannot write ", tmp.string()));
  }
  std::error_code ec;
  fs::rename(tmp, dir_ / kStateFile, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot write fleet.json: ", ec.message()));
  return absl::OkStatus();
}

absl::Status Launcher::WaitFor(const std::string& what, int timeout_s,
                               const std::function<bool()>& done) {
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  while (!done()) {
    if (absl::Status s = Interrupted(); !s.ok()) return s;
    for (const ChildProcess& p : processes_) {
      if (!Running(p)) {
        return absl::AbortedError(absl::StrCat(p.name, " exited while waiting for ", what,
                                               "; see ", p.log.string()));
      }
    }
    if (Clock::now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("timed out after ", timeout_s, " s waiting for ", what, " (logs in ",
                       (dir_ / "logs").string(), ")"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return absl::OkStatus();
}

std::unique_ptr<coordinator::ControlClient> Launcher::Connect() const {
  absl::StatusOr<common::CurvePublicKey> coordinator =
      common::ReadCurvePublicKeyFile(dir_ / "keys" / "coordinator.curve-public");
  absl::StatusOr<common::CurveSecretKey> operator_key =
      common::ReadCurveSecretKeyFile(dir_ / "keys" / "operators" / "operator.curve-secret");
  if (!coordinator.ok() || !operator_key.ok()) return nullptr;
  auto client = coordinator::ControlClient::Connect(absl::StrCat("tcp://127.0.0.1:", control_port_),
                                                   coordinator->key, operator_key->pair);
  return client.ok() ? *std::move(client) : nullptr;
}

absl::StatusOr<json> Launcher::Call(const json& request, int timeout_ms,
                                    coordinator::ControlClient* client) {
  const bool shared = client == nullptr;  // The launcher thread's own client.
  if (shared) {
    if (!control_) control_ = Connect();
    client = control_.get();
  }
  if (client == nullptr) return absl::InternalError("cannot make a control client");
  absl::StatusOr<std::string> answer =
      client->Call(request.dump(), std::chrono::milliseconds(timeout_ms), o_.interrupted);
  if (!answer.ok()) {
    // A REQ socket that timed out cannot send again: the next call gets a new one.
    if (shared) control_.reset();
    if (answer.status().code() == absl::StatusCode::kCancelled) return Interrupted();
    return answer.status();
  }
  json j = json::parse(*answer, nullptr, false);
  if (j.is_discarded()) return absl::InternalError("the coordinator answered something not JSON");
  return j;
}

absl::Status Launcher::StartCoordinator() {
  for (const auto& [dir, name] : {std::pair{dir_ / "keys", "coordinator"},
                                  std::pair{dir_ / "keys" / "operators", "operator"}}) {
    if (absl::Status s = common::WriteCurveKeyFiles(dir, name, false); !s.ok()) return s;
  }
  for (int i = 1; i <= o_.assets; ++i) {
    absl::Status s = common::WriteCurveKeyFiles(dir_ / "keys" / "agents", absl::StrCat("engine-", i), false);
    if (!s.ok()) return s;
  }
  out_ << "  CURVE keys for the coordinator, the operator and " << o_.assets << " agents in "
       << (dir_ / "keys").string() << "\n";
  // Coordinator: agents, control, HTTP, Fleet API; then each agent's HTTP.
  if (o_.base_port > 0) {
    for (int i = 0; i < 4 + o_.assets; ++i) ports_.push_back(o_.base_port + (i < 4 ? i : 7 + i));
  } else {
    ports_ = FreePorts(4 + o_.assets);
    if (ports_.empty()) return absl::UnavailableError("no free loopback ports");
  }
  zmq_port_ = ports_[0];
  control_port_ = ports_[1];
  http_port_ = ports_[2];
  fl_port_ = ports_[3];
  const std::vector<std::string> args = {
      "--bind", absl::StrCat("tcp://127.0.0.1:", zmq_port_),
      "--control", absl::StrCat("tcp://127.0.0.1:", control_port_),
      "--http", absl::StrCat("127.0.0.1:", http_port_),
      "--fl-listen", absl::StrCat("127.0.0.1:", fl_port_),
      "--fl-model", (share_.models / o_.model).string(),
      "--key", (dir_ / "keys" / "coordinator.curve-secret").string(),
      "--agents-dir", (dir_ / "keys" / "agents").string(),
      "--operators-dir", (dir_ / "keys" / "operators").string(),
      "--data-dir", (dir_ / "coordinator").string(),
      "--anchor-interval-ms", "500"};
  if (absl::Status s = Spawned(Spawn("coordinator", coordinator_bin_, args, Log("coordinator")));
      !s.ok()) {
    return s;
  }
  absl::Status up = WaitFor("the coordinator's control socket", 30, [&] {
    return Call({{"command", "status"}}, 500).ok();
  });
  if (!up.ok()) return up;
  out_ << "  fleet-coordinator (pid " << processes_.back().pid << "): agents on tcp://127.0.0.1:"
       << zmq_port_ << ", control on tcp://127.0.0.1:" << control_port_
       << ", federated rounds on 127.0.0.1:" << fl_port_ << ", HTTP on 127.0.0.1:" << http_port_
       << "\n";
  return absl::OkStatus();
}

absl::Status Launcher::StartAgents() {
  const fs::path kind = share_.kinds / "cmapss-turbofan.json";
  for (int i = 1; i <= o_.assets; ++i) {
    Agent a{absl::StrCat("engine-", i), i, ports_[static_cast<size_t>(3 + i)],
            dir_ / absl::StrCat("engine-", i)};
    // Its own history: a contiguous share of the training engines.
    const int first = (i - 1) * subset_.train_units / o_.assets + 1;
    const int last = i * subset_.train_units / o_.assets;
    const std::vector<std::string> args = {
        "--asset", a.asset, "--kind", kind.string(), "--data-dir", a.dir.string(),
        "--model", (share_.models / o_.model).string(),
        "--replay", subset_.test.string(), "--replay-unit", std::to_string(i), "--speed", o_.speed,
        "--http", absl::StrCat("127.0.0.1:", a.http_port),
        "--coordinator", absl::StrCat("tcp://127.0.0.1:", zmq_port_),
        "--coordinator-key", (dir_ / "keys" / "coordinator.curve-public").string(),
        "--agent-key", (dir_ / "keys" / "agents" / (a.asset + ".curve-secret")).string(),
        "--heartbeat-ms", std::to_string(kHeartbeatMs), "--bid-replications", "1000",
        "--what-if-threads", "1",
        "--fl-server", absl::StrCat("127.0.0.1:", fl_port_),
        "--fl-history", subset_.train.string(),
        "--fl-history-units", absl::StrCat(first, "-", last), "--fl-heartbeat", "2",
        "--fl-threads", "1"};
    if (absl::Status s = Spawned(Spawn(a.asset, agent_bin_, args, Log(a.asset))); !s.ok()) return s;
    agents_.push_back(std::move(a));
  }
  out_ << "  " << o_.assets << " fleet-agent processes (engine-1 .. engine-" << o_.assets
       << "), each replaying its " << o_.subset << " test trajectory at " << o_.speed
       << " and holding " << subset_.train_units / o_.assets
       << " training engines for federated rounds\n";
  int registered = 0, nodes = 0;
  absl::Status joined = WaitFor("every agent to join", 120, [&] {
    absl::StatusOr<json> members = Call({{"command", "agents"}}, 2000);
    absl::StatusOr<json> rounds = Call({{"command", "rounds"}}, 2000);
    if (!members.ok() || !rounds.ok()) return false;
    int r = 0, n = 0;
    for (const json& m : *members) r += m.value("state", "") == "active" ? 1 : 0;
    for (const json& m : (*rounds)["nodes"]) n += m.value("alive", false) ? 1 : 0;
    if (r != registered || n != nodes) {
      registered = r;
      nodes = n;
      out_ << "  joined: " << registered << "/" << o_.assets << " agents, " << nodes << "/"
           << o_.assets << " federated nodes\n";
    }
    return registered == o_.assets && nodes >= o_.assets;
  });
  if (!joined.ok()) return joined;
  return SaveState("running");
}

absl::Status Launcher::Rounds(json& summary) {
  summary["rounds"] = {{"strategy", o_.strategy}, {"rounds", json::array()}};
  if (o_.rounds == 0) return absl::OkStatus();
  std::unique_ptr<coordinator::ControlClient> client = Connect();
  if (!client) return absl::InternalError("cannot make a control client");
  json request = {{"command", "rounds.start"}, {"rounds", o_.rounds},
                        {"min_nodes", o_.assets},    {"fraction", 1.0},
                        {"strategy", o_.strategy},   {"local_epochs", o_.local_epochs},
                        {"deadline_s", 300},         {"wait_s", 60},
                        {"evaluate", true}};
  if (o_.learning_rate > 0) request["learning_rate"] = o_.learning_rate;
  const int timeout_ms = (o_.rounds * 2 * 300 + 120) * 1000;
  std::future<absl::StatusOr<json>> result = std::async(std::launch::async, [&] {
    return Call(request, timeout_ms, client.get());
  });
  std::set<int> shown;  // Round numbers printed.
  auto show = [&](const json& rounds) {  // The fleet is new: every round is this run's.
    for (const json& r : rounds) {
      if (!shown.insert(r.value("round", 0)).second) continue;
      const json eval = r.value("eval_metrics", json::object());
      out_ << absl::StrFormat("  round %d: %d/%d nodes replied, %s, %s %.1f s\n",
                              r.value("round", 0),
                              static_cast<int>(r.value("replied", json::array()).size()),
                              static_cast<int>(r.value("sampled", json::array()).size()),
                              r.value("aggregated", false) ? "aggregated" : "NOT aggregated",
                              eval.contains("rmse")
                                  ? absl::StrFormat("held-out RMSE %.2f,", eval["rmse"].get<double>())
                                  : std::string("no evaluation,"),
                              r.value("seconds", 0.0));
    }
  };
  while (result.wait_for(std::chrono::milliseconds(500)) != std::future_status::ready) {
    if (absl::Status s = Interrupted(); !s.ok()) return s;
    absl::StatusOr<json> status = Call({{"command", "rounds"}}, 2000);
    if (status.ok()) show((*status)["rounds"]);
    PollReplay(false);  // The engines keep running meanwhile.
  }
  absl::StatusOr<json> done = result.get();
  if (!done.ok()) {
    return absl::Status(done.status().code(),
                        absl::StrCat("federated rounds: ", done.status().message()));
  }
  json rounds = json::array();
  for (const json& r : (*done)["rounds"]) {
    const json eval = r.value("eval_metrics", json::object());
    json row = {{"round", r.value("round", 0)},
                {"sampled", r.value("sampled", json::array()).size()},
                {"replied", r.value("replied", json::array()).size()},
                {"aggregated", r.value("aggregated", false)},
                {"model_id", r.value("model_id", "")},
                {"train_metrics", r.value("train_metrics", json::object())},
                {"seconds", r.value("seconds", 0.0)}};
    if (eval.contains("rmse")) row["eval_rmse"] = eval["rmse"];
    rounds.push_back(row);
  }
  show((*done)["rounds"]);
  summary["rounds"]["rounds"] = rounds;
  summary["rounds"]["model_id"] = done->value("model_id", "");
  absl::StatusOr<json> status = Call({{"command", "rounds"}}, 2000);
  if (status.ok() && status->contains("model_version")) {
    summary["rounds"]["model_version"] = (*status)["model_version"];
  }
  return absl::OkStatus();
}

int Launcher::PollReplay(bool force_print) {
  int total = 0, done = 0;
  double seen = 0;
  for (const Agent& a : agents_) {
    total += subset_.test_cycles[static_cast<size_t>(a.unit - 1)];
    httplib::Client http("127.0.0.1", a.http_port);
    http.set_connection_timeout(1, 0);
    http.set_read_timeout(2, 0);
    httplib::Result res = http.Get("/metrics");
    if (!res || res->status != 200) continue;
    const std::string body = "\n" + res->body;
    const std::string labels = absl::StrCat("{asset=\"", a.asset, "\"}");
    done += Metric(body, "fleettwin_agent_replay_done" + labels).value_or(0) > 0 ? 1 : 0;
    cycles_[a.asset] = Metric(body, "fleettwin_agent_samples_accepted_total" + labels).value_or(0);
    revision_[a.asset] = Metric(body, "fleettwin_agent_twin_revision" + labels).value_or(0);
    seen += cycles_[a.asset];
  }
  if (force_print || done != last_replay_done_ ||
      Clock::now() - last_replay_print_ > std::chrono::seconds(5)) {
    out_ << "  replay: " << static_cast<int>(seen) << "/" << total << " cycles into the twins, "
         << done << "/" << o_.assets << " engines at the end of their trajectory\n";
    last_replay_done_ = done;
    last_replay_print_ = Clock::now();
  }
  return done;
}

absl::Status Launcher::Replay(json& summary) {
  std::map<std::string, double>& cycles = cycles_;
  std::map<std::string, double>& revision = revision_;
  PollReplay(true);
  absl::Status replayed =
      WaitFor("the replay", 3600, [&] { return PollReplay(false) == o_.assets; });
  if (!replayed.ok()) return replayed;
  // The coordinator's view catches up: every heartbeat carries the twin's final revision.
  absl::Status caught_up = WaitFor("the final heartbeats", 60, [&] {
    absl::StatusOr<json> members = Call({{"command", "agents"}}, 2000);
    if (!members.ok()) return false;
    int current = 0;
    for (const json& m : *members) {
      const json twin = m.value("twin", json::object());
      current += twin.contains("rul") &&
                         twin.value("revision", 0.0) >= revision[m.value("asset", "")]
                     ? 1
                     : 0;
    }
    return current == o_.assets;
  });
  if (!caught_up.ok()) return caught_up;
  absl::StatusOr<json> members = Call({{"command", "agents"}}, 2000);
  if (!members.ok()) return members.status();
  json assets = json::array();
  for (const json& m : *members) {
    const std::string asset = m.value("asset", "");
    const int unit = std::stoi(asset.substr(asset.rfind('-') + 1));
    const json twin = m.value("twin", json::object());
    assets.push_back({{"asset", asset},
                      {"health", twin.value("health", "")},
                      {"rul", twin.value("rul", 0.0)},
                      {"rul_std", twin.value("rul_std", 0.0)},
                      {"p_fail", twin.value("p_fail", 0.0)},
                      {"model_version", twin.value("model_version", "")},
                      {"cycles", static_cast<int>(cycles[asset])},
                      {"true_rul", subset_.true_rul[static_cast<size_t>(unit - 1)]}});
  }
  std::sort(assets.begin(), assets.end(), [](const json& a, const json& b) {
    auto unit = [](const json& j) {
      const std::string name = j["asset"];
      return std::stoi(name.substr(name.rfind('-') + 1));
    };
    return unit(a) < unit(b);
  });
  summary["assets"] = assets;
  return absl::OkStatus();
}

absl::Status Launcher::Plan(json& summary) {
  const std::string id = "fleet-1";
  absl::StatusOr<json> plan = Call({{"command", "plan.maintenance"}, {"id", id},
                                    {"horizon", o_.horizon}, {"duration", o_.duration},
                                    {"crews", o_.crews}, {"bid_window_ms", 10000},
                                    {"reply_timeout_ms", 5000}},
                                   120000);
  if (!plan.ok()) {
    return absl::Status(plan.status().code(),
                        absl::StrCat("maintenance negotiation: ", plan.status().message()));
  }
  plan::MaintenanceProblem problem{o_.horizon, o_.duration, o_.crews};
  plan::MaintenanceCosts costs;  // The plan_bench costs, which the call also uses.
  std::map<std::string, double> truth;
  std::vector<plan::TrueLife> lives;
  for (const json& a : summary["assets"]) {
    truth[a["asset"]] = a["true_rul"];
    lives.push_back({a["asset"], a["true_rul"]});
  }
  absl::StatusOr<plan::MaintenancePlan> oracle = plan::OraclePlan(problem, costs, lives);
  if (!oracle.ok()) return oracle.status();
  double realized = 0, run_to_failure = 0, best = 0;
  json assignments = json::array();
  std::set<std::string> planned;
  for (const json& a : (*plan)["assignments"]) {
    const std::string asset = a.value("asset", "");
    planned.insert(asset);
    realized += plan::RealizedCost(problem, costs, truth[asset], a.value("start", -1));
    assignments.push_back({{"asset", asset}, {"slot", a.value("slot", -1)},
                           {"start", a.value("start", -1)}, {"crew", a.value("crew", -1)}});
  }
  // Left out of the negotiation: not maintained, as run to failure.
  for (const auto& [asset, rul] : truth) {
    if (!planned.contains(asset)) realized += plan::RealizedCost(problem, costs, rul, -1);
    run_to_failure += plan::RealizedCost(problem, costs, rul, -1);
  }
  for (const plan::MaintenanceAssignment& a : oracle->assignments) {
    best += plan::RealizedCost(problem, costs, truth[a.asset], a.start);
  }
  summary["plan"] = {{"id", id},
                     {"plan_hash", plan->value("plan_hash", "")},
                     {"maintained", plan->value("maintained", 0)},
                     {"bid_cost", plan->value("cost", 0.0)},
                     {"left_out", plan->value("left_out", json::array())},
                     {"assignments", assignments}};
  json scored = {{"plan", realized}, {"run_to_failure", run_to_failure}, {"oracle", best},
                 {"horizon", o_.horizon}, {"crews", o_.crews}, {"duration", o_.duration},
                 {"failure", costs.failure}, {"preventive", costs.preventive},
                 {"wasted_life", costs.wasted_life}};
  if (run_to_failure - best > 1e-9) {
    scored["share_of_oracle_saving"] = (run_to_failure - realized) / (run_to_failure - best);
  }
  summary["costs"] = scored;
  out_ << absl::StrFormat(
      "  plan %s committed: %d engines maintained by %d crews; true cost %.1f (run to failure "
      "%.1f, oracle %.1f)\n",
      id, plan->value("maintained", 0), o_.crews, realized, run_to_failure, best);
  return absl::OkStatus();
}

void Launcher::StopFleet() {
  std::vector<ChildProcess> agents(processes_.begin() + (processes_.empty() ? 0 : 1), processes_.end());
  StopAll(agents, 30, out_);  // Agents first: they flush their ledgers on SIGTERM.
  if (!processes_.empty()) StopAll({processes_.front()}, 30, out_);
  processes_.clear();
  (void)SaveState("stopped");
}

absl::Status Launcher::Audit(json& summary) {
  const fs::path log = dir_ / "logs" / "audit.log";
  struct Ledger {
    std::string name;
    fs::path dir, key;
  };
  std::vector<Ledger> ledgers = {
      {"coordinator", dir_ / "coordinator" / "ledger", dir_ / "coordinator" / "coordinator.vkey"}};
  for (const Agent& a : agents_) ledgers.push_back({a.asset, a.dir / "ledger", a.dir / "agent.vkey"});
  json rows = json::array();
  int verified = 0;
  for (const Ledger& l : ledgers) {
    absl::StatusOr<int> code = RunToEnd(audit_bin_, {"verify", l.dir.string(), "--key", l.key.string(), "--quiet"}, log, 300);
    const fs::path size_file = dir_ / "logs" / ("checkpoint-" + l.name + ".txt");
    std::error_code ec;
    fs::remove(size_file, ec);
    absl::StatusOr<int> cp = RunToEnd(audit_bin_, {"checkpoint", l.dir.string()}, size_file, 60);
    int64_t entries = -1;
    if (cp.ok() && *cp == 0) {
      std::ifstream in(size_file);
      std::string origin, size;
      std::getline(in, origin);
      std::getline(in, size);
      if (!absl::SimpleAtoi(size, &entries)) entries = -1;
    }
    const bool ok = code.ok() && *code == 0;
    verified += ok ? 1 : 0;
    rows.push_back({{"name", l.name}, {"path", l.dir.string()}, {"entries", entries}, {"verified", ok}});
  }
  out_ << "  fleet-audit verify: " << verified << "/" << ledgers.size()
       << " ledgers verify against their public keys\n";
  std::vector<std::string> cross = {"crosscheck", ledgers[0].dir.string()};
  for (size_t i = 1; i < ledgers.size(); ++i) cross.push_back(ledgers[i].dir.string());
  absl::StatusOr<int> crosscheck = RunToEnd(audit_bin_, cross, log, 600);
  const bool cross_ok = crosscheck.ok() && *crosscheck == 0;
  out_ << "  fleet-audit crosscheck: " << (cross_ok ? "every agent ledger is consistent with the checkpoints the fleet anchored" : "FAILED") << "\n";
  absl::StatusOr<int> replay = RunToEnd(audit_bin_, {"replay-plan", ledgers[0].dir.string()}, log, 300);
  const bool replay_ok = replay.ok() && *replay == 0;
  out_ << "  fleet-audit replay-plan: " << (replay_ok ? "the plan re-solves identically from its ledgered bids" : "FAILED") << "\n";
  summary["audit"] = {{"ledgers", rows}, {"verified", verified}, {"crosscheck", cross_ok},
                      {"replay_plan", replay_ok}, {"log", log.string()}};
  if (verified != static_cast<int>(ledgers.size()) || !cross_ok || !replay_ok) {
    return absl::DataLossError(absl::StrCat("the audit failed; see ", log.string()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Launcher::Run() {
  out_ << "== fleetctl up: " << o_.assets << " C-MAPSS " << o_.subset << " engines\n";
  if (absl::Status s = Prepare(); !s.ok()) return s;
  out_ << "  data in " << dir_.string() << "\n== 1/6 start the fleet\n";
  if (absl::Status s = StartCoordinator(); !s.ok()) return s;
  if (absl::Status s = StartAgents(); !s.ok()) return s;
  json summary = {{"fleet",
                   {{"data_dir", dir_.string()},
                    {"assets", o_.assets},
                    {"subset", o_.subset},
                    {"speed", o_.speed},
                    {"control", absl::StrCat("tcp://127.0.0.1:", control_port_)},
                    {"keep_running", o_.keep_running}}}};
  out_ << "== 2/6 federated rounds of the failure model (" << o_.strategy << ", " << o_.rounds
       << " rounds x " << o_.local_epochs
       << " local epochs; raw data stays with each agent) while the engines' test trajectories "
          "replay live into their twins\n";
  if (absl::Status s = Rounds(summary); !s.ok()) return s;
  out_ << "== 3/6 the live replay runs to the end of every trajectory\n";
  if (absl::Status s = Replay(summary); !s.ok()) return s;
  out_ << "== 4/6 a maintenance plan negotiated with the agents (contract net, " << o_.crews
       << " crews, horizon " << o_.horizon << " cycles)\n";
  if (absl::Status s = Plan(summary); !s.ok()) return s;
  // One more anchor per agent: the latest checkpoints reach the fleet ledger.
  std::this_thread::sleep_for(std::chrono::milliseconds(3 * kHeartbeatMs));
  if (o_.keep_running) {
    out_ << "== 5/6 the fleet keeps running (fleetctl down --data-dir " << dir_.string()
         << " stops it); auditing the live ledgers\n";
  } else {
    out_ << "== 5/6 stop the fleet (SIGTERM: agents drain and flush their ledgers)\n";
    StopFleet();
  }
  out_ << "== 6/6 audit every ledger with fleet-audit\n";
  absl::Status audited = Audit(summary);
  summary["seconds"] = std::chrono::duration<double>(Clock::now() - started_).count();
  const std::string text = summary.dump(2);
  std::ofstream(dir_ / "summary.json") << text << "\n";
  if (!audited.ok()) return audited;
  leave_running_ = o_.keep_running;
  return text;
}

}  // namespace

absl::StatusOr<std::string> RunLocalFleet(const LocalFleetOptions& options, std::ostream& progress) {
  Launcher launcher(options, progress);  // Its destructor stops what it started.
  try {
    return launcher.Run();
  } catch (const std::exception& e) {  // An answer of an unexpected shape, say.
    return absl::InternalError(absl::StrCat("unexpected: ", e.what()));
  }
}

absl::Status StopLocalFleet(const fs::path& data_dir, std::ostream& progress, int grace_s) {
  absl::StatusOr<std::vector<ChildProcess>> recorded = ReadRecorded(data_dir);
  if (!recorded.ok()) return recorded.status();
  std::vector<ChildProcess> agents, coordinator;
  for (const ChildProcess& c : *recorded) {
    if (!Running(c)) continue;
    (c.name == "coordinator" ? coordinator : agents).push_back(c);
  }
  progress << "stopping " << agents.size() << " agents and " << coordinator.size()
           << " coordinator in " << data_dir.string() << "\n";
  StopAll(agents, grace_s, progress);  // Agents first: they flush their ledgers on SIGTERM.
  StopAll(coordinator, grace_s, progress);
  std::ifstream in(data_dir / kStateFile);
  json state = json::parse(in, nullptr, false);
  state["state"] = "stopped";
  std::ofstream(data_dir / kStateFile, std::ios::trunc) << state.dump(2) << "\n";
  return absl::OkStatus();
}

absl::StatusOr<FleetAccess> ReadFleetAccess(const fs::path& data_dir) {
  std::ifstream in(data_dir / kStateFile);
  if (!in) return absl::NotFoundError(absl::StrCat("no fleet in ", data_dir.string(), " (no fleet.json)"));
  const json state = json::parse(in, nullptr, false);
  try {
    return FleetAccess{state.at("control").get<std::string>(),
                       state.at("coordinator_key").get<std::string>(),
                       state.at("operator_key").get<std::string>()};
  } catch (const json::exception& e) {
    return absl::DataLossError(
        absl::StrCat(data_dir.string(), "/fleet.json is damaged: ", e.what()));
  }
}

}  // namespace fleettwin::deploy
