#include "infra/redis/client.hpp"

#include <openssl/sha.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <cstdio>
#include <future>
#include <stdexcept>

#include "core/thread_name.hpp"

namespace rocketmart::redis {
namespace {

namespace asio = boost::asio;

std::vector<std::string> EvalArgs(std::string_view command, const std::string& script_or_sha,
                                  std::vector<std::string>&& keys,
                                  std::vector<std::string>&& args) {
  std::vector<std::string> out;
  out.reserve(3 + keys.size() + args.size());
  out.emplace_back(command);
  out.push_back(script_or_sha);
  out.push_back(std::to_string(keys.size()));
  for (auto& k : keys) out.push_back(std::move(k));
  for (auto& a : args) out.push_back(std::move(a));
  return out;
}

}  // namespace

Script::Script(std::string source) : source_(std::move(source)) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  ::SHA1(reinterpret_cast<const unsigned char*>(source_.data()), source_.size(), digest);
  char hex[2 * SHA_DIGEST_LENGTH + 1];
  for (int i = 0; i < SHA_DIGEST_LENGTH; ++i) std::snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  sha1_.assign(hex, 2 * SHA_DIGEST_LENGTH);
}

Client::Client(std::vector<Executor> executors, Endpoint endpoint, ClientOptions options,
               std::string name)
    : endpoint_(std::move(endpoint)), options_(options) {
  if (executors.empty()) throw std::invalid_argument("redis::Client: no executor");
  const std::size_t count = options_.connections == 0 ? executors.size() : options_.connections;
  for (std::size_t i = 0; i < count; ++i) {
    connections_.push_back(Connection::Create(executors[i % executors.size()], endpoint_, options_,
                                              name + "-" + std::to_string(i)));
    connections_.back()->Start();
  }
}

Client::Client(std::vector<Executor> loops, Executor others, Endpoint endpoint,
               ClientOptions options, std::string name)
    : endpoint_(std::move(endpoint)), options_(options), loops_(std::move(loops)) {
  for (std::size_t i = 0; i < loops_.size(); ++i) {
    loop_connections_.push_back(
        Connection::Create(loops_[i], endpoint_, options_, name + "-loop-" + std::to_string(i)));
    loop_connections_.back()->Start();
  }
  others_ = Connection::Create(others, endpoint_, options_, name + "-others");
  others_->Start();
  connections_.push_back(others_);
}

Client::~Client() {
  Close();
}

namespace {

// Closes `c` and waits (bounded: the loop may have stopped already) until the close ran on its
// loop, so its hiredis context is freed there, before the loop goes.
void CloseAndWait(Connection& c) {
  c.Close();
  if (c.executor().running_in_this_thread()) return;
  auto closed = std::make_shared<std::promise<void>>();
  auto future = closed->get_future();
  asio::post(c.executor(), [closed] { closed->set_value(); });
  future.wait_for(std::chrono::seconds(1));
}

}  // namespace

void Client::Close() {
  if (!loops_released_.load()) {
    for (auto& c : loop_connections_) CloseAndWait(*c);
  }
  for (auto& c : connections_) CloseAndWait(*c);
}

void Client::CloseOnThisThread() {
  if (loops_released_.load()) return;
  for (std::size_t i = 0; i < loops_.size(); ++i) {
    if (loops_[i].running_in_this_thread()) loop_connections_[i]->Close();
  }
}

void Client::ReleaseLoops() {
  if (loops_released_.exchange(true)) return;
  // Nothing runs on the loops now: no caller holds one of their connections, and a handler a
  // stopped loop still queues keeps its connection until the loop is destroyed.
  loop_connections_.clear();
}

Connection& Client::ConnectionForThisThread() {
  if (!loops_released_.load(std::memory_order_acquire)) {
    for (std::size_t i = 0; i < loops_.size(); ++i) {
      if (loops_[i].running_in_this_thread()) return *loop_connections_[i];
    }
  }
  for (auto& c : connections_) {
    if (c->executor().running_in_this_thread()) return *c;
  }
  return *connections_[next_.fetch_add(1, std::memory_order_relaxed) % connections_.size()];
}

asio::awaitable<ReplyResult> Client::Command(std::vector<std::string> args) {
  Connection& conn = ConnectionForThisThread();
  co_return co_await conn.AsyncCommand(std::move(args));
}

asio::awaitable<ReplyResult> Client::Eval(const Script& script, std::vector<std::string> keys,
                                          std::vector<std::string> args) {
  Connection& conn = ConnectionForThisThread();
  // Kept for the EVAL fallback (the first command consumes its own copy).
  std::vector<std::string> keys_again = keys;
  std::vector<std::string> args_again = args;
  auto evalsha = EvalArgs("EVALSHA", script.sha1(), std::move(keys), std::move(args));
  ReplyResult reply = co_await conn.AsyncCommand(std::move(evalsha));
  if (!reply.ok() || !reply->IsErrorCode("NOSCRIPT")) co_return reply;
  auto eval = EvalArgs("EVAL", script.source(), std::move(keys_again), std::move(args_again));
  co_return co_await conn.AsyncCommand(std::move(eval));
}

ReplyResult Client::CommandSync(std::vector<std::string> args) {
  Connection& conn = ConnectionForThisThread();
  if (conn.executor().running_in_this_thread()) {
    throw std::logic_error("redis::Client::CommandSync on the client's own loop");
  }
  return conn.AsyncCommand(std::move(args), std::nullopt, asio::use_future).get();
}

ReplyResult Client::EvalSync(const Script& script, std::vector<std::string> keys,
                             std::vector<std::string> args) {
  std::vector<std::string> keys_again = keys;
  std::vector<std::string> args_again = args;
  ReplyResult reply =
      CommandSync(EvalArgs("EVALSHA", script.sha1(), std::move(keys), std::move(args)));
  if (!reply.ok() || !reply->IsErrorCode("NOSCRIPT")) return reply;
  return CommandSync(
      EvalArgs("EVAL", script.source(), std::move(keys_again), std::move(args_again)));
}

asio::awaitable<Status> Client::CheckServer() {
  std::vector<std::string> args = {"CONFIG", "GET", "maxmemory-policy"};
  ReplyResult reply = co_await Command(std::move(args));
  if (!reply.ok()) {
    co_return MakeError(reply.error().code, "redis at " + endpoint_.ToString() +
                                                " is not reachable: " + reply.error().message);
  }
  if (reply->is_error() || reply->elements.size() != 2) {
    co_return MakeError(Errc::kUnavailable,
                        "redis at " + endpoint_.ToString() +
                            ": cannot read maxmemory-policy (CONFIG GET answered " +
                            (reply->is_error() ? reply->str : std::string("no value")) +
                            "); rocketmart needs to see that it is noeviction");
  }
  const std::string& policy = reply->elements[1].str;
  if (policy != "noeviction") {
    co_return MakeError(Errc::kUnavailable,
                        "redis at " + endpoint_.ToString() + " has maxmemory-policy " + policy +
                            ": rocketmart refuses it, an evicting server may silently drop "
                            "admission counters, deny-list entries or stream entries; set "
                            "maxmemory-policy noeviction");
  }
  co_return Ok();
}

Status Client::CheckServerSync() {
  ReplyResult reply = CommandSync({"PING"});
  if (!reply.ok()) {
    return MakeError(reply.error().code, "redis at " + endpoint_.ToString() +
                                             " is not reachable: " + reply.error().message);
  }
  std::promise<Status> done;
  auto future = done.get_future();
  asio::co_spawn(connections_.front()->executor(), CheckServer(),
                 [&done](std::exception_ptr e, Status st) {
                   if (e) {
                     done.set_exception(e);
                   } else {
                     done.set_value(std::move(st));
                   }
                 });
  return future.get();
}

IoThread::IoThread(std::string name) : work_(asio::make_work_guard(ioc_)) {
  thread_ = std::thread([this, name = std::move(name)] {
    NameThisThread(name);
    ioc_.run();
  });
}

IoThread::~IoThread() {
  work_.reset();
  ioc_.stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace rocketmart::redis
