#include "infra/log/log.hpp"

#include <gtest/gtest.h>

#include <string>

namespace rocketmart::log {
namespace {

std::string Escaped(std::string_view text) {
  std::string out;
  AppendJsonEscaped(text, out);
  return out;
}

TEST(JsonEscape, QuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(Escaped(R"(say "hi" \ bye)"), R"(say \"hi\" \\ bye)");
  EXPECT_EQ(Escaped("a\nb\rc\td"), R"(a\nb\rc\td)");
  EXPECT_EQ(Escaped(std::string("x\0y\x1f\x7f", 5)), R"(x\u0000y\u001f\u007f)");
}

TEST(JsonEscape, ValidUtf8IsKeptAndInvalidBytesReplaced) {
  EXPECT_EQ(Escaped("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80");
  EXPECT_EQ(Escaped("\xff"), R"(\ufffd)");
  EXPECT_EQ(Escaped("\xc3"), R"(\ufffd)");                      // truncated sequence
  EXPECT_EQ(Escaped("\xc0\xaf"), R"(\ufffd\ufffd)");            // overlong '/'
  EXPECT_EQ(Escaped("\xed\xa0\x80"), R"(\ufffd\ufffd\ufffd)");  // a surrogate
  EXPECT_EQ(Escaped("a\xe2\x82z"), R"(a\ufffd\ufffdz)");
}

}  // namespace
}  // namespace rocketmart::log
