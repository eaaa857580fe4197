// Fuzz target over every decoder of outside bytes in the ledger: leaf bytes (entries read from
// disk), signed checkpoint notes, checkpoint bodies and key texts. The first input byte picks
// the decoder. Properties: no crash, and whatever is accepted re-encodes to the same bytes.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "fleettwin/ledger/entry.h"
#include "fleettwin/ledger/note.h"
#include "leaf_check.h"

namespace fl = fleettwin::ledger;

namespace {

const fl::SignerKey& FuzzKey() {
  static const fl::SignerKey key = [] {
    std::array<uint8_t, 32> seed;
    seed.fill(7);
    return *fl::SignerKeyFromSeed("fuzz.example/log", seed);
  }();
  return key;
}

void Check(bool condition) {
  if (!condition) std::abort();  // A broken property, reported by the fuzzer as a crash.
}

}  // namespace

// Valid inputs for each decoder, for the mutation driver (fuzz_driver.cc).
// The seed for decoder `tag`: the tag byte, then a valid input.
std::string Tagged(char tag, std::string body) {
  body.insert(body.begin(), tag);
  return body;
}

std::vector<std::string> FuzzSeeds() {
  fl::Entry entry;
  entry.index = 12;
  entry.kind = "twin.update";
  entry.author = "engine-3";
  entry.payload = "{\"rpm\": 2388.1}";
  const fl::Checkpoint cp{"fuzz.example/log", 99, {}};
  return {
      Tagged('\0', fl::EncodeLeaf(entry)),
      Tagged('\1', fl::SignCheckpoint(cp, FuzzKey())),
      Tagged('\2', fl::FormatCheckpointBody(cp)),
      Tagged('\3', fl::FormatVerifierKey(FuzzKey().Verifier())),
      Tagged('\3', fl::FormatSignerKey(FuzzKey())),
  };
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t selector = data[0] % 4;
  const fleettwin::Bytes input(data + 1, size - 1);
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (selector) {
    case 0: {
      absl::StatusOr<fl::Entry> entry = fl::DecodeLeaf(input);
      uint64_t index = 0;
      fleettwin::Hash prev;
      const absl::Status check = fl::internal::CheckLeaf(input, &index, &prev);
      Check(entry.ok() == check.ok());
      if (entry.ok()) {
        Check(fl::EncodeLeaf(*entry) == text);
        Check(entry->index == index && entry->prev_hash == prev);
      }
      break;
    }
    case 1: {
      absl::StatusOr<fl::Checkpoint> cp = fl::OpenCheckpoint(text, FuzzKey().Verifier());
      if (cp.ok()) Check(fl::SignCheckpoint(*cp, FuzzKey()) == text);
      break;
    }
    case 2: {
      absl::StatusOr<fl::Checkpoint> cp = fl::ParseCheckpointBody(text);
      if (cp.ok()) Check(fl::FormatCheckpointBody(*cp) == text);
      break;
    }
    default: {
      // Key ids are accepted in either hex case (as Go's note package does), so the property
      // is that formatting what was parsed gives a text that parses to the same key.
      absl::StatusOr<fl::VerifierKey> vkey = fl::ParseVerifierKey(text);
      if (vkey.ok()) {
        absl::StatusOr<fl::VerifierKey> again = fl::ParseVerifierKey(fl::FormatVerifierKey(*vkey));
        Check(again.ok() && again->name == vkey->name && again->key_id == vkey->key_id &&
              again->public_key == vkey->public_key);
      }
      absl::StatusOr<fl::SignerKey> skey = fl::ParseSignerKey(text);
      if (skey.ok()) {
        absl::StatusOr<fl::SignerKey> again = fl::ParseSignerKey(fl::FormatSignerKey(*skey));
        Check(again.ok() && again->name == skey->name && again->pair.seed == skey->pair.seed);
      }
      break;
    }
  }
  return 0;
}
