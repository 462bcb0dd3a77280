#include "infra/module/redis.hpp"

#include <spdlog/spdlog.h>

namespace rocketmart::module {

SharedRedis::SharedRedis(redis::Endpoint endpoint, std::string prefix)
    : endpoint_(std::move(endpoint)), prefix_(std::move(prefix)) {
  redis::ClientOptions options;
  options.connections = 1;  // one pipelined connection: the I/O thread is one loop
  client_ = std::make_unique<redis::Client>(std::vector<redis::Client::Executor>{io_.executor()},
                                            endpoint_, options, "shared");
}

SharedRedis::~SharedRedis() {
  client_->Close();
  client_.reset();  // before the I/O thread stops
}

void SharedRedis::ServeLoops(std::vector<redis::Client::Executor> loops) {
  redis::ClientOptions options;
  auto served = std::make_unique<redis::Client>(std::move(loops), io_.executor(), endpoint_,
                                                options, "shared");
  client_->Close();
  client_ = std::move(served);
}

std::unique_ptr<SharedRedis> SharedRedis::Open(const config::RedisConfig& config) {
  auto endpoint = redis::ParseEndpoint(config.url);
  if (!endpoint.ok()) {
    throw StartRefused("redis.url = " + config.url + ": " + endpoint.error().message);
  }
  endpoint->password = config.password;
  std::unique_ptr<SharedRedis> shared(new SharedRedis(std::move(*endpoint), config.key_prefix));
  const Status checked = shared->client_->CheckServerSync();
  if (!checked.ok()) {
    throw StartRefused("redis.url: " + checked.error().message);
  }
  spdlog::info("redis: {} (maxmemory-policy noeviction), keys under {}",
               shared->endpoint_.ToString(), shared->prefix_);
  return shared;
}

boost::asio::awaitable<bool> SharedRedis::Ping(std::chrono::milliseconds timeout) {
  redis::Connection& connection = client_->ConnectionForThisThread();
  if (!connection.connected()) co_return false;
  std::vector<std::string> ping = {"PING"};
  const redis::ReplyResult reply = co_await connection.AsyncCommand(std::move(ping), timeout);
  co_return reply.ok() && !reply->is_error();
}

boost::asio::awaitable<StoreHealth> SharedRedis::Health() {
  const bool answered = co_await Ping(std::chrono::milliseconds(500));
  co_return StoreHealth{.name = "redis", .writable = answered, .down = "unreachable"};
}

}  // namespace rocketmart::module
