// Fuzz target over the federated module's decoders of outside bytes: `.npy` arrays (model
// parameters and summaries in records), Flower objects (what PushObject / PullObject carry),
// whole object sets decoded into a Message (what a reply's tree yields), and Flower
// timestamps. The first input byte picks the decoder. Properties: no crash; an accepted array
// re-encodes to an array that decodes equal; an accepted object re-serializes to the same bytes;
// an accepted message re-encodes to objects that decode to the same message.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "fleettwin/common/npy.h"
#include "fleettwin/federated/node_auth.h"
#include "fleettwin/federated/objects.h"
#include "fleettwin/federated/records.h"

namespace ff = fleettwin::federated;

namespace {

void Check(bool condition) {
  if (!condition) std::abort();  // A broken property, reported by the fuzzer as a crash.
}

std::string Tagged(char tag, std::string body) {
  body.insert(body.begin(), tag);
  return body;
}

// Objects framed as 4-byte little-endian length + bytes; the first is the root.
std::string Frame(const std::vector<std::string>& objects) {
  std::string out;
  for (const std::string& o : objects) {
    const uint32_t n = static_cast<uint32_t>(o.size());
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
    out += o;
  }
  return out;
}

flwr::proto::Message SampleMessage() {
  flwr::proto::Message m;
  m.mutable_metadata()->set_message_type("train");
  m.mutable_metadata()->set_run_id(7);
  const std::vector<float> w = {1, 2, 3, 4};
  ff::AddArrays(*m.mutable_content(), "arrays",
                ff::ToArrayRecord({fleettwin::MakeNpy<float>({2, 2}, absl::MakeConstSpan(w))}));
  flwr::proto::ConfigRecord config;
  ff::SetInt(config, "server-round", 3);
  ff::AddConfig(*m.mutable_content(), "config", std::move(config));
  return m;
}

}  // namespace

std::vector<std::string> FuzzSeeds() {
  const std::vector<double> d = {0.5, -1.5};
  std::vector<std::string> seeds = {
      Tagged('\0', fleettwin::EncodeNpy(fleettwin::MakeNpy<double>({2}, absl::MakeConstSpan(d)))),
      Tagged('\1', ff::SerializeObject({"ConfigRecord", {}, "x"})),
      Tagged('\3', "2026-11-26T11:07:23.291234+00:00"),
  };
  absl::StatusOr<ff::ObjectSet> set = ff::MessageToObjects(SampleMessage());
  if (set.ok()) {
    std::vector<std::string> objects = {set->contents.at(set->root)};
    for (const auto& [id, content] : set->contents) {
      if (id != set->root) objects.push_back(content);
    }
    seeds.push_back(Tagged('\2', Frame(objects)));
  }
  return seeds;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // protobuf logs every string field that is not UTF-8; the refusal is what is tested.
  static const bool quiet = [] {
    google::protobuf::SetLogHandler([](google::protobuf::LogLevel, const char*, int,
                                       const std::string&) {});
    return true;
  }();
  (void)quiet;
  if (size == 0) return 0;
  const std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 4) {
    case 0: {
      absl::StatusOr<fleettwin::NpyArray> a = fleettwin::DecodeNpy(input);
      if (a.ok()) {
        absl::StatusOr<fleettwin::NpyArray> again = fleettwin::DecodeNpy(fleettwin::EncodeNpy(*a));
        Check(again.ok() && *again == *a);
      }
      break;
    }
    case 1: {
      absl::StatusOr<ff::FlowerObject> o = ff::ParseObject(input);
      if (o.ok()) Check(ff::SerializeObject(*o) == input);
      break;
    }
    case 2: {
      std::map<std::string, std::string> contents;
      std::string root;
      for (size_t at = 0; at + 4 <= input.size() && contents.size() < 64;) {
        uint32_t n = 0;
        for (int i = 0; i < 4; ++i) n |= static_cast<uint32_t>(static_cast<uint8_t>(input[at + i])) << (8 * i);
        at += 4;
        if (n > input.size() - at) break;
        const std::string object = input.substr(at, n);
        at += n;
        const std::string id = ff::ObjectId(object);
        if (root.empty()) root = id;
        contents.emplace(id, object);
      }
      if (root.empty()) break;
      absl::StatusOr<flwr::proto::Message> m = ff::MessageFromObjects(root, contents);
      if (!m.ok()) break;
      flwr::proto::Message plain = *m;
      plain.mutable_metadata()->clear_message_id();
      absl::StatusOr<ff::ObjectSet> set = ff::MessageToObjects(plain);
      if (!set.ok()) break;  // E.g. keys that are not UTF-8 are refused on the way out.
      absl::StatusOr<flwr::proto::Message> again = ff::MessageFromObjects(set->root, set->contents);
      Check(again.ok());
      again->mutable_metadata()->clear_message_id();
      Check(ff::DeterministicBytes(*again) == ff::DeterministicBytes(plain));
      // Records decode without crashing too.
      if (const flwr::proto::ArrayRecord* arrays = ff::FindArrays(again->content(), "arrays")) {
        ff::FromArrayRecord(*arrays).IgnoreError();
      }
      break;
    }
    case 3:
      ff::ParseFlowerTimestamp(input).IgnoreError();
      break;
  }
  return 0;
}
