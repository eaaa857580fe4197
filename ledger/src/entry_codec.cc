#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fleettwin/ledger/entry.h"
#include "leaf_check.h"
#include "proto/ledger.capnp.h"

namespace fleettwin::ledger {
namespace {

// Cap'n Proto's canonical form allows NUL bytes inside Text; ours does not, so that a text
// field has one encoding (a count that swallows padding NULs would otherwise decode equal).
bool HasNul(capnp::Text::Reader text) {
  return std::memchr(text.begin(), 0, text.size()) != nullptr;
}

}  // namespace

std::string EncodeLeaf(const Entry& entry) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<proto::Entry>();
  root.setIndex(entry.index);
  root.setKind(entry.kind);
  root.setAuthor(entry.author);
  root.setRevision(entry.revision);
  root.setWallTimeNanos(entry.wall_time_nanos);
  root.setPayload(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(entry.payload.data()),
                                      entry.payload.size()));
  root.setPrevHash(capnp::Data::Reader(entry.prev_hash.data(), entry.prev_hash.size()));
  kj::Array<capnp::word> words = capnp::canonicalize(root.asReader());
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

absl::StatusOr<Entry> DecodeLeaf(Bytes leaf) {
  if (leaf.empty() || leaf.size() % sizeof(capnp::word) != 0) {
    return absl::DataLossError(
        absl::StrCat("leaf is ", leaf.size(), " bytes, not a positive multiple of 8"));
  }
  // Cap'n Proto reads words in place; copy into aligned storage.
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(leaf.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), leaf.data(), leaf.size());
  kj::ArrayPtr<const capnp::word> segments[1] = {words.asPtr()};
  capnp::ReaderOptions options;
  options.traversalLimitInWords = words.size() * 2 + 16;
  options.nestingLimit = 4;

  Entry entry;
  absl::Status status = absl::OkStatus();
  KJ_IF_MAYBE(exception, kj::runCatchingExceptions([&] {
    capnp::SegmentArrayMessageReader reader(kj::arrayPtr(segments, 1), options);
    if (!reader.isCanonical()) {
      status = absl::DataLossError("leaf is not a canonical Cap'n Proto encoding");
      return;
    }
    auto root = reader.getRoot<proto::Entry>();
    auto prev = root.getPrevHash();
    if (prev.size() != entry.prev_hash.size()) {
      status = absl::DataLossError(absl::StrCat("prev_hash is ", prev.size(), " bytes, not 32"));
      return;
    }
    if (root.getKind().size() == 0) {
      status = absl::DataLossError("entry kind is empty");
      return;
    }
    if (HasNul(root.getKind()) || HasNul(root.getAuthor())) {
      status = absl::DataLossError("kind or author contains a NUL byte");
      return;
    }
    entry.index = root.getIndex();
    entry.kind.assign(root.getKind().begin(), root.getKind().size());
    entry.author.assign(root.getAuthor().begin(), root.getAuthor().size());
    entry.revision = root.getRevision();
    entry.wall_time_nanos = root.getWallTimeNanos();
    auto payload = root.getPayload();
    entry.payload.assign(reinterpret_cast<const char*>(payload.begin()), payload.size());
    std::memcpy(entry.prev_hash.data(), prev.begin(), prev.size());
  })) {
    return absl::DataLossError(
        absl::StrCat("leaf does not decode: ", exception->getDescription().cStr()));
  }
  if (!status.ok()) return status;
  // Cap'n Proto's canonical form still admits a few spellings of one value (a null pointer
  // for an empty text, unknown trailing fields); ours is exactly what EncodeLeaf writes.
  const std::string again = EncodeLeaf(entry);
  if (again.size() != leaf.size() || std::memcmp(again.data(), leaf.data(), leaf.size()) != 0) {
    return absl::DataLossError("leaf is not the canonical encoding of its entry");
  }
  return entry;
}

namespace internal {

absl::Status CheckLeaf(Bytes leaf, uint64_t* index, Hash* prev_hash) {
  absl::StatusOr<Entry> entry = DecodeLeaf(leaf);
  if (!entry.ok()) return entry.status();
  *index = entry->index;
  *prev_hash = entry->prev_hash;
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace fleettwin::ledger
