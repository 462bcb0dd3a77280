#include "infra/http/trace_context.hpp"

#include <cstdint>
#include <random>

namespace rocketmart::http {
namespace {

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool AllZero(std::string_view s) {
  return s.find_first_not_of('0') == std::string_view::npos;
}

// 64 random bits, never zero (an all-zero span id is invalid).
std::uint64_t NewSpanBits() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uint64_t bits = 0;
  while (bits == 0) bits = rng();
  return bits;
}

}  // namespace

std::string TraceContext::Traceparent() const {
  std::string out = "00-";
  out.append(trace_id.data(), trace_id.size());
  out += '-';
  out.append(span_id.data(), span_id.size());
  out += '-';
  out.append(flags.data(), flags.size());
  return out;
}

std::optional<TraceContext> ContinueTrace(std::string_view header) {
  // version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55 characters.
  constexpr std::size_t kLength = 55;
  if (header.size() < kLength) return std::nullopt;
  const std::string_view version = header.substr(0, 2);
  if (!IsLowerHex(version) || version == "ff") return std::nullopt;
  // Version 00 is exactly 55 characters; a later version may append "-..." fields we skip.
  if (header.size() > kLength && (version == "00" || header[kLength] != '-')) return std::nullopt;
  if (header[2] != '-' || header[35] != '-' || header[52] != '-') return std::nullopt;
  const std::string_view trace = header.substr(3, 32);
  const std::string_view parent = header.substr(36, 16);
  const std::string_view flags = header.substr(53, 2);
  if (!IsLowerHex(trace) || !IsLowerHex(parent) || !IsLowerHex(flags)) return std::nullopt;
  if (AllZero(trace) || AllZero(parent)) return std::nullopt;
  TraceContext context;
  trace.copy(context.trace_id.data(), trace.size());
  flags.copy(context.flags.data(), flags.size());
  static constexpr char kHex[] = "0123456789abcdef";
  std::uint64_t bits = NewSpanBits();
  for (std::size_t i = context.span_id.size(); i-- > 0; bits >>= 4) {
    context.span_id[i] = kHex[bits & 0xF];
  }
  return context;
}

}  // namespace rocketmart::http
