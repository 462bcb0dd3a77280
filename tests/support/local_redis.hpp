// A real redis-server for one test (Debian's redis-server, never the machine's own service): a
// private temporary directory (its data, its unix socket, its log), a free TCP port on 127.0.0.1,
// AOF configurable. The constructor starts it and returns once it answers PING. Stop() (SIGTERM,
// AOF flushed), Kill9() (a crash) and Start() again on the same directory, port and socket let a
// test restart it mid-use. The destructor kills it and removes the directory.
//
// Nothing is left running when the test process dies without running destructors (a crash, a
// SIGKILL from a timeout): the server is started with PR_SET_PDEATHSIG = SIGKILL, so the kernel
// kills it when the thread that started it ends. Hence: call the constructor and Start() from a
// thread that lives as long as the server should (the test's main thread). Its directory is left
// behind in that case (like every TempDir after a crash), named rocketmart-redis-XXXXXX.
//
// SharedLocalRedis() is one server for the whole test process (started on first use, from the
// caller's thread), for suites whose fixtures keep apart by key prefix (NewKeyPrefix()). A forked
// child may use it (it is the parent's server) but never stops it.
//
// Not thread-safe: one test thread drives it; Command() may be called from any thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

namespace rocketmart::testing {

struct LocalRedisOptions {
  bool appendonly = false;
  std::string appendfsync = "everysec";  // always | everysec | no (only with appendonly)
  std::vector<std::string> extra_args;   // more "--name value" pairs for redis-server
};

class LocalRedis {
 public:
  explicit LocalRedis(LocalRedisOptions options = {});
  ~LocalRedis();
  LocalRedis(const LocalRedis&) = delete;
  LocalRedis& operator=(const LocalRedis&) = delete;

  std::uint16_t port() const { return port_; }
  std::string unix_socket() const { return (dir_.path() / "redis.sock").string(); }
  const std::filesystem::path& dir() const { return dir_.path(); }
  // "redis://127.0.0.1:<port>" and "unix://<socket>": what a client is configured with.
  std::string tcp_url() const;
  std::string unix_url() const;
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  // Starts it (again) on the same directory, port and socket; returns once it answers PING.
  // Throws (with the end of its log) when it does not within 10 s.
  void Start();
  // SIGTERM and wait (SIGKILL after 10 s): a clean shutdown, the AOF flushed.
  void Stop();
  // SIGKILL, as a crash would: what the AOF had not written is lost.
  void Kill9();

  // One command over a fresh blocking connection (unix socket); the reply as text: a string,
  // status or error as is ("ERR ..." for an error), an integer in decimal, nil as "(nil)", an
  // array as its elements joined by '\n'. Throws when the server cannot be reached.
  std::string Command(const std::vector<std::string>& args) const;

 private:
  std::string Log() const;  // the end of the server's log

  LocalRedisOptions options_;
  TempDir dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  pid_t owner_ = -1;  // the process that started it: only it stops it
};

// One server for the whole test process (see above).
LocalRedis& SharedLocalRedis();
// A prefix no other fixture of this process (or of another process) uses: "t<pid>-<n>:".
std::string NewKeyPrefix();

}  // namespace rocketmart::testing
