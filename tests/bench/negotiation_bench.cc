// negotiation_bench: one maintenance negotiation with N agent endpoints on real ZeroMQ sockets
// with CURVE (issue 5): N = 1 000 and 10 000 by default. The coordinator runs in this process;
// the agents are DEALER sockets spread over --hosts child processes (agents may share
// processes; each socket costs two file descriptors). Every agent registers, bids a fixed
// cost curve when called, accepts its award, then sends --heartbeats heartbeats as fast as its
// socket takes them. Prints the time from the call for proposals to the committed plan, the
// negotiation's messages per second (calls, bids, awards, replies, commits), and the rate at
// which the coordinator ingests heartbeats. Exits non-zero only if a run fails (a plan without
// every agent, heartbeats missing), never on the figures.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "fleettwin/common/curve.h"
#include "fleettwin/coordinator/coordinator.h"
#include "fleettwin/protocol/curve_zmq.h"
#include "fleettwin/protocol/messages.h"

namespace {

int quick_timeout_s = 120;  // How long registration may take.
using fleettwin::common::CurveKeyPair;
namespace protocol = fleettwin::protocol;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

struct Endpoint {
  std::string name;
  std::unique_ptr<zmq::socket_t> socket;
  uint64_t next_id = 1;
  bool committed = false;
  int heartbeats_left = 0;
};

void SendOn(Endpoint& e, protocol::Body body, uint64_t session) {
  const std::string bytes =
      protocol::Encode({session, e.next_id++, e.name, 0, std::move(body)});
  e.socket->send(zmq::buffer(bytes), zmq::send_flags::none);
}

// A child process hosting agents [first, last): the whole agent side of the protocol, minus
// the twin (bids are a fixed curve, every award is accepted).
[[noreturn]] void HostAgents(int endpoint_pipe, const fleettwin::common::CurveKey& server,
                             const std::vector<CurveKeyPair>& keys, size_t first, size_t last,
                             int heartbeats) {
  // Forked before the coordinator started (a single-threaded parent), so nothing here can
  // inherit a lock; the endpoint arrives once the coordinator is bound.
  char buffer[256] = {};
  size_t got = 0;
  // One line; later children inherit earlier pipes' write ends, so end of file cannot be
  // relied on.
  while (got < sizeof buffer - 1 && (got == 0 || buffer[got - 1] != '\n')) {
    const ssize_t r = ::read(endpoint_pipe, buffer + got, sizeof buffer - 1 - got);
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  if (got == 0 || buffer[got - 1] != '\n') ::_exit(1);  // The parent gave up.
  const std::string endpoint(buffer, got - 1);
  zmq::context_t context(1);
  context.set(zmq::ctxopt::max_sockets, static_cast<int>(last - first) + 16);
  const uint64_t session = static_cast<uint64_t>(::getpid()) + 1;
  std::vector<Endpoint> agents(last - first);
  for (size_t i = first; i < last; ++i) {
    Endpoint& e = agents[i - first];
    e.name = "agent-" + std::to_string(i);
    e.socket = std::make_unique<zmq::socket_t>(context, zmq::socket_type::dealer);
    e.socket->set(zmq::sockopt::linger, 0);
    e.socket->set(zmq::sockopt::sndhwm, 100000);
    (void)protocol::MakeCurveClient(*e.socket, keys[i], server);
    e.socket->connect(endpoint);
    SendOn(e, protocol::Register{"bench", "bench", 1000}, session);
  }
  std::vector<zmq::pollitem_t> items;
  for (Endpoint& e : agents) items.push_back({e.socket->handle(), 0, ZMQ_POLLIN, 0});
  size_t beating = 0;
  while (true) {
    zmq::poll(items, std::chrono::milliseconds(beating > 0 ? 0 : 100));
    for (size_t k = 0; k < agents.size(); ++k) {
      if (!(items[k].revents & ZMQ_POLLIN)) continue;
      Endpoint& e = agents[k];
      zmq::message_t m;
      while (e.socket->recv(m, zmq::recv_flags::dontwait)) {
        absl::StatusOr<protocol::Envelope> env = protocol::Decode(m.to_string_view());
        if (!env.ok()) continue;
        if (const auto* call = std::get_if<protocol::CallForProposals>(&env->body)) {
          protocol::Bid bid;
          bid.negotiation = call->negotiation;
          const size_t slots = call->maintenance.horizon / call->maintenance.duration;
          const size_t index = k + first;
          for (size_t s = 0; s < slots; ++s) {
            bid.maintenance.slot_cost.push_back(20.0 + static_cast<double>((s * 7 + index) % 50));
          }
          bid.maintenance.none_cost = 60.0 + static_cast<double>(index % 40);
          SendOn(e, std::move(bid), session);
        } else if (const auto* award = std::get_if<protocol::Award>(&env->body)) {
          SendOn(e, protocol::AwardReply{award->negotiation, award->plan_hash, true, ""}, session);
        } else if (std::holds_alternative<protocol::Commit>(env->body)) {
          e.committed = true;
          e.heartbeats_left = heartbeats;
          if (heartbeats > 0) ++beating;
        }
      }
    }
    // Heartbeats, round-robin over the committed agents.
    if (beating > 0) {
      for (Endpoint& e : agents) {
        if (e.heartbeats_left <= 0) continue;
        protocol::Heartbeat h;
        h.revision = static_cast<uint64_t>(e.heartbeats_left);
        h.health = "ok";
        SendOn(e, h, session);
        if (--e.heartbeats_left == 0) --beating;
      }
    }
  }
}

struct Result {
  bool ok = false;
  double register_s = 0, plan_s = 0, plan_messages_per_s = 0, heartbeat_per_s = 0;
  uint64_t heartbeats = 0;
  int left_out = 0;
};

Result RunOnce(size_t n, int hosts, int heartbeats) {
  Result result;
  const CurveKeyPair server = fleettwin::common::GenerateCurveKeyPair();
  std::vector<CurveKeyPair> keys;
  fleettwin::coordinator::CoordinatorOptions options;
  options.endpoint = "tcp://127.0.0.1:*";
  options.keys = server;
  options.membership.heartbeat_timeout_ms = 600'000;
  for (size_t i = 0; i < n; ++i) {
    keys.push_back(fleettwin::common::GenerateCurveKeyPair());
    options.allowed_agents.push_back({"agent-" + std::to_string(i), keys.back().public_key});
  }
  std::vector<pid_t> children;
  std::vector<int> pipes;
  for (int h = 0; h < hosts; ++h) {
    const size_t first = n * static_cast<size_t>(h) / static_cast<size_t>(hosts);
    const size_t last = n * static_cast<size_t>(h + 1) / static_cast<size_t>(hosts);
    int fds[2];
    if (::pipe(fds) != 0) return result;
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[1]);
      HostAgents(fds[0], server.public_key, keys, first, last, heartbeats);
    }
    ::close(fds[0]);
    children.push_back(pid);
    pipes.push_back(fds[1]);
  }
  fleettwin::SystemClock clock;
  auto coordinator = fleettwin::coordinator::Coordinator::Start(options, clock);
  for (int fd : pipes) {
    if (coordinator.ok()) {
      const std::string endpoint = (*coordinator)->endpoint() + "\n";
      if (::write(fd, endpoint.data(), endpoint.size()) < 0) std::perror("pipe");
    }
    ::close(fd);
  }
  if (!coordinator.ok()) {
    std::fprintf(stderr, "negotiation_bench: %s\n", coordinator.status().ToString().c_str());
    for (pid_t pid : children) ::waitpid(pid, nullptr, 0);
    return result;
  }
  const auto started = Clock::now();
  const auto& stats = (*coordinator)->stats();
  const auto deadline = Clock::now() + std::chrono::seconds(quick_timeout_s);
  while (stats.registrations.load() < n && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const auto registered = Clock::now();
  if (stats.registrations.load() < n) {
    std::fprintf(stderr, "negotiation_bench: %llu of %zu agents registered (%llu messages, %llu "
                 "malformed, %llu refused at the handshake)\n",
                 static_cast<unsigned long long>(stats.registrations.load()), n,
                 static_cast<unsigned long long>(stats.received.load()),
                 static_cast<unsigned long long>(stats.malformed.load()),
                 static_cast<unsigned long long>((*coordinator)->unauthenticated()));
  }
  result.register_s = Seconds(started, registered);
  if (stats.registrations.load() >= n) {
    const protocol::MaintenanceCall call{150, 5, 2, 100, 20, 0.5};
    const uint64_t heartbeats_before = stats.heartbeats.load();
    const auto plan_started = Clock::now();
    absl::StatusOr<fleettwin::coordinator::PlanRecord> plan = (*coordinator)->NegotiateMaintenance(
        "bench", call, {.bid_window_ms = 60'000, .reply_timeout_ms = 60'000});
    const auto plan_done = Clock::now();
    if (plan.ok()) {
      result.plan_s = Seconds(plan_started, plan_done);
      result.plan_messages_per_s = 5.0 * static_cast<double>(n) / result.plan_s;
      result.left_out = static_cast<int>(plan->left_out.size());
      // Heartbeat ingestion: from the first to the last heartbeat the coordinator took in.
      const uint64_t expected = heartbeats_before + n * static_cast<uint64_t>(heartbeats);
      Clock::time_point first_seen{}, last_seen{};
      uint64_t first_count = 0, last_count = 0;
      const auto hb_deadline = Clock::now() + std::chrono::seconds(120);
      while (Clock::now() < hb_deadline) {
        const uint64_t c = stats.heartbeats.load();
        if (c > heartbeats_before && first_count == 0) {
          first_seen = Clock::now();
          first_count = c;
        }
        if (c != last_count) {
          last_seen = Clock::now();
          last_count = c;
        }
        if (c >= expected) break;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      result.heartbeats = last_count - heartbeats_before;
      if (last_count > first_count && last_seen > first_seen) {
        result.heartbeat_per_s =
            static_cast<double>(last_count - first_count) / Seconds(first_seen, last_seen);
      }
      result.ok = result.left_out == 0 && last_count >= expected;
    } else {
      std::fprintf(stderr, "negotiation_bench: %s\n", plan.status().ToString().c_str());
    }
  }
  for (pid_t pid : children) ::kill(pid, SIGKILL);
  for (pid_t pid : children) ::waitpid(pid, nullptr, 0);
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"One maintenance negotiation with 1 000 and 10 000 agents over ZeroMQ + CURVE, "
               "and the coordinator's heartbeat ingestion rate"};
  std::vector<size_t> sizes = {1000, 10000};
  int hosts = 4, heartbeats = 20;
  bool quick = false;
  app.add_option("--agents", sizes, "Fleet sizes")->capture_default_str();
  app.add_option("--hosts", hosts, "Child processes hosting the agents' sockets")
      ->capture_default_str();
  app.add_option("--heartbeats", heartbeats, "Heartbeats per agent after the plan")
      ->capture_default_str();
  app.add_flag("--quick", quick, "Smoke mode: 100 agents, 2 hosts, 5 heartbeats");
  CLI11_PARSE(app, argc, argv);
  if (quick) {
    sizes = {100};
    hosts = 2;
    heartbeats = 5;
  }
  // Each agent socket holds two descriptors in its host, each connection one here.
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  std::printf("%8s %12s %14s %16s %18s %12s\n", "agents", "register s", "plan s",
              "plan msgs/s", "heartbeats/s", "left out");
  bool ok = true;
  for (size_t n : sizes) {
    const Result r = RunOnce(n, hosts, heartbeats);
    std::printf("%8zu %12.3f %14.3f %16.0f %18.0f %12d%s\n", n, r.register_s, r.plan_s,
                r.plan_messages_per_s, r.heartbeat_per_s, r.left_out, r.ok ? "" : "  FAILED");
    std::fflush(stdout);
    ok = ok && r.ok;
  }
  std::printf("targets: plan <= 1 s (1 000 agents), <= 10 s (10 000); heartbeats >= 100 000/s%s\n",
              quick ? " (quick smoke mode: figures are meaningless)" : "");
  return ok ? 0 : 1;
}
