// Flower record contents as fleettwin reads and writes them (docs/federated.md):
//   - model parameters: an ArrayRecord whose items "0", "1", ... each hold one array as `.npy`
//     bytes (stype "numpy.ndarray", dtype "float32", shape); the legacy convention's arrays
//     (dtype "", shape []) are read too, their dtype and shape coming from the `.npy` header.
//   - configs and metrics: typed scalar values by key.
#ifndef FLEETTWIN_FEDERATED_RECORDS_H_
#define FLEETTWIN_FEDERATED_RECORDS_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "fleettwin/common/npy.h"
#include "flwr/proto/recorddict.pb.h"

namespace fleettwin::federated {

// The arrays as a Message-API ArrayRecord (keys "0", "1", ...).
flwr::proto::ArrayRecord ToArrayRecord(const std::vector<NpyArray>& arrays);
// The arrays of `record` in item order, decoded from `.npy`. InvalidArgument for an stype
// other than "numpy.ndarray", bytes that are not a supported `.npy`, or a dtype/shape that
// contradicts the header.
absl::StatusOr<std::vector<NpyArray>> FromArrayRecord(const flwr::proto::ArrayRecord& record);

// The record of `content` named `key`, or nullptr.
const flwr::proto::ArrayRecord* FindArrays(const flwr::proto::RecordDict& content,
                                           std::string_view key);
const flwr::proto::ConfigRecord* FindConfig(const flwr::proto::RecordDict& content,
                                            std::string_view key);
const flwr::proto::MetricRecord* FindMetrics(const flwr::proto::RecordDict& content,
                                             std::string_view key);
// Appends an item to `content`.
void AddArrays(flwr::proto::RecordDict& content, std::string_view key,
               flwr::proto::ArrayRecord record);
void AddConfig(flwr::proto::RecordDict& content, std::string_view key,
               flwr::proto::ConfigRecord record);
void AddMetrics(flwr::proto::RecordDict& content, std::string_view key,
                flwr::proto::MetricRecord record);

// Scalar entries. Set* appends; Get* returns the value of the first item named `key` if it
// holds a number (sint64, uint64 or double; converted) or a string, else nullopt.
void SetInt(flwr::proto::ConfigRecord& record, std::string_view key, int64_t value);
void SetDouble(flwr::proto::ConfigRecord& record, std::string_view key, double value);
void SetString(flwr::proto::ConfigRecord& record, std::string_view key, std::string_view value);
void SetInt(flwr::proto::MetricRecord& record, std::string_view key, int64_t value);
void SetDouble(flwr::proto::MetricRecord& record, std::string_view key, double value);
std::optional<double> GetNumber(const flwr::proto::ConfigRecord& record, std::string_view key);
std::optional<std::string> GetString(const flwr::proto::ConfigRecord& record,
                                     std::string_view key);
std::optional<double> GetNumber(const flwr::proto::MetricRecord& record, std::string_view key);

}  // namespace fleettwin::federated

#endif  // FLEETTWIN_FEDERATED_RECORDS_H_
