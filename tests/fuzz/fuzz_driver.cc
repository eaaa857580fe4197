// Runs a fuzz target without libFuzzer (e.g. under gcc in CI): valid seeds for each decoder,
// then deterministic random mutations of them. With clang, build the fuzz preset instead to
// get coverage-guided fuzzing.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

// Each fuzz target provides valid seed inputs for its decoders.
std::vector<std::string> FuzzSeeds();

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 200000;
  const std::vector<std::string> seeds = FuzzSeeds();
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
  std::printf("%s: %ld mutated inputs, no crash, every property held\n", argv[0], iterations);
  return 0;
}
