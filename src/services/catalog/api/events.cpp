#include "services/catalog/api/events.hpp"

#include <boost/json.hpp>

#include "infra/json/json.hpp"

namespace rocketmart::catalog::api {

std::string Encode(const ProductEvent& event) {
  boost::json::object o;
  o["v"] = kProductEventVersion;
  o["productId"] = event.product_id;
  o["name"] = event.name;
  o["price"] = event.price;
  o["initialStock"] = event.initial_stock;
  o["retired"] = event.retired;
  o["version"] = event.version;
  return boost::json::serialize(o);
}

Result<ProductEvent> DecodeProductEvent(std::string_view payload) {
  // Braced initialisers run left to right: the first bad field is the one reported.
  return json::ReadDocument<ProductEvent>(payload, [](json::FieldReader& r) {
    r.SchemaVersion("v", kProductEventVersion);
    return ProductEvent{
        r.RequiredInt("productId", {1, INT64_MAX}).value_or(0),
        r.OptionalString("name", {.max_chars = SIZE_MAX, .single_line = false}).value_or(""),
        r.RequiredInt("price", {0, INT64_MAX}).value_or(0),
        r.RequiredInt("initialStock", {0, INT64_MAX}).value_or(0),
        r.RequiredBool("retired").value_or(false),
        r.RequiredInt("version", {0, INT64_MAX}).value_or(0)};
  });
}

}  // namespace rocketmart::catalog::api
