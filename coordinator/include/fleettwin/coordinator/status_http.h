// The coordinator's HTTP status endpoint, for probes and Prometheus: GET /healthz (the loop
// runs), GET /readyz (it takes agents and operators), GET /metrics (its counters, membership
// by state, plans and ledger size). Read-only: nothing here changes the fleet.
#ifndef FLEETTWIN_COORDINATOR_STATUS_HTTP_H_
#define FLEETTWIN_COORDINATOR_STATUS_HTTP_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "fleettwin/coordinator/coordinator.h"

namespace fleettwin::coordinator {

// Prometheus text (format 0.0.4) of the coordinator's state.
std::string CoordinatorMetricsText(const Coordinator& coordinator);

class StatusHttp final {
 public:
  // Serves on `bind` (HOST:PORT; port 0 picks a free one). `coordinator` must outlive this.
  // Errors: InvalidArgument (bad address), Unavailable (cannot bind).
  static absl::StatusOr<std::unique_ptr<StatusHttp>> Start(const std::string& bind,
                                                           const Coordinator& coordinator);
  ~StatusHttp();  // Stops serving.
  int port() const { return port_; }

 private:
  struct Impl;
  explicit StatusHttp(std::unique_ptr<Impl> impl, int port);
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace fleettwin::coordinator

#endif  // FLEETTWIN_COORDINATOR_STATUS_HTTP_H_
