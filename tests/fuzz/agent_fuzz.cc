// Fuzz target over the agent's decoders of outside bytes: asset kind JSON, twin update and
// rejection records (read back from a ledger; a calibration rides inside an update), ZeroMQ
// telemetry batches, MQTT JSON payloads, what-if questions (parsed, not run), and `.npy` arrays (the model's and
// the federated rounds' parameters), and the fleet protocol's envelopes (what the coordinator and
// the agents' link receive), and CURVE key files and Z85 text. The first input byte picks the
// decoder. Property: no crash;
// a decoded update re-encodes to a record that decodes to the same update; a decoded calibration
// or array re-encodes to the same value; so does a decoded envelope.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "fleettwin/agent/asset_kind.h"
#include "fleettwin/agent/mqtt_source.h"
#include "fleettwin/agent/twin_records.h"
#include "fleettwin/agent/what_if.h"
#include "fleettwin/agent/zmq_source.h"
#include "fleettwin/common/curve.h"
#include "fleettwin/common/npy.h"
#include "fleettwin/protocol/messages.h"

namespace fa = fleettwin::agent;

// The seed for decoder `tag`: the tag byte, then a valid input.
std::string Tagged(char tag, std::string body) {
  body.insert(body.begin(), tag);
  return body;
}

std::vector<std::string> FuzzSeeds() {
  return {
      Tagged('\0', R"({"kind": "pump", "time": {"unit": "s", "period": 1},
              "channels": [{"name": "p", "min": 0, "max": 10}],
              "features": [{"name": "m", "channel": "p", "op": "mean", "window": 3}],
              "health": [{"name": "h", "source": "m", "warn": 5, "alarm": 8}],
              "anomaly": {"method": "median-mad", "window": 9}, "drift": {"lambda": 9}})"),
      Tagged('\1', fa::EncodeTwinUpdate("pump-1", 7, fa::Sample{3.5, {1, 2}})),
      Tagged('\1', fa::EncodeTwinUpdate("pump-1", 8, fa::DesiredChange{"s", 1, "op"})),
      Tagged('\2', fa::EncodeRejection("pump-1", 4, {fa::RejectReason::kRange, "p = 99"}, "p=99")),
      Tagged('\3', fa::EncodeTelemetryBatch(
                       "pump-1", {{1.5, {{"p", 2.0}, {"s", std::string("x")}, {"b", true}}}})),
      Tagged('\4', fa::EncodeTelemetryJson(
                       "pump-1", {{1.5, {{"p", 2.0}, {"s", std::string("x")}, {"n", {}}}}})),
      Tagged('\4', R"({"time": 3, "values": {"p": [1, {"a": null}], "q": "7"}})"),
      Tagged('\5', fa::Calibration{}.Encode()),
      Tagged('\7', R"({"capacity": 8, "horizon": 500, "replications": 200, "seed": 3})"),
      Tagged('\10', fleettwin::protocol::Encode(
                        {1, 2, "engine-1", 5, fleettwin::protocol::Heartbeat{3, "ok", true, 40}})),
      Tagged('\10', fleettwin::protocol::Encode(
                        {1, 3, "engine-1", 5,
                         fleettwin::protocol::Bid{"n-1", false, "", {{1, 2, 3}, 4, 40, 5, 100, "v"}}})),
      Tagged('\11', "fleettwin-curve-public engine-1 rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n"),
      Tagged('\11', "HelloWorld"),
      Tagged('\6', fleettwin::EncodeNpy(fleettwin::MakeNpy<float>({2, 2}, std::vector<float>{1, 2, 3, 4}))),
  };
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const fleettwin::Bytes input(data + 1, size - 1);
  switch (data[0] % 10) {
    case 0:
      (void)fa::ParseAssetKind(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
      break;
    case 1: {
      absl::StatusOr<fa::DecodedUpdate> update = fa::DecodeTwinUpdate(input, 2);
      if (update.ok()) {
        const std::string again =
            fa::EncodeTwinUpdate(update->asset, update->revision, update->change);
        absl::StatusOr<fa::DecodedUpdate> twice =
            fa::DecodeTwinUpdate(fleettwin::AsBytes(again), 2);
        if (!twice.ok() || twice->revision != update->revision || twice->asset != update->asset ||
            twice->change.index() != update->change.index()) {
          std::abort();
        }
      }
      break;
    }
    case 2:
      (void)fa::DecodeRejection(input);
      break;
    case 3:
      (void)fa::DecodeTelemetryBatch(input);
      break;
    case 5: {
      absl::StatusOr<fa::Calibration> c = fa::Calibration::Decode(
          std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
      if (c.ok()) {
        absl::StatusOr<fa::Calibration> again = fa::Calibration::Decode(c->Encode());
        if (!again.ok() || !(*again == *c)) std::abort();
      }
      break;
    }
    case 6: {
      absl::StatusOr<fleettwin::NpyArray> a = fleettwin::DecodeNpy(
          std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
      if (a.ok()) {
        absl::StatusOr<fleettwin::NpyArray> again = fleettwin::DecodeNpy(fleettwin::EncodeNpy(*a));
        if (!again.ok() || !(*again == *a)) std::abort();
      }
      break;
    }
    case 7: {
      static const fa::AssetKind kBelt = *fa::ParseAssetKind(R"({"kind": "belt",
          "time": {"unit": "u", "period": 1},
          "channels": [{"name": "state", "min": 0, "max": 2}, {"name": "capacity", "min": 0, "max": 9}],
          "simulator": {"model": "conveyor"}})");
      static const fa::AssetKind kEngine = *fa::ParseAssetKind(R"({"kind": "engine",
          "time": {"unit": "cycle", "period": 1}, "channels": [{"name": "s1", "min": 0, "max": 9}],
          "simulator": {"model": "turbofan"}})");
      const std::string_view q(reinterpret_cast<const char*>(data + 1), size - 1);
      (void)fa::ParseWhatIfJson(kBelt, q);
      (void)fa::ParseWhatIfJson(kEngine, q);
      break;
    }
    case 8: {
      absl::StatusOr<fleettwin::protocol::Envelope> e = fleettwin::protocol::Decode(
          std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
      if (e.ok()) {
        absl::StatusOr<fleettwin::protocol::Envelope> again =
            fleettwin::protocol::Decode(fleettwin::protocol::Encode(*e));
        if (!again.ok() || !(*again == *e)) std::abort();
      }
      break;
    }
    case 9: {
      namespace fc = fleettwin::common;
      const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
      (void)fc::Z85Decode(text);
      (void)fc::ParseCurveSecretKey(text);
      absl::StatusOr<fc::CurvePublicKey> key = fc::ParseCurvePublicKey(text);
      if (key.ok()) {
        absl::StatusOr<fc::CurvePublicKey> again = fc::ParseCurvePublicKey(fc::FormatCurvePublicKey(*key));
        if (!again.ok() || again->name != key->name || again->key != key->key) std::abort();
      }
      break;
    }
    default:
      (void)fa::DecodeTelemetryJson(
          std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
      break;
  }
  return 0;
}
