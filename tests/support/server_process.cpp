#include "support/server_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <thread>

#include "auth/identity.hpp"
#include "auth/jwt.hpp"
#include "auth/secret.hpp"
#include "support/cluster.hpp"
#include "support/test_engine.hpp"

namespace rocketmart::testing {
namespace {

// An exception that escapes a test's worker thread (an HttpClient whose request failed twice, say)
// ends the process through std::terminate, and ctest then shows only "Subprocess aborted". Say
// what it was first, so the run's log tells why.
[[noreturn]] void ReportAndAbort() {
  if (const std::exception_ptr current = std::current_exception()) {
    try {
      std::rethrow_exception(current);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "terminate: uncaught exception: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "terminate: uncaught exception of an unknown type\n");
    }
  } else {
    std::fprintf(stderr, "terminate called without an exception\n");
  }
  std::fflush(stderr);
  std::abort();
}
const std::terminate_handler kPreviousTerminate = std::set_terminate(ReportAndAbort);

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

struct Ports {
  std::uint16_t port = 0;
  std::uint16_t admin_port = 0;  // 0 when the admin listener is off
};

// The port at the end of the line starting at `pos` ("...http://host:port" or ".../metrics").
std::uint16_t PortOfLine(const std::string& seen, std::size_t pos) {
  std::string line = seen.substr(pos, seen.find('\n', pos) - pos);
  if (line.ends_with("/metrics")) line.resize(line.size() - 8);
  return static_cast<std::uint16_t>(std::stoi(line.substr(line.rfind(':') + 1)));
}

// Reads the child's stdout until the line "rocketmart listening on http://host:port" (the admin
// listener's "rocketmart metrics on http://host:port/metrics" comes before it).
Ports ReadPorts(int fd, pid_t pid) {
  std::string seen;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, 200);
    if (ready > 0) {
      const ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) {
        // Its output closed before it listened: it is exiting. Say how, for the test's log.
        const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
        if (pidfd >= 0) {
          pollfd exited{pidfd, POLLIN, 0};
          poll(&exited, 1, 5000);  // the exit event, or 5 s
          close(pidfd);
        }
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) {
          const std::string how = WIFSIGNALED(status)
                                      ? "killed by signal " + std::to_string(WTERMSIG(status))
                                      : "exit status " + std::to_string(WEXITSTATUS(status));
          throw std::runtime_error("server exited during start-up (" + how + "): " + seen);
        }
        break;
      }
      seen.append(buf, static_cast<std::size_t>(n));
      const auto pos = seen.find("rocketmart listening on http://");
      if (pos != std::string::npos && seen.find('\n', pos) != std::string::npos) {
        Ports ports;
        ports.port = PortOfLine(seen, pos);
        if (const auto admin = seen.find("rocketmart metrics on http://");
            admin != std::string::npos) {
          ports.admin_port = PortOfLine(seen, admin);
        }
        return ports;
      }
    }
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      throw std::runtime_error("server exited during start-up: " + seen);
    }
  }
  throw std::runtime_error("server did not report its port: " + seen);
}

}  // namespace

std::string BinaryPath() {
  const char* path = std::getenv("ROCKETMART_BINARY");
  if (!path || !*path) throw std::runtime_error("ROCKETMART_BINARY is not set");
  return path;
}

namespace {
// A command run against a data directory (`--data-dir DIR`) gets that directory's engine
// environment (support/test_engine.hpp) under the caller's own variables.
std::map<std::string, std::string> WithEngineEnv(const std::vector<std::string>& argv,
                                                 const std::map<std::string, std::string>& env) {
  std::map<std::string, std::string> merged;
  for (std::size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == "--data-dir") merged = EngineEnv(argv[i + 1]);
  }
  for (const auto& [k, v] : env) merged[k] = v;
  return merged;
}
}  // namespace

std::string RunCommand(const std::vector<std::string>& argv,
                       const std::map<std::string, std::string>& caller_env) {
  const auto env = WithEngineEnv(argv, caller_env);
  int out[2];
  if (pipe(out) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<std::string> args = argv;
    auto cargs = CStrings(args);
    execv(cargs[0], cargs.data());
    _exit(127);
  }
  close(out[1]);
  std::string output;
  char buf[4096];
  ssize_t n;
  while ((n = read(out[0], buf, sizeof buf)) > 0) output.append(buf, static_cast<std::size_t>(n));
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("command failed: " + argv[0] + " " + (argv.size() > 1 ? argv[1] : ""));
  }
  return output;
}

CommandResult RunCapture(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& caller_env,
                         std::chrono::milliseconds timeout) {
  const auto env = WithEngineEnv(argv, caller_env);
  // Files, not pipes: nothing to drain while waiting, and the child can never block on output.
  const TempDir dir("capture");
  const auto out_path = dir.path() / "out", err_path = dir.path() / "err";
  const pid_t pid = fork();
  if (pid == 0) {
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<std::string> args = argv;
    auto cargs = CStrings(args);
    execvp(cargs[0], cargs.data());
    _exit(127);
  }
  CommandResult result;
  int status = 0;
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) {
      result.timed_out = true;
      kill(pid, SIGKILL);
    }
    close(pidfd);
  }
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.exit_code = -WTERMSIG(status);
  const auto slurp = [](const std::filesystem::path& path) {
    std::string text;
    const int fd = open(path.c_str(), O_RDONLY);
    char buf[4096];
    ssize_t n = 0;
    while (fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0) {
      text.append(buf, static_cast<std::size_t>(n));
    }
    if (fd >= 0) close(fd);
    return text;
  };
  result.out = slurp(out_path);
  result.err = slurp(err_path);
  return result;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

ServerProcess::ServerProcess(ServerOptions options) : options_(std::move(options)) {
  if (options_.data_dir.empty()) {
    owned_data_dir_.emplace("e2e");
    data_dir_ = owned_data_dir_->path();
  } else {
    data_dir_ = options_.data_dir;
  }
  Start();
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    Terminate(std::chrono::seconds(10));
  }
  cluster_.reset();
}

bool OnCluster() {
  const char* topology = std::getenv("ROCKETMART_TEST_TOPOLOGY");
  return topology != nullptr && std::string_view(topology) == "cluster";
}

void ServerProcess::StartCluster() {
  if (!cluster_) {
    ClusterOptions options = ScenarioClusterOptions();
    options.dir = data_dir_;
    for (const auto& [k, v] : options_.env) options.env[k] = v;
    options.extra_args = options_.extra_args;
    options.seed_demo = options_.seed_demo;
    options.log_file = options_.log_file;
    cluster_ = std::make_unique<Cluster>(std::move(options));
    std::map<std::string, std::string> command_env = cluster_->env();
    command_env["ROCKETMART_DEMO_SEED"] = options_.seed_demo ? "true" : "false";
    RegisterClusterDataDir(data_dir_, command_env);
    // What a scenario reads in an embedded data directory, where the cluster keeps it.
    const std::filesystem::path members = cluster_->instance("members").data_dir();
    for (const auto& [link, target] : std::map<std::string, std::filesystem::path>{
             {"mail", members / "mail"}, {"demo-accounts.env", members / "demo-accounts.env"}}) {
      std::error_code ec;
      std::filesystem::create_symlink(target.lexically_relative(data_dir_), data_dir_ / link, ec);
    }
  } else {
    cluster_->RestartAll();
  }
  port_ = cluster_->gateway_port();
  admin_port_ = cluster_->gateway().admin_port();
  pid_ = cluster_->gateway().pid();
}

void ServerProcess::Start() {
  if (options_.follow_topology && OnCluster()) {
    StartCluster();
    return;
  }
  int out[2];
  // Close-on-exec: a server started meanwhile from another thread (a cluster starts its processes
  // side by side) must not inherit this one's pipe (dup2 below clears the flag on stdout).
  if (pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  std::vector<std::string> args = options_.wrapper;
  for (const std::string& a :
       {BinaryPath(), std::string("serve"), std::string("--port"), std::to_string(options_.port),
        std::string("--host"), std::string("127.0.0.1"), std::string("--data-dir"),
        data_dir_.string()}) {
    args.push_back(a);
  }
  for (const auto& a : options_.extra_args) args.push_back(a);
  // Before fork: it may start PostgreSQL.
  const auto engine_env =
      options_.engine_env ? EngineEnv(data_dir_) : std::map<std::string, std::string>{};
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    const int devnull = open("/dev/null", O_WRONLY);
    if (!options_.log_file.empty()) {
      const int log = open(options_.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (log >= 0) dup2(log, STDERR_FILENO);
    } else if (devnull >= 0 && !std::getenv("ROCKETMART_E2E_SERVER_LOGS")) {
      dup2(devnull, STDERR_FILENO);
    }
    close(out[0]);
    close(out[1]);
    setenv("ROCKETMART_DEMO_SEED", options_.seed_demo ? "true" : "false", 1);
    setenv("ROCKETMART_LOG_ACCESS_LOG", "false", 1);
    setenv("ROCKETMART_SERVER_ADMIN_PORT", "0", 1);  // Tests run side by side: a free port each.
    // The gateway's rate limits (on by default) off: every e2e test's traffic comes from
    // 127.0.0.1, and many drive one member (an admin setting up, a buyer polling) far faster than
    // a person. A test of the limits sets them (tests/e2e/rate_limit_test.cpp).
    setenv("ROCKETMART_GATEWAY_RATE_PER_IP_PER_S", "0", 1);
    setenv("ROCKETMART_GATEWAY_RATE_PER_MEMBER_PER_S", "0", 1);
    for (const auto& [k, v] : engine_env) setenv(k.c_str(), v.c_str(), 1);
    for (const auto& [k, v] : options_.env) setenv(k.c_str(), v.c_str(), 1);
    auto cargs = CStrings(args);
    execvp(cargs[0], cargs.data());
    _exit(127);
  }
  close(out[1]);
  pid_ = pid;
  try {
    const Ports ports = ReadPorts(out[0], pid);
    port_ = ports.port;
    admin_port_ = ports.admin_port;
    if (options_.engine_env) CheckServerEngine(data_dir_);
  } catch (...) {
    close(out[0]);
    Kill();
    throw;
  }
  // Keep draining stdout in the background so the server never blocks on a full pipe.
  std::thread([fd = out[0]] {
    char buf[4096];
    while (read(fd, buf, sizeof buf) > 0) {
    }
    close(fd);
  }).detach();
}

int ServerProcess::WaitExit(std::chrono::milliseconds timeout) {
  int status = 0;
  // A pidfd becomes readable when the child exits: wait on that event, bounded by the timeout.
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(timeout.count()));
    close(pidfd);
    if (ready <= 0) kill(pid_, SIGKILL);
  }
  waitpid(pid_, &status, 0);
  pid_ = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1;
}

int ServerProcess::Terminate(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return 0;
  if (cluster_) {
    pid_ = -1;
    return cluster_->TerminateAll(timeout);
  }
  kill(pid_, SIGTERM);
  return WaitExit(timeout);
}

void ServerProcess::Kill() {
  if (pid_ <= 0) return;
  if (cluster_) {
    cluster_->KillAll();
    pid_ = -1;
    return;
  }
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

void ServerProcess::Restart() {
  if (pid_ > 0) Kill();
  Start();
}

std::uint16_t ServerProcess::port() const {
  if (!cluster_ || cluster_->gateway_count() < 2) return port_;
  return cluster_->gateway_port(next_gateway_.fetch_add(1) % cluster_->gateway_count());
}

std::vector<std::uint16_t> ServerProcess::AdminPorts() const {
  if (!cluster_) return {admin_port_};
  std::vector<std::uint16_t> ports = {admin_port_};
  for (const std::string& service : kClusterServices) {
    for (std::size_t i = 0; i < cluster_->instance_count(service); ++i) {
      ports.push_back(cluster_->instance(service, i).admin_port());
    }
  }
  return ports;
}

void ServerProcess::RestartOnSamePort() {
  options_.port = port_;
  // The port was free a moment ago, but until the new process binds it any socket of the machine
  // may take it as its own source port (other tests' connections, in a parallel run), and the
  // start then fails to bind. Such a socket is short-lived: try again for a few seconds.
  for (int attempt = 1;; ++attempt) {
    try {
      Restart();
      return;
    } catch (const std::runtime_error&) {
      if (attempt == 10) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
  }
}

std::string SignSyntheticToken(const std::string& secret, std::int64_t n, bool admin,
                               bool verified) {
  auth::Keyring keyring;
  if (!keyring.Add({"k1", secret}, true).ok()) throw std::runtime_error("bad signing key");
  const auto now = std::chrono::system_clock::now();
  auth::Claims claims;
  claims.member_id = auth::SyntheticMemberId(n);
  claims.role = admin ? "admin" : "user";
  claims.type = std::string(auth::kAccessType);
  claims.issued_at = now;
  claims.not_before = now;
  claims.expires_at = now + std::chrono::minutes(30);
  claims.issuer = "rocketmart";
  claims.audience = "rocketmart-api";
  claims.email_verified = verified;
  return auth::Sign(claims, keyring);
}

std::string ServerProcess::FastToken(std::int64_t n, bool admin, bool verified) const {
  if (cluster_) return cluster_->Token(n, admin, verified);
  auto secret = auth::LoadOrCreateSecret(data_dir_ / "secrets" / "jwt.key");
  if (!secret.ok()) throw std::runtime_error("no signing key in the data directory");
  return SignSyntheticToken(*secret, n, admin, verified);
}

std::string ServerProcess::Token(std::int64_t n, bool admin) const {
  std::string out =
      RunCommand({BinaryPath(), "token", "--data-dir", data_dir_.string(), "--synthetic",
                  "--member", std::to_string(n), "--role", admin ? "admin" : "user"});
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

}  // namespace rocketmart::testing
