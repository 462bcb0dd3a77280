#include "infra/json/json.hpp"

#include <gtest/gtest.h>

namespace rocketmart::json {
namespace {

struct Case {
  const char* body;
  Errc expected;
};

// The malformed-body table: every row must be refused with the given code.
TEST(ParseObject, RejectsMalformedBodies) {
  const std::string deep(100, '[');
  const std::string deep_object = std::string(20, '{').insert(0, "");
  const Case cases[] = {
      {"", Errc::kMalformedJson},
      {"   ", Errc::kMalformedJson},
      {"{", Errc::kMalformedJson},
      {"{\"a\":1", Errc::kMalformedJson},
      {"{\"a\":1}}", Errc::kMalformedJson},
      {"{\"a\":1} x", Errc::kMalformedJson},
      {"[1,2]", Errc::kMalformedJson},
      {"42", Errc::kMalformedJson},
      {"\"text\"", Errc::kMalformedJson},
      {"null", Errc::kMalformedJson},
      {"{\"a\":1,\"a\":2}", Errc::kMalformedJson},
      {"{\"a\":{\"b\":1,\"b\":1}}", Errc::kMalformedJson},
      {"{'a':1}", Errc::kMalformedJson},
      {"{\"a\":NaN}", Errc::kMalformedJson},
      {"{\"a\":01}", Errc::kMalformedJson},
      {"{\"a\":\"\xff\"}", Errc::kMalformedJson},
      {"{\"a\":\"\xc0\xaf\"}", Errc::kMalformedJson},  // overlong encoding of '/'
      {"{\"a\":1,}", Errc::kMalformedJson},
      {"\xef\xbb\xbf{\"a\":1}", Errc::kMalformedJson},  // BOM
  };
  for (const Case& c : cases) {
    auto r = ParseObject(c.body);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.error().code, c.expected) << c.body;
  }
  std::string nested = "{\"a\":" + deep + std::string(100, ']') + "}";
  EXPECT_FALSE(ParseObject(nested).ok());
}

TEST(ParseObject, AcceptsObjects) {
  auto r = ParseObject(R"({"name":"Rocket","price":1000,"nested":{"x":[1,2,3]}})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 3u);
}

Result<std::int64_t> ReadQuantity(std::string_view body) {
  auto obj = ParseObject(body);
  if (!obj.ok()) return obj.error();
  FieldReader reader(*obj);
  auto q = reader.RequiredInt("quantity", {.min = 1, .max = 100});
  if (auto st = reader.Finish(); !st.ok()) return st.error();
  return *q;
}

TEST(FieldReader, IntegerTable) {
  const std::pair<const char*, bool> cases[] = {
      {R"({"quantity":1})", true},
      {R"({"quantity":100})", true},
      {R"({"quantity":0})", false},
      {R"({"quantity":-1})", false},
      {R"({"quantity":101})", false},
      {R"({"quantity":2147483648})", false},
      {R"({"quantity":9223372036854775807})", false},
      {R"({"quantity":18446744073709551615})", false},
      {R"({"quantity":99999999999999999999999})", false},
      {R"({"quantity":1.5})", false},
      {R"({"quantity":1e2})", false},
      {R"({"quantity":1e400})", false},
      {R"({"quantity":-0})", false},
      {R"({"quantity":"1"})", false},
      {R"({"quantity":true})", false},
      {R"({"quantity":null})", false},
      {R"({"quantity":[1]})", false},
      {R"({})", false},
      {R"({"quantity":1,"price":5})", false},  // mass assignment
  };
  for (const auto& [body, ok] : cases) {
    auto r = ReadQuantity(body);
    EXPECT_EQ(r.ok(), ok) << body;
    if (!r.ok()) {
      EXPECT_TRUE(r.error().code == Errc::kValidationFailed ||
                  r.error().code == Errc::kMalformedJson)
          << body;
    }
  }
}

TEST(FieldReader, StringBoundsCountCodePointsAndRejectControls) {
  auto check = [](std::string_view body) {
    auto obj = ParseObject(body);
    if (!obj.ok()) return false;
    FieldReader reader(*obj);
    reader.RequiredString("name", {.min_chars = 1, .max_chars = 3});
    return reader.Finish().ok();
  };
  EXPECT_TRUE(check(R"({"name":"abc"})"));
  EXPECT_TRUE(check("{\"name\":\"\xea\xb0\x80\xea\xb0\x80\xea\xb0\x80\"}"));  // three Hangul
  EXPECT_FALSE(check(R"({"name":"abcd"})"));
  EXPECT_FALSE(check(R"({"name":""})"));
  EXPECT_FALSE(check(R"({"name":"a\u0000b"})"));
  EXPECT_FALSE(check(R"({"name":"a\nb"})"));
  EXPECT_FALSE(check(R"({"name":5})"));
}

TEST(FieldReader, UnknownFieldMessageDoesNotEchoInput) {
  auto obj = ParseObject(R"({"quantity":1,"<script>":1})");
  ASSERT_TRUE(obj.ok());
  FieldReader reader(*obj);
  reader.RequiredInt("quantity", {});
  auto st = reader.Finish();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message.find("script"), std::string::npos);
}

TEST(ParseDocument, TakesOneObjectAndNeverThrows) {
  EXPECT_TRUE(ParseDocument(R"({"a":1,"b":[1,2]})").ok());
  for (const char* bad : {"", "[]", "1", "null", "{", R"({"a":1} x)", "\xff"}) {
    auto r = ParseDocument(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, Errc::kMalformedJson) << bad;
  }
}

TEST(FieldReader, DocumentsFromANewerWriterMayCarryMoreFields) {
  auto doc = ParseDocument(R"({"flag":true,"list":[1],"added":"later"})");
  ASSERT_TRUE(doc.ok());
  FieldReader r(*doc);
  EXPECT_EQ(r.RequiredBool("flag"), true);
  const bj::array* list = r.RequiredArray("list");
  ASSERT_NE(list, nullptr);
  EXPECT_EQ(list->size(), 1u);
  EXPECT_TRUE(r.FinishAllowingUnknown().ok());
  EXPECT_FALSE(r.Finish().ok()) << "a request body may not";

  FieldReader missing(*doc);
  EXPECT_EQ(missing.RequiredArray("flag"), nullptr);
  EXPECT_EQ(missing.FinishAllowingUnknown().error().field, "flag");
  FieldReader not_bool(*doc);
  EXPECT_FALSE(not_bool.RequiredBool("list").has_value());
  EXPECT_FALSE(not_bool.RequiredBool("nothing").has_value());
  EXPECT_FALSE(not_bool.FinishAllowingUnknown().ok());
}

TEST(FieldReader, SchemaVersionsAbsentAreOneAndNewerOnesAreRefused) {
  const std::pair<const char*, std::int64_t> read[] = {
      {"{}", 1}, {R"({"v":1})", 1}, {R"({"v":2})", 2}};
  for (const auto& [text, version] : read) {
    auto doc = ParseDocument(text);
    FieldReader r(*doc);
    EXPECT_EQ(r.SchemaVersion("v", 2), version) << text;
    EXPECT_TRUE(r.FinishAllowingUnknown().ok()) << text;
  }
  for (const char* text : {R"({"v":3})", R"({"v":0})", R"({"v":"1"})", R"({"v":1.0})"}) {
    auto doc = ParseDocument(text);
    FieldReader r(*doc);
    r.SchemaVersion("v", 2);
    EXPECT_FALSE(r.FinishAllowingUnknown().ok()) << text;
  }
  auto doc = ParseDocument(R"({"v":3})");
  FieldReader r(*doc);
  r.SchemaVersion("v", 2);
  EXPECT_EQ(r.FinishAllowingUnknown().error().message, "v 3 is newer than this build reads (2)");
}

}  // namespace
}  // namespace rocketmart::json
