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
  EXPECT_FALSE(decoded->description) << "none written, none read";
}

TEST(CatalogEvents, AProductEventCarriesTheProductsDetails) {
  ProductEvent product{4, "Rocket", 129000, 50, false, 3};
  product.description = "Two\nlines";
  product.image_url = "https://img.example/r.png";
  product.created_at = FromUnixMillis(1'700'000'000'123);
  product.updated_at = FromUnixMillis(1'700'000'100'456);
  auto decoded = DecodeProductEvent(Encode(product));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->description, product.description);
  EXPECT_EQ(decoded->image_url, product.image_url);
  EXPECT_EQ(decoded->created_at, product.created_at);
  EXPECT_EQ(decoded->updated_at, product.updated_at);
}

TEST(CatalogEvents, LikeChangedRoundTripsAndEveryMalformedShapeIsAnError) {
  const LikeChanged like{7, 4, true, 12, 30};
  auto decoded = DecodeLikeChanged(Encode(like));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->member_id, 7);
  EXPECT_EQ(decoded->product_id, 4);
  EXPECT_TRUE(decoded->liked);
  EXPECT_EQ(decoded->likes, 12);
  EXPECT_EQ(decoded->seq, 30);
  auto variants = testing::MalformedVariants(Encode(like), {"v"});
  variants.emplace_back(R"({"v":2,"memberId":7,"productId":4,"liked":true,"likes":1,"seq":1})");
  variants.emplace_back(R"({"memberId":7,"productId":4,"liked":true,"likes":-1,"seq":1})");
  variants.emplace_back(R"({"memberId":7,"productId":4,"liked":true,"likes":1,"seq":0})");
  for (const std::string& payload : variants) {
    Result<LikeChanged> bad = MakeError(Errc::kInternal, "not run");
    EXPECT_NO_THROW(bad = DecodeLikeChanged(payload)) << payload;
    EXPECT_FALSE(bad.ok()) << payload;
  }
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
  ProductEvent full{4, "A", 100, 5, false, 1};
  full.description = "d";
  full.image_url = "";
  full.created_at = FromUnixMillis(1000);
  full.updated_at = FromUnixMillis(2000);
  auto variants = testing::MalformedVariants(
      Encode(full), {"v", "name", "description", "imageUrl", "createdAtMs", "updatedAtMs"});
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
