#include "infra/discovery/instance_codec.hpp"

#include <algorithm>
#include <boost/json.hpp>

#include "infra/json/json.hpp"

namespace rocketmart::discovery {
namespace {

namespace bj = boost::json;

bool AllOf(std::string_view s, std::size_t max, bool (*ok)(char)) {
  return !s.empty() && s.size() <= max && std::all_of(s.begin(), s.end(), ok);
}

bool LowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool IdChar(char c) {
  return LowerAlnum(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == ':';
}

Error Invalid(std::string message, std::string field = {}) {
  return MakeError(Errc::kValidationFailed, std::move(message), std::move(field));
}

}  // namespace

bool ValidServiceName(std::string_view service) {
  return AllOf(service, 64, &LowerAlnum);
}

bool ValidInstanceId(std::string_view id) {
  return AllOf(id, 128, &IdChar);
}

Result<void> ValidateInstance(const Instance& instance) {
  if (!ValidServiceName(instance.service)) {
    return Invalid("service must be 1..64 of [a-z0-9_-]", "service");
  }
  if (!ValidInstanceId(instance.id)) return Invalid("id must be 1..128 of [A-Za-z0-9_.:-]", "id");
  if (instance.host.empty() || instance.host.size() > 255) {
    return Invalid("host must be 1..255 characters", "host");
  }
  if (instance.port == 0) return Invalid("port must be 1..65535", "port");
  return {};
}

std::string InstanceKey(std::string_view root, std::string_view service, std::string_view id) {
  std::string key;
  key.reserve(root.size() + service.size() + 1 + id.size());
  key.append(root).append(service).append("/").append(id);
  return key;
}

std::string EncodeInstanceValue(const Instance& instance) {
  bj::object metadata;
  for (const auto& [name, value] : instance.metadata) metadata[name] = value;
  bj::object value;
  value["host"] = instance.host;
  value["port"] = instance.port;
  value["metadata"] = std::move(metadata);
  return bj::serialize(value);
}

Result<KeyParts> ParseInstanceKey(std::string_view root, std::string_view key) {
  if (key.size() <= root.size() || key.substr(0, root.size()) != root) {
    return Invalid("not under the root");
  }
  const std::string_view rest = key.substr(root.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) return Invalid("no <service>/<id> after the root");
  KeyParts parts{std::string(rest.substr(0, slash)), std::string(rest.substr(slash + 1))};
  if (!ValidServiceName(parts.service)) return Invalid("not a service name");
  if (!ValidInstanceId(parts.id)) return Invalid("not an instance id");
  return parts;
}

Result<Instance> DecodeInstance(std::string_view root, std::string_view key,
                                std::string_view value) {
  auto parts = ParseInstanceKey(root, key);
  if (!parts) return parts.error();
  auto doc = json::ParseDocument(value);
  if (!doc) return Invalid("the value is not a JSON object");
  Instance instance;
  instance.service = std::move(parts->service);
  instance.id = std::move(parts->id);
  const bj::object& object = *doc;
  const auto* host = object.if_contains("host");
  if (host == nullptr || !host->is_string()) return Invalid("no host string", "host");
  instance.host = std::string(host->as_string());
  const auto* port = object.if_contains("port");
  boost::system::error_code ec;
  const std::int64_t number = port == nullptr ? 0 : port->to_number<std::int64_t>(ec);
  if (port == nullptr || ec || number < 1 || number > 65535) {
    return Invalid("no port in 1..65535", "port");
  }
  instance.port = static_cast<std::uint16_t>(number);
  if (const auto* metadata = object.if_contains("metadata"); metadata != nullptr) {
    if (!metadata->is_object()) return Invalid("metadata is not an object", "metadata");
    for (const auto& [name, v] : metadata->as_object()) {
      if (!v.is_string()) return Invalid("a metadata value is not a string", "metadata");
      instance.metadata.emplace(std::string(name), std::string(v.as_string()));
    }
  }
  if (auto valid = ValidateInstance(instance); !valid) return valid.error();
  return instance;
}

std::string PrefixRangeEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key (etcd's convention for "no upper bound")
}

}  // namespace rocketmart::discovery
