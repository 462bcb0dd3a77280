// The key layout and value of an instance (instance_codec.*): what a registrant writes, a reader
// reads back; what is not an instance is refused with a reason, never a crash.
#include "infra/discovery/instance_codec.hpp"

#include <gtest/gtest.h>

namespace rocketmart::discovery {
namespace {

constexpr std::string_view kRoot = "/rocketmart/services/";

Instance Sample() {
  return Instance{"catalog", "catalog-1", "127.0.0.1", 8081, {{"zone", "a"}, {"version", "3"}}};
}

TEST(InstanceCodec, KeyIsRootServiceSlashId) {
  EXPECT_EQ(InstanceKey(kRoot, "catalog", "catalog-1"), "/rocketmart/services/catalog/catalog-1");
}

TEST(InstanceCodec, AValueRoundTrips) {
  const Instance in = Sample();
  const std::string key = InstanceKey(kRoot, in.service, in.id);
  auto out = DecodeInstance(kRoot, key, EncodeInstanceValue(in));
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out, in);
}

TEST(InstanceCodec, UnknownValueFieldsAreIgnoredAndMetadataIsOptional) {
  auto out = DecodeInstance(kRoot, "/rocketmart/services/orders/o-2",
                            R"({"host":"h","port":9,"weight":3,"new":{"x":1}})");
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->service, "orders");
  EXPECT_EQ(out->id, "o-2");
  EXPECT_EQ(out->port, 9);
  EXPECT_TRUE(out->metadata.empty());
}

TEST(InstanceCodec, WhatIsNotAnInstanceIsRefusedWithAReason) {
  const std::string key = "/rocketmart/services/catalog/c1";
  for (const std::string_view value :
       {"not json", "[]", "{}", R"({"host":"h"})", R"({"host":"","port":1})",
        R"({"host":"h","port":0})", R"({"host":"h","port":65536})", R"({"host":"h","port":"80"})",
        R"({"host":"h","port":1.5})", R"({"host":1,"port":1})",
        R"({"host":"h","port":1,"metadata":[]})", R"({"host":"h","port":1,"metadata":{"a":1}})"}) {
    auto out = DecodeInstance(kRoot, key, value);
    EXPECT_FALSE(out.ok()) << value;
    if (!out.ok()) {
      EXPECT_FALSE(out.error().message.empty());
    }
  }
  const std::string value = EncodeInstanceValue(Sample());
  for (const std::string_view bad_key :
       {"/rocketmart/services/", "/rocketmart/services/catalog", "/rocketmart/services/catalog/",
        "/rocketmart/services//c1", "/rocketmart/services/Catalog/c1",
        "/rocketmart/services/catalog/c1/extra", "/other/catalog/c1", "/rocketmart/servicesX"}) {
    EXPECT_FALSE(DecodeInstance(kRoot, bad_key, value).ok()) << bad_key;
  }
}

TEST(InstanceCodec, ValidationNamesTheField) {
  Instance bad = Sample();
  bad.port = 0;
  auto valid = ValidateInstance(bad);
  ASSERT_FALSE(valid.ok());
  EXPECT_EQ(valid.error().code, Errc::kValidationFailed);
  EXPECT_EQ(valid.error().field, "port");
  bad = Sample();
  bad.service = "no/slash";
  EXPECT_EQ(ValidateInstance(bad).error().field, "service");
  bad = Sample();
  bad.id = std::string(129, 'a');
  EXPECT_EQ(ValidateInstance(bad).error().field, "id");
  bad = Sample();
  bad.host.clear();
  EXPECT_EQ(ValidateInstance(bad).error().field, "host");
}

TEST(InstanceCodec, PrefixRangeEndIsThePrefixWithItsLastByteIncremented) {
  EXPECT_EQ(PrefixRangeEnd("/a/"), "/a0");
  EXPECT_EQ(PrefixRangeEnd(std::string("a\xff", 2)), "b");
  EXPECT_EQ(PrefixRangeEnd(std::string("\xff", 1)), std::string(1, '\0'));
}

}  // namespace
}  // namespace rocketmart::discovery
