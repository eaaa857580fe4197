// The only place the agent touches ZeroMQ (cppzmq) for telemetry; zmq::error_t never leaves it.
#include "fleettwin/agent/zmq_source.h"

#include <optional>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>
#include <zmq.hpp>

#include "absl/strings/str_cat.h"
#include "proto/telemetry.capnp.h"

namespace fleettwin::agent {
namespace {

constexpr uint16_t kVersion = 1;

}  // namespace

std::string EncodeTelemetryBatch(std::string_view asset, const std::vector<RawSample>& samples) {
  capnp::MallocMessageBuilder message;
  auto batch = message.initRoot<proto::TelemetryBatch>();
  batch.setVersion(kVersion);
  batch.setAsset(capnp::Text::Reader(asset.data(), asset.size()));
  auto list = batch.initSamples(static_cast<unsigned>(samples.size()));
  for (unsigned i = 0; i < samples.size(); ++i) {
    list[i].setTime(samples[i].time);
    auto fields = list[i].initFields(static_cast<unsigned>(samples[i].fields.size()));
    for (unsigned f = 0; f < samples[i].fields.size(); ++f) {
      const auto& [name, value] = samples[i].fields[f];
      fields[f].setName(name);
      auto v = fields[f].initValue();
      if (const double* d = std::get_if<double>(&value)) {
        v.setNumber(*d);
      } else if (const std::string* s = std::get_if<std::string>(&value)) {
        v.setText(*s);
      } else if (const bool* b = std::get_if<bool>(&value)) {
        v.setBoolean(*b);
      } else {
        v.setNull();
      }
    }
  }
  kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

absl::StatusOr<DecodedBatch> DecodeTelemetryBatch(Bytes message) {
  if (message.empty() || message.size() % sizeof(capnp::word) != 0) {
    return absl::InvalidArgumentError("telemetry message is not a whole number of 8-byte words");
  }
  std::vector<uint64_t> words(message.size() / sizeof(capnp::word));
  std::memcpy(words.data(), message.data(), message.size());
  capnp::ReaderOptions options;
  options.traversalLimitInWords = words.size() * 4 + 64;
  options.nestingLimit = 8;
  DecodedBatch out;
  absl::Status status;
  KJ_IF_MAYBE (e, kj::runCatchingExceptions([&] {
                 capnp::FlatArrayMessageReader reader(
                     kj::arrayPtr(reinterpret_cast<const capnp::word*>(words.data()), words.size()),
                     options);
                 auto batch = reader.getRoot<proto::TelemetryBatch>();
                 if (batch.getVersion() != kVersion) {
                   status = absl::InvalidArgumentError(absl::StrCat(
                       "telemetry version ", batch.getVersion(), " is not ", kVersion));
                   return;
                 }
                 out.asset = std::string(batch.getAsset().begin(), batch.getAsset().size());
                 out.samples.reserve(batch.getSamples().size());
                 for (auto s : batch.getSamples()) {
                   Telemetry t;
                   t.sample.time = s.getTime();
                   t.sample.fields.reserve(s.getFields().size());
                   for (auto f : s.getFields()) {
                     std::string name(f.getName().begin(), f.getName().size());
                     auto v = f.getValue();
                     FieldValue value;
                     switch (v.which()) {
                       case proto::Field::Value::NUMBER:
                         value = v.getNumber();
                         break;
                       case proto::Field::Value::TEXT:
                         value = std::string(v.getText().begin(), v.getText().size());
                         break;
                       case proto::Field::Value::BOOLEAN:
                         value = v.getBoolean();
                         break;
                       default:  // null: the field is there, without a value.
                         break;
                     }
                     t.sample.fields.emplace_back(std::move(name), std::move(value));
                   }
                   out.samples.push_back(std::move(t));
                 }
               })) {
    return absl::InvalidArgumentError(
        absl::StrCat("telemetry message does not decode: ", e->getDescription().cStr()));
  }
  if (!status.ok()) return status;
  return out;
}

struct ZmqSource::Sockets {
  zmq::context_t context{1};
  zmq::socket_t pull{context, zmq::socket_type::pull};
};

ZmqSource::ZmqSource(const ZmqSourceOptions& options, TelemetryQueue& queue)
    : options_(options), queue_(queue), sockets_(std::make_unique<Sockets>()) {}

absl::StatusOr<std::unique_ptr<ZmqSource>> ZmqSource::Start(const ZmqSourceOptions& options,
                                                            TelemetryQueue& queue) {
  if (options.endpoint.empty()) return absl::InvalidArgumentError("no ZeroMQ endpoint to bind");
  std::unique_ptr<ZmqSource> source(new ZmqSource(options, queue));
  try {
    source->sockets_->pull.set(zmq::sockopt::rcvhwm, options.receive_hwm);
    // A bigger message is refused by ZeroMQ itself (the peer is disconnected).
    source->sockets_->pull.set(zmq::sockopt::maxmsgsize, options.max_message_bytes);
    source->sockets_->pull.set(zmq::sockopt::linger, 0);
    source->sockets_->pull.bind(options.endpoint);
    source->endpoint_ = source->sockets_->pull.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    if (e.num() == EADDRINUSE) {
      return absl::UnavailableError(absl::StrCat("bind ", options.endpoint, ": ", e.what()));
    }
    return absl::InvalidArgumentError(absl::StrCat("bind ", options.endpoint, ": ", e.what()));
  }
  source->thread_ = std::thread([raw = source.get()] { raw->Run(); });
  return source;
}

ZmqSource::~ZmqSource() { Stop(); }

void ZmqSource::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ZmqSource::Run() {
  zmq::socket_t& pull = sockets_->pull;
  std::optional<std::chrono::steady_clock::time_point> stop_deadline;
  while (true) {
    const bool stopping = stop_.load();
    if (stopping) {
      // Take what the socket holds, but not forever: a sender that keeps up with the twin would
      // otherwise hold the shutdown open. What it sends later stays in its own socket.
      const auto now = std::chrono::steady_clock::now();
      if (!stop_deadline) stop_deadline = now + std::chrono::seconds(2);
      if (now > *stop_deadline) break;
    }
    zmq::message_t message;
    try {
      if (!stopping) {
        zmq::pollitem_t item{pull.handle(), 0, ZMQ_POLLIN, 0};
        if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0) continue;
      }
      // When stopping, take what the socket already holds, then leave: a message received by
      // ZeroMQ must not be lost to a shutdown.
      if (!pull.recv(message, zmq::recv_flags::dontwait)) {
        if (stopping) break;
        continue;
      }
    } catch (const zmq::error_t&) {
      if (stopping) break;
      continue;  // EINTR and the like: try again.
    }
    stats_.Deliver(
        DecodeTelemetryBatch(Bytes(static_cast<const uint8_t*>(message.data()), message.size())),
        message.size(), options_.asset, /*asset_optional=*/false, queue_, options_.push_timeout);
  }
}

}  // namespace fleettwin::agent
