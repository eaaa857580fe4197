#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstdlib>
#include <cstring>
#include <string_view>
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
  std::string out;
  internal::AppendLeaf(out, entry.index, entry.kind, entry.author, entry.revision,
                       entry.wall_time_nanos, entry.payload, entry.prev_hash);
  return out;
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
  KJ_IF_MAYBE (exception, kj::runCatchingExceptions([&] {
                 capnp::SegmentArrayMessageReader reader(kj::arrayPtr(segments, 1), options);
                 if (!reader.isCanonical()) {
                   status = absl::DataLossError("leaf is not a canonical Cap'n Proto encoding");
                   return;
                 }
                 auto root = reader.getRoot<proto::Entry>();
                 auto prev = root.getPrevHash();
                 if (prev.size() != entry.prev_hash.size()) {
                   status = absl::DataLossError(
                       absl::StrCat("prev_hash is ", prev.size(), " bytes, not 32"));
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
                 entry.payload.assign(reinterpret_cast<const char*>(payload.begin()),
                                      payload.size());
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
namespace {

// A list pointer at word `at` to `count` one-byte elements starting at word `target`.
uint64_t BytesListPointer(size_t at, size_t target, size_t count) {
  return (static_cast<uint64_t>(target - at - 1) << 2) | 1 |
         (((static_cast<uint64_t>(count) << 3) | 2) << 32);
}

size_t Words(size_t bytes) { return (bytes + 7) / 8; }

}  // namespace

// Writes the canonical form directly (docs/ledger.md 1.2): root struct pointer, the data
// words up to the last non-zero one, four list pointers, then kind, author, payload and
// prev_hash in pointer order, each zero-padded to a word. Equality with Cap'n Proto's own
// canonicalize() is tested on random entries; this avoids a message builder per entry.
void AppendLeaf(std::string& out, uint64_t index, std::string_view kind, std::string_view author,
                uint64_t revision, int64_t wall_time_nanos, std::string_view payload,
                const Hash& prev_hash) {
  constexpr size_t kMaxListElements = (size_t{1} << 29) - 1;
  if (kind.size() >= kMaxListElements || author.size() >= kMaxListElements ||
      payload.size() > kMaxListElements) {
    std::abort();  // Writers bound field sizes far below this; reaching it is a bug.
  }
  const uint64_t data[3] = {index, revision, static_cast<uint64_t>(wall_time_nanos)};
  size_t data_words = 3;
  while (data_words > 0 && data[data_words - 1] == 0) --data_words;
  const size_t pointers_at = 1 + data_words;
  const size_t kind_at = pointers_at + 4;
  const size_t author_at = kind_at + Words(kind.size() + 1);
  const size_t payload_at = author_at + Words(author.size() + 1);
  const size_t prev_at = payload_at + Words(payload.size());
  const size_t total = prev_at + 4;

  const size_t base = out.size();
  out.resize(base + total * 8, '\0');
  auto put = [&](size_t word, uint64_t value) {
    for (int i = 0; i < 8; ++i) out[base + word * 8 + i] = static_cast<char>(value >> (8 * i));
  };
  put(0, (static_cast<uint64_t>(data_words) << 32) | (uint64_t{4} << 48));
  for (size_t i = 0; i < data_words; ++i) put(1 + i, data[i]);
  put(pointers_at + 0, BytesListPointer(pointers_at + 0, kind_at, kind.size() + 1));
  put(pointers_at + 1, BytesListPointer(pointers_at + 1, author_at, author.size() + 1));
  put(pointers_at + 2, BytesListPointer(pointers_at + 2, payload_at, payload.size()));
  put(pointers_at + 3, BytesListPointer(pointers_at + 3, prev_at, prev_hash.size()));
  std::memcpy(out.data() + base + kind_at * 8, kind.data(), kind.size());
  std::memcpy(out.data() + base + author_at * 8, author.data(), author.size());
  std::memcpy(out.data() + base + payload_at * 8, payload.data(), payload.size());
  std::memcpy(out.data() + base + prev_at * 8, prev_hash.data(), prev_hash.size());
}

absl::Status CheckLeaf(Bytes leaf, uint64_t* index, Hash* prev_hash) {
  // The same acceptance as DecodeLeaf (the fuzz target checks that they agree) without
  // building an Entry or re-encoding it: Cap'n Proto's canonical check, plus the rules that
  // leave exactly one spelling, read off the struct itself.
  if (leaf.empty() || leaf.size() % sizeof(capnp::word) != 0) {
    return absl::DataLossError(
        absl::StrCat("leaf is ", leaf.size(), " bytes, not a positive multiple of 8"));
  }
  // Reused aligned storage: verification checks millions of leaves. capnp::word is not
  // movable, so the buffer holds uint64_t (same size and alignment).
  static_assert(sizeof(uint64_t) == sizeof(capnp::word));
  thread_local std::vector<uint64_t> words;
  words.resize(leaf.size() / sizeof(capnp::word));
  std::memcpy(words.data(), leaf.data(), leaf.size());
  kj::ArrayPtr<const capnp::word> segments[1] = {
      kj::arrayPtr(reinterpret_cast<const capnp::word*>(words.data()), words.size())};
  capnp::ReaderOptions options;
  options.traversalLimitInWords = words.size() * 2 + 16;
  options.nestingLimit = 4;
  absl::Status status = absl::OkStatus();
  KJ_IF_MAYBE (exception, kj::runCatchingExceptions([&] {
                 capnp::SegmentArrayMessageReader reader(kj::arrayPtr(segments, 1), options);
                 if (!reader.isCanonical()) {
                   status = absl::DataLossError("leaf is not a canonical Cap'n Proto encoding");
                   return;
                 }
                 // EncodeLeaf always writes the four pointers (an empty value is an empty list,
                 // never null) and nothing beyond the schema's three data words.
                 auto any = reader.getRoot<capnp::AnyStruct>();
                 auto pointers = any.getPointerSection();
                 bool exact =
                     pointers.size() == 4 && any.getDataSection().size() <= 3 * sizeof(capnp::word);
                 for (size_t i = 0; exact && i < pointers.size(); ++i)
                   exact = !pointers[i].isNull();
                 if (!exact) {
                   status = absl::DataLossError("leaf is not the canonical encoding of its entry");
                   return;
                 }
                 auto root = reader.getRoot<proto::Entry>();
                 auto kind = root.getKind();
                 auto author = root.getAuthor();
                 root.getPayload();  // Must be a byte list; throws otherwise.
                 auto prev = root.getPrevHash();
                 if (prev.size() != prev_hash->size()) {
                   status = absl::DataLossError(
                       absl::StrCat("prev_hash is ", prev.size(), " bytes, not 32"));
                   return;
                 }
                 if (kind.size() == 0) {
                   status = absl::DataLossError("entry kind is empty");
                   return;
                 }
                 if (HasNul(kind) || HasNul(author)) {
                   status = absl::DataLossError("kind or author contains a NUL byte");
                   return;
                 }
                 *index = root.getIndex();
                 std::memcpy(prev_hash->data(), prev.begin(), prev.size());
               })) {
    return absl::DataLossError(
        absl::StrCat("leaf does not decode: ", exception->getDescription().cStr()));
  }
  return status;
}

}  // namespace internal
}  // namespace fleettwin::ledger
