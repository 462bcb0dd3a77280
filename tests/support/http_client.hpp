// A small synchronous HTTP/1.1 client for tests (Boost.Beast), one keep-alive connection per
// object. Not thread-safe: give each thread its own client.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace rocketmart::testing {

struct HttpResponse {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-cased names

  boost::json::value Json() const;
  // The error code of an error body, or "" when the body has none.
  std::string ErrorCode() const;
  std::string Header(const std::string& name) const;
};

class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port, std::string host = "127.0.0.1");
  ~HttpClient();

  HttpResponse Request(const std::string& method, const std::string& target,
                       const std::string& body = "",
                       const std::map<std::string, std::string>& headers = {});
  HttpResponse Get(const std::string& target, const std::string& token = "");
  HttpResponse PostJson(const std::string& target, const std::string& body,
                        const std::string& token = "",
                        const std::map<std::string, std::string>& headers = {});
  HttpResponse PutJson(const std::string& target, const std::string& body,
                       const std::string& token = "");
  HttpResponse Delete(const std::string& target, const std::string& token = "");

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Sends raw bytes on a fresh connection and returns everything the server answers until it closes
// the connection or `timeout_ms` passes. For malformed-HTTP tests.
std::string SendRaw(std::uint16_t port, const std::string& bytes, int timeout_ms = 5000);

}  // namespace rocketmart::testing
