// Record contents (records.h).
#include "fleettwin/federated/records.h"

#include "absl/strings/str_cat.h"

namespace fleettwin::federated {
namespace {

std::string_view DtypeName(NpyArray::Dtype d) {
  switch (d) {
    case NpyArray::Dtype::kFloat32: return "float32";
    case NpyArray::Dtype::kFloat64: return "float64";
    case NpyArray::Dtype::kInt32: return "int32";
    case NpyArray::Dtype::kInt64: return "int64";
  }
  return "";
}

template <typename Record>
auto* FindRecord(const flwr::proto::RecordDict& content, std::string_view key,
                 bool (flwr::proto::RecordDict::Item::*has)() const,
                 const Record& (flwr::proto::RecordDict::Item::*get)() const) {
  for (const flwr::proto::RecordDict::Item& item : content.items()) {
    if (item.key() == key && (item.*has)()) return &(item.*get)();
  }
  return static_cast<const Record*>(nullptr);
}

template <typename Record>
std::optional<double> Number(const Record& record, std::string_view key) {
  for (const auto& item : record.items()) {
    if (item.key() != key) continue;
    const auto& v = item.value();
    if (v.has_sint64()) return static_cast<double>(v.sint64());
    if (v.has_uint64()) return static_cast<double>(v.uint64());
    if (v.has_double_()) return v.double_();
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

flwr::proto::ArrayRecord ToArrayRecord(const std::vector<NpyArray>& arrays) {
  flwr::proto::ArrayRecord record;
  for (size_t i = 0; i < arrays.size(); ++i) {
    flwr::proto::ArrayRecord::Item* item = record.add_items();
    item->set_key(std::to_string(i));
    flwr::proto::Array* a = item->mutable_value();
    a->set_dtype(std::string(DtypeName(arrays[i].dtype)));
    for (int64_t d : arrays[i].shape) a->add_shape(static_cast<int32_t>(d));
    a->set_stype("numpy.ndarray");
    a->set_data(EncodeNpy(arrays[i]));
  }
  return record;
}

absl::StatusOr<std::vector<NpyArray>> FromArrayRecord(const flwr::proto::ArrayRecord& record) {
  std::vector<NpyArray> out;
  for (const flwr::proto::ArrayRecord::Item& item : record.items()) {
    const flwr::proto::Array& a = item.value();
    if (a.stype() != "numpy.ndarray") {
      return absl::InvalidArgumentError(
          absl::StrCat("array '", item.key(), "': stype '", a.stype(), "' is not numpy.ndarray"));
    }
    absl::StatusOr<NpyArray> array = DecodeNpy(a.data());
    if (!array.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("array '", item.key(), "': ", std::string(array.status().message())));
    }
    // The legacy convention leaves dtype and shape empty; otherwise they must agree.
    if (!a.dtype().empty()) {
      const bool shape_ok = a.shape_size() == static_cast<int>(array->shape.size()) &&
                            std::equal(a.shape().begin(), a.shape().end(), array->shape.begin());
      if (a.dtype() != DtypeName(array->dtype) || !shape_ok) {
        return absl::InvalidArgumentError(absl::StrCat(
            "array '", item.key(), "': dtype/shape fields contradict its .npy header"));
      }
    }
    out.push_back(std::move(*array));
  }
  return out;
}

const flwr::proto::ArrayRecord* FindArrays(const flwr::proto::RecordDict& content,
                                           std::string_view key) {
  return FindRecord<flwr::proto::ArrayRecord>(content, key,
                                              &flwr::proto::RecordDict::Item::has_array_record,
                                              &flwr::proto::RecordDict::Item::array_record);
}
const flwr::proto::ConfigRecord* FindConfig(const flwr::proto::RecordDict& content,
                                            std::string_view key) {
  return FindRecord<flwr::proto::ConfigRecord>(content, key,
                                               &flwr::proto::RecordDict::Item::has_config_record,
                                               &flwr::proto::RecordDict::Item::config_record);
}
const flwr::proto::MetricRecord* FindMetrics(const flwr::proto::RecordDict& content,
                                             std::string_view key) {
  return FindRecord<flwr::proto::MetricRecord>(content, key,
                                               &flwr::proto::RecordDict::Item::has_metric_record,
                                               &flwr::proto::RecordDict::Item::metric_record);
}

void AddArrays(flwr::proto::RecordDict& content, std::string_view key,
               flwr::proto::ArrayRecord record) {
  flwr::proto::RecordDict::Item* item = content.add_items();
  item->set_key(std::string(key));
  *item->mutable_array_record() = std::move(record);
}
void AddConfig(flwr::proto::RecordDict& content, std::string_view key,
               flwr::proto::ConfigRecord record) {
  flwr::proto::RecordDict::Item* item = content.add_items();
  item->set_key(std::string(key));
  *item->mutable_config_record() = std::move(record);
}
void AddMetrics(flwr::proto::RecordDict& content, std::string_view key,
                flwr::proto::MetricRecord record) {
  flwr::proto::RecordDict::Item* item = content.add_items();
  item->set_key(std::string(key));
  *item->mutable_metric_record() = std::move(record);
}

void SetInt(flwr::proto::ConfigRecord& record, std::string_view key, int64_t value) {
  auto* item = record.add_items();
  item->set_key(std::string(key));
  item->mutable_value()->set_sint64(value);
}
void SetDouble(flwr::proto::ConfigRecord& record, std::string_view key, double value) {
  auto* item = record.add_items();
  item->set_key(std::string(key));
  item->mutable_value()->set_double_(value);
}
void SetString(flwr::proto::ConfigRecord& record, std::string_view key, std::string_view value) {
  auto* item = record.add_items();
  item->set_key(std::string(key));
  item->mutable_value()->set_string(std::string(value));
}
void SetInt(flwr::proto::MetricRecord& record, std::string_view key, int64_t value) {
  auto* item = record.add_items();
  item->set_key(std::string(key));
  item->mutable_value()->set_sint64(value);
}
void SetDouble(flwr::proto::MetricRecord& record, std::string_view key, double value) {
  auto* item = record.add_items();
  item->set_key(std::string(key));
  item->mutable_value()->set_double_(value);
}

std::optional<double> GetNumber(const flwr::proto::ConfigRecord& record, std::string_view key) {
  return Number(record, key);
}
std::optional<double> GetNumber(const flwr::proto::MetricRecord& record, std::string_view key) {
  return Number(record, key);
}
std::optional<std::string> GetString(const flwr::proto::ConfigRecord& record,
                                     std::string_view key) {
  for (const auto& item : record.items()) {
    if (item.key() == key && item.value().has_string()) return item.value().string();
  }
  return std::nullopt;
}

}  // namespace fleettwin::federated
