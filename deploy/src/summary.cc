// FormatSummary: the summary of fleetctl up for people, from its JSON.
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fleettwin/deploy/local_fleet.h"

namespace fleettwin::deploy {

using json = nlohmann::json;

namespace {

std::string FormatOrThrow(json& s) {  // Non-const: a missing key reads as null.
  std::string out;
  json& fleet = s["fleet"];
  absl::StrAppendFormat(&out, "\nfleet: %d C-MAPSS %s engines, one fleet-agent each, in %s\n",
                        fleet.value("assets", 0), fleet.value("subset", ""),
                        fleet.value("data_dir", ""));
  std::map<std::string, json> planned;
  for (const json& a : s["plan"]["assignments"]) planned[a.value("asset", "")] = a;
  absl::StrAppendFormat(&out, "\n%-10s %-9s %7s %6s %9s %8s %7s  %s\n", "ASSET", "HEALTH", "RUL",
                        "+-SD", "P(FAIL30)", "TRUE RUL", "CYCLES", "MAINTENANCE");
  for (const json& a : s["assets"]) {
    const json p = planned[a.value("asset", "")];
    const std::string when =
        p.is_object() && p.value("slot", -1) >= 0
            ? absl::StrFormat("in %d cycles, crew %d", p.value("start", -1), p.value("crew", -1))
            : std::string("-");
    absl::StrAppendFormat(&out, "%-10s %-9s %7.1f %6.1f %9.3f %8.0f %7d  %s\n",
                          a.value("asset", ""), a.value("health", ""), a.value("rul", 0.0),
                          a.value("rul_std", 0.0), a.value("p_fail", 0.0),
                          a.value("true_rul", 0.0), a.value("cycles", 0), when);
  }
  json& plan = s["plan"];
  absl::StrAppendFormat(&out, "\nplan %s: %d maintained, hash %s\n", plan.value("id", ""),
                        plan.value("maintained", 0), plan.value("plan_hash", ""));
  for (const json& l : plan.value("left_out", json::array())) {
    absl::StrAppendFormat(&out, "  left out: %s (%s)\n", l.value("asset", ""), l.value("reason", ""));
  }
  json& c = s["costs"];
  absl::StrAppendFormat(&out,
                        "cost with the true RUL (failure %g, preventive %g, wasted life %g/cycle): "
                        "plan %.1f, run to failure %.1f, oracle %.1f",
                        c.value("failure", 0.0), c.value("preventive", 0.0),
                        c.value("wasted_life", 0.0), c.value("plan", 0.0),
                        c.value("run_to_failure", 0.0), c.value("oracle", 0.0));
  if (c.contains("share_of_oracle_saving")) {
    absl::StrAppendFormat(&out, "; %.2f of the oracle's saving",
                          c["share_of_oracle_saving"].get<double>());
  }
  out += "\n";
  json& r = s["rounds"];
  absl::StrAppendFormat(&out,
                        "\nfederated rounds (%s; from the shipped model; RMSE on each agent's "
                        "held-out training engines): %d",
                        r.value("strategy", ""), static_cast<int>(r["rounds"].size()));
  if (r.contains("model_id")) {
    absl::StrAppendFormat(&out, ", global model %s", r.value("model_id", ""));
  }
  out += "\n";
  for (const json& round : r["rounds"]) {
    absl::StrAppendFormat(&out, "  round %d: %d/%d replied%s", round.value("round", 0),
                          round.value("replied", 0), round.value("sampled", 0),
                          round.value("aggregated", false) ? "" : ", not aggregated");
    if (round.contains("eval_rmse")) {
      absl::StrAppendFormat(&out, ", held-out RMSE %.2f", round["eval_rmse"].get<double>());
    }
    out += "\n";
  }
  json& audit = s["audit"];
  absl::StrAppendFormat(&out, "\nledgers (%d/%d verify; crosscheck %s; replay-plan %s):\n",
                        audit.value("verified", 0), static_cast<int>(audit["ledgers"].size()),
                        audit.value("crosscheck", false) ? "ok" : "FAILED",
                        audit.value("replay_plan", false) ? "identical" : "FAILED");
  for (const json& l : audit["ledgers"]) {
    absl::StrAppendFormat(&out, "  %-12s %6d entries  %s\n", l.value("name", ""),
                          l.value("entries", 0), l.value("path", ""));
  }
  absl::StrAppendFormat(&out, "\ndone in %.0f s; the summary as JSON: %s/summary.json\n",
                        s.value("seconds", 0.0), fleet.value("data_dir", ""));
  return out;
}

}  // namespace

std::string FormatSummary(const std::string& summary_json) {
  json s = json::parse(summary_json, nullptr, false);
  if (!s.is_object()) return "(no summary)\n";
  try {
    return FormatOrThrow(s);
  } catch (const std::exception& e) {
    return absl::StrCat("(summary of an unexpected shape: ", e.what(), ")\n");
  }
}

}  // namespace fleettwin::deploy
