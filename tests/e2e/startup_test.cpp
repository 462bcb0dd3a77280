// Start-up of the real binary: one server per port and per data directory, refused with a one-line
// message (issue 11 point 3); stores that cannot write refuse the start or make /health answer 503
// (point 4).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/temp_dir.hpp"

namespace rocketmart::testing {
namespace {

// A listening socket on 127.0.0.1 that is not rocketmart (optionally with SO_REUSEPORT, as a
// second copy of any reuse-port server would have).
class ForeignListener {
 public:
  explicit ForeignListener(bool reuse_port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    if (reuse_port) setsockopt(fd_, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd_, 16) != 0) {
      throw std::runtime_error("cannot listen");
    }
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~ForeignListener() { close(fd_); }
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// A port that was free a moment ago.
std::uint16_t FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

CommandResult Serve(std::uint16_t port, const std::filesystem::path& data_dir, bool seed = false) {
  return RunCapture({BinaryPath(), "serve", "--port", std::to_string(port), "--host", "127.0.0.1",
                     "--data-dir", data_dir.string()},
                    {{"ROCKETMART_DEMO_SEED", seed ? "true" : "false"}}, std::chrono::seconds(15));
}

// The refusal: a non-zero exit, nothing on stdout (no banner, no demo seeding), one line on stderr
// that says what is wrong without a library's internals.
void ExpectRefusedWithOneLine(const CommandResult& r, const std::string& must_contain) {
  EXPECT_FALSE(r.timed_out) << "the second server kept running; stdout: " << r.out;
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.out, "") << "printed a banner or seeded before refusing";
  const auto lines = Lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_NE(lines[0].find(must_contain), std::string::npos) << lines[0];
  EXPECT_EQ(lines[0].find("system:"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[0].find("boost"), std::string::npos) << lines[0];
}

TEST(Startup, ASecondServerOnAPortRocketmartServesRefusesToStart) {
  ServerProcess first;
  TempDir other("startup");
  const auto r = Serve(first.port(), other.path(), /*seed=*/true);
  ExpectRefusedWithOneLine(r, "already in use");
  EXPECT_NE(r.err.find(std::to_string(first.port())), std::string::npos) << r.err;
  // Refused before the data directory was touched (the port is bound before anything else).
  EXPECT_FALSE(std::filesystem::exists(other.path() / "catalog.db"));
  // The first server still serves alone: every new connection reaches it.
  for (int i = 0; i < 20; ++i) {
    HttpClient c(first.port());
    EXPECT_EQ(c.Get("/health").status, 200);
  }
}

TEST(Startup, APortTakenByAnotherProgramGivesAClearMessage) {
  for (const bool reuse_port : {false, true}) {
    ForeignListener taken(reuse_port);
    TempDir dir("startup");
    ExpectRefusedWithOneLine(Serve(taken.port(), dir.path()), "already in use");
  }
}

TEST(Startup, ADataDirectoryInUseIsRefused) {
  ServerProcess first;
  const auto r = Serve(0, first.data_dir());
  ExpectRefusedWithOneLine(r, "in use");
  EXPECT_NE(r.err.find(first.data_dir().string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("pid " + std::to_string(first.pid())), std::string::npos) << r.err;
  HttpClient c(first.port());
  EXPECT_EQ(c.Get("/health").status, 200);
  // The lock goes with its process, even one killed outright: a restart takes it over.
  first.Kill();
  first.Restart();
  HttpClient again(first.port());
  EXPECT_EQ(again.Get("/health").status, 200);
}

// Two servers starting at the same moment on one free port: exactly one serves. (The window
// between checking the port and binding it is microseconds, so this cannot prove the lock that
// closes it; it proves the outcome.)
TEST(Startup, TwoServersStartingTogetherOnOnePortLeaveExactlyOne) {
  for (int trial = 0; trial < 3; ++trial) {
    const std::uint16_t port = FreePort();
    std::atomic<int> started{0};
    std::unique_ptr<ServerProcess> servers[2];
    std::thread threads[2];
    for (int i = 0; i < 2; ++i) {
      threads[i] = std::thread([&, i] {
        try {
          servers[i] = std::make_unique<ServerProcess>(ServerOptions{.port = port});
          started.fetch_add(1);
        } catch (const std::exception&) {
          // Refused at start-up: the expected fate of one of the two.
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(started.load(), 1) << "trial " << trial;
  }
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

// How to run the server so that the data directory's permissions bind it. As root (tests often
// run as root) chmod stops nothing, so the server runs as `nobody` through setpriv; otherwise
// the permissions bind the test's own user. Empty with a reason when neither is possible.
struct Unprivileged {
  std::vector<std::string> wrapper;
  std::string unavailable;
};

Unprivileged HowToRunUnprivileged() {
  if (::geteuid() != 0) return {};
  Unprivileged u;
  u.wrapper = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"};
  std::vector<std::string> probe = u.wrapper;
  probe.push_back(BinaryPath());
  probe.push_back("--help");
  const auto r = RunCapture(probe);
  if (r.exit_code != 0) {
    u.unavailable = "running as root and cannot run the binary as uid 65534 with setpriv (" +
                    (r.err.empty() ? "exit " + std::to_string(r.exit_code) : Lines(r.err)[0]) +
                    "), so no permission could stop the server's writes";
  }
  return u;
}

// The data directory of a server that ran once, handed to uid 65534 when running as root.
void HandOver(const std::filesystem::path& dir) {
  if (::geteuid() != 0) return;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    ASSERT_EQ(::chown(entry.path().c_str(), 65534, 65534), 0) << entry.path();
  }
  ASSERT_EQ(::chown(dir.c_str(), 65534, 65534), 0);
}

// Read-only database files (the directory itself writable, or not): SQLite opens such a file
// read-only without a word and every read works, so today's server started and looked healthy.
TEST(Startup, AReadOnlyDataDirectoryIsRefusedAtStartWithTheStoreNamed) {
  const Unprivileged how = HowToRunUnprivileged();
  if (!how.unavailable.empty()) GTEST_SKIP() << how.unavailable;
  for (const bool directory_writable : {true, false}) {
    TempDir dir("startup");
    {
      ServerProcess first({.data_dir = dir.path()});
      HttpClient c(first.port());
      ASSERT_EQ(c.Get("/health").status, 200);  // Serving, so SIGTERM drains and exits 0.
      ASSERT_EQ(first.Terminate(), 0);
    }
    // The keys stay readable to the server through the environment (the files are 0600).
    const std::map<std::string, std::string> env = {
        {"ROCKETMART_AUTH_SECRET", ReadFile(dir.path() / "secrets" / "jwt.key")},
        {"ROCKETMART_MEMBERS_DATA_KEY", ReadFile(dir.path() / "secrets" / "members.key")},
        {"ROCKETMART_DEMO_SEED", "false"}};
    HandOver(dir.path());
    for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
      if (entry.path().extension() == ".db") {
        std::filesystem::permissions(entry.path(), std::filesystem::perms(0444));
      }
    }
    if (!directory_writable) {
      std::filesystem::permissions(dir.path(), std::filesystem::perms(0555));
    }
    std::vector<std::string> argv = how.wrapper;
    for (const std::string& a : {BinaryPath(), std::string("serve"), std::string("--port"),
                                 std::string("0"), std::string("--host"), std::string("127.0.0.1"),
                                 std::string("--data-dir"), dir.path().string()}) {
      argv.push_back(a);
    }
    const auto r = RunCapture(argv, env, std::chrono::seconds(15));
    std::filesystem::permissions(dir.path(), std::filesystem::perms(0755));
    const std::string which = directory_writable ? "writable directory" : "read-only directory";
    EXPECT_FALSE(r.timed_out) << which << ": the server started on a store it cannot write";
    EXPECT_NE(r.exit_code, 0) << which;
    EXPECT_EQ(r.out, "") << which;
    const auto lines = Lines(r.err);
    ASSERT_FALSE(lines.empty()) << which;
    EXPECT_NE(lines.back().find("cannot start: store catalog cannot write"), std::string::npos)
        << which << ": " << r.err;
    EXPECT_NE(lines.back().find((dir.path() / "catalog.db").string()), std::string::npos)
        << which << ": " << r.err;
  }
}

// A server whose mail directory cannot be written refuses to start too (file transport).
TEST(Startup, AnUnwritableMailDirectoryIsRefusedAtStart) {
  const Unprivileged how = HowToRunUnprivileged();
  if (!how.unavailable.empty()) GTEST_SKIP() << how.unavailable;
  TempDir dir("startup");
  std::filesystem::create_directories(dir.path() / "mail");
  HandOver(dir.path());
  std::filesystem::permissions(dir.path() / "mail", std::filesystem::perms(0555));
  std::vector<std::string> argv = how.wrapper;
  for (const std::string& a : {BinaryPath(), std::string("serve"), std::string("--port"),
                               std::string("0"), std::string("--host"), std::string("127.0.0.1"),
                               std::string("--data-dir"), dir.path().string()}) {
    argv.push_back(a);
  }
  const auto r = RunCapture(argv, {{"ROCKETMART_DEMO_SEED", "false"}}, std::chrono::seconds(15));
  EXPECT_FALSE(r.timed_out) << "the server started with a mail directory it cannot write";
  EXPECT_NE(r.exit_code, 0);
  const auto lines = Lines(r.err);
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.back().find("cannot start: mail directory"), std::string::npos) << r.err;
}

std::uint64_t MetricValue(const std::string& text, const std::string& series) {
  const auto pos = text.find("\n" + series + " ");
  if (pos == std::string::npos) return 0;
  return std::stoull(text.substr(pos + series.size() + 2));
}

// A store that stops writing while the server runs (here: a file-size limit of one byte set on
// the running process with prlimit, so every write that extends a file fails with EFBIG): /health
// answers 503 naming it, the failures are counted, and it reads healthy again once it recovers.
TEST(Startup, AStoreThatStopsWritingMakesHealthUnavailableUntilItRecovers) {
  ServerProcess server;
  const std::string admin = server.FastToken(1, true);
  HttpClient c(server.port());
  auto healthy = c.Get("/health");
  ASSERT_EQ(healthy.status, 200) << healthy.body;
  EXPECT_EQ(healthy.Json().at("stores").at("catalog").as_string(), "ok");
  const std::string series = "db_writer_failures_total{db=\"catalog\"}";
  HttpClient admin_client(server.admin_port());
  EXPECT_NE(admin_client.Get("/metrics").body.find(series + " 0"), std::string::npos);

  // Only the soft limit moves: raising a hard limit back would need CAP_SYS_RESOURCE.
  rlimit before{};
  ASSERT_EQ(::prlimit(server.pid(), RLIMIT_FSIZE, nullptr, &before), 0);
  rlimit one_byte{1, before.rlim_max};
  ASSERT_EQ(::prlimit(server.pid(), RLIMIT_FSIZE, &one_byte, nullptr), 0);
  auto refused = c.PostJson("/products", R"({"name":"Ink","price":10,"stock":1})", admin);
  EXPECT_GE(refused.status, 500) << refused.body;
  auto health = c.Get("/health");
  EXPECT_EQ(health.status, 503) << health.body;
  EXPECT_EQ(health.ErrorCode(), "UNAVAILABLE") << health.body;
  EXPECT_EQ(health.Json().at("status").as_string(), "unavailable") << health.body;
  EXPECT_EQ(health.Json().at("stores").at("catalog").as_string(), "unwritable") << health.body;
  EXPECT_GE(MetricValue(admin_client.Get("/metrics").body, series), 1u);

  ASSERT_EQ(::prlimit(server.pid(), RLIMIT_FSIZE, &before, nullptr), 0);
  health = c.Get("/health");
  EXPECT_EQ(health.status, 200) << health.body;
  EXPECT_EQ(c.PostJson("/products", R"({"name":"Ink","price":10,"stock":1})", admin).status, 201);
}

// check-config is the command that exists to catch mistakes (issue 11 point 16).
TEST(CheckConfig, RefusesAMisspeltVariableBadUrlsAndAFileAsDataDirectory) {
  TempDir dir("startup");
  const auto check = [&](const std::map<std::string, std::string>& env,
                         const std::string& data_dir = "") {
    std::vector<std::string> argv = {BinaryPath(), "check-config"};
    if (!data_dir.empty()) {
      argv.push_back("--data-dir");
      argv.push_back(data_dir);
    }
    return RunCapture(argv, env, std::chrono::seconds(10));
  };
  const auto clean = check({}, (dir.path() / "data").string());
  EXPECT_EQ(clean.exit_code, 0) << clean.err;
  EXPECT_NE(clean.out.find("configuration OK"), std::string::npos);

  auto r = check({{"ROCKETMART_SERVER_PROT", "9090"}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("ROCKETMART_SERVER_PROT is not a configuration variable (did you mean "
                       "ROCKETMART_SERVER_PORT?)"),
            std::string::npos)
      << r.err;
  r = check({{"ROCKETMART_MEMBERS_PUBLIC_BASE_URL", "shop.example.com"}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("members.public_base_url"), std::string::npos) << r.err;
  r = check({{"ROCKETMART_MAIL_SMTP_URL", "http://mail.example.com"}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("mail.smtp_url"), std::string::npos) << r.err;
  const auto file = dir.path() / "a-file";
  std::ofstream(file) << "x";
  r = check({}, file.string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is not a directory"), std::string::npos) << r.err;
  // serve refuses such a data directory with one line too.
  const auto serve = Serve(0, file);
  EXPECT_NE(serve.exit_code, 0);
  ASSERT_EQ(Lines(serve.err).size(), 1u) << serve.err;
  EXPECT_NE(serve.err.find("is not a directory"), std::string::npos) << serve.err;
}

}  // namespace
}  // namespace rocketmart::testing
