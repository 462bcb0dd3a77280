#include "support/local_redis.hpp"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/child_process.hpp"
#include "support/free_port.hpp"

namespace rocketmart::testing {
namespace {

std::string ReplyText(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      return std::string(r->str, r->len);
    case REDIS_REPLY_INTEGER:
      return std::to_string(r->integer);
    case REDIS_REPLY_ARRAY: {
      std::string out;
      for (std::size_t i = 0; i < r->elements; ++i) {
        if (i > 0) out += '\n';
        out += ReplyText(r->element[i]);
      }
      return out;
    }
    default:
      return "(nil)";
  }
}

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;

ContextPtr ConnectUnix(const std::string& path, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<long>(timeout.count() / 1000);
  tv.tv_usec = static_cast<long>(timeout.count() % 1000) * 1000;
  ContextPtr c(redisConnectUnixWithTimeout(path.c_str(), tv));
  if (!c || c->err) return nullptr;
  redisSetTimeout(c.get(), tv);
  return c;
}

}  // namespace

LocalRedis::LocalRedis(LocalRedisOptions options) : options_(std::move(options)), dir_("redis") {
  Start();
}

LocalRedis::~LocalRedis() {
  if (owner_ == ::getpid()) Kill9();
}

std::string LocalRedis::tcp_url() const {
  return "redis://127.0.0.1:" + std::to_string(port_);
}

std::string LocalRedis::unix_url() const {
  return "unix://" + unix_socket();
}

std::string LocalRedis::Log() const {
  std::ifstream in(dir_.path() / "redis.log");
  std::stringstream all;
  all << in.rdbuf();
  std::string text = all.str();
  return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
}

void LocalRedis::Start() {
  if (running()) return;
  const bool fresh_port = port_ == 0;
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (fresh_port) port_ = FreeLoopbackPort();
    std::vector<std::string> args = {
        "redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1", "--unixsocket",
        unix_socket(), "--unixsocketperm", "700", "--dir", dir_.path().string(), "--logfile",
        (dir_.path() / "redis.log").string(), "--daemonize", "no", "--save", "", "--appendonly",
        options_.appendonly ? "yes" : "no", "--appendfsync", options_.appendfsync,
        "--maxmemory-policy", "noeviction",
        // DEBUG SLEEP and friends, for tests of what a stuck server does
        "--enable-debug-command", "local"};
    args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
    pid_ = SpawnTiedToThisThread(std::move(args));
    owner_ = ::getpid();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;  // it exited: a taken port, or a bad option
      }
      if (ContextPtr c = ConnectUnix(unix_socket(), std::chrono::milliseconds(200))) {
        auto* reply = static_cast<redisReply*>(redisCommand(c.get(), "PING"));
        const bool pong = reply != nullptr && ReplyText(reply) == "PONG";
        if (reply != nullptr) freeReplyObject(reply);
        if (pong) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // poll interval
    }
    if (pid_ > 0) {
      Kill9();
      throw std::runtime_error("LocalRedis: no answer to PING within 10 s; log:\n" + Log());
    }
    if (!fresh_port || Log().find("Address already in use") == std::string::npos) break;
  }
  throw std::runtime_error("LocalRedis: redis-server exited at start; log:\n" + Log());
}

void LocalRedis::Stop() {
  if (!running()) return;
  StopChild(pid_, SIGTERM, std::chrono::seconds(10));
  pid_ = -1;
}

void LocalRedis::Kill9() {
  if (!running()) return;
  StopChild(pid_, SIGKILL, std::chrono::seconds(10));
  pid_ = -1;
}

std::string LocalRedis::Command(const std::vector<std::string>& args) const {
  ContextPtr c = ConnectUnix(unix_socket(), std::chrono::seconds(30));
  if (!c) throw std::runtime_error("LocalRedis: cannot connect to " + unix_socket());
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(c.get(), static_cast<int>(args.size()), argv.data(), lens.data()));
  if (reply == nullptr) throw std::runtime_error("LocalRedis: no reply to " + args.at(0));
  std::string text = ReplyText(reply);
  freeReplyObject(reply);
  return text;
}

LocalRedis& SharedLocalRedis() {
  static LocalRedis server;
  return server;
}

std::string NewKeyPrefix() {
  static std::atomic<int> next{0};
  return "t" + std::to_string(::getpid()) + "-" + std::to_string(next.fetch_add(1)) + ":";
}

}  // namespace rocketmart::testing
