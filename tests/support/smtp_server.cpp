#include "support/smtp_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "support/wait.hpp"

namespace rocketmart::testing {
namespace {

// Writes each message to <dir>/<seq>.eml (via a temporary name, so readers never see half).
constexpr const char* kScript = R"py(
import asyncio, os, sys, signal
from aiosmtpd.controller import Controller
out, port = sys.argv[1], int(sys.argv[2])
class Handler:
    def __init__(self): self.n = 0
    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        tmp = os.path.join(out, "%06d.tmp" % self.n)
        with open(tmp, "wb") as f: f.write(envelope.original_content or envelope.content)
        os.rename(tmp, os.path.join(out, "%06d.eml" % self.n))
        return "250 OK"
c = Controller(Handler(), hostname="127.0.0.1", port=port)
c.start()
open(os.path.join(out, "ready"), "w").close()
signal.sigwait([signal.SIGTERM, signal.SIGINT])
c.stop()
)py";

std::uint16_t FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    throw std::runtime_error("bind failed");
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

SmtpServer::SmtpServer(bool start) : port_(FreePort()) {
  if (start) Start();
}

SmtpServer::~SmtpServer() {
  Stop();
}

void SmtpServer::Start() {
  if (pid_ > 0) return;
  const std::filesystem::path ready = dir_.path() / "ready";
  std::error_code ec;
  std::filesystem::remove(ready, ec);
  const pid_t pid = fork();
  if (pid == 0) {
    const int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0 && !std::getenv("ROCKETMART_SMTP_LOGS")) {
      dup2(devnull, STDOUT_FILENO);
      dup2(devnull, STDERR_FILENO);
    }
    const std::string port = std::to_string(port_);
    // Debian's interpreter: the package is installed for /usr/bin/python3.
    execl("/usr/bin/python3", "python3", "-c", kScript, dir_.path().c_str(), port.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  pid_ = pid;
  // The script creates <dir>/ready once it accepts connections (an event; polled, bounded).
  bool exited = false;
  const bool settled = WaitUntil([&] {
    int status = 0;
    exited = waitpid(pid_, &status, WNOHANG) == pid_;
    return exited || std::filesystem::exists(ready, ec);
  });
  if (exited) {
    pid_ = -1;
    throw std::runtime_error("aiosmtpd exited during start-up (is python3-aiosmtpd installed?)");
  }
  if (!settled) {
    Stop();
    throw std::runtime_error("aiosmtpd did not start");
  }
}

void SmtpServer::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::vector<std::string> SmtpServer::Messages() const {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
    if (e.path().extension() == ".eml") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> out;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    out.push_back(ss.str());
  }
  return out;
}

std::vector<std::string> SmtpServer::WaitForMessages(std::size_t n, std::chrono::seconds timeout) {
  // A delivery by another process (an event, not time): the directory is polled.
  std::vector<std::string> messages;
  WaitUntil(
      [&] {
        messages = Messages();
        return messages.size() >= n;
      },
      timeout);
  return messages;
}

std::string PlainTextPart(const std::string& message) {
  const auto type = message.find("Content-Type: text/plain");
  if (type == std::string::npos) return "";
  auto start = message.find("\r\n\r\n", type);
  if (start == std::string::npos) return "";
  start += 4;
  const auto end = message.find("--", start);
  const std::string body = message.substr(start, end - start);
  std::string out;
  int bits = 0;
  unsigned value = 0;
  for (char c : body) {
    const int v = Base64Value(c);
    if (v < 0) continue;
    value = (value << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((value >> bits) & 0xff);
    }
  }
  return out;
}

std::string FindLink(const std::string& text, const std::string& needle) {
  std::size_t pos = 0;
  while ((pos = text.find("http", pos)) != std::string::npos) {
    std::size_t end = pos;
    while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) ++end;
    const std::string url = text.substr(pos, end - pos);
    if (url.find(needle) != std::string::npos) return url;
    pos = end;
  }
  return "";
}

}  // namespace rocketmart::testing
