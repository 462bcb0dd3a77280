#include "support/local_postgres.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/free_port.hpp"

namespace rocketmart::testing {
namespace {

namespace fs = std::filesystem;

// The server binaries of the newest PostgreSQL installed (Debian: /usr/lib/postgresql/<v>/bin).
std::string BinDir() {
  for (const char* version : {"15", "16", "17"}) {
    const std::string dir = std::string("/usr/lib/postgresql/") + version + "/bin";
    if (fs::exists(dir + "/postgres") && fs::exists(dir + "/initdb")) return dir;
  }
  throw std::runtime_error(
      "LocalPostgres: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin "
      "(scripts/setup.sh test installs postgresql-15)");
}

// Who runs the server: `postgres` when we are root (initdb and postgres refuse root), else us.
struct RunAs {
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name;
};

RunAs ServerUser() {
  RunAs who;
  if (::geteuid() != 0) return who;
  const passwd* pw = ::getpwnam("postgres");
  if (pw == nullptr) {
    throw std::runtime_error(
        "LocalPostgres: running as root, but there is no `postgres` user to run the server as "
        "(the postgresql-15 package creates it)");
  }
  who.switch_user = true;
  who.uid = pw->pw_uid;
  who.gid = pw->pw_gid;
  who.name = pw->pw_name;
  return who;
}

// Forks and execs argv as the server user with stdout/stderr appended to log_path. The child gets
// SIGKILL when the calling thread dies (set after the user switch, which would clear it).
pid_t Spawn(const std::vector<std::string>& argv, const std::string& log_path, const RunAs& who) {
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("LocalPostgres: cannot open " + log_path);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    throw std::runtime_error("LocalPostgres: fork failed");
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls from here on.
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    if (who.switch_user) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(who.gid) != 0 || ::setuid(who.uid) != 0) {
        ::_exit(126);
      }
    }
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(125);  // the parent died before the line above
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(log_fd);
  return pid;
}

// Waits for pid to exit within `timeout`; returns its wait status, or nullopt if it still runs.
std::optional<int> WaitExit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return status;  // not our child any more
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void ChownTree(const fs::path& path, const RunAs& who) {
  if (!who.switch_user) return;
  if (::chown(path.c_str(), who.uid, who.gid) != 0) {
    throw std::runtime_error("LocalPostgres: chown failed for " + path.string());
  }
}

std::string ReadTail(const std::string& path, std::size_t bytes) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream all;
  all << in.rdbuf();
  std::string text = all.str();
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

struct PgConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct PgResultCloser {
  void operator()(PGresult* r) const { PQclear(r); }
};

}  // namespace

LocalPostgres::LocalPostgres() : LocalPostgres(Options{}) {}

LocalPostgres::LocalPostgres(Options options) : options_(std::move(options)) {
  const RunAs who = ServerUser();
  ChownTree(dir_.path(), who);
  data_dir_ = (dir_.path() / "data").string();
  socket_dir_ = dir_.path().string();
  log_path_ = (dir_.path() / "postgres.log").string();
  InitDb();
  port_ = FreeLoopbackPort();
  Start();
}

LocalPostgres::~LocalPostgres() {
  try {
    // Immediate shutdown (SIGQUIT): the data directory is removed next, so the checkpoint a fast
    // shutdown writes and fsyncs (seconds with the many databases a test binary creates) is waste.
    if (running()) {
      ::kill(pid_, SIGQUIT);
      if (!WaitExit(pid_, std::chrono::seconds(30))) throw std::runtime_error("no exit");
      pid_ = -1;
    }
  } catch (...) {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      WaitExit(pid_, std::chrono::seconds(10));
    }
  }
}

void LocalPostgres::InitDb() {
  const std::vector<std::string> argv = {
      BinDir() + "/initdb", "-D", data_dir_, "-A",         "trust",     "-U",
      "rocketmart",         "-E", "UTF8",    "--locale=C", "--no-sync", "--no-instructions"};
  const pid_t pid = Spawn(argv, log_path_, ServerUser());
  const auto status = WaitExit(pid, std::chrono::seconds(120));
  if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    if (!status) ::kill(pid, SIGKILL);
    throw std::runtime_error("LocalPostgres: initdb failed:\n" + LogTail());
  }
}

bool LocalPostgres::TryStart(std::string& why) {
  std::vector<std::string> argv = {BinDir() + "/postgres", "-D", data_dir_,  "-p",
                                   std::to_string(port_),  "-k", socket_dir_};
  auto set = [&argv](const std::string& name, const std::string& value) {
    argv.push_back("-c");
    argv.push_back(name + "=" + value);
  };
  set("listen_addresses", "127.0.0.1");
  set("fsync", "on");
  set("synchronous_commit", "on");
  set("full_page_writes", "on");
  set("max_connections", std::to_string(options_.max_connections));
  set("shared_buffers", "32MB");
  set("logging_collector", "off");
  set("log_min_messages", "warning");
  set("unix_socket_permissions", "0777");
  for (const auto& [name, value] : options_.settings) set(name, value);
  pid_ = Spawn(argv, log_path_, ServerUser());

  const std::string probe = ConnectionString("postgres") + " connect_timeout=2";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (PQping(probe.c_str()) == PQPING_OK) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      why = "the server exited during start-up";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  why = "the server did not accept connections within 60 s";
  ::kill(pid_, SIGKILL);
  WaitExit(pid_, std::chrono::seconds(10));
  pid_ = -1;
  return false;
}

void LocalPostgres::Start() {
  if (running()) return;
  // After a SIGKILL the old backends may still hold the shared memory for a moment ("pre-existing
  // shared memory block is still in use"): the start is retried for a while.
  std::string why;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  do {
    if (TryStart(why)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < deadline);
  throw std::runtime_error("LocalPostgres: " + why + ":\n" + LogTail());
}

void LocalPostgres::Stop() {
  if (!running()) return;
  ::kill(pid_, SIGINT);  // fast shutdown: roll back open transactions, checkpoint, exit
  if (!WaitExit(pid_, std::chrono::seconds(60))) {
    ::kill(pid_, SIGKILL);
    WaitExit(pid_, std::chrono::seconds(10));
  }
  pid_ = -1;
}

void LocalPostgres::Kill9() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  WaitExit(pid_, std::chrono::seconds(10));
  pid_ = -1;
}

std::string LocalPostgres::ConnectionString(std::string_view db) const {
  return "host=" + socket_dir_ + " port=" + std::to_string(port_) +
         " user=rocketmart dbname=" + std::string(db);
}

std::string LocalPostgres::TcpConnectionString(std::string_view db) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) +
         " user=rocketmart dbname=" + std::string(db);
}

std::string LocalPostgres::QueryValue(std::string_view db, std::string_view sql) const {
  std::unique_ptr<PGconn, PgConnCloser> conn(PQconnectdb(ConnectionString(db).c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    throw std::runtime_error("LocalPostgres: cannot connect to " + std::string(db) + ": " +
                             PQerrorMessage(conn.get()));
  }
  std::unique_ptr<PGresult, PgResultCloser> res(PQexec(conn.get(), std::string(sql).c_str()));
  const auto status = PQresultStatus(res.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    throw std::runtime_error("LocalPostgres: `" + std::string(sql) +
                             "` failed: " + PQresultErrorMessage(res.get()));
  }
  if (status == PGRES_COMMAND_OK || PQntuples(res.get()) == 0) return {};
  return PQgetvalue(res.get(), 0, 0);
}

std::string LocalPostgres::CreateDatabase(std::string_view name) {
  QueryValue("postgres", "CREATE DATABASE \"" + std::string(name) + "\"");
  return ConnectionString(name);
}

std::string LocalPostgres::NewDatabase(std::string_view prefix) {
  const int n = next_database_.fetch_add(1);
  std::string name = std::string(prefix) + "_" + std::to_string(n);
  CreateDatabase(name);
  return name;
}

std::string LocalPostgres::LogTail(std::size_t bytes) const {
  return ReadTail(log_path_, bytes);
}

LocalPostgres& SharedLocalPostgres() {
  static LocalPostgres server;
  return server;
}

}  // namespace rocketmart::testing
