// Malformed variants of a valid JSON document, for decoder tests: every field (also inside the
// first object of each array) missing, null, and of each wrong type in turn, plus documents that
// are not JSON objects at all. A strict decoder must refuse each with an error, never an
// exception. Header-only (Boost.JSON).
#pragma once

#include <boost/json.hpp>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace rocketmart::testing {

namespace detail {

inline std::vector<boost::json::value> WrongTypes(const boost::json::value& v) {
  std::vector<boost::json::value> out;
  if (!v.is_string()) out.emplace_back("text");
  if (!v.is_double()) out.emplace_back(1.5);
  if (!v.is_bool()) out.emplace_back(true);
  if (!v.is_array()) out.emplace_back(boost::json::array{});
  if (!v.is_object()) out.emplace_back(boost::json::object{});
  if (!v.is_number()) out.emplace_back(7);
  return out;
}

// Every variant of `object` with one field broken; `wrap` rebuilds the whole document around it.
using Wrap = std::function<std::string(const boost::json::object&)>;

inline void BreakEachField(const boost::json::object& object, const std::set<std::string>& optional,
                           const Wrap& wrap, std::vector<std::string>& out) {
  for (const auto& field : object) {
    const std::string key(field.key());
    if (!optional.contains(key)) {  // absent (or null) is valid for an optional field
      boost::json::object missing = object;
      missing.erase(key);
      out.push_back(wrap(missing));
      boost::json::object null = object;
      null[key] = nullptr;
      out.push_back(wrap(null));
    }
    for (auto& wrong : WrongTypes(field.value())) {
      boost::json::object changed = object;
      changed[key] = std::move(wrong);
      out.push_back(wrap(changed));
    }
    const boost::json::value& v = field.value();
    if (v.is_array() && !v.as_array().empty() && v.as_array()[0].is_object()) {
      const Wrap wrap_element = [&](const boost::json::object& broken) {
        boost::json::object whole = object;
        whole[key].as_array()[0] = broken;
        return wrap(whole);
      };
      BreakEachField(v.as_array()[0].as_object(), optional, wrap_element, out);
      boost::json::object scalar_element = object;
      scalar_element[key].as_array()[0] = 1;
      out.push_back(wrap(scalar_element));
    }
  }
}

}  // namespace detail

// `valid` must be a JSON object; `optional` names fields (at any depth) whose absence is valid.
inline std::vector<std::string> MalformedVariants(std::string_view valid,
                                                  const std::set<std::string>& optional = {}) {
  std::vector<std::string> out;
  detail::BreakEachField(
      boost::json::parse(valid).as_object(), optional,
      [](const boost::json::object& o) { return boost::json::serialize(o); }, out);
  for (const char* not_an_object : {"", "not json", "[]", "null", "1", "\"text\""}) {
    out.emplace_back(not_an_object);
  }
  out.emplace_back(valid.substr(0, valid.size() / 2));  // cut short
  return out;
}

}  // namespace rocketmart::testing
