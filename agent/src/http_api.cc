#include "http_api.h"

#include <httplib.h>

#include <optional>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "fleettwin/agent/agent_runtime.h"

namespace fleettwin::agent {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxBody = 64 << 10;

void JsonError(httplib::Response& res, int status, std::string_view message) {
  res.status = status;
  res.set_content(json{{"error", message}}.dump() + "\n", "application/json");
}

int HttpStatus(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kAlreadyExists:
      return 409;
    default:
      return 500;
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpApi>> HttpApi::Start(const std::string& bind,
                                                        AgentRuntime& agent, Access access) {
  const size_t colon = bind.rfind(':');
  int port = -1;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(bind.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP bind '", bind, "' must be HOST:PORT, e.g. 127.0.0.1:8080"));
  }
  const std::string host = bind.substr(0, colon);
  std::unique_ptr<HttpApi> api(new HttpApi());
  api->server_ = std::make_unique<httplib::Server>();
  httplib::Server& server = *api->server_;
  server.set_payload_max_length(kMaxBody);
  server.set_read_timeout(5, 0);
  server.set_write_timeout(5, 0);

  server.Get("/healthz", [&agent](const httplib::Request&, httplib::Response& res) {
    const absl::Status healthy = agent.Healthy();
    res.status = healthy.ok() ? 200 : 503;
    res.set_content(healthy.ok() ? "ok\n" : absl::StrCat(healthy.message(), "\n"), "text/plain");
  });
  server.Get("/readyz", [&agent](const httplib::Request&, httplib::Response& res) {
    const absl::Status ready = agent.Ready();
    res.status = ready.ok() ? 200 : 503;
    res.set_content(ready.ok() ? "ready\n" : absl::StrCat(ready.message(), "\n"), "text/plain");
  });
  server.Get("/metrics", [&agent](const httplib::Request&, httplib::Response& res) {
    res.set_content(agent.MetricsText(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server.Get("/twin", [&agent](const httplib::Request&, httplib::Response& res) {
    absl::StatusOr<std::string> twin = agent.DurableTwinJson();
    if (!twin.ok()) return JsonError(res, 503, std::string(twin.status().message()));
    res.set_content(*twin + "\n", "application/json");
  });
  server.Get("/sources", [&agent](const httplib::Request&, httplib::Response& res) {
    res.set_content(agent.SourcesJson() + "\n", "application/json");
  });
  server.Get("/quarantine", [&agent](const httplib::Request& req, httplib::Response& res) {
    size_t limit = 100;
    if (req.has_param("limit") && !absl::SimpleAtoi(req.get_param_value("limit"), &limit)) {
      return JsonError(res, 400, "limit must be a non-negative integer");
    }
    res.set_content(agent.QuarantineJson(limit) + "\n", "application/json");
  });
  if (access == Access::kAll) {
    // PUT /desired/NAME {"value": 3.5, "author": "ops"}: a recorded desired value.
    server.Put(
        R"(/desired/([^/]+))", [&agent](const httplib::Request& req, httplib::Response& res) {
          const json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
          if (body.is_discarded() || !body.is_object()) {
            return JsonError(res, 400, "body must be a JSON object: {\"value\": N, \"author\": S}");
          }
          auto value = body.find("value");
          if (value == body.end() || !value->is_number()) {
            return JsonError(res, 400, "\"value\" must be a number");
          }
          std::string author = "http";
          if (auto a = body.find("author"); a != body.end()) {
            if (!a->is_string()) return JsonError(res, 400, "\"author\" must be a string");
            author = a->get<std::string>();
          }
          absl::StatusOr<uint64_t> revision =
              agent.SetDesired(req.matches[1].str(), value->get<double>(), std::move(author));
          if (!revision.ok()) {
            return JsonError(res, HttpStatus(revision.status()),
                             std::string(revision.status().message()));
          }
          res.set_content(json{{"revision", *revision}}.dump() + "\n", "application/json");
        });
    // POST /maintenance {"note": "failure", "time": 212, "author": "ops", "renews": true}: a
    // maintenance done on the asset (time defaults to the latest sample's; renews to true),
    // recorded as a twin update.
    server.Post("/maintenance", [&agent](const httplib::Request& req, httplib::Response& res) {
      const json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
      if (body.is_discarded() || !body.is_object()) {
        return JsonError(res, 400,
                         "body must be a JSON object: {\"note\": S, \"time\": T, \"author\": S, "
                         "\"renews\": B}");
      }
      for (const auto& [key, value] : body.items()) {
        if (key != "note" && key != "time" && key != "author" && key != "renews" && key != "id") {
          return JsonError(res, 400, absl::StrCat("unknown key \"", key, "\""));
        }
      }
      std::string note = "maintenance", author = "http", id;
      std::optional<double> time;
      bool renews = true;
      if (auto r = body.find("renews"); r != body.end()) {
        if (!r->is_boolean()) return JsonError(res, 400, "\"renews\" must be true or false");
        renews = r->get<bool>();
      }
      if (auto n = body.find("note"); n != body.end()) {
        if (!n->is_string()) return JsonError(res, 400, "\"note\" must be a string");
        note = n->get<std::string>();
      }
      if (auto a = body.find("author"); a != body.end()) {
        if (!a->is_string()) return JsonError(res, 400, "\"author\" must be a string");
        author = a->get<std::string>();
      }
      if (auto i = body.find("id"); i != body.end()) {
        if (!i->is_string()) return JsonError(res, 400, "\"id\" must be a string");
        id = i->get<std::string>();
      }
      if (auto t = body.find("time"); t != body.end()) {
        if (!t->is_number()) return JsonError(res, 400, "\"time\" must be a number");
        time = t->get<double>();
      }
      absl::StatusOr<uint64_t> revision =
          agent.RecordMaintenance(time, std::move(note), std::move(author), renews, std::move(id));
      if (!revision.ok()) {
        return JsonError(res, HttpStatus(revision.status()),
                         std::string(revision.status().message()));
      }
      res.set_content(json{{"revision", *revision}}.dump() + "\n", "application/json");
    });
    // POST /whatif {"capacity": 8, "horizon": 500, "replications": 2000}: a Monte Carlo answer
    // from the twin's calibrated simulator (fields in docs/agent.md).
    server.Post("/whatif", [&agent](const httplib::Request& req, httplib::Response& res) {
      absl::StatusOr<std::string> answer = agent.WhatIfJson(req.body);
      if (!answer.ok()) {
        return JsonError(res, HttpStatus(answer.status()), std::string(answer.status().message()));
      }
      res.set_content(*answer + "\n", "application/json");
    });
  }
  server.set_error_handler([access](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404) {
      JsonError(res, 404,
                absl::StrCat("no ", req.method, " ", req.path,
                             "; try /healthz /readyz /metrics /twin /quarantine /sources",
                             access == Access::kAll
                                 ? " PUT /desired/NAME POST /maintenance POST /whatif"
                                 : " (this port is read-only: PUT /desired, POST /maintenance "
                                   "and POST /whatif are on the agent's operator port)"));
    } else {
      JsonError(res, res.status, absl::StrCat("HTTP ", res.status));
    }
  });
  server.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr e) {
        std::string what = "internal error";
        try {
          if (e) std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          what = ex.what();
        } catch (...) {
        }
        JsonError(res, 500, what);
      });

  if (port == 0) {
    port = server.bind_to_any_port(host);
    if (port < 0) return absl::UnavailableError(absl::StrCat("cannot bind HTTP on ", bind));
  } else if (!server.bind_to_port(host, port)) {
    return absl::UnavailableError(absl::StrCat("cannot bind HTTP on ", bind));
  }
  api->endpoint_ = absl::StrCat(host, ":", port);
  api->thread_ = std::thread([&server] { server.listen_after_bind(); });
  // stop() is a no-op until the server runs: return only once it does.
  for (int i = 0; i < 1000 && !server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return api;
}

void HttpApi::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

HttpApi::~HttpApi() { Stop(); }

}  // namespace fleettwin::agent
