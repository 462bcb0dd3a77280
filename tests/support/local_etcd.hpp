// A real etcd for one test (Debian's etcd-server 3.4, /usr/bin/etcd; never a machine's own
// service): a private temporary directory (its data directory and its log), a free client port and
// a free peer port on 127.0.0.1 (etcd cannot bind port 0 and report it, so the ports are picked
// like FreeLoopbackPort() does and the start is retried with fresh ones when one was taken in
// between). The constructor starts it and returns once /health says {"health":"true"} (a leader is
// elected and the JSON gateway answers). Stop() (SIGTERM), Kill() (SIGKILL, a crash) and Start() or
// Restart() again on the same data directory and ports let a test take it away mid-use. The
// destructor kills it and removes the directory.
//
// Nothing is left running when the test process dies without running destructors (a crash, a
// SIGKILL from a timeout): etcd is started with PR_SET_PDEATHSIG = SIGKILL, so the kernel kills it
// when the thread that started it ends. Hence: call the constructor, Start() and Restart() from a
// thread that lives as long as the server should (the test's main thread). Its directory is left
// behind in that case (like every TempDir after a crash), named rocketmart-etcd-XXXXXX.
//
// etcd runs as root without complaint (CI runs as root); as any other user it needs nothing more.
//
// Not thread-safe: one test thread drives it; Post() may be called from any thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

namespace rocketmart::testing {

struct LocalEtcdOptions {
  std::vector<std::string> extra_args;  // more "--name=value" flags for etcd
};

class LocalEtcd {
 public:
  explicit LocalEtcd(LocalEtcdOptions options = {});
  ~LocalEtcd();
  LocalEtcd(const LocalEtcd&) = delete;
  LocalEtcd& operator=(const LocalEtcd&) = delete;

  // "http://127.0.0.1:<client port>": what a client is configured with.
  std::string endpoint() const;
  std::uint16_t client_port() const { return client_port_; }
  std::uint16_t peer_port() const { return peer_port_; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  // Starts it (again) on the same data directory and ports; returns once /health is true.
  // Throws (with the end of its log) when it is not within 15 s.
  void Start();
  // SIGTERM and wait (SIGKILL after 10 s): a clean shutdown.
  void Stop();
  // SIGKILL, as a crash would.
  void Kill();
  // Stop() then Start(): the same data directory (keys and leases survive) and ports.
  void Restart();

  // One POST to the JSON gateway (e.g. "/v3/kv/put", a JSON body) over a fresh connection; the
  // answer's body. Throws when etcd cannot be reached or does not answer within 5 s.
  std::string Post(const std::string& path, const std::string& body) const;
  // The end of etcd's log (for failure messages).
  std::string Log() const;

 private:
  LocalEtcdOptions options_;
  TempDir dir_;
  std::uint16_t client_port_ = 0;
  std::uint16_t peer_port_ = 0;
  pid_t pid_ = -1;
  pid_t owner_ = -1;  // the process that started it: only it stops it
};

// Standard base64 (RFC 4648 §4, padded), as etcd's JSON gateway writes keys and values.
std::string EtcdBase64(const std::string& bytes);

}  // namespace rocketmart::testing
