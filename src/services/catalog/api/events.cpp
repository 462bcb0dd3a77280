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
  if (event.description) o["description"] = *event.description;
  if (event.image_url) o["imageUrl"] = *event.image_url;
  if (event.created_at) o["createdAtMs"] = ToUnixMillis(*event.created_at);
  if (event.updated_at) o["updatedAtMs"] = ToUnixMillis(*event.updated_at);
  return boost::json::serialize(o);
}

Result<ProductEvent> DecodeProductEvent(std::string_view payload) {
  // Braced initialisers run left to right: the first bad field is the one reported.
  constexpr json::StringBounds kText{.max_chars = SIZE_MAX, .single_line = false};
  auto at = [](std::optional<std::int64_t> ms) -> std::optional<TimePoint> {
    if (!ms) return std::nullopt;
    return FromUnixMillis(*ms);
  };
  return json::ReadDocument<ProductEvent>(payload, [&](json::FieldReader& r) {
    r.SchemaVersion("v", kProductEventVersion);
    return ProductEvent{r.RequiredInt("productId", {1, INT64_MAX}).value_or(0),
                        r.OptionalString("name", kText).value_or(""),
                        r.RequiredInt("price", {0, INT64_MAX}).value_or(0),
                        r.RequiredInt("initialStock", {0, INT64_MAX}).value_or(0),
                        r.RequiredBool("retired").value_or(false),
                        r.RequiredInt("version", {0, INT64_MAX}).value_or(0),
                        r.OptionalString("description", kText),
                        r.OptionalString("imageUrl", kText),
                        at(r.OptionalInt("createdAtMs", {0, INT64_MAX})),
                        at(r.OptionalInt("updatedAtMs", {0, INT64_MAX}))};
  });
}

std::string Encode(const LikeChanged& event) {
  boost::json::object o;
  o["v"] = kLikeChangedVersion;
  o["memberId"] = event.member_id;
  o["productId"] = event.product_id;
  o["liked"] = event.liked;
  o["likes"] = event.likes;
  o["seq"] = event.seq;
  return boost::json::serialize(o);
}

Result<LikeChanged> DecodeLikeChanged(std::string_view payload) {
  return json::ReadDocument<LikeChanged>(payload, [](json::FieldReader& r) {
    r.SchemaVersion("v", kLikeChangedVersion);
    return LikeChanged{r.RequiredInt("memberId", {1, INT64_MAX}).value_or(0),
                       r.RequiredInt("productId", {1, INT64_MAX}).value_or(0),
                       r.RequiredBool("liked").value_or(false),
                       r.RequiredInt("likes", {0, INT64_MAX}).value_or(0),
                       r.RequiredInt("seq", {1, INT64_MAX}).value_or(0)};
  });
}

}  // namespace rocketmart::catalog::api
