#include "fleettwin/agent/mqtt_source.h"

#include <mqtt/async_client.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "json_depth.h"

namespace fleettwin::agent {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxRawText = 1024;  // What the quarantine keeps of one sample.
constexpr int kMaxDepth = 16;         // Of arrays and objects; a payload needs 4.


std::string RawText(const json& sample) {
  std::string text = sample.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > kMaxRawText) {
    text.resize(kMaxRawText);
    text += "…";
  }
  return text;
}

FieldValue ToField(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return std::monostate{};
    case json::value_t::boolean:
      return value.get<bool>();
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return value.get<double>();
    case json::value_t::string:
      return value.get<std::string>();
    default:  // Arrays and objects travel as their text: the validator rejects them as `type`.
      return value.dump(-1, ' ', false, json::error_handler_t::replace);
  }
}

Telemetry ToTelemetry(const json& sample) {
  Telemetry t;
  t.raw = RawText(sample);
  t.sample.time = std::numeric_limits<double>::quiet_NaN();  // Rejected as not_finite.
  if (!sample.is_object()) return t;  // No time, no fields: rejected, with its text kept.
  if (auto time = sample.find("time"); time != sample.end() && time->is_number()) {
    t.sample.time = time->get<double>();
  }
  if (auto values = sample.find("values"); values != sample.end() && values->is_object()) {
    t.sample.fields.reserve(values->size());
    for (const auto& [name, value] : values->items()) {
      t.sample.fields.emplace_back(name, ToField(value));
    }
  }
  return t;
}

json ToJson(const FieldValue& value) {
  if (const double* d = std::get_if<double>(&value)) {
    // JSON has no NaN or infinity; send them as text so they are rejected, not mistyped.
    if (!std::isfinite(*d)) return absl::StrCat(*d);
    return *d;
  }
  if (const bool* b = std::get_if<bool>(&value)) return *b;
  if (const std::string* s = std::get_if<std::string>(&value)) return *s;
  return nullptr;
}

}  // namespace

absl::StatusOr<DecodedBatch> DecodeTelemetryJson(std::string_view payload) {
  if (payload.size() > kMaxJsonPayload) {
    return absl::InvalidArgumentError(
        absl::StrCat("payload of ", payload.size(), " bytes exceeds ", kMaxJsonPayload));
  }
  if (JsonNestedDeeperThan(payload, kMaxDepth)) {
    return absl::InvalidArgumentError(
        absl::StrCat("payload nests arrays and objects deeper than ", kMaxDepth));
  }
  const json doc = json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError("payload is not JSON");
  if (!doc.is_object()) return absl::InvalidArgumentError("payload is not a JSON object");
  DecodedBatch batch;
  if (auto asset = doc.find("asset"); asset != doc.end()) {
    if (!asset->is_string()) return absl::InvalidArgumentError("\"asset\" is not a string");
    batch.asset = asset->get<std::string>();
  }
  if (auto samples = doc.find("samples"); samples != doc.end()) {
    if (!samples->is_array()) return absl::InvalidArgumentError("\"samples\" is not an array");
    batch.samples.reserve(samples->size());
    for (const json& sample : *samples) batch.samples.push_back(ToTelemetry(sample));
  } else if (doc.contains("time")) {
    batch.samples.push_back(ToTelemetry(doc));
  } else {
    return absl::InvalidArgumentError("payload has neither \"samples\" nor \"time\"");
  }
  return batch;
}

std::string EncodeTelemetryJson(std::string_view asset, const std::vector<RawSample>& samples) {
  json doc = json::object();
  doc["asset"] = std::string(asset);
  json list = json::array();
  for (const RawSample& s : samples) {
    json values = json::object();
    for (const auto& [name, value] : s.fields) values[name] = ToJson(value);
    list.push_back({{"time", s.time}, {"values", std::move(values)}});
  }
  doc["samples"] = std::move(list);
  return doc.dump();
}

struct MqttSource::Client {
  explicit Client(const MqttSourceOptions& options, const std::string& client_id)
      : client(options.broker, client_id, nullptr) {}
  mqtt::async_client client;
};

MqttSource::MqttSource(const MqttSourceOptions& options, TelemetryQueue& queue)
    : options_(options), queue_(queue) {}

absl::StatusOr<std::unique_ptr<MqttSource>> MqttSource::Start(const MqttSourceOptions& options,
                                                              TelemetryQueue& queue) {
  if (options.asset.empty()) return absl::InvalidArgumentError("MQTT source needs an asset");
  if (absl::StartsWith(options.broker, "ssl://") || absl::StartsWith(options.broker, "mqtts://")) {
    return absl::InvalidArgumentError(
        "MQTT over TLS is not supported yet: use tcp:// (on a trusted network or through a "
        "TLS-terminating proxy)");
  }
  if (!absl::StartsWith(options.broker, "tcp://") && !absl::StartsWith(options.broker, "mqtt://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("MQTT broker '", options.broker, "' must look like tcp://HOST:PORT"));
  }
  if (options.qos < 0 || options.qos > 2) {
    return absl::InvalidArgumentError("MQTT QoS must be 0, 1 or 2");
  }
  if (options.min_backoff.count() <= 0 || options.max_backoff < options.min_backoff) {
    return absl::InvalidArgumentError("MQTT backoff: need 0 < min <= max");
  }
  std::unique_ptr<MqttSource> source(new MqttSource(options, queue));
  source->topic_ = options.topic.empty() ? absl::StrCat("fleettwin/", options.asset, "/telemetry")
                                         : options.topic;
  const std::string client_id =
      options.client_id.empty() ? absl::StrCat("fleet-agent-", options.asset) : options.client_id;
  try {
    source->client_ = std::make_unique<Client>(options, client_id);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("MQTT client: ", e.what()));
  }
  MqttSource* raw = source.get();
  source->client_->client.set_message_callback([raw](mqtt::const_message_ptr message) {
    // Waiting in here for room in the queue holds up the client's network thread: the broker
    // keeps the rest.
    const std::string& payload = message->get_payload_str();
    raw->stats_.Deliver(DecodeTelemetryJson(payload), payload.size(), raw->options_.asset,
                        /*asset_optional=*/true, raw->queue_, raw->options_.push_timeout);
  });
  source->client_->client.set_connection_lost_handler([raw](const std::string& cause) {
    raw->stats_.SetError(absl::StrCat("connection lost", cause.empty() ? "" : ": ", cause));
    std::lock_guard lock(raw->mu_);
    raw->lost_ = true;
    raw->wake_.notify_all();
  });
  source->thread_ = std::thread([raw] { raw->Run(); });
  return source;
}

void MqttSource::Run() {
  mqtt::connect_options connect;
  connect.set_clean_session(false);  // The broker keeps the subscription and QoS 1 messages.
  connect.set_keep_alive_interval(std::chrono::seconds(10));
  connect.set_connect_timeout(std::chrono::seconds(5));
  connect.set_automatic_reconnect(false);  // Reconnection is this loop, with its own backoff.
  if (!options_.username.empty()) {
    connect.set_user_name(options_.username);
    connect.set_password(options_.password);
  }
  std::chrono::milliseconds backoff = options_.min_backoff;
  std::unique_lock lock(mu_);
  while (!stop_) {
    lost_ = false;
    lock.unlock();
    bool up = false;
    try {
      // Bounded waits: a token paho never completes (the broker went away between connect and
      // subscribe) must not hold this loop, or Stop(), forever.
      if (!client_->client.connect(connect)->wait_for(std::chrono::seconds(10))) {
        throw std::runtime_error("connect timed out");
      }
      if (!client_->client.subscribe(topic_, options_.qos)->wait_for(std::chrono::seconds(10))) {
        throw std::runtime_error("subscribe timed out");
      }
      up = true;
    } catch (const std::exception& e) {
      stats_.SetError(absl::StrCat("connect to ", options_.broker, ": ", e.what()));
      try {
        if (client_->client.is_connected()) client_->client.disconnect()->wait_for(1000);
      } catch (const std::exception&) {
      }
    }
    lock.lock();
    if (up) {
      ++connects_;
      connected_ = true;
      backoff = options_.min_backoff;
      wake_.wait(lock, [this] { return stop_ || lost_; });
      connected_ = false;
      continue;  // Lost: reconnect at once; stopped: leave.
    }
    ++connect_failures_;
    wake_.wait_for(lock, backoff, [this] { return stop_; });
    backoff = std::min(options_.max_backoff, backoff * 2);
  }
  lock.unlock();
  try {
    if (client_->client.is_connected()) client_->client.disconnect()->wait_for(5000);
  } catch (const std::exception& e) {
    stats_.SetError(absl::StrCat("disconnect: ", e.what()));
  }
  connected_ = false;
}

void MqttSource::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
    wake_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

MqttSource::~MqttSource() { Stop(); }

}  // namespace fleettwin::agent
