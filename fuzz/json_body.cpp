// Request bodies: the strict decoder every route uses before its handler sees a field.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "infra/json/json.hpp"

namespace {

std::size_t Depth(const boost::json::value& v) {
  std::size_t deepest = 0;
  if (const auto* o = v.if_object()) {
    for (const auto& member : *o) deepest = std::max(deepest, Depth(member.value()));
    return deepest + 1;
  }
  if (const auto* a = v.if_array()) {
    for (const auto& element : *a) deepest = std::max(deepest, Depth(element));
    return deepest + 1;
  }
  return 0;
}

void Require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace rocketmart::json;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto parsed = ParseObject(body);
  if (!parsed.ok()) return 0;
  Require(Depth(boost::json::value(*parsed)) <= kMaxDepth);
  // The field shapes the routes read: ids, quantities, names, flags.
  FieldReader reader(*parsed);
  const auto id = reader.RequiredInt("productId", {.min = 1});
  const auto amount = reader.OptionalInt("amount", {.min = 1, .max = 100});
  const auto name = reader.OptionalString("name", {.min_chars = 1, .max_chars = 200});
  const auto text = reader.OptionalString("description", {.max_chars = 5000, .single_line = false});
  const auto flag = reader.OptionalBool("retired");
  const auto finished = reader.Finish();
  if (id) Require(*id >= 1);
  if (amount) Require(*amount >= 1 && *amount <= 100);
  if (name) Require(!name->empty() && name->size() <= 200 * 4);
  if (text) Require(text->size() <= 5000 * 4);
  (void)flag;
  (void)finished;
  return 0;
}
