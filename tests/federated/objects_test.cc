#include "fleettwin/federated/objects.h"

#include <google/protobuf/text_format.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "fleettwin/common/npy.h"
#include "gtest/gtest.h"

namespace fleettwin::federated {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every object in the captured Flower traffic whose whole body is shown must get the captured
// id from our encoder: JSON bodies (RecordDict, ArrayRecord, Array) as written, protobuf
// bodies (ConfigRecord, MetricRecord, Message) re-encoded from their text form.
TEST(FlowerObjectsTest, CapturedObjectIdsAreReproducedByteForByte) {
  const std::string text = ReadFile(std::string(FLEETTWIN_SOURCE_DIR) + "/data/flower/wire_examples.txt");
  ASSERT_FALSE(text.empty());
  std::set<std::string> ids;
  const std::regex hex64("[0-9a-f]{64}");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), hex64); it != std::sregex_iterator();
       ++it) {
    ids.insert(it->str());
  }
  auto resolve = [&](const std::string& prefix) {
    std::string found;
    int matches = 0;
    for (const std::string& id : ids) {
      if (id.rfind(prefix, 0) == 0) {
        found = id;
        ++matches;
      }
    }
    EXPECT_EQ(matches, 1) << prefix;
    return found;
  };
  const std::regex head_re(R"(object head: type=(\w+) children=\[([^\]]*)\] body_len=(\d+))");
  const std::regex id_re(R"(object_id \(sha256 of whole content\) = ([0-9a-f]{64}))");
  const std::regex proto_re(R"(^proto flwr\.proto\.(\w+) \{(.*)\}$)");
  std::istringstream lines(text);
  std::string line, captured_id;
  std::smatch m;
  std::map<std::string, int> checked;
  int skipped = 0;
  FlowerObject pending;
  size_t body_len = 0;
  bool have_head = false;
  while (std::getline(lines, line)) {
    if (std::regex_search(line, m, head_re)) {
      pending = FlowerObject{m[1].str(), {}, ""};
      std::stringstream kids(m[2].str());
      for (std::string kid; std::getline(kids, kid, ',');) {
        while (!kid.empty() && kid.back() == '.') kid.pop_back();
        if (!kid.empty()) pending.children.push_back(resolve(kid));
      }
      body_len = std::stoul(m[3].str());
      have_head = true;
      continue;
    }
    if (have_head && std::regex_search(line, m, id_re)) {
      captured_id = m[1].str();
      continue;
    }
    const size_t at = line.find("body: ");
    if (!have_head || captured_id.empty() || at == std::string::npos) continue;
    have_head = false;
    std::string body = line.substr(at + 6);
    if (std::regex_match(body, m, proto_re)) {
      std::unique_ptr<google::protobuf::Message> message;
      if (m[1] == "ConfigRecord") message = std::make_unique<flwr::proto::ConfigRecord>();
      if (m[1] == "MetricRecord") message = std::make_unique<flwr::proto::MetricRecord>();
      if (m[1] == "Message") message = std::make_unique<flwr::proto::Message>();
      ASSERT_TRUE(message != nullptr) << line;
      ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(m[2].str(), message.get())) << line;
      body = DeterministicBytes(*message);
    } else if (body.empty() || body[0] != '{') {
      ++skipped;  // A raw chunk: only its header is shown.
      captured_id.clear();
      continue;
    } else {
      // Our JSON writer must produce the captured text from the parsed content.
      const nlohmann::ordered_json j = nlohmann::ordered_json::parse(body);
      std::string ours;
      if (pending.type == "Array") {
        ours = ArrayBodyJson(j.at("dtype").get<std::string>(),
                             j.at("shape").get<std::vector<int64_t>>(),
                             j.at("stype").get<std::string>(),
                             j.at("arraychunk_ids").get<std::vector<size_t>>());
      } else {
        std::vector<std::pair<std::string, std::string>> items;
        for (const auto& [k, v] : j.items()) items.emplace_back(k, v.get<std::string>());
        ours = PyJsonStringDict(items);
      }
      EXPECT_EQ(ours, body) << line;
      body = ours;
    }
    pending.body = body;
    EXPECT_EQ(pending.body.size(), body_len) << line;
    EXPECT_EQ(ObjectId(SerializeObject(pending)), captured_id) << pending.type << ": " << line;
    ++checked[pending.type];
    captured_id.clear();
  }
  for (const char* type : {"Message", "RecordDict", "ArrayRecord", "Array", "ConfigRecord",
                           "MetricRecord"}) {
    EXPECT_GT(checked[type], 0) << "no captured " << type << " was checked";
  }
  int total = 0;
  for (const auto& [type, n] : checked) total += n;
  EXPECT_GE(total, 20);
  EXPECT_GT(skipped, 0);
}

TEST(FlowerObjectsTest, JsonIsWrittenAsPythonsJsonDumps) {
  EXPECT_EQ(PyJsonString("plain"), "\"plain\"");
  EXPECT_EQ(PyJsonString("a\"b\\c\n\t\r\b\f"), R"("a\"b\\c\n\t\r\b\f")");
  EXPECT_EQ(PyJsonString(std::string("\x01\x1f\x7f", 3)), "\"\\u0001\\u001f\x7f\"");
  EXPECT_EQ(PyJsonString("caf\xc3\xa9 \xe2\x82\xac"), R"("caf\u00e9 \u20ac")");
  EXPECT_EQ(PyJsonString("\xf0\x9f\x94\xa7"), R"("\ud83d\udd27")");
  EXPECT_EQ(PyJsonStringDict({{"b", "1"}, {"a", "2"}}), R"({"b": "1", "a": "2"})");
  EXPECT_EQ(PyJsonStringDict({}), "{}");
}

flwr::proto::Message TrainMessage() {
  flwr::proto::Message message;
  flwr::proto::Metadata* meta = message.mutable_metadata();
  meta->set_run_id(7);
  meta->set_src_node_id(1);
  meta->set_dst_node_id(42);
  meta->set_ttl(43200);
  meta->set_message_type("train");
  meta->set_created_at(1795691254.901405);
  flwr::proto::RecordDict::Item* arrays = message.mutable_content()->add_items();
  arrays->set_key("arrays");
  const std::vector<float> w = {0.5f, -1.25f, 3.0f, 4.5f};
  for (int i = 0; i < 2; ++i) {
    flwr::proto::ArrayRecord::Item* a = arrays->mutable_array_record()->add_items();
    a->set_key(std::to_string(i));
    a->mutable_value()->set_dtype("float32");
    a->mutable_value()->add_shape(4);
    a->mutable_value()->set_stype("numpy.ndarray");
    a->mutable_value()->set_data(EncodeNpy(MakeNpy<float>({4}, w)));
  }
  flwr::proto::RecordDict::Item* config = message.mutable_content()->add_items();
  config->set_key("config");
  flwr::proto::ConfigRecord::Item* c = config->mutable_config_record()->add_items();
  c->set_key("local-epochs");
  c->mutable_value()->set_sint64(5);
  flwr::proto::RecordDict::Item* metrics = message.mutable_content()->add_items();
  metrics->set_key("metrics");
  flwr::proto::MetricRecord::Item* n = metrics->mutable_metric_record()->add_items();
  n->set_key("num-examples");
  n->mutable_value()->set_sint64(1234);
  return message;
}

TEST(FlowerObjectsTest, AMessageRoundTripsThroughItsObjectsAndItsIdIsItsRoot) {
  const flwr::proto::Message message = TrainMessage();
  absl::StatusOr<ObjectSet> set = MessageToObjects(message);
  ASSERT_TRUE(set.ok()) << set.status();
  // Message, RecordDict, ArrayRecord, one Array and one chunk (both arrays are equal), config,
  // metrics: identical objects are stored once.
  EXPECT_EQ(set->contents.size(), 7u);
  EXPECT_EQ(set->tree.object_id(), set->root);
  for (const auto& [id, content] : set->contents) EXPECT_EQ(ObjectId(content), id);
  absl::StatusOr<flwr::proto::Message> back = MessageFromObjects(set->root, set->contents);
  ASSERT_TRUE(back.ok()) << back.status();
  flwr::proto::Message expected = message;
  expected.mutable_metadata()->set_message_id(set->root);
  EXPECT_EQ(DeterministicBytes(*back), DeterministicBytes(expected));
  // The id does not depend on message_id, only on what the message says.
  flwr::proto::Message renamed = message;
  renamed.mutable_metadata()->set_message_id("anything");
  EXPECT_EQ(MessageToObjects(renamed)->root, set->root);
}

TEST(FlowerObjectsTest, ArraysAboveFiveMebibytesAreChunked) {
  flwr::proto::Message message = TrainMessage();
  std::vector<float> big(3 * 1024 * 1024);  // 12 MiB of float32: three chunks.
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i % 1000);
  flwr::proto::Array* a =
      message.mutable_content()->mutable_items(0)->mutable_array_record()->mutable_items(0)->mutable_value();
  a->clear_shape();
  a->add_shape(static_cast<int32_t>(big.size()));
  a->set_data(EncodeNpy(MakeNpy<float>({static_cast<int64_t>(big.size())}, big)));
  absl::StatusOr<ObjectSet> set = MessageToObjects(message);
  ASSERT_TRUE(set.ok());
  int chunks = 0;
  for (const auto& [id, content] : set->contents) {
    absl::StatusOr<FlowerObject> o = ParseObject(content);
    ASSERT_TRUE(o.ok());
    if (o->type == "ArrayChunk") {
      ++chunks;
      EXPECT_LE(o->body.size(), kMaxArrayChunk);
    }
  }
  EXPECT_EQ(chunks, 4);  // Three for the big array, one for the small one.
  absl::StatusOr<flwr::proto::Message> back = MessageFromObjects(set->root, set->contents);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->content().items(0).array_record().items(0).value().data(), a->data());
}

TEST(FlowerObjectsTest, BadObjectsAreRefusedWithAReason) {
  EXPECT_FALSE(ParseObject("Array 0").ok());                 // No NUL.
  EXPECT_FALSE(ParseObject(std::string("Bogus  0\0", 9)).ok());  // Unknown type.
  EXPECT_FALSE(ParseObject(std::string("Array abc 0\0", 12)).ok());  // Bad child id.
  EXPECT_FALSE(ParseObject(std::string("ArrayChunk  5\0abc", 17)).ok());  // Wrong length.
  EXPECT_TRUE(ParseObject(std::string("ArrayChunk  3\0abc", 17)).ok());
  absl::StatusOr<ObjectSet> set = MessageToObjects(TrainMessage());
  ASSERT_TRUE(set.ok());
  std::map<std::string, std::string> missing = set->contents;
  for (auto it = missing.begin(); it != missing.end(); ++it) {
    if (it->first != set->root) {
      missing.erase(it);
      break;
    }
  }
  EXPECT_FALSE(MessageFromObjects(set->root, missing).ok());
  std::map<std::string, std::string> tampered = set->contents;
  tampered[set->root].back() ^= 1;
  EXPECT_FALSE(MessageFromObjects(set->root, tampered).ok());
  std::string unknown = set->root;
  unknown[0] = unknown[0] == '0' ? '1' : '0';
  EXPECT_EQ(MessageFromObjects(unknown, set->contents).status().code(),
            absl::StatusCode::kNotFound);
}

// Found by federated_fuzz: a length with leading zeros is a second spelling of the same
// object, so it is refused rather than accepted under another id.
TEST(ObjectsTest, ParseObjectRefusesNonCanonicalLengths) {
  EXPECT_TRUE(ParseObject(std::string("ConfigRecord  1\0x", 17)).ok());
  EXPECT_FALSE(ParseObject(std::string("ConfigRecord  01\0x", 18)).ok());
  EXPECT_TRUE(ParseObject(std::string("ConfigRecord  0\0", 16)).ok());
  EXPECT_FALSE(ParseObject(std::string("ConfigRecord  00\0", 17)).ok());
}

// An Array that names one 1 MiB chunk 1 100 times would expand to 1.1 GiB: refused before
// anything is joined. Non-UTF-8 keys cannot be encoded.
TEST(ObjectsTest, ArraysThatExpandBeyondTheLimitAndNonUtf8KeysAreRefused) {
  const FlowerObject chunk{"ArrayChunk", {}, std::string(1 << 20, 'x')};
  const std::string chunk_bytes = SerializeObject(chunk);
  const std::string chunk_id = ObjectId(chunk_bytes);
  std::string ids = "[";
  for (int i = 0; i < 1100; ++i) absl::StrAppend(&ids, i ? ", " : "", 0);
  ids += "]";
  const FlowerObject array{"Array", {chunk_id},
                           absl::StrCat(R"({"dtype": "float32", "shape": [1], "stype": "numpy.ndarray", "arraychunk_ids": )",
                                        ids, "}")};
  const std::string array_bytes = SerializeObject(array);
  const FlowerObject record{"ArrayRecord", {ObjectId(array_bytes)},
                            PyJsonStringDict({{"0", ObjectId(array_bytes)}})};
  const std::string record_bytes = SerializeObject(record);
  const FlowerObject dict{"RecordDict", {ObjectId(record_bytes)},
                          PyJsonStringDict({{"arrays", ObjectId(record_bytes)}})};
  const std::string dict_bytes = SerializeObject(dict);
  flwr::proto::Message head;
  head.mutable_metadata()->set_message_type("train");
  const FlowerObject message{"Message", {ObjectId(dict_bytes)}, DeterministicBytes(head)};
  const std::string message_bytes = SerializeObject(message);
  const std::map<std::string, std::string> contents = {
      {chunk_id, chunk_bytes},
      {ObjectId(array_bytes), array_bytes},
      {ObjectId(record_bytes), record_bytes},
      {ObjectId(dict_bytes), dict_bytes},
      {ObjectId(message_bytes), message_bytes}};
  absl::StatusOr<flwr::proto::Message> decoded = MessageFromObjects(ObjectId(message_bytes), contents);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.status().message().find("expand beyond"), std::string::npos)
      << decoded.status();

  flwr::proto::Message bad;
  flwr::proto::RecordDict::Item* item = bad.mutable_content()->add_items();
  item->set_key(std::string("\xff\xfe", 2));
  item->mutable_config_record();
  EXPECT_EQ(MessageToObjects(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fleettwin::federated
