// Mailer adapters and the mail worker.
//
// EmlMailer writes each mail as an RFC 5322 file under a directory (the embedded default: no
// server needed; the log names the file, never the link, which carries a single-use token).
// SmtpMailer submits through libcurl (smtp:// with optional STARTTLS, or smtps:// for implicit
// TLS; optional AUTH; connect and total timeouts). MailWorker drains the durable outbox in
// members.db on its own thread: every queued mail is retried with exponential backoff until the
// transport takes it, so a mail is never lost while the SMTP server is down. Workers of several
// instances may drain one outbox: each claims what it sends (MailOutbox), and resolves the mail
// requests it claimed (MembersService::ResolveMailRequests), so no mail goes out twice.
//
// Thread-safety: mailers are called from the worker thread only. MailWorker's Start/Stop/Notify
// are thread-safe; RunOnce is for tests and only when the worker thread is not started.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "core/clock.hpp"
#include "services/members/ports/field_cipher.hpp"
#include "services/members/ports/mail_outbox.hpp"
#include "services/members/ports/mailer.hpp"

namespace rocketmart::members {

// The URL without its userinfo (smtp://user:password@host -> smtp://host): what log lines show.
std::string UrlWithoutCredentials(std::string_view url);

class EmlMailer final : public Mailer {
 public:
  EmlMailer(std::filesystem::path directory, std::string from, const Clock& clock);
  Status Send(const MailMessage& mail, const std::string& message_id) override;

 private:
  const std::filesystem::path directory_;
  const std::string from_;
  const Clock& clock_;
};

struct SmtpOptions {
  std::string url = "smtp://127.0.0.1:25";  // smtps://host:465 for implicit TLS
  bool starttls = false;                    // require STARTTLS on smtp://
  std::string username;                     // empty = no AUTH
  std::string password;
  std::string from = "Rocket Mart <no-reply@rocketmart.local>";
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds timeout{15000};
};

class SmtpMailer final : public Mailer {
 public:
  SmtpMailer(SmtpOptions options, const Clock& clock);
  Status Send(const MailMessage& mail, const std::string& message_id) override;

 private:
  const SmtpOptions options_;
  const Clock& clock_;
};

struct MailWorkerOptions {
  std::chrono::seconds backoff_initial{5};
  std::chrono::seconds backoff_max{900};
  std::chrono::milliseconds poll_interval{1000};  // real time between looks when idle
  std::size_t batch = 16;
  // How long a claimed batch stays this worker's: longer than sending `batch` mails can take
  // (the transport's timeout each). A worker that dies leaves its mails to others after this.
  std::chrono::seconds lease{600};
};

class MailWorker {
 public:
  // `resolve` runs at the start of every pass, on the worker's thread, before the due mails are
  // sent: the members service resolves the recorded mail requests there
  // (MembersService::ResolveMailRequests), so their mails go out in the same pass. It returns how
  // many it resolved.
  using Resolver = std::function<boost::asio::awaitable<int>()>;
  MailWorker(MailOutbox& outbox, const FieldCipher& cipher, Mailer& mailer, const Clock& clock,
             Resolver resolve, MailWorkerOptions options = {});
  ~MailWorker();
  void Start();
  void Stop();
  void Notify();
  // One pass (requests, then due mails) on the calling thread. Returns how many mails were sent.
  int RunOnce();

  std::uint64_t sent() const { return sent_.load(); }
  std::uint64_t failures() const { return failures_.load(); }

 private:
  void Run();
  boost::asio::awaitable<int> Pass();

  MailOutbox& outbox_;
  const FieldCipher& cipher_;
  Mailer& mailer_;
  const Clock& clock_;
  const MailWorkerOptions options_;
  const Resolver resolve_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool notified_ = false;
  std::thread thread_;
  std::atomic<std::uint64_t> sent_{0};
  std::atomic<std::uint64_t> failures_{0};
};

}  // namespace rocketmart::members
