// Flower's content-addressed objects (docs/federated.md): a Message travels as a tree of
// objects — Message -> RecordDict -> ArrayRecord / ConfigRecord / MetricRecord, ArrayRecord ->
// Array -> ArrayChunk — each stored and fetched by its id, the SHA-256 of its bytes
// "<Type> <child ids, comma-separated> <body length>\0<body>". JSON bodies are written exactly
// as Python's json.dumps writes them, so ids match Flower's byte for byte.
#ifndef FLEETTWIN_FEDERATED_OBJECTS_H_
#define FLEETTWIN_FEDERATED_OBJECTS_H_

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "flwr/proto/message.pb.h"
#include "flwr/proto/recorddict.pb.h"

namespace fleettwin::federated {

inline constexpr size_t kMaxArrayChunk = 5 * 1024 * 1024;  // Bytes per ArrayChunk.
// Array bytes one decoded message may hold (MessageFromObjects refuses more).
inline constexpr size_t kMaxMessageArrayBytes = size_t{1} << 30;

struct FlowerObject {
  std::string type;                   // "Message", "RecordDict", "ArrayRecord", "Array",
                                      // "ArrayChunk", "ConfigRecord", "MetricRecord".
  std::vector<std::string> children;  // Child object ids, in order.
  std::string body;
  bool operator==(const FlowerObject&) const = default;
};

// The object's bytes, and its id (lowercase hex SHA-256 of those bytes).
std::string SerializeObject(const FlowerObject& object);
std::string ObjectId(std::string_view content);

// Parses an object's bytes. Errors: InvalidArgument for an unknown type, a child id that is
// not 64 lowercase hex digits, a body length that does not match, a missing NUL.
absl::StatusOr<FlowerObject> ParseObject(std::string_view content);

// Python's json.dumps(obj) (default separators, ensure_ascii) for a str -> str dict in the given
// order, and for a str. REQUIRES: UTF-8 text.
std::string PyJsonString(std::string_view text);
std::string PyJsonStringDict(const std::vector<std::pair<std::string, std::string>>& items);
// An Array object's body: {"dtype": …, "shape": […], "stype": …, "arraychunk_ids": […]}.
std::string ArrayBodyJson(std::string_view dtype, const std::vector<int64_t>& shape,
                          std::string_view stype, const std::vector<size_t>& chunk_ids);

// A set of objects by id, and the tree (root first) that names them.
struct ObjectSet {
  std::string root;                                // The root object's id.
  std::map<std::string, std::string> contents;     // id -> object bytes.
  flwr::proto::ObjectTree tree;
};

// The objects of a Flower message: its content becomes the RecordDict subtree and the Message
// object itself is the message with message_id "" and no content (deterministic protobuf).
// The root id is the message's id. Errors: InvalidArgument for an array whose bytes are empty
// while its shape is not, or keys that are not UTF-8.
absl::StatusOr<ObjectSet> MessageToObjects(const flwr::proto::Message& message);

// The inverse: the message (content and metadata.message_id filled in) from its objects.
// Errors: InvalidArgument / NotFound for a missing object, a wrong type, an id that does not
// match its bytes, a body that does not parse, arrays that expand beyond
// kMaxMessageArrayBytes (chunk ids may repeat, so the objects' size alone does not bound it).
absl::StatusOr<flwr::proto::Message> MessageFromObjects(
    const std::string& root, const std::map<std::string, std::string>& contents);

// The object id of an ArrayRecord (a model's content address: the same arrays under the same
// keys give the same id on every node). Errors as MessageToObjects.
absl::StatusOr<std::string> ArrayRecordObjectId(const flwr::proto::ArrayRecord& record);

// Deterministic protobuf bytes (map and field order fixed).
std::string DeterministicBytes(const google::protobuf::Message& message);

}  // namespace fleettwin::federated

#endif  // FLEETTWIN_FEDERATED_OBJECTS_H_
