// A real SMTP server for tests: Debian's python3-aiosmtpd on 127.0.0.1, started as a child
// process on a free port; every received message is written to a directory as <n>.eml. The
// destructor stops it. Start() may be called late (after construction with start=false) to test
// "SMTP server down, then up". Not thread-safe; owned by one test.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

namespace rocketmart::testing {

class SmtpServer {
 public:
  // Picks a free port now (so a client can be configured before the server runs).
  explicit SmtpServer(bool start = true);
  ~SmtpServer();
  SmtpServer(const SmtpServer&) = delete;
  SmtpServer& operator=(const SmtpServer&) = delete;

  void Start();
  void Stop();
  std::uint16_t port() const { return port_; }
  std::string Url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }
  // Received messages (raw RFC 5322 text), oldest first.
  std::vector<std::string> Messages() const;
  // Waits (bounded) until at least `n` messages arrived; returns them.
  std::vector<std::string> WaitForMessages(std::size_t n,
                                           std::chrono::seconds timeout = std::chrono::seconds(20));

 private:
  TempDir dir_{"smtp"};
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

// The decoded text/plain part of a message written by rocketmart (base64 body), or "".
std::string PlainTextPart(const std::string& message);
// The first URL in `text` that contains `needle`, or "".
std::string FindLink(const std::string& text, const std::string& needle);

}  // namespace rocketmart::testing
