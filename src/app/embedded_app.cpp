#include "app/embedded_app.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "app/checkout_maintenance.hpp"
#include "app/demo_seed.hpp"
#include "app/in_process_clients.hpp"
#include "app/keys.hpp"
#include "app/ops_gauges.hpp"
#include "app/ops_routes.hpp"
#include "app/periodic_tasks.hpp"
#include "app/storefront_parts.hpp"
#include "auth/secret.hpp"
#include "infra/async/run.hpp"
#include "infra/async/write.hpp"
#include "infra/events/sqlite_outbox/outbox.hpp"
#include "infra/events/sqlite_outbox/sqlite_event_bus.hpp"
#include "infra/http/server.hpp"
#include "infra/lock/file_lock.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/migrations.hpp"
#include "infra/storage/read_connections.hpp"
#include "infra/storage/write_probe.hpp"
#include "services/catalog/adapters/cart_checkout.hpp"
#include "services/catalog/adapters/http_routes.hpp"
#include "services/catalog/adapters/sqlite_product_repository.hpp"
#include "services/catalog/adapters/sqlite_shopping_repository.hpp"
#include "services/catalog/api/events.hpp"
#include "services/catalog/catalog_service.hpp"
#include "services/catalog/shopping_service.hpp"
#include "services/checkout/adapters/catalog_subscriber.hpp"
#include "services/checkout/adapters/embedded_checkout_ports.hpp"
#include "services/checkout/adapters/http_routes.hpp"
#include "services/checkout/adapters/order_events_subscriber.hpp"
#include "services/checkout/adapters/simulated_payment_provider.hpp"
#include "services/checkout/api/events.hpp"
#include "services/checkout/checkout_service.hpp"
#include "services/gateway/adapters/in_memory_token_denylist.hpp"
#include "services/gateway/jwt_authenticator.hpp"
#include "services/members/adapters/http_routes.hpp"
#include "services/members/adapters/in_memory_throttle_store.hpp"
#include "services/members/adapters/mailers.hpp"
#include "services/members/adapters/sodium_crypto.hpp"
#include "services/members/adapters/sqlite_member_repository.hpp"
#include "services/members/members_service.hpp"
#include "services/orders/adapters/http_routes.hpp"
#include "services/orders/adapters/order_paid_subscriber.hpp"
#include "services/orders/adapters/sqlite_order_store.hpp"
#include "services/orders/api/events.hpp"
#include "services/orders/orders_service.hpp"

namespace rocketmart::app {
namespace {

// One service's database: its single writer and its readers. The event bus reads its outbox and
// keeps its subscriptions' positions in it.
struct ServiceDatabase {
  ServiceDatabase(const std::string& name, const config::Config& config,
                  std::span<const storage::Migration> migrations, metrics::Registry& metrics,
                  std::optional<storage::Synchronous> synchronous = std::nullopt)
      : name(name) {
    storage::OpenOptions open;
    open.path = (std::filesystem::path(config.storage.data_dir) / (name + ".db")).string();
    open.synchronous = config.storage.synchronous == "normal" ? storage::Synchronous::kNormal
                                                              : storage::Synchronous::kFull;
    if (synchronous) open.synchronous = *synchronous;
    const auto checkpoint_pages = static_cast<std::size_t>(config.storage.checkpoint_pages);
    try {
      writer = std::make_unique<storage::GroupCommitWriter>(
          open,
          storage::GroupCommitWriter::Options{
              .max_batch = static_cast<std::size_t>(config.storage.writer_max_batch),
              .max_queue = static_cast<std::size_t>(config.storage.writer_queue),
              .checkpoint = storage::WalCheckpointerOptions{
                  .background_pages = checkpoint_pages, .inline_pages = 16 * checkpoint_pages}});
      // SQLite opens a file it may not write read-only, and reads keep working: only a real
      // committed write proves the store can take a purchase.
      storage::ProbeWrite(writer->Connection());
    } catch (const storage::SqliteError& e) {
      throw std::runtime_error("store " + name + " cannot write " + open.path + " (" + e.what() +
                               "); check the data directory's owner, permissions and free space");
    }
    storage::Migrate(writer->Connection(), migrations);
    open.read_only = true;
    readers = std::make_unique<storage::ReadConnections>(open);
    const std::string labels = "db=\"" + name + "\"";
    storage::GroupCommitWriter* w = writer.get();
    metrics.AddGauge("db_writer_queue_depth", "Write jobs waiting for the writer", labels,
                     [w] { return static_cast<double>(w->QueueDepth()); });
    metrics.AddCounterFn("db_writer_batches_total", "Transactions committed by the writer", labels,
                         [w] { return w->BatchesCommitted(); });
    metrics.AddCounterFn("db_writer_jobs_total", "Write jobs committed", labels,
                         [w] { return w->JobsCommitted(); });
    metrics.AddCounterFn("db_writer_failures_total",
                         "Write transactions that failed to commit (read-only or full disk, I/O)",
                         labels, [w] { return w->CommitFailures(); });
    metrics.AddCounterFn("db_wal_checkpoints_total",
                         "Write-ahead log checkpoints by the background thread", labels,
                         [w] { return w->BackgroundCheckpoints(); });
    metrics.AddCounterFn("db_wal_inline_checkpoints_total",
                         "Checkpoints the writer ran itself because the log passed its limit",
                         labels, [w] { return w->InlineCheckpoints(); });
    metrics.AddCounterFn("db_wal_truncations_total",
                         "Times the log file was cut back to zero bytes once writes came to rest",
                         labels, [w] { return w->LogTruncations(); });
  }

  std::string name;
  std::unique_ptr<storage::GroupCommitWriter> writer;
  std::unique_ptr<storage::ReadConnections> readers;
};

// The event bus's figures for the events `source` publishes, as metrics labelled with its database.
void RegisterEventMetrics(metrics::Registry& metrics, const events::EventBus& bus,
                          const std::string& source) {
  const std::string labels = "db=\"" + source + "\"";
  const events::EventBus* b = &bus;
  metrics.AddCounterFn("outbox_events_delivered_total", "Events handed to subscribers", labels,
                       [b, source] { return b->Stats(source).delivered; });
  metrics.AddCounterFn("outbox_delivery_failures_total",
                       "Deliveries that failed and will be retried", labels,
                       [b, source] { return b->Stats(source).failures; });
  metrics.AddCounterFn("outbox_dead_letters_total",
                       "Events set aside as malformed (kept in the consumer's event_dead_letters)",
                       labels, [b, source] { return b->Stats(source).dead_letters; });
  metrics.AddGauge("outbox_backlog_events",
                   "Events appended that the slowest subscriber has not passed yet", labels,
                   [b, source] { return static_cast<double>(b->Stats(source).backlog); });
}

// The data directory belongs to one process at a time: two servers on one directory would each
// trust their in-memory view (stock counters, caches) of databases the other changes. flock on
// <data_dir>/rocketmart.lock, held for the process lifetime and released by the kernel even on
// SIGKILL. (`rocketmart admin create` writes one member row through SQLite's own locking while a
// server runs, and the read-only tools do not write: neither takes this lock.)
lock::FileLock LockDataDirectory(const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_directory(dir, ec)) {
    throw std::runtime_error("data directory " + dir + " is not a directory");
  }
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create data directory " + dir + ": " + ec.message());
  const auto path = std::filesystem::path(dir) / "rocketmart.lock";
  std::optional<lock::FileLock> held;
  try {
    held = lock::FileLock::TryAcquire(path);
  } catch (const std::system_error& e) {
    throw std::runtime_error("cannot lock data directory " + dir + ": " + e.code().message());
  }
  if (!held) {
    const std::string holder = lock::FileLock::ReadNote(path);
    throw std::runtime_error("data directory " + dir + " is in use by another rocketmart" +
                             (holder.empty() ? std::string() : " (" + holder + ")") +
                             "; stop it or choose another --data-dir");
  }
  held->SetNote("pid " + std::to_string(::getpid()));
  return std::move(*held);
}

// Binds `server` so that two processes starting at the same moment on one port cannot both pass
// its in-use check and then both bind with SO_REUSEPORT: the check and the binds run under an
// flock keyed by the port number (not host:port, since 0.0.0.0:N and 127.0.0.1:N collide too),
// in /run/lock (or the temporary directory), held for the milliseconds binding takes.
void BindExclusively(http::Server& server, int port) {
  if (port == 0) {
    server.Bind();  // The kernel picks a port nobody uses; no one else can ask for it yet.
    return;
  }
  std::error_code ec;
  const std::filesystem::path run_lock = "/run/lock";
  const auto dir = std::filesystem::is_directory(run_lock, ec)
                       ? run_lock
                       : std::filesystem::temp_directory_path(ec);
  std::optional<lock::FileLock> bind_lock;
  try {
    bind_lock = lock::FileLock::Acquire(dir / ("rocketmart-port-" + std::to_string(port) + ".lock"),
                                        std::chrono::seconds(5));
  } catch (const std::system_error&) {
    // No shared lock file here (read-only or foreign): the in-use check alone still holds.
  }
  server.Bind();
}

// The admin listener never authenticates members: /metrics checks its own operator token.
class NoMemberIdentities final : public http::Authenticator {
 public:
  Result<auth::Identity> Authenticate(std::string_view) const override {
    return MakeError(Errc::kUnauthenticated, "no member tokens here");
  }
};

// members.public_base_url when it is not configured: this server's own address, with `localhost`
// for a wildcard host (a link needs a name a browser can open) and the port actually bound.
std::string DefaultPublicBaseUrl(const std::string& host, std::uint16_t port) {
  std::string name = host;
  if (name == "0.0.0.0" || name == "::" || name == "[::]") {
    name = "localhost";
  } else if (name.find(':') != std::string::npos && name.front() != '[') {
    name = "[" + name + "]";  // an IPv6 literal
  }
  return "http://" + name + ":" + std::to_string(port);
}

http::ServerOptions ServerOptionsFrom(const config::Config& c) {
  http::ServerOptions o;
  o.host = c.server.host;
  o.port = static_cast<std::uint16_t>(c.server.port);
  o.threads = c.server.threads;
  o.max_connections = static_cast<std::size_t>(c.server.max_connections);
  o.max_body_bytes = static_cast<std::size_t>(c.server.max_body_bytes);
  o.max_header_bytes = static_cast<std::size_t>(c.server.max_header_bytes);
  o.header_timeout = std::chrono::milliseconds(c.server.header_timeout_ms);
  o.idle_timeout = std::chrono::milliseconds(c.server.idle_timeout_ms);
  o.request_timeout = std::chrono::milliseconds(c.server.request_timeout_ms);
  o.shutdown_grace = std::chrono::milliseconds(c.server.shutdown_grace_ms);
  o.access_log = c.log.access_log;
  // Validated with the configuration; the parse cannot fail here.
  auto trusted = http::TrustedProxies::Parse(c.server.trusted_proxies);
  if (!trusted.ok()) throw std::runtime_error("server.trusted_proxies: " + trusted.error().message);
  o.trusted_proxies = std::move(*trusted);
  return o;
}

}  // namespace

// Members tell the gateway which access tokens are void (embedded binding of TokenRevoker to the
// gateway's deny-list; distributed, members publish to the shared deny-list store instead).
class GatewayRevoker final : public members::TokenRevoker {
 public:
  explicit GatewayRevoker(gateway::TokenDenials& denials) : denials_(denials) {}
  boost::asio::awaitable<Status> DenyToken(std::int64_t member_id, std::string token_id,
                                           TimePoint expires_at) override {
    co_return co_await denials_.DenyToken(member_id, std::move(token_id), expires_at);
  }
  boost::asio::awaitable<Status> DenyFamily(std::int64_t member_id, std::string family_id,
                                            TimePoint expires_at) override {
    co_return co_await denials_.DenyFamily(member_id, std::move(family_id), expires_at);
  }
  boost::asio::awaitable<Status> InvalidateBefore(std::int64_t member_id,
                                                  TimePoint valid_after) override {
    co_return co_await denials_.InvalidateBefore(member_id, valid_after);
  }

 private:
  gateway::TokenDenials& denials_;
};

// The operator's per-sale summary reads checkout's figures in-process (embedded binding).
class CheckoutSaleFigures final : public orders::SaleFiguresSource {
 public:
  explicit CheckoutSaleFigures(checkout::CheckoutService& checkout) : checkout_(checkout) {}
  boost::asio::awaitable<Result<std::optional<orders::SaleFigures>>> Figures(
      std::int64_t product_id) override {
    auto read = co_await checkout_.SaleFigures(product_id);
    if (!read.ok()) co_return read.error();
    std::optional<orders::SaleFigures> out;
    if (const auto& f = *read) {
      out = orders::SaleFigures{f->available,      f->held,    f->sold,
                                f->refunded_units, f->revenue, f->refunded_amount};
    }
    co_return out;
  }

 private:
  checkout::CheckoutService& checkout_;
};

// My page's order list: an in-process call to the orders service (embedded binding).
class InProcessOrdersClient final : public members::OrdersClient {
 public:
  explicit InProcessOrdersClient(orders::OrdersService& orders) : orders_(orders) {}
  boost::asio::awaitable<Result<std::vector<members::OrderSummary>>> RecentOrders(
      std::int64_t member_id, std::size_t limit) override {
    auto page = co_await orders_.ListForMember(member_id, 0, limit);
    if (!page.ok()) co_return page.error();
    std::vector<members::OrderSummary> out;
    for (const auto& o : page->items) {
      out.push_back({o.id, std::string(orders::OrderStatusName(o.status)), o.total, o.created_at});
    }
    co_return out;
  }

 private:
  orders::OrdersService& orders_;
};

// My page's wishlist: an in-process call to the catalog's shopping service (embedded binding).
class InProcessWishlistClient final : public members::WishlistClient {
 public:
  explicit InProcessWishlistClient(const catalog::ShoppingService& shopping)
      : shopping_(shopping) {}
  boost::asio::awaitable<Result<std::vector<members::WishlistEntry>>> Wishlist(
      std::int64_t member_id, std::size_t limit) override {
    auto wishlist = co_await shopping_.Wishlist(member_id);
    if (!wishlist.ok()) co_return wishlist.error();
    std::vector<members::WishlistEntry> out;
    for (const auto& line : wishlist->items) {
      if (out.size() >= limit) break;
      out.push_back({line.product_id, line.quantity});
    }
    co_return out;
  }

 private:
  const catalog::ShoppingService& shopping_;
};

// My page reads the member's likes from the catalog (embedded binding of LikesClient).
class InProcessLikesClient final : public members::LikesClient {
 public:
  explicit InProcessLikesClient(const catalog::CatalogService& catalog) : catalog_(catalog) {}
  boost::asio::awaitable<Result<std::vector<members::LikedProduct>>> Likes(
      std::int64_t member_id, std::size_t limit) override {
    auto likes = co_await catalog_.LikedBy(member_id, limit);
    if (!likes.ok()) co_return likes.error();
    std::vector<members::LikedProduct> out;
    for (const catalog::Like& like : *likes) out.push_back({like.product_id});
    co_return out;
  }

 private:
  const catalog::CatalogService& catalog_;
};

struct EmbeddedApp::Parts {
  Parts(config::Config c, const Clock& clk) : config(std::move(c)), clock(clk) {}
  ~Parts() {
    if (admin_thread.joinable()) {
      admin_server->Shutdown();
      admin_thread.join();
    }
    // The mail worker reads the members writer: it stops before any writer does.
    if (mail_worker) mail_worker->Stop();
    provider_tasks.Stop();
    maintenance.Stop();
    // The bus first, so nothing delivers into a stopped writer; then the writers drain.
    if (event_bus) event_bus->Stop();
    for (ServiceDatabase* db : databases) db->writer->Stop();
  }

  config::Config config;
  const Clock& clock;
  metrics::Registry metrics;
  std::vector<ServiceDatabase*> databases;
  std::unique_ptr<events::sqlite_outbox::SqliteEventBus> event_bus;

  std::unique_ptr<ServiceDatabase> catalog_db;
  std::unique_ptr<catalog::SqliteProductRepository> product_repository;
  std::unique_ptr<catalog::SqliteShoppingRepository> shopping_repository;
  std::unique_ptr<catalog::CatalogService> catalog;
  std::unique_ptr<catalog::ShoppingService> shopping;

  // Checkout, with the simulated card processor's own ledger (provider.db).
  std::unique_ptr<ServiceDatabase> provider_db;
  std::unique_ptr<checkout::SimulatedPaymentProvider> payment_provider;
  std::unique_ptr<ServiceDatabase> checkout_db;
  // Its SQLite stores, and admission and the in-flight gate in memory (one checkout instance).
  std::unique_ptr<checkout::EmbeddedCheckoutPorts> checkout_ports;
  std::unique_ptr<InProcessProductDirectory> product_directory;
  std::unique_ptr<checkout::CheckoutService> checkout;
  std::unique_ptr<checkout::ProductInventorySubscriber> product_inventory_subscriber;
  std::unique_ptr<checkout::ProductCacheSubscriber> product_cache_subscriber;
  std::unique_ptr<InProcessAvailability> availability;
  std::unique_ptr<InProcessCheckoutClient> cart_checkout_client;
  std::unique_ptr<InProcessLikesClient> likes_client;
  std::unique_ptr<catalog::PaidCartSubscriber> paid_cart_subscriber;

  // Orders.
  std::unique_ptr<ServiceDatabase> orders_db;
  std::unique_ptr<orders::SqliteOrderStore> order_store;
  std::unique_ptr<CheckoutSaleFigures> sale_figures;  // the service's ports: outlive it
  std::unique_ptr<InProcessPaymentsClient> payments_client;
  std::unique_ptr<orders::OrdersService> orders;
  std::unique_ptr<orders::OrderPaidSubscriber> order_paid_subscriber;
  std::unique_ptr<orders::PaymentRefundedSubscriber> payment_refunded_subscriber;
  std::unique_ptr<checkout::OrderEventsSubscriber> checkout_order_events_subscriber;

  // Members (after catalog in start order; its mail worker stops first).
  std::unique_ptr<ServiceDatabase> members_db;
  // The token deny-list the gateway checks (in memory: the embedded adapter of its ports).
  gateway::InMemoryTokenDenylist token_denylist{clock};
  std::unique_ptr<GatewayRevoker> revoker;
  // Login, signup and mail throttles (in memory: the embedded adapter of ThrottleStore).
  members::InMemoryThrottleStore members_throttles;
  auth::Keyring members_keyring;
  std::unique_ptr<members::SodiumFieldCipher> members_cipher;
  std::unique_ptr<members::SodiumPasswordHasher> password_hasher;
  std::unique_ptr<members::SqliteMemberRepository> member_repository;
  std::unique_ptr<members::SqliteMailOutbox> mail_outbox;
  std::unique_ptr<members::Mailer> mailer;
  std::unique_ptr<members::MailWorker> mail_worker;
  std::unique_ptr<members::MembersService> members;
  std::unique_ptr<InProcessOrdersClient> orders_client;
  std::unique_ptr<InProcessWishlistClient> wishlist_client;

  PeriodicTasks maintenance;
  // Checkout's calls that wait for the payment provider: apart, so a slow provider delays no
  // expiry (app/checkout_maintenance.hpp).
  PeriodicTasks provider_tasks{"provider-tasks"};

  std::unique_ptr<gateway::JwtAuthenticator> authenticator;
  std::optional<lock::FileLock> data_dir_lock;    // Held until the process exits.
  std::optional<std::filesystem::path> mail_dir;  // The .eml mailer's directory (file transport).
  // The admin listener (GET /metrics) on its own port and thread; null when server.admin_port
  // is -1.
  NoMemberIdentities no_member_identities;
  http::Router admin_router;
  std::unique_ptr<http::Server> admin_server;
  std::thread admin_thread;
  http::Router router;
  std::unique_ptr<http::Server> server;
  std::atomic<bool> ready{false};
  // Last: its stream hub posts to the server's threads, so it goes first.
  std::unique_ptr<StorefrontParts> storefront;
};

EmbeddedApp::EmbeddedApp(config::Config config, const Clock& clock)
    : parts_(std::make_unique<Parts>(std::move(config), clock)) {}

EmbeddedApp::~EmbeddedApp() = default;

void EmbeddedApp::Start() {
  Parts& p = *parts_;
  // Who owns what, before anything is written: the data directory (for the process lifetime),
  // then the port. A second server on either refuses here, before the demo seed and the banner.
  p.data_dir_lock = LockDataDirectory(p.config.storage.data_dir);

  auto keyring = BuildKeyring(p.config);
  if (!keyring.ok()) throw std::runtime_error("auth key: " + keyring.error().message);
  p.authenticator = std::make_unique<gateway::JwtAuthenticator>(
      std::move(*keyring), VerifyOptionsFrom(p.config), p.token_denylist, p.clock, p.metrics);
  p.server = std::make_unique<http::Server>(ServerOptionsFrom(p.config), p.router, *p.authenticator,
                                            p.metrics);
  BindExclusively(*p.server, p.config.server.port);
  if (p.config.server.admin_port >= 0) {
    http::ServerOptions admin = ServerOptionsFrom(p.config);
    admin.host = p.config.server.admin_host;
    admin.port = static_cast<std::uint16_t>(p.config.server.admin_port);
    admin.threads = 1;
    admin.max_connections = 64;
    admin.handle_signals = false;  // The public server takes the signals and stops this one.
    admin.name = "admin";
    p.admin_server = std::make_unique<http::Server>(std::move(admin), p.admin_router,
                                                    p.no_member_identities, p.metrics);
    BindExclusively(*p.admin_server, p.config.server.admin_port);
    RegisterMetricsRoute(p.admin_router, p.metrics, p.config.ops.metrics_token);
  }

  // Catalog.
  p.catalog_db = std::make_unique<ServiceDatabase>("catalog", p.config,
                                                   catalog::CatalogMigrations(), p.metrics);
  p.databases.push_back(p.catalog_db.get());
  p.product_repository = std::make_unique<catalog::SqliteProductRepository>(*p.catalog_db->writer);
  p.shopping_repository = std::make_unique<catalog::SqliteShoppingRepository>(
      *p.catalog_db->writer, *p.catalog_db->readers);
  // The catalog and shopping services are built after checkout, which their client ports call.

  // Members.
  {
    p.members_db = std::make_unique<ServiceDatabase>("members", p.config,
                                                     members::MembersMigrations(), p.metrics);
    p.databases.push_back(p.members_db.get());
    auto signing = BuildKeyring(p.config);
    if (!signing.ok()) throw std::runtime_error("auth key: " + signing.error().message);
    p.members_keyring = std::move(*signing);
    std::string data_key = p.config.members.data_key;
    if (data_key.empty()) {
      auto loaded = auth::LoadOrCreateSecret(std::filesystem::path(p.config.storage.data_dir) /
                                             "secrets" / "members.key");
      if (!loaded.ok()) throw std::runtime_error("members data key: " + loaded.error().message);
      data_key = std::move(*loaded);
    }
    p.members_cipher = std::make_unique<members::SodiumFieldCipher>(data_key);
    spdlog::info("members: personal data sealed with {}", p.members_cipher->algorithm());
    members::HasherOptions hasher_options;
    hasher_options.threads = p.config.members.hash_threads;
    hasher_options.max_queue = static_cast<std::size_t>(p.config.members.hash_queue);
    p.password_hasher = std::make_unique<members::SodiumPasswordHasher>(hasher_options);
    p.member_repository = std::make_unique<members::SqliteMemberRepository>(*p.members_db->writer,
                                                                            *p.members_db->readers);
    p.mail_outbox =
        std::make_unique<members::SqliteMailOutbox>(*p.members_db->writer, *p.members_db->readers);
    if (p.config.mail.transport == "smtp") {
      members::SmtpOptions smtp;
      smtp.url = p.config.mail.smtp_url;
      smtp.starttls = p.config.mail.smtp_starttls;
      smtp.username = p.config.mail.smtp_username;
      smtp.password = p.config.mail.smtp_password;
      smtp.from = p.config.mail.from;
      smtp.timeout = std::chrono::milliseconds(p.config.mail.smtp_timeout_ms);
      p.mailer = std::make_unique<members::SmtpMailer>(std::move(smtp), p.clock);
    } else {
      p.mail_dir = std::filesystem::path(p.config.storage.data_dir) / "mail";
      if (const std::string why = storage::ProbeWritableDirectory(*p.mail_dir); !why.empty()) {
        throw std::runtime_error("mail directory: " + why);
      }
      p.mailer = std::make_unique<members::EmlMailer>(*p.mail_dir, p.config.mail.from, p.clock);
    }
    p.revoker = std::make_unique<GatewayRevoker>(p.token_denylist);
  }

  // Checkout.
  // The simulated processor stands in for an external system: its ledger is WAL + NORMAL, which
  // survives a killed process (our fault model) without spending a third fsync per purchase.
  // Our own databases keep storage.synchronous (FULL by default).
  p.provider_db = std::make_unique<ServiceDatabase>("provider", p.config,
                                                    checkout::SimulatedProviderMigrations(),
                                                    p.metrics, storage::Synchronous::kNormal);
  p.payment_provider = std::make_unique<checkout::SimulatedPaymentProvider>(
      *p.provider_db->writer, *p.provider_db->readers,
      checkout::SimulatedProviderOptions{p.config.payment.decline_percent / 100.0,
                                         static_cast<std::uint64_t>(p.config.payment.seed),
                                         std::chrono::milliseconds(p.config.payment.latency_ms)});
  p.checkout_db = std::make_unique<ServiceDatabase>("checkout", p.config,
                                                    checkout::CheckoutMigrations(), p.metrics);
  p.checkout_ports = std::make_unique<checkout::EmbeddedCheckoutPorts>(*p.checkout_db->writer,
                                                                       *p.checkout_db->readers);
  p.product_directory = std::make_unique<InProcessProductDirectory>(p.catalog);
  checkout::CheckoutOptions checkout_options;
  checkout_options.hold_ttl = std::chrono::seconds(p.config.checkout.hold_ttl_s);
  checkout_options.idempotency_ttl = std::chrono::seconds(p.config.checkout.idempotency_ttl_s);
  p.checkout = std::make_unique<checkout::CheckoutService>(
      p.checkout_ports->With(*p.payment_provider, *p.product_directory), p.clock, p.metrics,
      checkout_options);
  // Catalog services, with checkout's in-process bindings of their client ports.
  p.availability = std::make_unique<InProcessAvailability>(*p.checkout);
  p.catalog = std::make_unique<catalog::CatalogService>(
      *p.product_repository, *p.shopping_repository, *p.availability, p.clock);
  p.cart_checkout_client = std::make_unique<InProcessCheckoutClient>(*p.checkout);
  p.shopping = std::make_unique<catalog::ShoppingService>(*p.catalog, *p.shopping_repository,
                                                          *p.cart_checkout_client, p.clock);

  // Orders, fed by checkout's order.paid events.
  p.orders_db =
      std::make_unique<ServiceDatabase>("orders", p.config, orders::OrdersMigrations(), p.metrics);
  orders::LifecycleOptions lifecycle;
  lifecycle.ship_after = std::chrono::seconds(p.config.orders.ship_after_s);
  lifecycle.deliver_after = std::chrono::seconds(p.config.orders.deliver_after_s);
  lifecycle.return_window = std::chrono::seconds(p.config.orders.return_window_s);
  lifecycle.return_receive_after = std::chrono::seconds(p.config.orders.return_receive_after_s);
  p.order_store = std::make_unique<orders::SqliteOrderStore>(*p.orders_db->writer,
                                                             *p.orders_db->readers, lifecycle);
  p.sale_figures = std::make_unique<CheckoutSaleFigures>(*p.checkout);
  p.payments_client = std::make_unique<InProcessPaymentsClient>(*p.checkout);
  p.orders = std::make_unique<orders::OrdersService>(
      orders::OrdersPorts{*p.order_store, *p.payments_client, *p.sale_figures}, p.clock,
      orders::OrdersOptions{static_cast<std::size_t>(p.config.orders.scheduler_batch)});

  // The members service, built once the services its "my page" reads exist (in-process client
  // bindings), then the mail worker that resolves its mail requests.
  {
    p.orders_client = std::make_unique<InProcessOrdersClient>(*p.orders);
    p.wishlist_client = std::make_unique<InProcessWishlistClient>(*p.shopping);
    p.likes_client = std::make_unique<InProcessLikesClient>(*p.catalog);
    members::MembersOptions options;
    options.public_base_url = p.config.members.public_base_url;
    if (options.public_base_url.empty()) {
      // The port is bound already (server.port 0 has picked one).
      options.public_base_url = DefaultPublicBaseUrl(p.config.server.host, p.server->port());
    }
    options.verify_ttl = std::chrono::seconds(p.config.members.verify_ttl_s);
    options.reset_ttl = std::chrono::seconds(p.config.members.reset_ttl_s);
    options.access_ttl = std::chrono::seconds(p.config.auth.access_ttl_s);
    options.refresh_ttl = std::chrono::seconds(p.config.auth.refresh_ttl_s);
    options.issuer = p.config.auth.issuer;
    options.audience = p.config.auth.audience;
    options.signups_per_ip_per_hour = p.config.members.signups_per_ip_per_hour;
    options.mails_per_ip_per_hour = p.config.members.mails_per_ip_per_hour;
    p.members = std::make_unique<members::MembersService>(
        members::MembersPorts{.repository = *p.member_repository,
                              .hasher = *p.password_hasher,
                              .cipher = *p.members_cipher,
                              .revoker = *p.revoker,
                              .throttles = p.members_throttles,
                              .orders = *p.orders_client,
                              .wishlist = *p.wishlist_client,
                              .likes = *p.likes_client},
        p.members_keyring, p.clock, std::move(options));
    // A revocation the deny-list did not take (the request answered 503) is replayed from
    // members.db until it does.
    members::MembersService* members_service = p.members.get();
    p.maintenance.Add("revocation-republish", std::chrono::seconds(5),
                      [members_service]() -> boost::asio::awaitable<void> {
                        const bool replayed = co_await members_service->RepublishRevocations();
                        (void)replayed;
                      });
    // Resend-verification and find-password only record the address; the mail worker looks it
    // up, so their answer time says nothing about the account. A claimed batch is held for
    // longer than sending it can take.
    members::MailWorkerOptions worker_options;
    worker_options.lease =
        std::chrono::seconds(60) +
        std::chrono::ceil<std::chrono::seconds>(std::chrono::milliseconds(
            static_cast<std::int64_t>(worker_options.batch) * p.config.mail.smtp_timeout_ms));
    p.mail_worker = std::make_unique<members::MailWorker>(
        *p.mail_outbox, *p.members_cipher, *p.mailer, p.clock,
        [members_service] { return members_service->ResolveMailRequests(); }, worker_options);
    members::MailWorker* worker = p.mail_worker.get();
    p.members_db->writer->AddCommitListener([worker] { worker->Notify(); });
  }

  // Consumers' databases start before the bus delivers into them.
  p.databases.push_back(p.orders_db.get());
  p.databases.push_back(p.provider_db.get());
  p.databases.push_back(p.checkout_db.get());

  // Events between the services: every service database is a source (its outbox) and a consumer
  // (positions, claims, dead letters) on the in-process bus.
  p.event_bus = std::make_unique<events::sqlite_outbox::SqliteEventBus>(p.clock);
  for (ServiceDatabase* db : p.databases) {
    p.event_bus->AddService(db->name, *db->writer, *db->readers);
    RegisterEventMetrics(p.metrics, *p.event_bus, db->name);
  }
  using events::Delivery;
  // The catalog's products become checkout's inventory rows (once), and every checkout instance
  // refreshes its memory of them.
  p.product_inventory_subscriber =
      std::make_unique<checkout::ProductInventorySubscriber>(*p.checkout);
  p.event_bus->Subscribe(
      {std::string(catalog::api::kSource),
       {catalog::api::kProductTopics.begin(), catalog::api::kProductTopics.end()},
       "checkout",
       Delivery::kEffect,
       p.product_inventory_subscriber.get()});
  p.product_cache_subscriber = std::make_unique<checkout::ProductCacheSubscriber>(*p.checkout);
  p.event_bus->Subscribe(
      {std::string(catalog::api::kSource),
       {catalog::api::kProductTopics.begin(), catalog::api::kProductTopics.end()},
       "checkout",
       Delivery::kCacheRefresh,
       p.product_cache_subscriber.get()});
  // Paid orders leave the cart, become orders; confirmed refunds show on them.
  p.paid_cart_subscriber = std::make_unique<catalog::PaidCartSubscriber>(*p.shopping);
  p.event_bus->Subscribe({std::string(checkout::api::kSource),
                          {std::string(checkout::api::kOrderPaid)},
                          "catalog",
                          Delivery::kEffect,
                          p.paid_cart_subscriber.get()});
  p.order_paid_subscriber = std::make_unique<orders::OrderPaidSubscriber>(*p.orders);
  p.event_bus->Subscribe({std::string(checkout::api::kSource),
                          {std::string(checkout::api::kOrderPaid)},
                          "orders",
                          Delivery::kEffect,
                          p.order_paid_subscriber.get()});
  p.payment_refunded_subscriber = std::make_unique<orders::PaymentRefundedSubscriber>(*p.orders);
  p.event_bus->Subscribe({std::string(checkout::api::kSource),
                          {std::string(checkout::api::kPaymentRefunded)},
                          "orders",
                          Delivery::kEffect,
                          p.payment_refunded_subscriber.get()});
  // Cancelled orders and received returns are refunded and restocked by checkout.
  p.checkout_order_events_subscriber =
      std::make_unique<checkout::OrderEventsSubscriber>(*p.checkout);
  p.event_bus->Subscribe(
      {std::string(orders::api::kSource),
       {std::string(orders::api::kOrderCancelled), std::string(orders::api::kOrderReturned)},
       "checkout",
       Delivery::kEffect,
       p.checkout_order_events_subscriber.get()});

  // Writers first (services load through them), the bus last (it delivers into services).
  for (ServiceDatabase* db : p.databases) db->writer->Start();
  if (auto loaded = async::RunToCompletion(p.checkout->Load()); !loaded.ok()) {
    throw std::runtime_error("checkout: " + loaded.error().message);
  }
  if (auto loaded = async::RunToCompletion(p.orders->Load()); !loaded.ok()) {
    throw std::runtime_error("orders: the schedule could not be completed: " +
                             loaded.error().message);
  }
  p.catalog->Load();
  if (auto loaded = async::RunToCompletion(p.members->Load()); !loaded.ok()) {
    throw std::runtime_error("members: the token deny-list did not take the revocations: " +
                             loaded.error().message);
  }
  p.mail_worker->Start();
  p.event_bus->Start();
  if (p.config.demo.seed) {
    if (const auto seeded = SeedDemoCatalog(*p.catalog, *p.checkout, p.clock.Now());
        !seeded.empty()) {
      spdlog::info("demo: seeded {} products with open sales into an empty catalog", seeded.size());
      std::printf("Demo catalog seeded (%zu products, sales open for 30 days).\n", seeded.size());
      // Real accounts with passwords generated for this data directory: shown once here (stdout,
      // not the log) and kept in a 0600 file under the data directory.
      const std::filesystem::path data_dir(p.config.storage.data_dir);
      if (const auto accounts =
              SeedDemoAccounts(*p.member_repository, *p.password_hasher, data_dir, p.clock.Now())) {
        spdlog::info("demo: created the demo admin (member {}) and buyer (member {}); see {}",
                     accounts->admin.id, accounts->buyer.id, accounts->file.string());
        std::printf(
            "Demo accounts (passwords generated for this data directory, kept in %s):\n"
            "  admin  member %lld  %s  password %s\n"
            "  buyer  member %lld  %s  password %s  (verified)\n"
            "Log in with POST /auth/login, or mint a token:\n"
            "  build/rocketmart token --data-dir %s --member %lld\n",
            accounts->file.c_str(), static_cast<long long>(accounts->admin.id),
            accounts->admin.email.c_str(), accounts->admin.password.c_str(),
            static_cast<long long>(accounts->buyer.id), accounts->buyer.email.c_str(),
            accounts->buyer.password.c_str(), p.config.storage.data_dir.c_str(),
            static_cast<long long>(accounts->buyer.id));
      }
    }
  }

  catalog::RegisterRoutes(p.router, *p.catalog);
  catalog::RegisterShoppingRoutes(p.router, *p.shopping);
  catalog::RegisterCartCheckoutRoute(p.router, *p.shopping);
  checkout::RegisterRoutes(p.router, *p.checkout);
  orders::RegisterRoutes(p.router, *p.orders);
  members::RegisterRoutes(p.router, *p.members);
  // /health's look at every store. A database whose last transaction failed is probed again
  // through its writer, so one that recovered reads healthy even when no request writes to it; a
  // healthy one costs nothing. The mail directory (file transport) is probed each time: one small
  // file, no fsync. The closure lives in the router, as long as the coroutines it starts.
  StoreCheck check_stores = [&p]() -> boost::asio::awaitable<std::vector<StoreHealth>> {
    std::vector<StoreHealth> stores;
    for (ServiceDatabase* db : p.databases) {
      if (db->writer->Failing()) {
        auto probe = [](storage::Database& conn) -> Result<bool> {
          storage::WriteProbeRow(conn);
          return true;
        };
        try {
          const Result<bool> probed = co_await async::Write<bool>(*db->writer, std::move(probe));
          (void)probed;  // Failing() now tells the outcome.
        } catch (const std::exception&) {
          // Still failing: reported below.
        }
      }
      stores.push_back({db->name, !db->writer->Failing()});
    }
    if (p.mail_dir) {
      stores.push_back({"mail", storage::ProbeWritableDirectory(*p.mail_dir).empty()});
    }
    co_return stores;
  };
  RegisterOpsRoutes(
      p.router, [&p] { return p.ready.load(); }, std::move(check_stores));
  RegisterOperationalMetrics(p.metrics, {.checkout = *p.checkout_db->readers,
                                         .orders = *p.orders_db->readers,
                                         .mail = *p.mail_worker,
                                         .members = *p.members,
                                         .clock = p.clock});
  RegisterBuildInfo(p.metrics);
  p.storefront = std::make_unique<StorefrontParts>(p.config, *p.catalog, *p.checkout, p.clock,
                                                   p.metrics, p.router);

  ScheduleCheckoutMaintenance(
      *p.checkout,
      checkout::MaintenanceSchedule{
          .hold_expiry = std::chrono::milliseconds(p.config.checkout.sweep_interval_ms),
          .reconcile = std::chrono::seconds(p.config.checkout.reconcile_interval_s),
          .idempotency_retention = std::chrono::seconds(60),
          .stale_payments = std::chrono::seconds(10),
          .pending_refunds = std::chrono::seconds(10)},
      p.maintenance, p.provider_tasks);
  p.maintenance.Add("processed-events-retention", std::chrono::minutes(10),
                    [&p]() -> boost::asio::awaitable<void> {
                      // A relay redelivers only what its subscriber has not passed yet: seconds,
                      // not days.
                      const TimePoint before =
                          p.clock.Now() -
                          std::chrono::seconds(p.config.storage.processed_events_ttl_s);
                      constexpr std::int64_t kBatch = 10'000;
                      auto prune = [before](storage::Database& conn) -> Result<std::int64_t> {
                        return events::sqlite_outbox::PruneProcessedEvents(conn, before, kBatch);
                      };
                      // Awaited, not run synchronously: the hold-expiry sweep shares this thread.
                      for (ServiceDatabase* db : p.databases) {
                        for (;;) {
                          auto pruned = co_await async::Write<std::int64_t>(*db->writer, prune);
                          if (!pruned.ok() || *pruned < kBatch) break;
                        }
                      }
                    });
  orders::OrdersService* orders_service = p.orders.get();
  p.maintenance.Add(
      "order-scheduler", std::chrono::milliseconds(p.config.orders.scheduler_interval_ms),
      [orders_service]() -> boost::asio::awaitable<void> {
        // Drain every due transition, one bounded batch per transaction.
        while (co_await orders_service->RunSchedulerOnce() >= orders_service->scheduler_batch()) {
        }
      });
  p.maintenance.Start();
  p.provider_tasks.Start();

  // Every route is registered: their metrics series exist before anyone is told we are up.
  p.server->SealRoutes();
  if (p.admin_server) p.admin_server->SealRoutes();
  p.ready = true;
  if (p.admin_server) {
    std::printf("rocketmart metrics on http://%s:%u/metrics\n", p.config.server.admin_host.c_str(),
                static_cast<unsigned>(p.admin_server->port()));
  }
  std::printf("rocketmart listening on http://%s:%u\n", p.config.server.host.c_str(),
              static_cast<unsigned>(p.server->port()));
  std::fflush(stdout);
  spdlog::info("listening on {}:{} (data dir {})", p.config.server.host, p.server->port(),
               p.config.storage.data_dir);
}

std::uint16_t EmbeddedApp::port() const {
  return parts_->server ? parts_->server->port() : 0;
}

void EmbeddedApp::Run() {
  Parts& p = *parts_;
  if (p.admin_server) p.admin_thread = std::thread([&p] { p.admin_server->Run(); });
  p.server->Run();
  p.ready = false;
  // Metrics stay scrapable while the public server drains; then the admin listener stops too.
  if (p.admin_thread.joinable()) {
    p.admin_server->Shutdown();
    p.admin_thread.join();
  }
}

void EmbeddedApp::Shutdown() {
  if (parts_->server) parts_->server->Shutdown();
}

}  // namespace rocketmart::app
