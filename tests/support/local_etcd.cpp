#include "support/local_etcd.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/child_process.hpp"
#include "support/free_port.hpp"

namespace rocketmart::testing {
namespace {

constexpr auto kStartTimeout = std::chrono::seconds(15);
constexpr auto kStopTimeout = std::chrono::seconds(10);

// A blocking HTTP/1.0 request to 127.0.0.1:port (the answer then has a Content-Length, no chunks,
// and ends with the connection). Throws on any failure, including no answer within `timeout`.
std::string BlockingRequest(std::uint16_t port, const std::string& method, const std::string& path,
                            const std::string& body, std::chrono::milliseconds timeout) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("LocalEtcd: socket() failed");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  timeval tv{};
  tv.tv_sec = static_cast<long>(timeout.count() / 1000);
  tv.tv_usec = static_cast<long>(timeout.count() % 1000) * 1000;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("LocalEtcd: cannot connect to 127.0.0.1:" + std::to_string(port));
  }
  const std::string request =
      method + " " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n" +
      "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body;
  std::size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error("LocalEtcd: send failed");
    sent += static_cast<std::size_t>(n);
  }
  std::string answer;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) throw std::runtime_error("LocalEtcd: no answer to " + method + " " + path);
    answer.append(buf, static_cast<std::size_t>(n));
  }
  const auto head_end = answer.find("\r\n\r\n");
  if (answer.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos) {
    throw std::runtime_error("LocalEtcd: not an HTTP answer to " + method + " " + path);
  }
  return answer.substr(head_end + 4);
}

}  // namespace

std::string EtcdBase64(const std::string& bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == bytes.size()) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

LocalEtcd::LocalEtcd(LocalEtcdOptions options) : options_(std::move(options)), dir_("etcd") {
  Start();
}

LocalEtcd::~LocalEtcd() {
  if (owner_ == ::getpid()) Kill();
}

std::string LocalEtcd::endpoint() const {
  return "http://127.0.0.1:" + std::to_string(client_port_);
}

std::string LocalEtcd::Log() const {
  std::ifstream in(dir_.path() / "etcd.log");
  std::stringstream all;
  all << in.rdbuf();
  std::string text = all.str();
  return text.size() > 3000 ? text.substr(text.size() - 3000) : text;
}

std::string LocalEtcd::Post(const std::string& path, const std::string& body) const {
  return BlockingRequest(client_port_, "POST", path, body, std::chrono::seconds(5));
}

void LocalEtcd::Start() {
  if (running()) return;
  const bool fresh_ports = client_port_ == 0;
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (fresh_ports) {
      client_port_ = FreeLoopbackPort();
      do {
        peer_port_ = FreeLoopbackPort();
      } while (peer_port_ == client_port_);
    }
    const std::string client = "http://127.0.0.1:" + std::to_string(client_port_);
    const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
    std::vector<std::string> args = {"/usr/bin/etcd",
                                     "--name=default",
                                     "--data-dir=" + (dir_.path() / "data").string(),
                                     "--listen-client-urls=" + client,
                                     "--advertise-client-urls=" + client,
                                     "--listen-peer-urls=" + peer,
                                     "--initial-advertise-peer-urls=" + peer,
                                     "--initial-cluster=default=" + peer,
                                     "--initial-cluster-state=new",
                                     "--logger=zap",
                                     "--log-outputs=stderr"};
    args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
    pid_ = SpawnTiedToThisThread(std::move(args), (dir_.path() / "etcd.log").string());
    owner_ = ::getpid();
    const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;  // it exited: a taken port, or a bad option
      }
      try {
        const std::string health =
            BlockingRequest(client_port_, "GET", "/health", "", std::chrono::milliseconds(500));
        if (health.find("\"health\":\"true\"") != std::string::npos) return;
      } catch (const std::exception&) {
        // not listening yet
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // poll interval
    }
    if (pid_ > 0) {
      Kill();
      throw std::runtime_error("LocalEtcd: not healthy within 15 s; log:\n" + Log());
    }
    if (!fresh_ports || Log().find("address already in use") == std::string::npos) break;
  }
  throw std::runtime_error("LocalEtcd: etcd exited at start; log:\n" + Log());
}

void LocalEtcd::Stop() {
  if (!running()) return;
  StopChild(pid_, SIGTERM, kStopTimeout);
  pid_ = -1;
}

void LocalEtcd::Kill() {
  if (!running()) return;
  StopChild(pid_, SIGKILL, kStopTimeout);
  pid_ = -1;
}

void LocalEtcd::Restart() {
  Stop();
  Start();
}

}  // namespace rocketmart::testing
