// RulModel's persistence (model.json + param_NNN.npy) and its version hash.
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fleettwin/common/crypto.h"
#include "fleettwin/common/encoding.h"
#include "fleettwin/model/rul_model.h"
#include "rul_model_impl.h"

namespace fleettwin::model {
namespace {

using nlohmann::json;

constexpr char kFormat[] = "fleettwin-rul-model/1";
constexpr uintmax_t kMaxJsonBytes = 16 << 20;

// The original feature set keeps its original description, so models saved before the
// extensions keep their version; "age" appears only when the age is a feature.
json FeaturesToJson(const FeatureSet& f) {
  if (f.basic()) {
    return json{{"kind", f.age ? "block-means+slope+age" : "block-means+slope"},
                {"blocks", f.blocks}};
  }
  json j{{"kind", "block-means+slope+std+ewma+raw"}, {"blocks", f.blocks},
         {"std", f.std}, {"ewma", f.ewma}, {"raw", f.raw}};
  if (f.age) j["age"] = true;
  return j;
}

FeatureSet FeaturesFromJson(const json& j) {
  FeatureSet f;
  f.blocks = j.at("blocks").get<int>();
  if (j.at("kind") == "block-means+slope") return f;
  if (j.at("kind") == "block-means+slope+age") {
    f.age = true;
    return f;
  }
  if (j.at("kind") != "block-means+slope+std+ewma+raw") throw std::invalid_argument("features");
  f.std = j.at("std").get<bool>();
  f.ewma = j.at("ewma").get<std::vector<double>>();
  f.raw = j.at("raw").get<bool>();
  if (j.contains("age")) f.age = j.at("age").get<bool>();
  return f;
}

json SpecToJson(const ModelSpec& s) {
  return json{
      {"channels", s.channels},
      {"window", s.window},
      {"features", FeaturesToJson(s.features)},
      {"input_normalisation", {{"kind", "z-score"}, {"mean", s.input_norm.mean},
                               {"std", s.input_norm.std}}},
      {"feature_normalisation", {{"kind", "z-score"}, {"mean", s.feature_mean},
                                 {"std", s.feature_std}}},
      {"architecture", {{"kind", "mlp-ensemble"}, {"activation", "relu"}, {"layers", s.layers},
                        {"members", s.members}, {"output", "rul / rul_cap, mean of members"}}},
      {"rul_cap", s.rul_cap},
      {"uncertainty", {{"kind", "gaussian"}, {"sigma", "max(1, a + b * rul)"},
                       {"a", s.sigma_a}, {"b", s.sigma_b}}},
  };
}

// Throws json::exception on missing keys or wrong types; the caller converts.
ModelSpec SpecFromJson(const json& j) {
  ModelSpec s;
  s.channels = j.at("channels").get<std::vector<std::string>>();
  s.window = j.at("window").get<int>();
  s.features = FeaturesFromJson(j.at("features"));
  s.input_norm.mean = j.at("input_normalisation").at("mean").get<std::vector<double>>();
  s.input_norm.std = j.at("input_normalisation").at("std").get<std::vector<double>>();
  s.feature_mean = j.at("feature_normalisation").at("mean").get<std::vector<double>>();
  s.feature_std = j.at("feature_normalisation").at("std").get<std::vector<double>>();
  const json& arch = j.at("architecture");
  if (arch.at("kind") != "mlp-ensemble" || arch.at("activation") != "relu") {
    throw std::invalid_argument("architecture");
  }
  s.layers = arch.at("layers").get<std::vector<int>>();
  s.members = arch.at("members").get<int>();
  s.rul_cap = j.at("rul_cap").get<double>();
  s.sigma_a = j.at("uncertainty").at("a").get<double>();
  s.sigma_b = j.at("uncertainty").at("b").get<double>();
  return s;
}

std::string ParamName(size_t i) { return absl::StrFormat("param_%03d.npy", i); }

// Parameter shapes in parameters() order.
std::vector<std::vector<int64_t>> ParamShapes(const ModelSpec& s) {
  std::vector<std::vector<int64_t>> shapes;
  for (int m = 0; m < s.members; ++m) {
    for (size_t l = 0; l + 1 < s.layers.size(); ++l) {
      shapes.push_back({s.layers[l + 1], s.layers[l]});
      shapes.push_back({s.layers[l + 1]});
    }
  }
  return shapes;
}

std::string Version(const ModelSpec& spec, const std::vector<NpyArray>& parameters) {
  Sha256Hasher hasher;
  const std::string spec_json = absl::StrCat(kFormat, "\n", CanonicalSpecJson(spec), "\n");
  hasher.Update(AsBytes(spec_json));
  for (const NpyArray& p : parameters) hasher.Update(AsBytes(EncodeNpy(p)));
  const Hash h = hasher.Finish();
  return HexEncode(Bytes(h.data(), h.size()));
}

}  // namespace

std::string CanonicalSpecJson(const ModelSpec& spec) { return SpecToJson(spec).dump(); }

std::string RulModel::version() const { return Version(impl_->spec, parameters()); }

absl::Status RulModel::Save(const std::filesystem::path& dir) const {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", dir.string()));
  const std::vector<NpyArray> params = parameters();
  json names = json::array();
  for (size_t i = 0; i < params.size(); ++i) {
    if (absl::Status s = WriteNpyFile(dir / ParamName(i), params[i]); !s.ok()) return s;
    names.push_back(ParamName(i));
  }
  const TrainingInfo& t = impl_->training;
  const json doc = {
      {"format", kFormat},
      {"version", version()},
      {"spec", SpecToJson(impl_->spec)},
      {"horizon", impl_->horizon},
      {"parameters", names},
      {"training", {{"seed", t.seed}, {"units", t.units}, {"windows", t.windows},
                    {"epochs", t.epochs}, {"validation_rmse", t.validation_rmse},
                    {"seconds", t.seconds}, {"prox_mu", t.prox_mu},
                    {"from_start", t.from_start}}},
  };
  std::ofstream out(dir / "model.json", std::ios::trunc);
  out << doc.dump(2) << "\n";
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", (dir / "model.json").string()));
  return absl::OkStatus();
}

absl::StatusOr<RulModel> RulModel::Load(const std::filesystem::path& dir) {
  const std::filesystem::path file = dir / "model.json";
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(file, ec);
  if (ec) return absl::NotFoundError(absl::StrCat("no ", file.string()));
  if (size > kMaxJsonBytes) return absl::InvalidArgumentError(file.string() + " is too large");
  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto impl = std::make_unique<Impl>();
  std::vector<std::string> names;
  std::string stored_version;
  try {
    const json doc = json::parse(text);
    if (doc.at("format") != kFormat) {
      return absl::InvalidArgumentError(absl::StrCat(file.string(), ": not a ", kFormat));
    }
    impl->spec = SpecFromJson(doc.at("spec"));
    impl->horizon = doc.at("horizon").get<int>();
    names = doc.at("parameters").get<std::vector<std::string>>();
    stored_version = doc.at("version").get<std::string>();
    if (doc.contains("training")) {
      const json& t = doc.at("training");
      impl->training.seed = t.value("seed", uint64_t{0});
      impl->training.units = t.value("units", 0);
      impl->training.windows = t.value("windows", 0);
      impl->training.epochs = t.value("epochs", 0);
      impl->training.validation_rmse = t.value("validation_rmse", 0.0);
      impl->training.seconds = t.value("seconds", 0.0);
      impl->training.prox_mu = t.value("prox_mu", 0.0);
      impl->training.from_start = t.value("from_start", false);
    }
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(file.string(), ": malformed: ", e.what()));
  }
  if (absl::Status s = ValidateSpec(impl->spec); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(file.string(), ": ", s.message()));
  }
  if (impl->horizon < 0 || impl->horizon > 1000000) {
    return absl::InvalidArgumentError(file.string() + ": horizon out of range");
  }
  const std::vector<std::vector<int64_t>> shapes = ParamShapes(impl->spec);
  if (names.size() != shapes.size()) {
    return absl::InvalidArgumentError(absl::StrCat(file.string(), ": ", names.size(),
                                                   " parameter files, the architecture needs ",
                                                   shapes.size()));
  }
  std::vector<NpyArray> params;
  for (size_t i = 0; i < names.size(); ++i) {
    // Fixed names: a model.json cannot point outside its directory.
    if (names[i] != ParamName(i)) {
      return absl::InvalidArgumentError(absl::StrCat(file.string(), ": parameter ", i,
                                                     " must be ", ParamName(i)));
    }
    absl::StatusOr<NpyArray> p = ReadNpyFile(dir / names[i]);
    if (!p.ok()) return p.status();
    params.push_back(std::move(*p));
  }
  std::mt19937_64 unused(0);
  for (int m = 0; m < impl->spec.members; ++m) {
    impl->members.push_back(Mlp::Random(impl->spec.layers, unused));
  }
  RulModel model(std::move(impl));
  if (absl::Status s = model.SetParameters(params); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(dir.string(), ": ", s.message()));
  }
  if (model.version() != stored_version) {
    return absl::DataLossError(absl::StrCat(dir.string(), ": content does not match version ",
                                            stored_version.substr(0, 64)));
  }
  return model;
}

std::string RulModel::SpecJson() const { return CanonicalSpecJson(impl_->spec); }

absl::StatusOr<RulModel> RulModel::FromSpec(std::string_view spec_json,
                                            const std::vector<NpyArray>& parameters, int horizon) {
  if (spec_json.size() > kMaxJsonBytes) return absl::InvalidArgumentError("model spec too large");
  if (horizon < 0 || horizon > 1000000) return absl::InvalidArgumentError("horizon out of range");
  auto impl = std::make_unique<Impl>();
  try {
    impl->spec = SpecFromJson(json::parse(spec_json));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("model spec: malformed: ", e.what()));
  }
  if (absl::Status s = ValidateSpec(impl->spec); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("model spec: ", s.message()));
  }
  impl->horizon = horizon;
  std::mt19937_64 unused(0);
  for (int m = 0; m < impl->spec.members; ++m) {
    impl->members.push_back(Mlp::Random(impl->spec.layers, unused));
  }
  RulModel model(std::move(impl));
  if (absl::Status s = model.SetParameters(parameters); !s.ok()) return s;
  return model;
}

}  // namespace fleettwin::model
