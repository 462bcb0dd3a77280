#include "services/gateway/proxy/proxy.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <iterator>
#include <memory>

#include "auth/internal_identity.hpp"
#include "infra/http/types.hpp"

namespace rocketmart::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace client = http::client;
using asio::ip::tcp;
using http::Response;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// An answer whose body is declared at most this long is read whole and answered as one write
// (every JSON answer of the API: a full list page is a few KiB); a longer one, or one of unknown
// length, is streamed (ADR 0046). 64 KiB bounds what one answer in flight holds in memory here;
// below it, one read from the service almost always brings head and body together.
constexpr std::size_t kWholeUpTo = 64 * 1024;
// The piece a streamed body is passed on in: the socket's read size, one piece in memory.
constexpr std::size_t kPiece = 16 * 1024;

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool IStartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && IEquals(s.substr(0, prefix.size()), prefix);
}

// Hop-by-hop (RFC 9110 §7.6.1) and framing: each side of the gateway has its own.
bool IsHopByHop(std::string_view name) {
  for (std::string_view h :
       {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
        "upgrade", "content-length", "host", "proxy-authorization", "proxy-authenticate"}) {
    if (IEquals(name, h)) return true;
  }
  return false;
}

// Set by the gateway itself on the way out (the server adds X-Request-Id and traceparent), or
// meant for it alone (a shared answer's mark).
bool IsOwnResponseHeader(std::string_view name) {
  return IEquals(name, "x-request-id") || IEquals(name, "traceparent") ||
         IEquals(name, http::kSharedAnswerHeader);
}

Response Unavailable(const Error& error, Millis retry_after) {
  Response res = http::ErrorResponse(
      error.code == Errc::kTimeout
          ? error
          : MakeError(Errc::kUnavailable, "the service cannot answer now; retry shortly"));
  const auto seconds =
      std::max<std::int64_t>(1, std::chrono::ceil<std::chrono::seconds>(retry_after).count());
  res.set(bhttp::field::retry_after, std::to_string(seconds));
  return res;
}

void CopyRequestHeaders(const http::Request& req,
                        std::vector<std::pair<std::string, std::string>>& out) {
  out.reserve(out.size() + static_cast<std::size_t>(std::distance(req.raw.begin(), req.raw.end())) +
              2);  // and the identity and X-Forwarded-For (AddIdentity)
  for (const auto& field : req.raw) {
    const std::string_view name = field.name_string();
    if (IsHopByHop(name) || IsStrippedRequestHeader(name) || IEquals(name, "content-type") ||
        IEquals(name, "x-request-id") || IEquals(name, "traceparent") ||
        IEquals(name, "x-request-deadline-ms")) {
      continue;
    }
    out.emplace_back(std::string(name), std::string(field.value()));
  }
}

void AddIdentity(const http::Request& req, const auth::Keyring& keys, const Clock& clock,
                 std::vector<std::pair<std::string, std::string>>& headers) {
  if (req.identity) {
    headers.emplace_back(std::string(auth::kInternalIdentityHeader),
                         auth::SignInternalIdentityReusing(*req.identity, keys, clock.Now()));
  }
  headers.emplace_back("X-Forwarded-For", req.client.to_string());
}

template <class Message>
void CopyResponseHeaders(const Message& from, Response& to) {
  for (const auto& field : from) {
    if (IsHopByHop(field.name_string()) || IsOwnResponseHeader(field.name_string())) continue;
    to.insert(field.name_string(), field.value());
  }
}

// The body of a service's answer, passed to the client as it comes: one piece of kPiece bytes in
// memory at a time. The client going away cancels the read from the service (the connection to
// it is closed, not reused); the service failing mid-body (cut, malformed, the deadline) cuts
// the client's connection, so the client never takes a truncated answer for a whole one.
http::StreamBody PassOn(std::shared_ptr<client::BodyReader> body) {
  return [body = std::move(body)](http::StreamWriter& writer) -> asio::awaitable<void> {
    writer.OnClose([body] { body->Cancel(); });
    std::array<char, kPiece> piece;
    while (!writer.closed()) {
      const Result<std::size_t> got = co_await body->Read(piece);
      if (!got.ok()) {
        writer.Abort();
        break;
      }
      if (*got == 0) break;  // the whole body: the server ends the answer
      const std::string_view data(piece.data(), *got);
      const bool sent = co_await writer.Write(data);
      if (!sent) break;
    }
    writer.OnClose({});
  };
}

asio::awaitable<Response> Forward(ProxyTarget& target, const auth::Keyring& keys,
                                  const Clock& clock, http::Request& req) {
  std::optional<SharedAnswers::Ask> ask;
  if (target.shared_answers) {
    ask = target.shared_answers->Begin(req, clock.Now(), target.purchase_keys != nullptr);
    std::optional<Response> held;
    if (ask) held = target.shared_answers->Find(*ask);
    if (held && !ask->idempotency_key.empty()) {
      // The key may replay a purchase, or its first request may be in flight: only a key checkout
      // has nothing for gets the answer everyone gets.
      const bool unused =
          co_await target.purchase_keys->Unused(req.MemberId(), ask->idempotency_key);
      if (!unused) held.reset();
    }
    if (held) {
      target.shared_answers->Gave();
      co_return std::move(*held);
    }
  }
  client::CallRequest call;
  call.method = req.raw.method();
  call.target = std::string(req.raw.target());
  call.body = std::move(req.raw.body());  // the server has no use for it after the handler
  call.content_type = std::string(req.Header("Content-Type"));
  CopyRequestHeaders(req, call.headers);
  AddIdentity(req, keys, clock, call.headers);
  call.deadline = req.deadline;
  if (target.member_affinity) call.affinity = static_cast<std::uint64_t>(req.MemberId());
  call.request_id = req.request_id;
  if (req.trace) call.traceparent = req.trace->Traceparent();
  auto reply = co_await target.client.Call(std::move(call), kWholeUpTo);
  if (!reply.ok()) {
    spdlog::debug("rid={} {}: {}", req.request_id, target.service, reply.error().message);
    co_return Unavailable(reply.error(), target.client.RetryAfter());
  }
  // The service's answer itself goes back (no header or body copied), without the headers that
  // are each hop's own (the server sets framing, keep-alive, X-Request-Id and traceparent).
  Response res = std::move(reply->response);
  const Millis shared_for = SharedAnswers::MarkOf(res);
  for (auto it = res.begin(); it != res.end();) {
    const std::string_view name = it->name_string();
    it = IsHopByHop(name) || IsOwnResponseHeader(name) ? res.erase(it) : std::next(it);
  }
  res.version(11);
  res.reason({});  // the standard phrase of the status, not the service's
  const SharedAnswers::Ask* asked = ask ? &*ask : nullptr;
  if (reply->body) {
    // A long body: the head goes to the client now, the body piece by piece as it comes.
    if (target.shared_answers)
      target.shared_answers->Learn(asked, req.raw.method(), Millis{0}, res);
    req.stream = PassOn(std::move(reply->body));
    req.stream_ends = true;
    co_return res;
  }
  res.prepare_payload();
  if (target.shared_answers) target.shared_answers->Learn(asked, req.raw.method(), shared_for, res);
  co_return res;
}

// One live stream: its own connection to one instance, read piece by piece.
struct Upstream {
  explicit Upstream(asio::any_io_executor executor) : stream(std::move(executor)) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::buffer_body> parser;
};

asio::awaitable<Response> ForwardStream(ProxyTarget& target, const auth::Keyring& keys,
                                        const Clock& clock, http::Request& req) {
  const std::vector<client::Endpoint> instances = target.instances();
  if (instances.empty()) {
    co_return Unavailable(MakeError(Errc::kUnavailable, "no instance"), Millis(1000));
  }
  const asio::any_io_executor executor = co_await asio::this_coro::executor;
  auto up = std::make_shared<Upstream>(executor);
  boost::system::error_code ec;
  // Each instance once at most, from the next in turn, until one connects.
  const std::size_t first = target.next_stream.fetch_add(1) % instances.size();
  bool connected = false;
  std::string host;
  for (std::size_t i = 0; i < instances.size() && !connected; ++i) {
    const client::Endpoint& e = instances[(first + i) % instances.size()];
    host = e.host + ":" + std::to_string(e.port);
    const auto address = asio::ip::make_address(e.host, ec);
    if (ec) continue;
    up->stream.expires_after(std::chrono::seconds(1));
    auto [connect_ec] = co_await up->stream.async_connect(tcp::endpoint(address, e.port), kNoThrow);
    connected = !connect_ec;
    if (!connected) up->stream.close();
  }
  if (!connected) co_return Unavailable(MakeError(Errc::kUnavailable, "no instance"), Millis(1000));

  bhttp::request<bhttp::empty_body> message{req.raw.method(), req.raw.target(), 11};
  std::vector<std::pair<std::string, std::string>> headers;
  CopyRequestHeaders(req, headers);
  AddIdentity(req, keys, clock, headers);
  for (const auto& [name, value] : headers) message.insert(name, value);
  message.set(bhttp::field::host, host);
  message.set("X-Request-Id", req.request_id);
  if (req.trace) message.set("traceparent", req.trace->Traceparent());
  message.keep_alive(false);
  up->stream.expires_at(req.deadline);
  auto [write_ec, written] = co_await bhttp::async_write(up->stream, message, kNoThrow);
  if (write_ec) co_return Unavailable(MakeError(Errc::kUnavailable, "lost"), Millis(1000));
  auto [head_ec, head] =
      co_await bhttp::async_read_header(up->stream, up->buffer, up->parser, kNoThrow);
  if (head_ec) co_return Unavailable(MakeError(Errc::kUnavailable, "lost"), Millis(1000));

  const auto& upstream = up->parser.get();
  Response res{upstream.result(), 11};
  CopyResponseHeaders(upstream, res);
  if (upstream.result() != bhttp::status::ok) {
    // An error answer (404 for an unknown product, 503 when full): read it whole.
    bhttp::response_parser<bhttp::string_body> whole{std::move(up->parser)};
    auto [body_ec, body] = co_await bhttp::async_read(up->stream, up->buffer, whole, kNoThrow);
    if (body_ec) co_return Unavailable(MakeError(Errc::kUnavailable, "lost"), Millis(1000));
    res.body() = std::move(whole.get().body());
    res.prepare_payload();
    co_return res;
  }
  // The stream: each piece the instance sends goes on to the client as it comes. Heartbeats keep
  // it busy; either side going away ends it.
  up->stream.expires_never();
  req.stream = [up](http::StreamWriter& writer) -> asio::awaitable<void> {
    writer.OnClose([up] {
      boost::system::error_code ignored;
      up->stream.socket().cancel(ignored);
    });
    char piece[8192];
    while (!writer.closed()) {
      up->parser.get().body().data = piece;
      up->parser.get().body().size = sizeof piece;
      auto [read_ec, n] =
          co_await bhttp::async_read_some(up->stream, up->buffer, up->parser, kNoThrow);
      const std::size_t got = sizeof piece - up->parser.get().body().size;
      if (got > 0) {
        const std::string_view data(piece, got);
        const bool sent = co_await writer.Write(data);
        if (!sent) break;
      }
      if (read_ec == bhttp::error::need_buffer) continue;
      if (read_ec || up->parser.is_done()) break;
    }
    boost::system::error_code ignored;
    up->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    up->stream.close();
  };
  co_return res;
}

}  // namespace

bool IsStrippedRequestHeader(std::string_view name) {
  // Every X-Rocketmart-* header is the services' own (the internal identity, a vouched
  // idempotency fingerprint): a client never sets one.
  return IEquals(name, "authorization") || IStartsWith(name, "x-rocketmart-") ||
         IEquals(name, "x-user-id") || IEquals(name, "x-member-id") ||
         IStartsWith(name, "x-forwarded-") || IEquals(name, "forwarded") ||
         IEquals(name, "x-real-ip");
}

http::Handler ForwardTo(ProxyTarget& target, const auth::Keyring& internal_keys, const Clock& clock,
                        bool stream, const RevokedTokens* catch_up) {
  if (stream) {
    return [&target, &internal_keys, &clock](http::Request& req) -> asio::awaitable<Response> {
      co_return co_await ForwardStream(target, internal_keys, clock, req);
    };
  }
  if (catch_up != nullptr) {
    return [&target, &internal_keys, &clock,
            catch_up](http::Request& req) -> asio::awaitable<Response> {
      Response response = co_await Forward(target, internal_keys, clock, req);
      co_await catch_up->CatchUp(kDenylistCatchUp);
      co_return response;
    };
  }
  return [&target, &internal_keys, &clock](http::Request& req) -> asio::awaitable<Response> {
    co_return co_await Forward(target, internal_keys, clock, req);
  };
}

}  // namespace rocketmart::gateway
