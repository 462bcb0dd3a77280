#include "core/http_url.hpp"

#include <gtest/gtest.h>

namespace rocketmart {
namespace {

TEST(HttpUrl, AcceptsAbsoluteHttpUrlsWithAHost) {
  for (const char* url :
       {"https://cdn.example.com/a.jpg", "http://x.test/a.jpg?w=200#top", "https://example.com",
        "http://localhost:8080/img", "http://127.0.0.1/a.png", "https://[::1]:8443/a",
        "https://[2001:db8::1]/a", "https://shop.example./a", "https://a-b.example/%20x",
        "https://example.com?x=1", "https://example.com#f"}) {
    EXPECT_TRUE(IsAbsoluteHttpUrl(url)) << url;
  }
}

TEST(HttpUrl, RefusesAMissingHostCredentialsAndOtherSchemes) {
  for (const char* url : {"",
                          "http://",
                          "https://",
                          "http:///a.jpg",
                          "http://:80/a",
                          "http://?x",
                          "http://#f",
                          "http://user@evil.example/a",
                          "http://good.example@evil.example/",
                          "ftp://x.test/a",
                          "javascript:alert(1)",
                          "//x.test/a",
                          "HTTP//x",
                          "http:/x.test",
                          "http://x..test/",
                          "http://-x.test/",
                          "http://x-.test/",
                          "http://x_y.test/",
                          "http://x.test:0/",
                          "http://x.test:65536/",
                          "http://x.test:8o/",
                          "http://x.test:/",
                          "http://[::1/",
                          "http://[zz::1]/",
                          "http://[]/",
                          "http://[::1]x/",
                          "http://x.test/a b",
                          "http://x.test/a\nb",
                          "http://x.test/<script>",
                          "http://x.test/a\\b",
                          "http://x.test/\x7f",
                          "http://.x.test/",
                          "http://x.test/{a}",
                          "http://\xc3\xa9.test/"}) {
    EXPECT_FALSE(IsAbsoluteHttpUrl(url)) << url;
  }
}

}  // namespace
}  // namespace rocketmart
