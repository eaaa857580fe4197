// The agent's HTTP endpoints (docs/agent.md), served with cpp-httplib on its own threads.
// Private to the agent library: the runtime owns it and is what it serves.
#ifndef FLEETTWIN_AGENT_HTTP_API_H_
#define FLEETTWIN_AGENT_HTTP_API_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace httplib {
class Server;
}

namespace fleettwin::agent {

class AgentRuntime;

class HttpApi final {
 public:
  // What a port serves: everything, or only the GET endpoints (the twin, health, metrics),
  // never PUT /desired, POST /maintenance or POST /whatif, for a port that auditors and
  // monitoring may reach.
  enum class Access { kAll, kReadOnly };

  // Binds `bind` ("HOST:PORT"; port 0 picks a free one) and serves `agent`, which must outlive
  // the server. Errors: InvalidArgument (malformed bind), Unavailable (cannot bind).
  static absl::StatusOr<std::unique_ptr<HttpApi>> Start(const std::string& bind,
                                                        AgentRuntime& agent,
                                                        Access access = Access::kAll);
  ~HttpApi();  // Stops.
  void Stop();

  // "HOST:PORT" as bound.
  const std::string& endpoint() const { return endpoint_; }

 private:
  HttpApi() = default;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::string endpoint_;
};

}  // namespace fleettwin::agent

#endif  // FLEETTWIN_AGENT_HTTP_API_H_
