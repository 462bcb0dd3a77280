#include "support/http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <stdexcept>

namespace rocketmart::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

boost::json::value HttpResponse::Json() const {
  return boost::json::parse(body);
}

std::string HttpResponse::ErrorCode() const {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return "";
  const auto* err = v.as_object().if_contains("error");
  if (!err || !err->is_object()) return "";
  const auto* code = err->as_object().if_contains("code");
  if (!code || !code->is_string()) return "";
  return std::string(code->as_string());
}

std::string HttpResponse::Header(const std::string& name) const {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto it = headers.find(lower);
  return it == headers.end() ? "" : it->second;
}

struct HttpClient::Impl {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  std::string host;
  std::uint16_t port;
  bool connected = false;

  void Connect() {
    asio::ip::tcp::endpoint ep(asio::ip::make_address(host), port);
    stream.connect(ep);
    connected = true;
  }
};

HttpClient::HttpClient(std::uint16_t port, std::string host) : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
}

HttpClient::~HttpClient() {
  if (impl_->connected) {
    beast::error_code ec;
    impl_->stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  }
}

HttpResponse HttpClient::Request(const std::string& method, const std::string& target,
                                 const std::string& body,
                                 const std::map<std::string, std::string>& headers) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!impl_->connected) impl_->Connect();
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, impl_->host);
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    if (!body.empty() || method == "POST" || method == "PUT") req.prepare_payload();
    beast::error_code ec;
    impl_->stream.expires_after(std::chrono::seconds(60));
    bhttp::write(impl_->stream, req, ec);
    bhttp::response<bhttp::string_body> res;
    if (!ec) bhttp::read(impl_->stream, impl_->buffer, res, ec);
    if (ec) {
      // A keep-alive connection the server closed: reconnect once.
      impl_->stream.close();
      impl_->connected = false;
      impl_->buffer.clear();
      if (attempt == 0 && (ec == bhttp::error::end_of_stream ||
                           ec == asio::error::connection_reset || ec == asio::error::broken_pipe)) {
        continue;
      }
      throw std::runtime_error("http request failed: " + ec.message());
    }
    HttpResponse out;
    out.status = static_cast<int>(res.result_int());
    out.body = std::move(res.body());
    for (const auto& field : res) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(field.value());
    }
    if (!res.keep_alive()) {
      impl_->stream.close();
      impl_->connected = false;
      impl_->buffer.clear();
    }
    return out;
  }
  throw std::runtime_error("unreachable");
}

static std::map<std::string, std::string> AuthHeaders(const std::string& token) {
  std::map<std::string, std::string> h;
  if (!token.empty()) h["Authorization"] = "Bearer " + token;
  return h;
}

HttpResponse HttpClient::Get(const std::string& target, const std::string& token) {
  return Request("GET", target, "", AuthHeaders(token));
}

HttpResponse HttpClient::PostJson(const std::string& target, const std::string& body,
                                  const std::string& token,
                                  const std::map<std::string, std::string>& headers) {
  auto h = AuthHeaders(token);
  h["Content-Type"] = "application/json";
  for (const auto& [k, v] : headers) h[k] = v;
  return Request("POST", target, body, h);
}

HttpResponse HttpClient::PutJson(const std::string& target, const std::string& body,
                                 const std::string& token) {
  auto h = AuthHeaders(token);
  h["Content-Type"] = "application/json";
  return Request("PUT", target, body, h);
}

HttpResponse HttpClient::Delete(const std::string& target, const std::string& token) {
  return Request("DELETE", target, "", AuthHeaders(token));
}

std::string SendRaw(std::uint16_t port, const std::string& bytes, int timeout_ms) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    throw std::runtime_error("connect failed");
  }
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close early (e.g. after a 413)
    sent += static_cast<std::size_t>(n);
  }
  std::string out;
  char buf[4096];
  while (true) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) break;
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  return out;
}

}  // namespace rocketmart::testing
