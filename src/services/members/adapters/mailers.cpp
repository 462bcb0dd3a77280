#include "services/members/adapters/mailers.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "core/thread_name.hpp"
#include "infra/async/run.hpp"

namespace rocketmart::members {
namespace {

// The bare address of "Name <addr>" or "addr".
std::string Address(std::string_view from) {
  const auto lt = from.find('<');
  const auto gt = from.rfind('>');
  if (lt != std::string_view::npos && gt != std::string_view::npos && gt > lt) {
    return std::string(from.substr(lt + 1, gt - lt - 1));
  }
  return std::string(from);
}

struct Upload {
  std::string_view data;
  std::size_t offset = 0;
};

std::size_t ReadCallback(char* buffer, std::size_t size, std::size_t nitems, void* user) {
  auto* up = static_cast<Upload*>(user);
  const std::size_t n = std::min(size * nitems, up->data.size() - up->offset);
  std::memcpy(buffer, up->data.data() + up->offset, n);
  up->offset += n;
  return n;
}

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

}  // namespace

std::string UrlWithoutCredentials(std::string_view url) {
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  const std::size_t start = scheme + 3;
  const std::string_view authority = url.substr(start, url.find('/', start) - start);
  const auto at = authority.rfind('@');  // the last one: a password may hold an unescaped '@'
  if (at == std::string_view::npos) return std::string(url);
  return std::string(url.substr(0, start)) + std::string(url.substr(start + at + 1));
}

EmlMailer::EmlMailer(std::filesystem::path directory, std::string from, const Clock& clock)
    : directory_(std::move(directory)), from_(std::move(from)), clock_(clock) {}

Status EmlMailer::Send(const MailMessage& mail, const std::string& message_id) {
  std::error_code ec;
  std::filesystem::create_directories(directory_, ec);
  const std::string text = RenderRfc5322(mail, from_, clock_.Now(), message_id);
  const std::filesystem::path final_path = directory_ / (message_id + ".eml");
  const std::filesystem::path tmp = directory_ / (message_id + ".eml.tmp");
  // Written then renamed, so a reader never sees half a mail. 0600: the file carries a link.
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return MakeError(Errc::kUnavailable, "cannot write " + tmp.string());
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) {
      ::close(fd);
      return MakeError(Errc::kUnavailable, "cannot write " + tmp.string());
    }
    done += static_cast<std::size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  std::filesystem::rename(tmp, final_path, ec);
  if (ec) return MakeError(Errc::kUnavailable, "cannot rename " + tmp.string());
  // Never the link: it carries a single-use token (ASVS 7.1.1). The file has it, mode 0600.
  spdlog::info("mail: \"{}\" to {} written to {}", mail.subject, mail.to, final_path.string());
  return Ok();
}

SmtpMailer::SmtpMailer(SmtpOptions options, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {
  static CurlGlobal global;
}

Status SmtpMailer::Send(const MailMessage& mail, const std::string& message_id) {
  const std::string text = RenderRfc5322(mail, options_.from, clock_.Now(), message_id);
  CURL* curl = curl_easy_init();
  if (!curl) return MakeError(Errc::kUnavailable, "curl_easy_init failed");
  Upload upload{text};
  const std::string from = "<" + Address(options_.from) + ">";
  const std::string to = "<" + mail.to + ">";
  curl_slist* rcpt = curl_slist_append(nullptr, to.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, options_.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadCallback);
  curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  if (options_.starttls) curl_easy_setopt(curl, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  if (!options_.username.empty()) {
    curl_easy_setopt(curl, CURLOPT_USERNAME, options_.username.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, options_.password.c_str());
  }
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  const CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(rcpt);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    return MakeError(Errc::kUnavailable, std::string("smtp: ") + curl_easy_strerror(rc) +
                                             (error[0] ? std::string(": ") + error : ""));
  }
  spdlog::info("mail: \"{}\" to {} handed to {}", mail.subject, mail.to,
               UrlWithoutCredentials(options_.url));
  return Ok();
}

MailWorker::MailWorker(MailOutbox& outbox, const FieldCipher& cipher, Mailer& mailer,
                       const Clock& clock, Resolver resolve, MailWorkerOptions options)
    : outbox_(outbox),
      cipher_(cipher),
      mailer_(mailer),
      clock_(clock),
      options_(options),
      resolve_(std::move(resolve)) {}

MailWorker::~MailWorker() {
  Stop();
}

void MailWorker::Start() {
  thread_ = std::thread([this] {
    NameThisThread("mail");
    Run();
  });
}

void MailWorker::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void MailWorker::Notify() {
  {
    std::lock_guard lock(mu_);
    notified_ = true;
  }
  cv_.notify_all();
}

int MailWorker::RunOnce() {
  return async::RunToCompletion(Pass());
}

boost::asio::awaitable<int> MailWorker::Pass() {
  const int resolved = co_await resolve_();
  (void)resolved;
  int sent = 0;
  const TimePoint now = clock_.Now();
  auto claimed = co_await outbox_.Claim(now, now + options_.lease, options_.batch);
  if (!claimed.ok()) {
    spdlog::warn("mail: could not claim due mail: {}", claimed.error().message);
    co_return 0;
  }
  for (OutboxMail& row : *claimed) {
    const std::string message_id =
        "m" + std::to_string(row.id) + "-" + std::to_string(ToUnixMillis(now));
    auto plain = cipher_.Open(row.sealed, "mail");
    MailMessage mail;
    if (!plain || !DecodeMail(*plain, mail)) {
      // Unreadable with this key: retrying cannot help and would block nothing else, so drop it
      // loudly (the member can ask for a new link).
      spdlog::error("mail: outbox row {} cannot be opened with the current data key; dropped",
                    row.id);
      Status dropped = co_await outbox_.Complete(std::move(row));
      (void)dropped;  // still queued: it is dropped again on its next claim
      continue;
    }
    const Status st = mailer_.Send(mail, message_id);
    if (st.ok()) {
      const std::int64_t id = row.id;
      Status done = co_await outbox_.Complete(std::move(row));
      // Not recorded: the row is claimed again when its lease ends and sent once more (at least
      // once).
      if (!done.ok()) spdlog::warn("mail: outbox row {} sent but not completed", id);
      ++sent;
      sent_.fetch_add(1);
      continue;
    }
    failures_.fetch_add(1);
    const int shift = std::min(row.attempts, 16);
    const auto delay = std::min<std::chrono::seconds>(options_.backoff_initial * (1LL << shift),
                                                      options_.backoff_max);
    spdlog::warn("mail: delivery of outbox row {} failed (attempt {}): {}; retry in {} s", row.id,
                 row.attempts + 1, st.error().message, delay.count());
    Status rescheduled =
        co_await outbox_.Reschedule(std::move(row), now + delay, st.error().message);
    (void)rescheduled;  // lost the claim or overloaded: the lease ends and the row is due again
  }
  co_return sent;
}

void MailWorker::Run() {
  for (;;) {
    try {
      while (RunOnce() > 0) {
      }
    } catch (const std::exception& e) {
      spdlog::error("mail worker: {}", e.what());
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, options_.poll_interval, [this] { return stopping_ || notified_; });
    if (stopping_) return;
    notified_ = false;
  }
}

}  // namespace rocketmart::members
