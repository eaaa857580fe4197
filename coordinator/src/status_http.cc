#include "fleettwin/coordinator/status_http.h"

#include <httplib.h>

#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "fleettwin/common/metrics.h"

namespace fleettwin::coordinator {

std::string CoordinatorMetricsText(const Coordinator& coordinator) {
  PrometheusWriter w;
  const CoordinatorStats& s = coordinator.stats();
  const std::pair<const char*, const std::atomic<uint64_t>*> counters[] = {
      {"received", &s.received},
      {"malformed", &s.malformed},
      {"impersonated", &s.impersonated},
      {"replayed", &s.replayed},
      {"unexpected", &s.unexpected},
      {"registrations", &s.registrations},
      {"heartbeats", &s.heartbeats},
      {"lost", &s.lost},
      {"bids", &s.bids},
      {"plans", &s.plans},
      {"anchors", &s.anchors},
      {"ledger_errors", &s.ledger_errors},
      {"control_requests", &s.control_requests},
      {"control_errors", &s.control_errors},
      {"task_auctions", &s.task_auctions},
      {"handler_errors", &s.handler_errors},
  };
  for (const auto& [name, value] : counters) {
    const std::string family = absl::StrCat("fleettwin_coordinator_", name, "_total");
    w.Family(family, "counter", absl::StrCat("Coordinator counter: ", name));
    w.Sample(family, static_cast<double>(value->load()));
  }
  w.Family("fleettwin_coordinator_unauthenticated_total", "counter",
           "Connections refused by the CURVE allow-list");
  w.Sample("fleettwin_coordinator_unauthenticated_total",
           static_cast<double>(coordinator.unauthenticated()));
  int active = 0, lost = 0;
  for (const Member& m : coordinator.Members()) (m.state == MemberState::kActive ? active : lost)++;
  w.Family("fleettwin_coordinator_members", "gauge", "Fleet members by state");
  w.Sample("fleettwin_coordinator_members", {{"state", "active"}}, active);
  w.Sample("fleettwin_coordinator_members", {{"state", "lost"}}, lost);
  w.Family("fleettwin_coordinator_ledger_entries", "gauge", "Entries in the fleet ledger");
  w.Sample("fleettwin_coordinator_ledger_entries", static_cast<double>(coordinator.LedgerSize()));
  w.Family("fleettwin_coordinator_up", "gauge", "1 while the coordinator's loop runs");
  w.Sample("fleettwin_coordinator_up", coordinator.running() ? 1 : 0);
  return w.text();
}

struct StatusHttp::Impl {
  httplib::Server server;
  std::thread thread;
};

StatusHttp::StatusHttp(std::unique_ptr<Impl> impl, int port) : impl_(std::move(impl)), port_(port) {}

StatusHttp::~StatusHttp() {
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

absl::StatusOr<std::unique_ptr<StatusHttp>> StatusHttp::Start(const std::string& bind,
                                                              const Coordinator& coordinator) {
  const size_t colon = bind.rfind(':');
  int port = -1;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(bind.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP address '", bind, "' must be HOST:PORT, e.g. 0.0.0.0:8080"));
  }
  auto impl = std::make_unique<Impl>();
  httplib::Server& server = impl->server;
  server.set_read_timeout(5, 0);
  server.set_write_timeout(5, 0);
  // Live while its loop turns; a loop stuck for 10 s (a wedged handler) fails the probe.
  server.Get("/healthz", [&coordinator](const httplib::Request&, httplib::Response& res) {
    const int64_t idle_ms = coordinator.loop_idle_ms();
    const bool up = coordinator.running() && idle_ms < 10'000;
    res.status = up ? 200 : 503;
    res.set_content(up ? "ok\n"
                       : coordinator.running()
                             ? absl::StrCat("the loop has not turned for ", idle_ms, " ms\n")
                             : std::string("stopping\n"),
                    "text/plain");
  });
  server.Get("/readyz", [&coordinator](const httplib::Request&, httplib::Response& res) {
    const bool up = coordinator.running();
    res.status = up ? 200 : 503;
    res.set_content(up ? "ready\n" : "stopping\n", "text/plain");
  });
  server.Get("/metrics", [&coordinator](const httplib::Request&, httplib::Response& res) {
    res.set_content(CoordinatorMetricsText(coordinator), "text/plain; version=0.0.4; charset=utf-8");
  });
  const std::string host = bind.substr(0, colon);
  const int bound = port == 0 ? server.bind_to_any_port(host) : (server.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) return absl::UnavailableError(absl::StrCat("cannot listen on HTTP ", bind));
  impl->thread = std::thread([s = &impl->server] { s->listen_after_bind(); });
  return std::unique_ptr<StatusHttp>(new StatusHttp(std::move(impl), bound));
}

}  // namespace fleettwin::coordinator
