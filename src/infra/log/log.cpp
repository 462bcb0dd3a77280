#include "infra/log/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <string>

namespace rocketmart::log {
namespace {

constexpr std::string_view kTextPattern = "%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v";

// Logs the access lines: its message is pre-rendered (text, or JSON members), so each format
// needs no parsing of it.
std::shared_ptr<spdlog::logger> g_access;
bool g_json = false;

// A valid UTF-8 sequence's length at `s`, or 0.
std::size_t Utf8Length(std::string_view s) {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  std::size_t n = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  for (std::size_t i = 1; i < n; ++i) {
    if ((b(i) & 0xC0) != 0x80) return 0;
  }
  // Overlong forms, surrogates and code points past U+10FFFF.
  if (c == 0xE0 && b(1) < 0xA0) return 0;
  if (c == 0xED && b(1) > 0x9F) return 0;
  if (c == 0xF0 && b(1) < 0x90) return 0;
  if (c == 0xF4 && b(1) > 0x8F) return 0;
  return n;
}

void AppendTime(std::chrono::system_clock::time_point at, std::string& out) {
  const auto since = at.time_since_epoch();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since - secs).count();
  const std::time_t t = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  out += buf;
}

// {"time":...,"level":...,"msg":"<message>"} or, for access lines, the message is the rest of
// the object's members.
class JsonFormatter final : public spdlog::formatter {
 public:
  explicit JsonFormatter(bool members) : members_(members) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string line;
    line.reserve(96 + msg.payload.size());
    line += "{\"time\":\"";
    AppendTime(msg.time, line);
    line += "\",\"level\":\"";
    const auto level = spdlog::level::to_string_view(msg.level);
    line.append(level.data(), level.size());
    line += "\",";
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    if (members_) {
      line += "\"msg\":\"access\",";
      line += payload;
    } else {
      line += "\"msg\":\"";
      AppendJsonEscaped(payload, line);
      line += '"';
    }
    line += "}\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>(members_);
  }

 private:
  const bool members_;
};

std::shared_ptr<spdlog::logger> MakeLogger(const std::string& name, bool json, bool members,
                                           spdlog::level::level_enum level) {
  // Each logger has its own sink (the formatter lives in the sink); spdlog's console sinks share
  // one mutex, so lines from both never interleave.
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  if (json) {
    sink->set_formatter(std::make_unique<JsonFormatter>(members));
  } else {
    sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        std::string(kTextPattern), spdlog::pattern_time_type::utc));
  }
  auto logger = std::make_shared<spdlog::logger>(name, std::move(sink));
  logger->set_level(level);
  // Flushing every access-log line would cost a write(2) per request; warnings and errors are
  // flushed at once, everything else within a second.
  logger->flush_on(spdlog::level::warn);
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace

void AppendJsonEscaped(std::string_view text, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (const std::size_t n = Utf8Length(text.substr(i)); n > 0) {
      out.append(text.substr(i, n));
      i += n;
      continue;
    } else {
      out += "\\ufffd";
    }
    ++i;
  }
}

bool Init(std::string_view level, std::string_view format) {
  const auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") return false;
  bool json = false;
  if (format == "json") {
    json = true;
  } else if (format == "auto") {
    json = ::isatty(STDERR_FILENO) == 0;
  } else if (format != "text") {
    return false;
  }
  g_json = json;
  spdlog::drop("rocketmart");
  spdlog::drop("access");
  spdlog::set_default_logger(MakeLogger("rocketmart", json, false, parsed));
  g_access = MakeLogger("access", json, true, parsed);
  spdlog::flush_every(std::chrono::seconds(1));
  return true;
}

void Access(const AccessRecord& r) {
  spdlog::logger* logger = g_access ? g_access.get() : spdlog::default_logger_raw();
  if (!logger->should_log(spdlog::level::info)) return;
  std::string line;
  line.reserve(256);
  if (g_json && g_access) {
    line += "\"requestId\":\"";
    AppendJsonEscaped(r.request_id, line);
    line += "\",\"method\":\"";
    AppendJsonEscaped(r.method, line);
    line += "\",\"route\":\"";
    AppendJsonEscaped(r.route, line);
    line += "\",\"path\":\"";
    AppendJsonEscaped(r.path, line);
    line += "\",\"status\":" + std::to_string(r.status);
    line += ",\"bytes\":" + std::to_string(r.bytes);
    char duration[32];
    std::snprintf(duration, sizeof duration, "%.3f", static_cast<double>(r.micros) / 1000.0);
    line += ",\"durationMs\":";
    line += duration;
    if (r.member_id != 0) line += ",\"memberId\":" + std::to_string(r.member_id);
    line += ",\"client\":\"";
    AppendJsonEscaped(r.client, line);
    line += '"';
    if (!r.trace_id.empty()) {
      line += ",\"traceId\":\"";
      line += r.trace_id;
      line += "\",\"spanId\":\"";
      line += r.span_id;
      line += '"';
    }
  } else {
    line += "access rid=";
    line += r.request_id;
    line += ' ';
    line += r.method;
    line += ' ';
    line += r.route;
    line += ' ' + std::to_string(r.status) + ' ' + std::to_string(r.bytes) + "B " +
            std::to_string(r.micros) + "us path=";
    line += r.path;
    line += " member=" + (r.member_id != 0 ? std::to_string(r.member_id) : std::string("-"));
    line += " client=";
    line += r.client;
    if (!r.trace_id.empty()) {
      line += " trace=";
      line += r.trace_id;
      line += " span=";
      line += r.span_id;
    }
  }
  logger->info(std::string_view(line));
}

}  // namespace rocketmart::log
