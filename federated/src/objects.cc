#include "fleettwin/federated/objects.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "fleettwin/common/crypto.h"
#include "fleettwin/common/encoding.h"

namespace fleettwin::federated {
namespace {

using ordered_json = nlohmann::ordered_json;

bool IsObjectId(std::string_view id) {
  return id.size() == 64 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF).
bool IsUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 2, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      const unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n;
  }
  return true;
}

bool KnownType(std::string_view type) {
  for (std::string_view t : {"Message", "RecordDict", "ArrayRecord", "Array", "ArrayChunk",
                             "ConfigRecord", "MetricRecord"}) {
    if (type == t) return true;
  }
  return false;
}

// Adds `object` to `set` and returns its id and tree node.
std::string Store(ObjectSet& set, const FlowerObject& object, flwr::proto::ObjectTree* node) {
  const std::string content = SerializeObject(object);
  const std::string id = ObjectId(content);
  set.contents.emplace(id, content);
  node->set_object_id(id);
  return id;
}

absl::StatusOr<std::string> StoreArray(ObjectSet& set, const flwr::proto::Array& array,
                                       flwr::proto::ObjectTree* node) {
  FlowerObject object{"Array", {}, ""};
  std::vector<size_t> chunk_index;
  const std::string& data = array.data();
  for (size_t offset = 0; offset < data.size(); offset += kMaxArrayChunk) {
    FlowerObject chunk{"ArrayChunk", {}, data.substr(offset, kMaxArrayChunk)};
    flwr::proto::ObjectTree probe;
    const std::string id = Store(set, chunk, &probe);
    auto at = std::find(object.children.begin(), object.children.end(), id);
    if (at == object.children.end()) {
      object.children.push_back(id);
      *node->add_children() = probe;
      chunk_index.push_back(object.children.size() - 1);
    } else {
      chunk_index.push_back(static_cast<size_t>(at - object.children.begin()));
    }
  }
  object.body = ArrayBodyJson(array.dtype(),
                              std::vector<int64_t>(array.shape().begin(), array.shape().end()),
                              array.stype(), chunk_index);
  return Store(set, object, node);
}

absl::StatusOr<std::string> StoreArrayRecord(ObjectSet& set, const flwr::proto::ArrayRecord& in,
                                             flwr::proto::ObjectTree* node) {
  FlowerObject record{"ArrayRecord", {}, ""};
  std::vector<std::pair<std::string, std::string>> arrays;
  for (const flwr::proto::ArrayRecord::Item& a : in.items()) {
    if (!IsUtf8(a.key()) || !IsUtf8(a.value().dtype()) || !IsUtf8(a.value().stype())) {
      return absl::InvalidArgumentError("array key, dtype or stype is not UTF-8");
    }
    flwr::proto::ObjectTree array_node;
    absl::StatusOr<std::string> array_id = StoreArray(set, a.value(), &array_node);
    if (!array_id.ok()) return array_id.status();
    arrays.emplace_back(a.key(), *array_id);
    if (std::find(record.children.begin(), record.children.end(), *array_id) ==
        record.children.end()) {
      record.children.push_back(*array_id);
      *node->add_children() = array_node;
    }
  }
  record.body = PyJsonStringDict(arrays);
  return Store(set, record, node);
}

absl::StatusOr<std::string> StoreRecordDict(ObjectSet& set, const flwr::proto::RecordDict& dict,
                                            flwr::proto::ObjectTree* node) {
  FlowerObject object{"RecordDict", {}, ""};
  std::vector<std::pair<std::string, std::string>> items;
  for (const flwr::proto::RecordDict::Item& item : dict.items()) {
    if (!IsUtf8(item.key())) return absl::InvalidArgumentError("record key is not UTF-8");
    flwr::proto::ObjectTree child;
    std::string id;
    if (item.has_array_record()) {
      absl::StatusOr<std::string> record_id = StoreArrayRecord(set, item.array_record(), &child);
      if (!record_id.ok()) return record_id.status();
      id = *record_id;
    } else if (item.has_config_record()) {
      id = Store(set, {"ConfigRecord", {}, DeterministicBytes(item.config_record())}, &child);
    } else if (item.has_metric_record()) {
      id = Store(set, {"MetricRecord", {}, DeterministicBytes(item.metric_record())}, &child);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("record '", item.key(), "' is empty"));
    }
    items.emplace_back(item.key(), id);
    if (std::find(object.children.begin(), object.children.end(), id) == object.children.end()) {
      object.children.push_back(id);
      *node->add_children() = child;
    }
  }
  object.body = PyJsonStringDict(items);
  return Store(set, object, node);
}

// ---- Reading objects back --------------------------------------------------------------

struct Reader {
  const std::map<std::string, std::string>& contents;
  int budget = 1 << 20;  // Objects visited; a cyclic or huge tree ends here.
  // Array bytes a message may expand to: an id repeated in arraychunk_ids (or one Array named
  // many times) is expanded each time, so the ids alone do not bound the decoded size.
  size_t bytes_left = kMaxMessageArrayBytes;

  absl::StatusOr<FlowerObject> Get(const std::string& id, std::string_view type) {
    if (--budget < 0) return absl::InvalidArgumentError("object tree too large");
    auto it = contents.find(id);
    if (it == contents.end()) return absl::NotFoundError(absl::StrCat("object ", id, " missing"));
    if (ObjectId(it->second) != id) {
      return absl::InvalidArgumentError(absl::StrCat("object ", id, " does not match its bytes"));
    }
    absl::StatusOr<FlowerObject> object = ParseObject(it->second);
    if (!object.ok()) return object.status();
    if (object->type != type) {
      return absl::InvalidArgumentError(
          absl::StrCat("object ", id, " is a ", object->type, ", not a ", std::string(type)));
    }
    return object;
  }

  absl::StatusOr<ordered_json> JsonBody(const FlowerObject& object) {
    ordered_json j = ordered_json::parse(object.body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(object.type, " body is not a JSON object"));
    }
    return j;
  }

  absl::StatusOr<flwr::proto::Array> ArrayFrom(const std::string& id) {
    absl::StatusOr<FlowerObject> object = Get(id, "Array");
    if (!object.ok()) return object.status();
    absl::StatusOr<ordered_json> j = JsonBody(*object);
    if (!j.ok()) return j.status();
    flwr::proto::Array array;
    try {
      array.set_dtype(j->at("dtype").get<std::string>());
      for (const auto& d : j->at("shape")) array.add_shape(d.get<int32_t>());
      array.set_stype(j->at("stype").get<std::string>());
      // Each distinct chunk is checked once; the total is bounded before anything is joined.
      std::map<size_t, std::string> chunks;
      std::vector<size_t> order;
      size_t total = 0;
      for (const auto& index : j->at("arraychunk_ids")) {
        const size_t i = index.get<size_t>();
        if (i >= object->children.size()) {
          return absl::InvalidArgumentError("array chunk index out of range");
        }
        if (!chunks.contains(i)) {
          absl::StatusOr<FlowerObject> chunk = Get(object->children[i], "ArrayChunk");
          if (!chunk.ok()) return chunk.status();
          chunks.emplace(i, std::move(chunk->body));
        }
        total += chunks[i].size();
        if (total > bytes_left) {
          return absl::InvalidArgumentError(absl::StrCat(
              "message arrays expand beyond ", kMaxMessageArrayBytes >> 20, " MiB"));
        }
        order.push_back(i);
      }
      bytes_left -= total;
      std::string data;
      data.reserve(total);
      for (size_t i : order) data += chunks[i];
      array.set_data(std::move(data));
    } catch (const nlohmann::json::exception& e) {
      return absl::InvalidArgumentError(absl::StrCat("Array body: ", e.what()));
    }
    return array;
  }

  absl::StatusOr<flwr::proto::RecordDict> RecordDictFrom(const std::string& id) {
    absl::StatusOr<FlowerObject> object = Get(id, "RecordDict");
    if (!object.ok()) return object.status();
    absl::StatusOr<ordered_json> j = JsonBody(*object);
    if (!j.ok()) return j.status();
    flwr::proto::RecordDict dict;
    for (const auto& [key, value] : j->items()) {
      if (!value.is_string()) return absl::InvalidArgumentError("RecordDict value not an id");
      const std::string child_id = value.get<std::string>();
      auto it = contents.find(child_id);
      if (it == contents.end()) {
        return absl::NotFoundError(absl::StrCat("object ", child_id, " missing"));
      }
      absl::StatusOr<FlowerObject> head = ParseObject(it->second);
      if (!head.ok()) return head.status();
      flwr::proto::RecordDict::Item* item = dict.add_items();
      item->set_key(key);
      if (head->type == "ArrayRecord") {
        absl::StatusOr<FlowerObject> record = Get(child_id, "ArrayRecord");
        if (!record.ok()) return record.status();
        absl::StatusOr<ordered_json> arrays = JsonBody(*record);
        if (!arrays.ok()) return arrays.status();
        flwr::proto::ArrayRecord* out = item->mutable_array_record();
        for (const auto& [name, array_id] : arrays->items()) {
          if (!array_id.is_string()) return absl::InvalidArgumentError("ArrayRecord value");
          absl::StatusOr<flwr::proto::Array> array = ArrayFrom(array_id.get<std::string>());
          if (!array.ok()) return array.status();
          flwr::proto::ArrayRecord::Item* a = out->add_items();
          a->set_key(name);
          *a->mutable_value() = *std::move(array);
        }
      } else if (head->type == "ConfigRecord" || head->type == "MetricRecord") {
        absl::StatusOr<FlowerObject> record = Get(child_id, head->type);
        if (!record.ok()) return record.status();
        const bool ok = head->type == "ConfigRecord"
                            ? item->mutable_config_record()->ParseFromString(record->body)
                            : item->mutable_metric_record()->ParseFromString(record->body);
        if (!ok) return absl::InvalidArgumentError(absl::StrCat(head->type, " body"));
      } else {
        return absl::InvalidArgumentError(absl::StrCat("a RecordDict cannot hold a ", head->type));
      }
    }
    return dict;
  }
};

}  // namespace

std::string SerializeObject(const FlowerObject& object) {
  return absl::StrCat(object.type, " ", absl::StrJoin(object.children, ","), " ",
                      object.body.size(), std::string(1, '\0'), object.body);
}

std::string ObjectId(std::string_view content) {
  const Hash h = Sha256(Bytes(reinterpret_cast<const uint8_t*>(content.data()), content.size()));
  return HexEncode(Bytes(h.data(), h.size()));
}

absl::StatusOr<FlowerObject> ParseObject(std::string_view content) {
  const size_t nul = content.find('\0');
  if (nul == std::string_view::npos) return absl::InvalidArgumentError("object has no header end");
  const std::string_view head = content.substr(0, nul);
  const size_t first = head.find(' ');
  const size_t last = head.rfind(' ');
  if (first == std::string_view::npos || first == last) {
    return absl::InvalidArgumentError("object header is not '<type> <children> <length>'");
  }
  FlowerObject object;
  object.type = std::string(head.substr(0, first));
  if (!KnownType(object.type)) {
    return absl::InvalidArgumentError(absl::StrCat("unknown object type '", object.type.substr(0, 32), "'"));
  }
  const std::string_view children = head.substr(first + 1, last - first - 1);
  for (size_t start = 0; !children.empty() && start <= children.size();) {
    size_t end = children.find(',', start);
    if (end == std::string_view::npos) end = children.size();
    const std::string_view id = children.substr(start, end - start);
    if (!IsObjectId(id)) return absl::InvalidArgumentError("object child id is not 64 hex digits");
    object.children.emplace_back(id);
    start = end + 1;
  }
  const std::string_view length = head.substr(last + 1);
  uint64_t n = 0;
  if (length.empty() || length.size() > 12 ||
      !std::all_of(length.begin(), length.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      (length.size() > 1 && length[0] == '0')) {
    // Leading zeros would give a second spelling (and id) of the same object: refused.
    return absl::InvalidArgumentError("object body length is not a canonical number");
  }
  for (char c : length) n = n * 10 + static_cast<uint64_t>(c - '0');
  if (n != content.size() - nul - 1) {
    return absl::InvalidArgumentError("object body length does not match");
  }
  object.body = std::string(content.substr(nul + 1));
  return object;
}

std::string PyJsonString(std::string_view text) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    uint32_t cp = c;
    size_t n = 1;
    if (c >= 0x80) {  // Decode one UTF-8 sequence (the text is valid UTF-8).
      n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
      cp = c & (n == 4 ? 0x07 : n == 3 ? 0x0F : 0x1F);
      for (size_t k = 1; k < n && i + k < text.size(); ++k) {
        cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
      }
    }
    i += n;
    switch (cp) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    auto hex4 = [&](uint32_t u) { absl::StrAppend(&out, "\\u", absl::Hex(u, absl::kZeroPad4)); };
    if (cp < 0x20 || (cp >= 0x7F && cp < 0x10000)) {
      if (cp == 0x7F) {
        out.push_back(0x7F);  // DEL is ASCII: json.dumps leaves it.
      } else {
        hex4(cp);
      }
    } else if (cp >= 0x10000) {
      const uint32_t v = cp - 0x10000;
      hex4(0xD800 + (v >> 10));
      hex4(0xDC00 + (v & 0x3FF));
    } else {
      out.push_back(static_cast<char>(cp));
    }
  }
  out += "\"";
  return out;
}

std::string PyJsonStringDict(const std::vector<std::pair<std::string, std::string>>& items) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : items) parts.push_back(absl::StrCat(PyJsonString(k), ": ", PyJsonString(v)));
  return absl::StrCat("{", absl::StrJoin(parts, ", "), "}");
}

std::string ArrayBodyJson(std::string_view dtype, const std::vector<int64_t>& shape,
                          std::string_view stype, const std::vector<size_t>& chunk_ids) {
  return absl::StrCat("{\"dtype\": ", PyJsonString(dtype), ", \"shape\": [",
                      absl::StrJoin(shape, ", "), "], \"stype\": ", PyJsonString(stype),
                      ", \"arraychunk_ids\": [", absl::StrJoin(chunk_ids, ", "), "]}");
}

absl::StatusOr<std::string> ArrayRecordObjectId(const flwr::proto::ArrayRecord& record) {
  ObjectSet set;
  flwr::proto::ObjectTree tree;
  return StoreArrayRecord(set, record, &tree);
}

std::string DeterministicBytes(const google::protobuf::Message& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return out;
}

absl::StatusOr<ObjectSet> MessageToObjects(const flwr::proto::Message& message) {
  ObjectSet set;
  FlowerObject object{"Message", {}, ""};
  flwr::proto::Message head = message;
  head.mutable_metadata()->clear_message_id();
  head.clear_content();
  if (message.has_content()) {
    flwr::proto::ObjectTree child;
    absl::StatusOr<std::string> id = StoreRecordDict(set, message.content(), &child);
    if (!id.ok()) return id.status();
    object.children.push_back(*id);
    *set.tree.add_children() = child;
  }
  object.body = DeterministicBytes(head);
  set.root = Store(set, object, &set.tree);
  return set;
}

absl::StatusOr<flwr::proto::Message> MessageFromObjects(
    const std::string& root, const std::map<std::string, std::string>& contents) {
  Reader reader{contents};
  absl::StatusOr<FlowerObject> object = reader.Get(root, "Message");
  if (!object.ok()) return object.status();
  flwr::proto::Message message;
  if (!message.ParseFromString(object->body)) {
    return absl::InvalidArgumentError("Message body is not a protobuf Message");
  }
  if (object->children.size() > 1) {
    return absl::InvalidArgumentError("a Message has at most one child");
  }
  if (!object->children.empty()) {
    absl::StatusOr<flwr::proto::RecordDict> content = reader.RecordDictFrom(object->children[0]);
    if (!content.ok()) return content.status();
    *message.mutable_content() = *std::move(content);
  }
  message.mutable_metadata()->set_message_id(root);
  return message;
}

}  // namespace fleettwin::federated
