// The mail adapters against real components: SmtpMailer and the outbox worker against a real
// SMTP server (python3-aiosmtpd on loopback, started and stopped by the test), and the .eml
// writer against the file system. The SMTP-down case starts the server late.
#include "services/members/domain/mail.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <barrier>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "infra/storage/migrations.hpp"
#include "services/members/adapters/mailers.hpp"
#include "services/members/adapters/sodium_crypto.hpp"
#include "services/members/adapters/sqlite_member_repository.hpp"
#include "support/smtp_server.hpp"
#include "support/temp_dir.hpp"

namespace rocketmart::members {
namespace {

using rocketmart::testing::FindLink;
using rocketmart::testing::PlainTextPart;
using rocketmart::testing::SmtpServer;

constexpr std::string_view kSecret = "0123456789abcdef0123456789abcdef-mail-test";

// These tests have no mail requests to resolve.
boost::asio::awaitable<int> NoRequests() {
  co_return 0;
}

SmtpOptions Options(const SmtpServer& server) {
  SmtpOptions o;
  o.url = server.Url();
  o.connect_timeout = std::chrono::milliseconds(2000);
  o.timeout = std::chrono::milliseconds(5000);
  return o;
}

TEST(SmtpMailer, DeliversMultipartMailWhoseLinkCanBeFollowed) {
  SmtpServer server;
  FakeClock clock;
  SmtpMailer mailer(Options(server), clock);
  const std::string link = "https://shop.example/member/verify?token=" + std::string(64, 'a');
  ASSERT_TRUE(mailer.Send(VerificationMail("ann@example.com", "Ann <b>", link, 24), "m1-1").ok());
  auto messages = server.WaitForMessages(1);
  ASSERT_EQ(messages.size(), 1u);
  const std::string& raw = messages[0];
  EXPECT_NE(raw.find("To: ann@example.com"), std::string::npos);
  EXPECT_NE(raw.find("Subject: Verify your Rocket Mart email address"), std::string::npos);
  EXPECT_NE(raw.find("multipart/alternative"), std::string::npos);
  EXPECT_NE(raw.find("Content-Type: text/html"), std::string::npos);
  EXPECT_EQ(FindLink(PlainTextPart(raw), "/member/verify?token="), link);
  EXPECT_NE(PlainTextPart(raw).find("Hello Ann <b>"), std::string::npos);
}

TEST(SmtpMailer, ReportsAnUnreachableServerAsUnavailable) {
  SmtpServer server(/*start=*/false);
  FakeClock clock;
  SmtpMailer mailer(Options(server), clock);
  auto st = mailer.Send(ResetMail("a@example.com", "https://x.example/r?token=1", 30), "m2");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::kUnavailable);
}

// A migrated members.db with its writer running, reader connections and the mail outbox on them.
struct MailOutboxDb {
  MailOutboxDb() : writer(Open()), readers(ReadOnly()), outbox(writer, readers) {
    storage::Migrate(writer.Connection(), MembersMigrations());
    writer.Start();
  }
  ~MailOutboxDb() { writer.Stop(); }

  storage::OpenOptions Open() const {
    storage::OpenOptions open;
    open.path = dir.File("members.db");
    return open;
  }
  storage::OpenOptions ReadOnly() const {
    storage::OpenOptions open = Open();
    open.read_only = true;
    return open;
  }

  rocketmart::testing::TempDir dir{"mail"};
  storage::GroupCommitWriter writer;
  storage::ReadConnections readers;
  SqliteMailOutbox outbox;
};

// Queues a sealed mail the way the repository does (in a writer transaction), due at `now`.
void QueueSealedMail(storage::GroupCommitWriter& writer, const std::string& sealed, TimePoint now) {
  writer.RunSync([&](storage::Database& db) {
    auto stmt = db.Prepare(
        "INSERT INTO mail_outbox (sealed, next_attempt_at_ms, created_at_ms) VALUES (?, ?, ?)");
    stmt.BindBlob(1, {reinterpret_cast<const std::byte*>(sealed.data()), sealed.size()})
        .BindInt64(2, ToUnixMillis(now))
        .BindInt64(3, ToUnixMillis(now));
    stmt.Step();
  });
}

TEST(MailWorker, QueuedMailIsDeliveredOnceTheSmtpServerComesUp) {
  MailOutboxDb db;
  storage::GroupCommitWriter& writer = db.writer;
  SqliteMailOutbox& outbox = db.outbox;
  SodiumFieldCipher cipher(kSecret);
  FakeClock clock;
  SmtpServer server(/*start=*/false);
  SmtpMailer mailer(Options(server), clock);
  MailWorker worker(outbox, cipher, mailer, clock, NoRequests);

  // Queue a mail the way the repository does (sealed, in a writer transaction).
  const std::string link =
      "https://shop.example/member/reset-password?token=" + std::string(64, 'b');
  const std::string sealed = cipher.Seal(EncodeMail(ResetMail("bo@example.com", link, 30)), "mail");
  QueueSealedMail(writer, sealed, clock.Now());

  EXPECT_EQ(worker.RunOnce(), 0);  // server down
  EXPECT_EQ(outbox.Pending(), 1);  // not lost
  clock.Advance(std::chrono::seconds{5});
  EXPECT_EQ(worker.RunOnce(), 0);  // still down; backoff doubles
  server.Start();
  clock.Advance(std::chrono::seconds{5});
  EXPECT_EQ(worker.RunOnce(), 0);  // up, but the retry is not due yet (10 s)
  clock.Advance(std::chrono::seconds{5});
  EXPECT_EQ(worker.RunOnce(), 1);
  EXPECT_EQ(outbox.Pending(), 0);
  auto messages = server.WaitForMessages(1);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(FindLink(PlainTextPart(messages[0]), "reset-password"), link);
  EXPECT_EQ(worker.RunOnce(), 0);  // delivered exactly once
}

// The worker wakes on every commit of the members database; if looking for due mail committed,
// an idle server would spin one core forever (it did).
TEST(MailWorker, LookingForDueMailCommitsNothing) {
  MailOutboxDb db;
  storage::GroupCommitWriter& writer = db.writer;
  SqliteMailOutbox& outbox = db.outbox;
  SodiumFieldCipher cipher(kSecret);
  FakeClock clock;
  EmlMailer mailer(db.dir.path() / "mail", "Rocket Mart <no-reply@rocketmart.local>", clock);
  MailWorker worker(outbox, cipher, mailer, clock, NoRequests);

  const std::uint64_t before = writer.BatchesCommitted();
  EXPECT_EQ(worker.RunOnce(), 0);
  EXPECT_EQ(outbox.Pending(), 0);
  EXPECT_EQ(writer.BatchesCommitted(), before);
}

// A mailer that records what it was given, from any thread.
class RecordingMailer final : public Mailer {
 public:
  Status Send(const MailMessage& mail, const std::string&) override {
    std::lock_guard lock(mu);
    sent.push_back(mail.to);
    return Ok();
  }
  std::mutex mu;
  std::vector<std::string> sent;
};

// Two instances over one members.db (each its own writer, readers and worker, as two processes
// would have), their workers running at once: every queued mail goes out exactly once.
TEST(MailWorker, TwoWorkersOverOneDatabaseSendEachMailOnce) {
  constexpr int kMails = 40;
  MailOutboxDb first;
  storage::OpenOptions open = first.Open();
  storage::GroupCommitWriter second_writer(open);
  open.read_only = true;
  storage::ReadConnections second_readers(open);
  SqliteMailOutbox second_outbox(second_writer, second_readers);
  second_writer.Start();
  SodiumFieldCipher cipher(kSecret);
  FakeClock clock;
  std::vector<std::string> want;
  for (int i = 0; i < kMails; ++i) {
    const std::string to = std::to_string(i) + "m@example.com";
    want.push_back(to);
    const std::string sealed = cipher.Seal(
        EncodeMail(ResetMail(to, "https://shop.example/member/reset-password?token=x", 30)),
        "mail");
    QueueSealedMail(first.writer, sealed, clock.Now());
  }
  RecordingMailer mailer_a;
  RecordingMailer mailer_b;
  MailWorkerOptions small_batches;
  small_batches.batch = 3;
  MailWorker a(first.outbox, cipher, mailer_a, clock, NoRequests, small_batches);
  MailWorker b(second_outbox, cipher, mailer_b, clock, NoRequests, small_batches);
  std::barrier start(2);
  auto drain = [&start](MailWorker& worker) {
    start.arrive_and_wait();
    while (worker.RunOnce() > 0) {
    }
  };
  std::thread ta(drain, std::ref(a));
  std::thread tb(drain, std::ref(b));
  ta.join();
  tb.join();
  second_writer.Stop();
  std::vector<std::string> got = mailer_a.sent;
  got.insert(got.end(), mailer_b.sent.begin(), mailer_b.sent.end());
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  EXPECT_EQ(first.outbox.Pending(), 0);
}

TEST(EmlMailer, WritesAReadableMessageFile) {
  rocketmart::testing::TempDir dir{"mail"};
  FakeClock clock;
  EmlMailer mailer(dir.path() / "mail", "Rocket Mart <no-reply@rocketmart.local>", clock);
  const std::string link = "https://shop.example/member/verify?token=" + std::string(64, 'c');
  ASSERT_TRUE(mailer.Send(VerificationMail("cy@example.com", "Cy", link, 24), "m7-1").ok());
  std::ifstream in(dir.path() / "mail" / "m7-1.eml", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_NE(ss.str().find("From: Rocket Mart <no-reply@rocketmart.local>\r\n"), std::string::npos);
  EXPECT_EQ(FindLink(PlainTextPart(ss.str()), "verify"), link);
}

TEST(SmtpMailer, LogsItsUrlWithoutCredentials) {
  EXPECT_EQ(UrlWithoutCredentials("smtp://user:pa55@mail.example:587"), "smtp://mail.example:587");
  EXPECT_EQ(UrlWithoutCredentials("smtps://u:p@ss@mail.example/x@y"), "smtps://mail.example/x@y");
  EXPECT_EQ(UrlWithoutCredentials("smtp://127.0.0.1:25"), "smtp://127.0.0.1:25");
  EXPECT_EQ(UrlWithoutCredentials("smtp://h/a@b"), "smtp://h/a@b");
}

TEST(MailTemplates, HtmlPartEscapesNames) {
  const MailMessage m = VerificationMail("a@b.com", "<script>x</script>", "https://x/?a=1&b=2", 24);
  EXPECT_EQ(m.html.find("<script>"), std::string::npos);
  EXPECT_NE(m.html.find("&lt;script&gt;"), std::string::npos);
  EXPECT_NE(m.html.find("https://x/?a=1&amp;b=2"), std::string::npos);
  MailMessage decoded;
  ASSERT_TRUE(DecodeMail(EncodeMail(m), decoded));
  EXPECT_EQ(decoded.html, m.html);
}

}  // namespace
}  // namespace rocketmart::members
