#include "infra/http/trace_context.hpp"

#include <gtest/gtest.h>

#include <set>

namespace rocketmart::http {
namespace {

constexpr std::string_view kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";

TEST(TraceContext, AValidTraceparentIsContinuedWithANewSpan) {
  const auto context = ContinueTrace("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  ASSERT_TRUE(context.has_value());
  EXPECT_EQ(context->TraceId(), kTrace);
  EXPECT_NE(context->SpanId(), "00f067aa0ba902b7");
  const std::string header = context->Traceparent();
  EXPECT_EQ(header.size(), 55u);
  EXPECT_EQ(header.substr(0, 36), "00-" + std::string(kTrace) + "-");
  EXPECT_EQ(header.substr(52), "-01");
  // Every request gets its own span.
  std::set<std::string> spans;
  for (int i = 0; i < 100; ++i) {
    spans.insert(std::string(
        ContinueTrace("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")->SpanId()));
  }
  EXPECT_EQ(spans.size(), 100u);
}

TEST(TraceContext, AFutureVersionIsReadByItsKnownPrefix) {
  const auto context =
      ContinueTrace("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-more-fields");
  ASSERT_TRUE(context.has_value());
  EXPECT_EQ(context->TraceId(), kTrace);
  EXPECT_EQ(context->Traceparent().substr(0, 3), "00-");
  EXPECT_EQ(context->Traceparent().substr(53), "03");
}

TEST(TraceContext, InvalidValuesAreIgnored) {
  for (const char* bad : {
           "", "garbage",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",  // 00 + more
           "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",  // no dash after
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // version ff
           "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // not hex
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",   // upper case
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",   // zero trace
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",   // zero parent
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",    // short flags
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // separator
           "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",   // misplaced dash
       }) {
    EXPECT_FALSE(ContinueTrace(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace rocketmart::http
