#include "services/members/module.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "auth/secret.hpp"
#include "infra/async/run.hpp"
#include "infra/storage/write_probe.hpp"
#include "services/members/adapters/http_routes.hpp"
#include "services/members/adapters/in_memory_throttle_store.hpp"
#include "services/members/adapters/mailers.hpp"
#include "services/members/adapters/postgres/postgres_member_store.hpp"
#include "services/members/adapters/redis/redis_throttle_store.hpp"
#include "services/members/adapters/sodium_crypto.hpp"
#include "services/members/adapters/sqlite_member_repository.hpp"

namespace rocketmart::members {

MembersModule::Stores MembersModule::OpenStores(const config::Config& config, const Clock& clock,
                                                metrics::Registry& metrics,
                                                module::SharedRedis* redis) {
  Stores stores;
  stores.db = module::OpenDatabase("members", config.members.database, config.storage,
                                   MembersMigrations(), MigratePostgresMembers, metrics);
  std::string data_key = config.members.data_key;
  if (data_key.empty()) {
    auto loaded = auth::LoadOrCreateSecret(std::filesystem::path(config.storage.data_dir) /
                                           "secrets" / "members.key");
    if (!loaded.ok()) throw std::runtime_error("members data key: " + loaded.error().message);
    data_key = std::move(*loaded);
  }
  auto cipher = std::make_unique<SodiumFieldCipher>(data_key);
  spdlog::info("members: personal data sealed with {}", cipher->algorithm());
  stores.cipher = std::move(cipher);
  if (module::PostgresDatabase* pg = stores.db.postgres.get()) {
    stores.members = std::make_unique<PostgresMemberRepository>(pg->pool());
    stores.mail_outbox = std::make_unique<PostgresMailOutbox>(pg->pool());
  } else {
    storage::ServiceDatabase& db = *stores.db.sqlite;
    stores.members = std::make_unique<SqliteMemberRepository>(*db.writer, *db.readers);
    stores.mail_outbox = std::make_unique<SqliteMailOutbox>(*db.writer, *db.readers);
  }
  if (config.mail.transport == "smtp") {
    SmtpOptions smtp;
    smtp.url = config.mail.smtp_url;
    smtp.starttls = config.mail.smtp_starttls;
    smtp.username = config.mail.smtp_username;
    smtp.password = config.mail.smtp_password;
    smtp.from = config.mail.from;
    smtp.timeout = std::chrono::milliseconds(config.mail.smtp_timeout_ms);
    stores.mailer = std::make_unique<SmtpMailer>(std::move(smtp), clock);
  } else {
    stores.mail_dir = std::filesystem::path(config.storage.data_dir) / "mail";
    if (const std::string why = storage::ProbeWritableDirectory(*stores.mail_dir); !why.empty()) {
      throw std::runtime_error("mail directory: " + why);
    }
    stores.mailer = std::make_unique<EmlMailer>(*stores.mail_dir, config.mail.from, clock);
  }
  // Login, signup and mail throttles: in memory embedded; in the process's Redis, shared by every
  // members instance, when there is one.
  if (redis != nullptr) {
    stores.throttles = std::make_unique<RedisThrottleStore>(redis->client(), redis->prefix());
  } else {
    stores.throttles = std::make_unique<InMemoryThrottleStore>();
  }
  return stores;
}

MembersModule::MembersModule(const config::Config& config, const Clock& clock,
                             metrics::Registry& metrics, Stores stores, Clients clients,
                             auth::Keyring keyring, std::string public_base_url)
    : stores_(std::move(stores)), keyring_(std::move(keyring)) {
  HasherOptions hasher_options;
  hasher_options.threads = config.members.hash_threads;
  hasher_options.max_queue = static_cast<std::size_t>(config.members.hash_queue);
  hasher_ = std::make_unique<SodiumPasswordHasher>(hasher_options);

  MembersOptions options;
  options.public_base_url = std::move(public_base_url);
  options.verify_ttl = std::chrono::seconds(config.members.verify_ttl_s);
  options.reset_ttl = std::chrono::seconds(config.members.reset_ttl_s);
  options.access_ttl = std::chrono::seconds(config.auth.access_ttl_s);
  options.refresh_ttl = std::chrono::seconds(config.auth.refresh_ttl_s);
  options.issuer = config.auth.issuer;
  options.audience = config.auth.audience;
  options.signups_per_ip_per_hour = config.members.signups_per_ip_per_hour;
  options.mails_per_ip_per_hour = config.members.mails_per_ip_per_hour;
  members_ = std::make_unique<MembersService>(MembersPorts{.repository = *stores_.members,
                                                           .hasher = *hasher_,
                                                           .cipher = *stores_.cipher,
                                                           .revoker = clients.revoker,
                                                           .throttles = *stores_.throttles,
                                                           .orders = clients.orders,
                                                           .wishlist = clients.wishlist,
                                                           .likes = clients.likes},
                                              keyring_, clock, std::move(options));

  // Resend-verification and find-password only record the address; the mail worker looks it up,
  // so their answer time says nothing about the account. A claimed batch is held for longer than
  // sending it can take.
  MailWorkerOptions worker_options;
  worker_options.lease =
      std::chrono::seconds(60) +
      std::chrono::ceil<std::chrono::seconds>(std::chrono::milliseconds(
          static_cast<std::int64_t>(worker_options.batch) * config.mail.smtp_timeout_ms));
  MembersService* service = members_.get();
  mail_worker_ = std::make_unique<MailWorker>(
      *stores_.mail_outbox, *stores_.cipher, *stores_.mailer, clock,
      [service] { return service->ResolveMailRequests(); }, worker_options);
  MailWorker* worker = mail_worker_.get();
  // On SQLite each commit wakes the worker; on PostgreSQL (no commit notification to this
  // process) it finds new mail at its poll interval.
  if (stores_.db.sqlite)
    stores_.db.sqlite->writer->AddCommitListener([worker] { worker->Notify(); });

  metrics.AddCounterFn("mail_sent_total", "Mails the transport took", "",
                       [worker] { return worker->sent(); });
  metrics.AddCounterFn("mail_send_failures_total",
                       "Mail submissions that failed and will be retried", "",
                       [worker] { return worker->failures(); });
  metrics.AddCounterFn("members_login_failures_total", "Logins refused", "reason=\"credentials\"",
                       [service] { return service->LoginFailures(); });
  metrics.AddCounterFn("members_login_failures_total", "Logins refused", "reason=\"throttled\"",
                       [service] { return service->LoginsThrottled(); });
  metrics.AddCounterFn("members_revocations_unpublished_total",
                       "Revocations committed that the token deny-list did not take at once "
                       "(replayed from members.db until it does)",
                       "", [service] { return service->RevocationsUnpublished(); });
}

MembersModule::~MembersModule() = default;

void MembersModule::Load() {
  if (auto loaded = async::RunToCompletion(members_->Load()); !loaded.ok()) {
    throw std::runtime_error("members: the token deny-list did not take the revocations: " +
                             loaded.error().message);
  }
}

void MembersModule::StartWorkers() {
  mail_worker_->Start();
}

void MembersModule::StopWorkers() {
  // The mail worker writes through the members writer: it stops before the writer does.
  mail_worker_->Stop();
}

void MembersModule::RegisterRoutes(http::Router& router) {
  members::RegisterRoutes(router, *members_);
}

std::vector<module::PeriodicTask> MembersModule::PeriodicTasks() {
  // A revocation the deny-list did not take (the request answered 503) is replayed from
  // members.db until it does.
  MembersService* service = members_.get();
  return {{.name = "revocation-republish",
           .every = std::chrono::seconds(5),
           .run = [service]() -> boost::asio::awaitable<void> {
             const bool replayed = co_await service->RepublishRevocations();
             (void)replayed;
           }}};
}

boost::asio::awaitable<std::vector<module::StoreHealth>> MembersModule::CheckStores() {
  std::vector<module::Database*> databases = Databases();
  std::vector<module::StoreHealth> stores = co_await module::CheckDatabases(std::move(databases));
  // The mail directory (file transport) is probed each time: one small file, no fsync.
  if (stores_.mail_dir) {
    stores.push_back({"mail", storage::ProbeWritableDirectory(*stores_.mail_dir).empty()});
  }
  co_return stores;
}

}  // namespace rocketmart::members
