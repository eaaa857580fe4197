// Test helper: one C-MAPSS engine's cycles from the shipped FD001 files, as raw samples of an
// asset kind whose channels are the file's columns after unit and cycle (cmapss-turbofan).
#ifndef FLEETTWIN_TESTS_TESTING_CMAPSS_H_
#define FLEETTWIN_TESTS_TESTING_CMAPSS_H_

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fleettwin/agent/asset_kind.h"
#include "fleettwin/agent/validation.h"

namespace fleettwin::testing {

// `file` is e.g. "test_FD001.txt" under data/cmapss of `source_dir`. Empty if unreadable.
inline std::vector<agent::RawSample> CmapssEngine(const std::string& source_dir,
                                                  const agent::AssetKind& kind,
                                                  const std::string& file, int unit) {
  std::ifstream in(source_dir + "/data/cmapss/" + file);
  std::vector<agent::RawSample> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    int u;
    double cycle;
    fields >> u >> cycle;
    if (u != unit) continue;
    agent::RawSample raw{cycle, {}};
    for (const agent::Channel& c : kind.channels) {
      double v;
      fields >> v;
      raw.fields.emplace_back(c.name, v);
    }
    out.push_back(raw);
  }
  return out;
}

}  // namespace fleettwin::testing

#endif  // FLEETTWIN_TESTS_TESTING_CMAPSS_H_
