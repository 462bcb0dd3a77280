// etcd's v3 API over its JSON gateway (grpc-gateway: POST /v3/<service>/<method> with a JSON body,
// int64 fields as strings, keys and values as standard base64), on a Boost.Beast HTTP/1.1 client.
// Debian has no C++ etcd client (docs/adr/0043-discovery-etcd.md).
//
// A GatewayClient lives on one strand: every call is made from a coroutine running on it, and its
// answers resume there. Unary calls (Call) reuse one keep-alive connection when it is idle (a call
// made while it is busy opens another) and each has a deadline covering resolve, connect, write
// and read (EtcdOptions::call_timeout, ≤ 1 s). A stream (Stream: /v3/watch) has its own
// connection, the deadline only until its answer's header, then none: it lasts until the server
// ends it, the caller stops it, or CloseStreams()/Close() cuts it.
//
// Failures are values: Errc::kTimeout when the deadline passed, Errc::kUnavailable when etcd
// could not be reached or did not answer with JSON. An error etcd answers (e.g. "requested lease
// not found") is a GatewayReply with its gRPC code, not a failure.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "infra/discovery/instance_codec.hpp"

namespace rocketmart::discovery::etcd {

struct EtcdOptions {
  std::string endpoint = "http://127.0.0.1:2379";  // http://host:port (no TLS, no credentials)
  std::string root{kDefaultRoot};                  // the key prefix every instance is under
  Millis call_timeout{1000};                       // per call (issue 15: ≤ 1 s)
  Millis backoff_initial{50};                      // retry delays after a failure, jittered
  Millis backoff_max{2000};
  std::chrono::seconds lease_ttl{3};  // issue 15: ≤ 3 s (etcd raises a TTL below 2 s to 2 s)
  // Discovery: how often an open watch checks that etcd still answers (a peer that vanished
  // without closing the connection shows only this way); two failed checks cut the watch.
  Millis watch_probe_interval{1000};
};

// Errc::kValidationFailed naming the field when the options cannot work.
Result<void> ValidateOptions(const EtcdOptions& options);

// gRPC status codes etcd answers with (the ones this adapter acts on).
inline constexpr int kGrpcOk = 0;
inline constexpr int kGrpcNotFound = 5;  // "etcdserver: requested lease not found"

struct GatewayReply {
  int code = kGrpcOk;  // the gRPC status code
  std::string message;
  boost::json::object body;  // the answer (a stream message's "result")
};

// Standard padded base64, as the gateway writes bytes fields.
std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view text);
// An int64 field the gateway writes as a string (or, leniently, as a number); nullopt if absent.
std::optional<std::int64_t> Int64Field(const boost::json::object& object, std::string_view key);

class GatewayClient {
 public:
  // A strand, held as an any_io_executor made once: every copy (timers, streams, coroutines)
  // shares that one target, released only with the owner (ThreadSanitizer cannot follow the
  // fence in the shared target's reference count when its last copy dies on another thread).
  using Strand = boost::asio::any_io_executor;
  using OnMessage = std::function<bool(GatewayReply)>;  // false: stop the stream

  // `options` must have passed ValidateOptions.
  GatewayClient(Strand strand, const EtcdOptions& options);
  ~GatewayClient();
  GatewayClient(const GatewayClient&) = delete;
  GatewayClient& operator=(const GatewayClient&) = delete;

  // On the strand: one POST of `body` (JSON) to `path`, e.g. "/v3/kv/range".
  boost::asio::awaitable<Result<GatewayReply>> Call(std::string path, std::string body);

  // On the strand: POSTs `body` to the streaming `path` and hands each message to `on_message`
  // until it returns false (then: ok), the stream ends or is cut (then: kUnavailable), or its
  // header does not come within the call timeout (kTimeout).
  boost::asio::awaitable<Result<void>> Stream(std::string path, std::string body,
                                              OnMessage on_message);

  // On the strand: cuts the streams open now (their Stream() ends with kUnavailable).
  void CloseStreams();
  // On the strand: cuts every connection; later calls fail at once with kUnavailable.
  void Close();

 private:
  struct Connection;
  boost::asio::awaitable<Result<void>> Open(Connection& connection);

  Strand strand_;
  std::string host_;
  std::string port_;
  Millis timeout_;
  bool closed_ = false;
  std::shared_ptr<Connection> idle_;
  std::set<std::shared_ptr<Connection>> busy_;
  std::set<std::shared_ptr<Connection>> streams_;
};

}  // namespace rocketmart::discovery::etcd
