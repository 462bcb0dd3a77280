// Starts the real rocketmart binary for end-to-end tests: a fresh data directory, port 0, the port
// read back from the "listening on" line. The destructor kills the process (SIGTERM, then SIGKILL)
// and removes the data directory, so every test cleans up what it started.
//
// With ROCKETMART_TEST_TOPOLOGY=cluster (the `_cluster` variants of the e2e scenarios) a
// ServerProcess is a local cluster instead (support/cluster.hpp: etcd, Redis, PostgreSQL, one
// gateway and the four services apart, ScenarioClusterOptions()) behind the same handle: port() and
// admin_port() are the gateway's, tokens are signed with the cluster's key (Token() through the CLI
// with the cluster's configuration), options.env and seed_demo go to every process. data_dir() is
// the folder that holds every process's data directory, and reads like an embedded one where it
// can: `mail` and `demo-accounts.env` are the (first) members instance's, `provider.db` the
// (first) checkout instance's payment ledger, `<service>.db` in the probes of support/db_probe.hpp
// is that service's PostgreSQL database, and a command run with `--data-dir` it gets the cluster's
// configuration (keys, database URLs). Terminate(), Kill() and Restart() act on every process of
// the cluster (the gateway restarts on its port); etcd, Redis and PostgreSQL stay up.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

namespace rocketmart::testing {

struct ServerOptions {
  std::vector<std::string> extra_args;
  std::map<std::string, std::string> env;
  std::filesystem::path data_dir;  // empty = a fresh temporary directory, removed afterwards
  bool seed_demo = false;
  std::uint16_t port = 0;  // 0 = a free port chosen by the server
  // Runs the binary through this command (e.g. {"setpriv", "--reuid=65534", ...}).
  std::vector<std::string> wrapper;
  // Non-empty: the server's log (stderr) is appended to this file instead of discarded.
  std::filesystem::path log_file;
  // False: the process gets no database URLs from the test engine (support/test_engine.hpp) and
  // its data directory is not checked against it (a cluster's processes name their own).
  bool engine_env = true;
  // False: one process whatever ROCKETMART_TEST_TOPOLOGY says (a cluster's own processes).
  bool follow_topology = true;
};

class Cluster;

// True when the e2e scenarios' servers are local clusters (ROCKETMART_TEST_TOPOLOGY=cluster).
bool OnCluster();
// Why a scenario that needs the demo seed skips on a cluster: seeding is the embedded process's
// (src/app/embedded_app.cpp, SeedDemo spans catalog, checkout and members); a service process
// ignores demo.seed.
inline constexpr const char* kNoDemoSeedOnCluster =
    "the demo seed runs only in the embedded process (SeedDemo spans catalog, checkout and "
    "members); `serve --service` ignores demo.seed";

class ServerProcess {
 public:
  explicit ServerProcess(ServerOptions options = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // The server's port; on a cluster with several gateways, each call the next gateway's (round
  // robin), so the clients a scenario makes spread over every gateway as a load balancer would.
  std::uint16_t port() const;
  // Always the same port: the first gateway's on a cluster (the public base URL mailed links
  // carry), for a test about one listener (its connection limit, its links).
  std::uint16_t public_port() const { return port_; }
  // The admin listener (GET /metrics); the harness starts it on a free port.
  std::uint16_t admin_port() const { return admin_port_; }
  // Every process's admin listener: {admin_port()} for one process; on a cluster the gateway's
  // and each service instance's (each process counts only its own work in /metrics).
  std::vector<std::uint16_t> AdminPorts() const;
  const std::filesystem::path& data_dir() const { return data_dir_; }
  pid_t pid() const { return pid_; }

  // SIGTERM and wait for exit; returns the exit status (or -signal).
  int Terminate(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // SIGKILL, as a crash would.
  void Kill();
  // Starts again on the same data directory (after Kill/Terminate).
  void Restart();
  // The same, listening on the port it had (0 when it never listened).
  void RestartOnSamePort();

  // A token for synthetic load-test identity `n` (member id 2^53 + n, auth::SyntheticMemberId):
  // no real member has it, so tests need no signup. Minted by `rocketmart token --synthetic`
  // against this server's data directory.
  std::string Token(std::int64_t n, bool admin = false) const;
  // The same token signed in-process with the data directory's key (for thousands of members;
  // the CLI path above is covered by tests that use it).
  std::string FastToken(std::int64_t n, bool admin = false, bool verified = true) const;

 private:
  void Start();
  void StartCluster();
  int WaitExit(std::chrono::milliseconds timeout);

  ServerOptions options_;
  std::optional<TempDir> owned_data_dir_;  // when no data_dir was given; removed last
  std::filesystem::path data_dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  mutable std::atomic<std::size_t> next_gateway_{0};
  std::uint16_t admin_port_ = 0;
  std::unique_ptr<Cluster> cluster_;  // OnCluster(): what this handle stands for
};

// An access token for synthetic identity `n` (30 minutes, the default issuer and audience) signed
// with `secret` under key id k1: what FastToken and a cluster's tokens are.
std::string SignSyntheticToken(const std::string& secret, std::int64_t n, bool admin = false,
                               bool verified = true);

// A command that ran to its end (or was killed at its deadline), with what it printed.
struct CommandResult {
  int exit_code = -1;  // -signal when killed by one
  bool timed_out = false;
  std::string out;
  std::string err;
};
// Runs `argv` with extra `env`, capturing stdout and stderr; SIGKILLs it after `timeout`. Never
// throws for a failing command: the caller inspects the result.
CommandResult RunCapture(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(20));
// The non-empty lines of `text`.
std::vector<std::string> Lines(const std::string& text);

// Path of the binary under test (ROCKETMART_BINARY, set by CTest).
std::string BinaryPath();
// Runs a command, returns its stdout; throws on a non-zero exit.
std::string RunCommand(const std::vector<std::string>& argv,
                       const std::map<std::string, std::string>& env = {});

}  // namespace rocketmart::testing
