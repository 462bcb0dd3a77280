#include "infra/discovery/etcd/gateway_client.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <charconv>

#include "infra/json/json.hpp"

namespace rocketmart::discovery::etcd {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace bj = boost::json;
using asio::use_awaitable;

constexpr std::size_t kMaxAnswerBytes = 16 * 1024 * 1024;
constexpr std::size_t kMaxStreamMessageBytes = 16 * 1024 * 1024;

struct HostPort {
  std::string host;
  std::string port;
};

// "http://host:port" (an optional trailing '/'), host a name or an IPv4 address.
std::optional<HostPort> ParseEndpoint(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) return std::nullopt;
  std::string_view rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  const std::string_view host = rest.substr(0, colon);
  const std::string_view port = rest.substr(colon + 1);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  for (const char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.';
    if (!ok) return std::nullopt;
  }
  return HostPort{std::string(host), std::string(port)};
}

Error Failure(const boost::system::error_code& ec, std::string_view what) {
  const bool timeout = ec == beast::error::timeout;
  return MakeError(timeout ? Errc::kTimeout : Errc::kUnavailable,
                   "etcd: " + std::string(what) + (timeout ? " timed out" : ": " + ec.message()));
}

// An answer of the gateway: a unary answer's body, or one stream message ({"result": ...} or
// {"error": {...}}), as a reply; nullopt when it is not a JSON object.
std::optional<GatewayReply> ToReply(std::string_view text, bool stream_message, unsigned status) {
  auto doc = json::ParseDocument(text);
  if (!doc) return std::nullopt;
  GatewayReply reply;
  bj::object object = std::move(*doc);
  if (stream_message) {
    if (auto* result = object.if_contains("result"); result != nullptr && result->is_object()) {
      reply.body = std::move(result->as_object());
      return reply;
    }
    if (auto* error = object.if_contains("error"); error != nullptr && error->is_object()) {
      object = std::move(error->as_object());
      status = 0;  // an error message: its code below
    }
  }
  if (status == 200) {
    reply.body = std::move(object);
    return reply;
  }
  const auto code =
      Int64Field(object, "code").value_or(Int64Field(object, "grpc_code").value_or(2));
  reply.code = code == kGrpcOk ? 2 : static_cast<int>(code);  // never "OK" for an error
  if (const auto* message = object.if_contains("message"); message && message->is_string()) {
    reply.message = std::string(message->as_string());
  }
  reply.body = std::move(object);
  return reply;
}

http::request<http::string_body> MakeRequest(const std::string& host, const std::string& path,
                                             std::string body) {
  http::request<http::string_body> request{http::verb::post, path, 11};
  request.set(http::field::host, host);
  request.set(http::field::content_type, "application/json");
  request.keep_alive(true);
  request.body() = std::move(body);
  request.prepare_payload();
  return request;
}

}  // namespace

Result<void> ValidateOptions(const EtcdOptions& options) {
  if (!ParseEndpoint(options.endpoint)) {
    return MakeError(Errc::kValidationFailed, "endpoint must be http://host:port", "endpoint");
  }
  if (options.root.empty() || options.root.front() != '/' || options.root.back() != '/') {
    return MakeError(Errc::kValidationFailed, "root must start and end with '/'", "root");
  }
  if (options.call_timeout <= Millis{0} || options.call_timeout > Millis{1000}) {
    return MakeError(Errc::kValidationFailed, "call_timeout must be in (0, 1 s]", "call_timeout");
  }
  if (options.lease_ttl < std::chrono::seconds{1} || options.lease_ttl > std::chrono::seconds{3}) {
    return MakeError(Errc::kValidationFailed, "lease_ttl must be 1..3 s", "lease_ttl");
  }
  if (options.backoff_initial <= Millis{0} || options.backoff_max < options.backoff_initial) {
    return MakeError(Errc::kValidationFailed, "backoff must be 0 < initial <= max", "backoff");
  }
  if (options.watch_probe_interval <= Millis{0}) {
    return MakeError(Errc::kValidationFailed, "watch_probe_interval must be > 0",
                     "watch_probe_interval");
  }
  return {};
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(beast::detail::base64::encoded_size(bytes.size()), '\0');
  out.resize(beast::detail::base64::encode(out.data(), bytes.data(), bytes.size()));
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(beast::detail::base64::decoded_size(text.size()), '\0');
  const auto [written, read] = beast::detail::base64::decode(out.data(), text.data(), text.size());
  // Beast stops at the first character outside the alphabet; only the padding may remain.
  for (std::size_t i = read; i < text.size(); ++i) {
    if (text[i] != '=') return std::nullopt;
  }
  out.resize(written);
  return out;
}

std::optional<std::int64_t> Int64Field(const bj::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  if (value == nullptr) return std::nullopt;
  if (value->is_int64()) return value->as_int64();
  if (value->is_uint64()) return static_cast<std::int64_t>(value->as_uint64());
  if (!value->is_string()) return std::nullopt;
  const auto& s = value->as_string();
  std::int64_t out = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return out;
}

struct GatewayClient::Connection {
  explicit Connection(const Strand& strand) : stream(strand) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  bool open = false;
};

GatewayClient::GatewayClient(Strand strand, const EtcdOptions& options)
    : strand_(std::move(strand)), timeout_(options.call_timeout) {
  const auto endpoint = ParseEndpoint(options.endpoint);
  if (endpoint) {
    host_ = endpoint->host;
    port_ = endpoint->port;
  }
}

GatewayClient::~GatewayClient() = default;

asio::awaitable<Result<void>> GatewayClient::Open(Connection& connection) {
  boost::system::error_code ec;
  asio::ip::tcp::resolver resolver(strand_);
  const auto endpoints =
      co_await resolver.async_resolve(host_, port_, asio::redirect_error(use_awaitable, ec));
  if (ec) co_return Failure(ec, "resolving " + host_);
  co_await connection.stream.async_connect(endpoints, asio::redirect_error(use_awaitable, ec));
  if (ec) co_return Failure(ec, "connecting to " + host_ + ":" + port_);
  connection.open = true;
  co_return Result<void>{};
}

asio::awaitable<Result<GatewayReply>> GatewayClient::Call(std::string path, std::string body) {
  // A reused keep-alive connection the server closed meanwhile fails before any answer: the call
  // is made once more on a fresh connection (every call this adapter makes may be repeated).
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (closed_) co_return MakeError(Errc::kUnavailable, "etcd: client closed");
    std::shared_ptr<Connection> connection = std::move(idle_);
    const bool reused = connection != nullptr;
    if (!connection) connection = std::make_shared<Connection>(strand_);
    busy_.insert(connection);
    connection->stream.expires_after(timeout_);
    if (!connection->open) {
      auto opened = co_await Open(*connection);
      if (!opened) {
        busy_.erase(connection);
        co_return opened.error();
      }
    }
    boost::system::error_code ec;
    auto request = MakeRequest(host_, path, body);
    co_await http::async_write(connection->stream, request,
                               asio::redirect_error(use_awaitable, ec));
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxAnswerBytes);
    if (!ec) {
      co_await http::async_read(connection->stream, connection->buffer, parser,
                                asio::redirect_error(use_awaitable, ec));
    }
    busy_.erase(connection);
    if (ec) {
      const bool stale = reused && ec != beast::error::timeout && !parser.got_some();
      if (stale && !closed_) continue;
      co_return Failure(ec, "POST " + path);
    }
    auto response = parser.release();
    if (response.keep_alive() && !closed_ && !idle_) {
      connection->stream.expires_never();
      idle_ = std::move(connection);
    }
    auto reply = ToReply(response.body(), false, response.result_int());
    if (!reply) {
      co_return MakeError(Errc::kUnavailable, "etcd: POST " + path + " answered no JSON object");
    }
    co_return std::move(*reply);
  }
  co_return MakeError(Errc::kUnavailable, "etcd: POST " + path + " failed twice");
}

asio::awaitable<Result<void>> GatewayClient::Stream(std::string path, std::string body,
                                                    OnMessage on_message) {
  if (closed_) co_return MakeError(Errc::kUnavailable, "etcd: client closed");
  auto connection = std::make_shared<Connection>(strand_);
  streams_.insert(connection);
  struct Forget {
    GatewayClient& client;
    std::shared_ptr<Connection> connection;
    ~Forget() { client.streams_.erase(connection); }
  } forget{*this, connection};
  connection->stream.expires_after(timeout_);
  auto opened = co_await Open(*connection);
  if (!opened) co_return opened.error();
  boost::system::error_code ec;
  auto request = MakeRequest(host_, path, std::move(body));
  co_await http::async_write(connection->stream, request, asio::redirect_error(use_awaitable, ec));
  if (ec) co_return Failure(ec, "POST " + path);
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);  // a stream has no end; each message is bounded below
  co_await http::async_read_header(connection->stream, connection->buffer, parser,
                                   asio::redirect_error(use_awaitable, ec));
  if (ec) co_return Failure(ec, "POST " + path);
  const unsigned status = parser.get().result_int();
  if (status != 200) {
    co_return MakeError(Errc::kUnavailable,
                        "etcd: POST " + path + " answered HTTP " + std::to_string(status));
  }
  connection->stream.expires_never();
  while (!closed_) {
    auto& text = parser.get().body();
    // The gateway ends every message with '\n'.
    std::size_t begin = 0;
    for (auto end = text.find('\n'); end != std::string::npos; end = text.find('\n', begin)) {
      const std::string_view line(text.data() + begin, end - begin);
      begin = end + 1;
      if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
      auto reply = ToReply(line, true, status);
      if (!reply) co_return MakeError(Errc::kUnavailable, "etcd: " + path + " sent no JSON object");
      if (!on_message(std::move(*reply)) || closed_) co_return Result<void>{};
    }
    text.erase(0, begin);
    if (text.size() > kMaxStreamMessageBytes) {
      co_return MakeError(Errc::kUnavailable, "etcd: a message of " + path + " is too large");
    }
    if (parser.is_done()) co_return MakeError(Errc::kUnavailable, "etcd: " + path + " ended");
    co_await http::async_read_some(connection->stream, connection->buffer, parser,
                                   asio::redirect_error(use_awaitable, ec));
    if (ec) co_return Failure(ec, "the stream of " + path);
  }
  co_return MakeError(Errc::kUnavailable, "etcd: client closed");
}

void GatewayClient::CloseStreams() {
  for (const auto& connection : streams_) {
    boost::system::error_code ignored;
    connection->stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    connection->stream.cancel();
  }
}

void GatewayClient::Close() {
  closed_ = true;
  CloseStreams();
  for (const auto& connection : busy_) connection->stream.cancel();
  if (idle_) idle_->stream.close();
  idle_.reset();
}

}  // namespace rocketmart::discovery::etcd
