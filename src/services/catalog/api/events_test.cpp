// The catalog's product event codec: round trip, older shapes, every malformed shape an error.
#include "services/catalog/api/events.hpp"

#include <gtest/gtest.h>

#include "support/json_shapes.hpp"

namespace rocketmart::catalog::api {
namespace {

TEST(CatalogEvents, ProductEventRoundTrips) {
  const ProductEvent product{4, "Rocket \"X\"\n", 129000, 50, true, 3};
  auto decoded = DecodeProductEvent(Encode(product));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->product_id, 4);
  EXPECT_EQ(decoded->name, product.name);
  EXPECT_EQ(decoded->price, 129000);
  EXPECT_EQ(decoded->initial_stock, 50);
  EXPECT_TRUE(decoded->retired);
  EXPECT_EQ(decoded->version, 3);
}

TEST(CatalogEvents, OlderProductEventsDecode) {
  // No "v" (before versions); and no name, which checkout's decoder always tolerated.
  auto old = DecodeProductEvent(
      R"({"productId":4,"price":100,"initialStock":5,"retired":false,"version":1})");
  ASSERT_TRUE(old.ok()) << old.error().message;
  EXPECT_EQ(old->name, "");
  EXPECT_FALSE(old->retired);
}

TEST(CatalogEvents, EveryMalformedProductEventIsAnError) {
  auto variants =
      testing::MalformedVariants(Encode(ProductEvent{4, "A", 100, 5, false, 1}), {"v", "name"});
  variants.emplace_back(
      R"({"v":2,"productId":4,"price":100,"initialStock":5,"retired":false,"version":1})");
  variants.emplace_back(
      R"({"productId":4,"price":-1,"initialStock":5,"retired":false,"version":1})");
  variants.emplace_back(
      R"({"productId":0,"price":1,"initialStock":5,"retired":false,"version":1})");
  for (const std::string& payload : variants) {
    Result<ProductEvent> decoded = MakeError(Errc::kInternal, "not run");
    EXPECT_NO_THROW(decoded = DecodeProductEvent(payload)) << payload;
    EXPECT_FALSE(decoded.ok()) << payload;
  }
}

}  // namespace
}  // namespace rocketmart::catalog::api
