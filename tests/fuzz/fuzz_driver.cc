// Runs a fuzz target without libFuzzer (e.g. under gcc in CI): valid seeds for each decoder,
// then deterministic random mutations of them. With clang, build the fuzz preset instead to
// get coverage-guided fuzzing.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "fleettwin/ledger/entry.h"
#include "fleettwin/ledger/note.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace fl = fleettwin::ledger;

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 200000;
  std::array<uint8_t, 32> seed;
  seed.fill(7);
  const fl::SignerKey key = *fl::SignerKeyFromSeed("fuzz.example/log", seed);
  fl::Entry entry;
  entry.index = 12;
  entry.kind = "twin.update";
  entry.author = "engine-3";
  entry.payload = "{\"rpm\": 2388.1}";
  const fl::Checkpoint cp{"fuzz.example/log", 99, {}};
  const std::vector<std::string> seeds = {
      std::string(1, '\0') + fl::EncodeLeaf(entry),
      std::string(1, '\1') + fl::SignCheckpoint(cp, key),
      std::string(1, '\2') + fl::FormatCheckpointBody(cp),
      std::string(1, '\3') + fl::FormatVerifierKey(key.Verifier()),
      std::string(1, '\3') + fl::FormatSignerKey(key),
  };
  std::mt19937_64 rng(1);
  for (const std::string& s : seeds) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
  for (long i = 0; i < iterations; ++i) {
    std::string input = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 6);
    for (int e = 0; e < edits; ++e) {
      const size_t at = 1 + rng() % (input.size() - 1 + 1);
      switch (rng() % 4) {
        case 0:
          if (at < input.size()) input[at] ^= static_cast<char>(1 << (rng() % 8));
          break;
        case 1:
          input.insert(at, 1, static_cast<char>(rng()));
          break;
        case 2:
          if (at < input.size()) input.erase(at, 1 + rng() % 8);
          break;
        default:
          input.resize(1 + rng() % input.size());
          break;
      }
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  }
  std::printf("ledger_fuzz: %ld mutated inputs, no crash, every property held\n", iterations);
  return 0;
}
