// How an Instance is stored in a key-value store (etcd): the key layout and the JSON value.
//
//   <root><service>/<id>  ->  {"host":"10.0.0.7","port":8081,"metadata":{"zone":"a"}}
//
// root is "/rocketmart/services/" by default (docs/adr/0043-discovery-etcd.md). Decoding is
// strict about what it needs (a valid service and id in the key, a non-empty host, a port in
// 1..65535, string metadata) and ignores unknown value fields, so a newer writer's extra fields
// do not hide an instance from an older reader. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/result.hpp"
#include "infra/discovery/service_registry.hpp"

namespace rocketmart::discovery {

inline constexpr std::string_view kDefaultRoot = "/rocketmart/services/";

// Errc::kValidationFailed naming the field when `instance` cannot be registered.
Result<void> ValidateInstance(const Instance& instance);

// "<root><service>/<id>".
std::string InstanceKey(std::string_view root, std::string_view service, std::string_view id);
// The JSON value (service and id are in the key, not repeated).
std::string EncodeInstanceValue(const Instance& instance);

// The instance a key and value under `root` describe, or an error saying why they are skipped
// (a key that is not <root><service>/<id>, a value that is not the JSON above).
Result<Instance> DecodeInstance(std::string_view root, std::string_view key,
                                std::string_view value);

// The service and id of a key under `root` (for a deletion, which carries no value).
struct KeyParts {
  std::string service;
  std::string id;
};
Result<KeyParts> ParseInstanceKey(std::string_view root, std::string_view key);

// The end of the range of every key starting with `prefix` (etcd's range_end: the prefix with its
// last byte incremented).
std::string PrefixRangeEnd(std::string_view prefix);

}  // namespace rocketmart::discovery
