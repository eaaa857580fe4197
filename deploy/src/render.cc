#include "fleettwin/deploy/render.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "fleettwin/common/curve.h"
#include "manifests.h"
#include "share.h"

namespace fleettwin::deploy {
namespace {

namespace fs = std::filesystem;

struct AssetSpec {
  std::string id, kind, model, storage, mqtt;
  std::string history, history_units;  // Federated rounds: the asset's own training history.
};

struct FleetSpec {
  std::string ns = "fleettwin";
  std::string image;
  std::vector<AssetSpec> assets;
};

// A YAML scalar as a double-quoted string (JSON's quoting is valid YAML).
std::string Q(const std::string& s) { return nlohmann::json(s).dump(); }

absl::Status Bad(const YAML::Node& node, const std::string& what) {
  const YAML::Mark m = node.Mark();
  return absl::InvalidArgumentError(m.is_null() ? what
                                                : absl::StrCat("line ", m.line + 1, ": ", what));
}

absl::StatusOr<std::string> Scalar(const YAML::Node& map, const std::string& key,
                                   const std::regex& valid, const std::string& rule) {
  const YAML::Node n = map[key];
  if (!n) return std::string();
  if (!n.IsScalar()) return Bad(n, absl::StrCat(key, " must be a string"));
  const std::string v = n.as<std::string>();
  if (!std::regex_match(v, valid)) return Bad(n, absl::StrCat(key, " '", v, "': ", rule));
  return v;
}

absl::StatusOr<FleetSpec> ParseAssetsOrThrow(const fs::path& file) {
  const YAML::Node root = YAML::LoadFile(file.string());
  if (!root.IsMap()) return absl::InvalidArgumentError(absl::StrCat(file.string(), ": not a map"));
  FleetSpec spec;
  const std::regex name("[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?");
  const std::regex image("[A-Za-z0-9][A-Za-z0-9._/:@-]{0,250}");
  const std::regex model("[A-Za-z0-9][A-Za-z0-9._-]{0,99}");
  const std::regex quantity("[1-9][0-9]{0,5}(Mi|Gi|Ti)");
  const std::regex units("[1-9][0-9]{0,5}-[1-9][0-9]{0,5}");
  const std::regex url("(tcp|ssl|ws|wss)://[A-Za-z0-9.-]+:[0-9]{1,5}");
  for (const auto& field : root) {
    const std::string key = field.first.as<std::string>();
    if (key != "namespace" && key != "image" && key != "assets") {
      return Bad(field.first, absl::StrCat("unknown field '", key, "' (namespace, image, assets)"));
    }
  }
  absl::StatusOr<std::string> ns = Scalar(root, "namespace", name, "a DNS label");
  if (!ns.ok()) return ns.status();
  if (!ns->empty()) spec.ns = *ns;
  absl::StatusOr<std::string> img = Scalar(root, "image", image, "an image reference");
  if (!img.ok()) return img.status();
  spec.image = *img;
  const YAML::Node assets = root["assets"];
  if (!assets || !assets.IsSequence() || assets.size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(file.string(), ": 'assets' must be a non-empty list"));
  }
  std::set<std::string> ids;
  for (const YAML::Node& a : assets) {
    if (!a.IsMap()) return Bad(a, "each asset is a map with id and kind");
    for (const auto& field : a) {
      const std::string key = field.first.as<std::string>();
      if (key != "id" && key != "kind" && key != "model" && key != "storage" && key != "mqtt" &&
          key != "history" && key != "history_units") {
        return Bad(field.first, absl::StrCat("unknown asset field '", key,
                                             "' (id, kind, model, storage, mqtt, history, "
                                             "history_units)"));
      }
    }
    AssetSpec s;
    for (auto [key, out, re, rule] :
         {std::tuple{"id", &s.id, &name, "lower-case letters, digits and '-', at most 40"},
          std::tuple{"kind", &s.kind, &model, "a kind file's name without .json"},
          std::tuple{"model", &s.model, &model, "a model directory's name"},
          std::tuple{"storage", &s.storage, &quantity, "a size such as 512Mi or 2Gi"},
          std::tuple{"history", &s.history, &model, "a C-MAPSS file name in the image"},
          std::tuple{"history_units", &s.history_units, &units, "a unit range such as 1-20"},
          std::tuple{"mqtt", &s.mqtt, &url, "a broker URL such as tcp://mosquitto:1883"}}) {
      absl::StatusOr<std::string> v = Scalar(a, key, *re, rule);
      if (!v.ok()) return v.status();
      *out = *v;
    }
    if (s.id.empty() || s.kind.empty()) return Bad(a, "an asset needs an id and a kind");
    if (!s.history_units.empty() && s.history.empty()) {
      return Bad(a, "history_units needs history");
    }
    if (!ids.insert(s.id).second) return Bad(a, absl::StrCat("asset id '", s.id, "' twice"));
    if (s.storage.empty()) s.storage = "1Gi";
    spec.assets.push_back(std::move(s));
  }
  return spec;
}

absl::StatusOr<FleetSpec> ParseAssets(const fs::path& file) {
  try {
    return ParseAssetsOrThrow(file);
  } catch (const YAML::Exception& e) {  // Syntax, or a node of an unexpected type.
    return absl::InvalidArgumentError(absl::StrCat(file.string(), ": ", e.what()));
  }
}

absl::Status Write(const fs::path& path, const std::string& text) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  std::ofstream f(path, std::ios::trunc);
  f << text;
  if (!f.flush()) return absl::UnavailableError(absl::StrCat("cannot write ", path.string()));
  return absl::OkStatus();
}

// Keys: generated once, kept on later renders (rotation: docs/operations.md).
absl::StatusOr<bool> EnsureKey(const fs::path& dir, const std::string& name,
                               const fs::path& secret_home) {
  const fs::path secret = secret_home / (name + ".curve-secret");
  std::error_code ec;
  if (fs::exists(dir / (name + ".curve-public"), ec) && fs::exists(secret, ec)) return false;
  fs::create_directories(dir, ec);
  fs::create_directories(secret_home, ec);
  if (absl::Status s = common::WriteCurveKeyFiles(dir, name, true); !s.ok()) return s;
  if (secret_home != dir) {
    fs::rename(dir / (name + ".curve-secret"), secret, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("cannot move ", secret.string(), ": ", ec.message()));
  }
  return true;
}

std::string AgentOverlay(const AssetSpec& a) {
  return absl::StrCat(
      "# Generated by fleetctl deploy render: asset ", a.id, " (", a.kind, ").\n",
      "apiVersion: kustomize.config.k8s.io/v1beta1\n"
      "kind: Kustomization\n"
      "bases:\n- ../../agent\n"
      "nameSuffix: -", a.id, "\n",
      "commonLabels:\n  fleettwin.io/asset: ", Q(a.id), "\n",
      "secretGenerator:\n- name: agent-key\n  files:\n  - agent.curve-secret=", a.id,
      ".curve-secret\n",
      // Its kind and the coordinator's public key are generated here, not at the root: kustomize
      // before v3 (Debian's kubectl) does not carry a root generator's hashed name into an
      // overlay's references. Each agent sees only its own kind.
      "configMapGenerator:\n- name: fleet-kinds\n  files:\n  - ", a.kind, ".json\n",
      "- name: fleet-coordinator-key\n  files:\n  - coordinator.curve-public\n",
      "patchesJson6902:\n- target:\n    group: apps\n    version: v1\n    kind: StatefulSet\n"
      "    name: agent\n  path: patch.yaml\n");
}

std::string AgentPatch(const AssetSpec& a) {
  std::vector<std::string> args = {
      "--asset", a.id,
      "--kind", absl::StrCat("/etc/fleettwin/kinds/", a.kind, ".json"),
      "--data-dir", "/var/lib/fleettwin",
      "--http", "0.0.0.0:8080",
      "--http-operator", "0.0.0.0:8081",
      "--coordinator", "tcp://fleet-coordinator:7400",
      "--coordinator-key", "/etc/fleettwin/coordinator/coordinator.curve-public",
      "--agent-key", "/etc/fleettwin/secret/agent.curve-secret"};
  if (!a.model.empty()) {
    args.insert(args.end(), {"--model", absl::StrCat("/usr/share/fleettwin/models/", a.model)});
  }
  if (!a.mqtt.empty()) args.insert(args.end(), {"--mqtt", a.mqtt});
  if (!a.history.empty()) {
    args.insert(args.end(), {"--fl-server", "fleet-coordinator:9092", "--fl-history",
                             absl::StrCat("/usr/share/fleettwin/cmapss/", a.history)});
    if (!a.history_units.empty()) args.insert(args.end(), {"--fl-history-units", a.history_units});
  }
  std::string out = "- op: replace\n  path: /spec/template/spec/containers/0/args\n  value:\n";
  for (const std::string& arg : args) absl::StrAppend(&out, "  - ", Q(arg), "\n");
  absl::StrAppend(&out,
                  "- op: replace\n  path: /spec/volumeClaimTemplates/0/spec/resources/requests/storage\n"
                  "  value: ", Q(a.storage), "\n");
  return out;
}

}  // namespace

absl::StatusOr<std::vector<RenderedAsset>> RenderManifests(const RenderOptions& options) {
  absl::StatusOr<FleetSpec> spec = ParseAssets(options.assets_file);
  if (!spec.ok()) return spec.status();
  if (!options.ns.empty()) spec->ns = options.ns;
  if (!options.image.empty()) spec->image = options.image;
  absl::StatusOr<Share> share = FindShare(options.share_dir);
  if (!share.ok()) return share.status();
  const fs::path out = options.out_dir;
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", out.string(), ": ", ec.message()));

  for (const auto& [path, content] : EmbeddedManifests()) {
    if (absl::Status s = Write(out / std::string(path), std::string(content)); !s.ok()) return s;
  }
  for (const auto& [dir, name] : {std::pair{out / "keys", std::string("coordinator")},
                                  std::pair{out / "keys" / "operators", std::string("operator")}}) {
    if (absl::StatusOr<bool> made = EnsureKey(dir, name, dir); !made.ok()) return made.status();
  }
  std::vector<RenderedAsset> rendered;
  for (const AssetSpec& a : spec->assets) {
    if (!a.history.empty() && !fs::is_regular_file(share->cmapss / a.history, ec)) {
      return absl::InvalidArgumentError(
          absl::StrCat("asset ", a.id, ": no history file ", (share->cmapss / a.history).string()));
    }
    const fs::path home = out / "assets" / a.id;
    absl::StatusOr<bool> made = EnsureKey(out / "keys" / "agents", a.id, home);
    if (!made.ok()) return made.status();
    for (const auto& [from, to] :
         {std::pair{share->kinds / (a.kind + ".json"), home / (a.kind + ".json")},
          std::pair{out / "keys" / "coordinator.curve-public", home / "coordinator.curve-public"}}) {
      if (!fs::is_regular_file(from, ec)) {
        return absl::InvalidArgumentError(
            absl::StrCat("asset ", a.id, ": no ", from.string(), " (kind '", a.kind, "'?)"));
      }
      fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
      if (ec) return absl::UnavailableError(absl::StrCat("cannot copy ", from.string(), ": ", ec.message()));
    }
    if (absl::Status s = Write(home / "kustomization.yaml", AgentOverlay(a)); !s.ok()) return s;
    if (absl::Status s = Write(home / "patch.yaml", AgentPatch(a)); !s.ok()) return s;
    rendered.push_back({a.id, a.kind, *made});
  }

  std::string k = absl::StrCat(
      "# Generated by fleetctl deploy render from ", options.assets_file.filename().string(),
      ": the coordinator, ", spec->assets.size(),
      " agents (one StatefulSet each), their keys and kinds. Apply with kubectl apply -k.\n"
      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n",
      "namespace: ", spec->ns, "\nbases:\n- base\n");
  for (const AssetSpec& a : spec->assets) absl::StrAppend(&k, "- assets/", a.id, "\n");
  if (!spec->image.empty()) {
    const size_t colon = spec->image.rfind(':');
    const bool tagged = colon != std::string::npos && spec->image.find('/', colon) == std::string::npos;
    absl::StrAppend(&k, "images:\n- name: fleettwin\n  newName: ",
                    Q(tagged ? spec->image.substr(0, colon) : spec->image), "\n");
    if (tagged) absl::StrAppend(&k, "  newTag: ", Q(spec->image.substr(colon + 1)), "\n");
  }
  absl::StrAppend(&k, "configMapGenerator:\n- name: fleet-agent-keys\n  files:\n");
  for (const AssetSpec& a : spec->assets) absl::StrAppend(&k, "  - keys/agents/", a.id, ".curve-public\n");
  // Every operator key there: more operators are admitted by adding their public keys.
  absl::StrAppend(&k, "- name: fleet-operator-keys\n  files:\n");
  std::set<std::string> operators;
  for (const auto& entry : fs::directory_iterator(out / "keys" / "operators", ec)) {
    if (entry.path().extension() == ".curve-public") operators.insert(entry.path().filename().string());
  }
  for (const std::string& f : operators) absl::StrAppend(&k, "  - keys/operators/", f, "\n");
  absl::StrAppend(&k, "- name: fleet-assets\n  literals:\n");
  for (const AssetSpec& a : spec->assets) absl::StrAppend(&k, "  - ", a.id, "=", a.kind, "\n");
  absl::StrAppend(&k,
                  "secretGenerator:\n- name: fleet-coordinator-secret\n  files:\n"
                  "  - keys/coordinator.curve-secret\n");
  if (absl::Status s = Write(out / "kustomization.yaml", k); !s.ok()) return s;
  if (absl::Status s = Write(out / ".gitignore", "# CURVE secret keys: never commit them.\n*.curve-secret\n");
      !s.ok()) {
    return s;
  }
  return rendered;
}

}  // namespace fleettwin::deploy
