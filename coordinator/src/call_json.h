// The maintenance call as JSON, one form for the canonical plan (hashed) and the control
// socket's views, so the two cannot disagree.
#ifndef FLEETTWIN_COORDINATOR_SRC_CALL_JSON_H_
#define FLEETTWIN_COORDINATOR_SRC_CALL_JSON_H_

#include <nlohmann/json.hpp>

#include "fleettwin/protocol/messages.h"

namespace fleettwin::coordinator {

inline nlohmann::json CallJson(const protocol::MaintenanceCall& call) {
  return {{"horizon", call.horizon},
          {"duration", call.duration},
          {"crews", call.crews},
          {"failure_cost", call.failure_cost},
          {"preventive_cost", call.preventive_cost},
          {"wasted_life_cost", call.wasted_life_cost}};
}

// The inverse; throws nlohmann::json::exception on missing keys or wrong types.
inline protocol::MaintenanceCall CallFromJson(const nlohmann::json& c) {
  return {c.at("horizon").get<uint32_t>(),        c.at("duration").get<uint32_t>(),
          c.at("crews").get<uint32_t>(),          c.at("failure_cost").get<double>(),
          c.at("preventive_cost").get<double>(), c.at("wasted_life_cost").get<double>()};
}

}  // namespace fleettwin::coordinator

#endif  // FLEETTWIN_COORDINATOR_SRC_CALL_JSON_H_
