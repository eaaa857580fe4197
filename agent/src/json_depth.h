// Private to agent/: a check of JSON text before parsing it. nlohmann parses without recursion,
// but printing and destroying a value recurse once per level, so untrusted text nested deeper
// than its format needs is refused before it is parsed.
#ifndef FLEETTWIN_AGENT_SRC_JSON_DEPTH_H_
#define FLEETTWIN_AGENT_SRC_JSON_DEPTH_H_

#include <string_view>

namespace fleettwin::agent {

// True if arrays and objects in `text` nest more than `limit` levels (strings are skipped).
inline bool JsonNestedDeeperThan(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

}  // namespace fleettwin::agent

#endif  // FLEETTWIN_AGENT_SRC_JSON_DEPTH_H_
