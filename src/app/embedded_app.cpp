#include "app/embedded_app.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "app/demo_seed.hpp"
#include "app/keys.hpp"
#include "app/ops_routes.hpp"
#include "infra/http/server.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/migrations.hpp"
#include "infra/storage/outbox.hpp"
#include "infra/storage/read_connections.hpp"
#include "services/catalog/adapters/http_routes.hpp"
#include "services/catalog/adapters/sqlite_product_repository.hpp"
#include "services/catalog/catalog_service.hpp"
#include "services/gateway/jwt_authenticator.hpp"

namespace rocketmart::app {
namespace {

// One service's database: its single writer, its readers and its outbox relay.
struct ServiceDatabase {
  ServiceDatabase(const std::string& name, const config::Config& config,
                  std::span<const storage::Migration> migrations, const Clock& clock,
                  metrics::Registry& metrics) {
    storage::OpenOptions open;
    open.path = (std::filesystem::path(config.storage.data_dir) / (name + ".db")).string();
    open.synchronous = config.storage.synchronous == "normal" ? storage::Synchronous::kNormal
                                                              : storage::Synchronous::kFull;
    writer = std::make_unique<storage::GroupCommitWriter>(
        open, storage::GroupCommitWriter::Options{
                  static_cast<std::size_t>(config.storage.writer_max_batch),
                  static_cast<std::size_t>(config.storage.writer_queue)});
    storage::Migrate(writer->Connection(), migrations);
    open.read_only = true;
    readers = std::make_unique<storage::ReadConnections>(open);
    relay = std::make_unique<storage::OutboxRelay>(name, *writer, *readers, clock);
    const std::string labels = "db=\"" + name + "\"";
    storage::GroupCommitWriter* w = writer.get();
    metrics.AddGauge("db_writer_queue_depth", "Write jobs waiting for the writer", labels,
                     [w] { return static_cast<double>(w->QueueDepth()); });
    metrics.AddGauge("db_writer_batches_total", "Transactions committed by the writer", labels,
                     [w] { return static_cast<double>(w->BatchesCommitted()); });
    metrics.AddGauge("db_writer_jobs_total", "Write jobs committed", labels,
                     [w] { return static_cast<double>(w->JobsCommitted()); });
  }
  void Start() {
    writer->Start();
    relay->Start();
  }
  void Stop() {
    relay->Stop();
    writer->Stop();
  }

  std::unique_ptr<storage::GroupCommitWriter> writer;
  std::unique_ptr<storage::ReadConnections> readers;
  std::unique_ptr<storage::OutboxRelay> relay;
};

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
  return o;
}

}  // namespace

struct EmbeddedApp::Parts {
  Parts(config::Config c, const Clock& clk) : config(std::move(c)), clock(clk) {}
  ~Parts() {
    // Reverse order of construction: nothing may deliver into a stopped service.
    for (auto it = databases.rbegin(); it != databases.rend(); ++it) (*it)->Stop();
  }

  config::Config config;
  const Clock& clock;
  metrics::Registry metrics;
  std::vector<ServiceDatabase*> databases;

  std::unique_ptr<ServiceDatabase> catalog_db;
  std::unique_ptr<catalog::SqliteProductRepository> product_repository;
  std::unique_ptr<catalog::CatalogService> catalog;

  std::unique_ptr<gateway::JwtAuthenticator> authenticator;
  http::Router router;
  std::unique_ptr<http::Server> server;
  std::atomic<bool> ready{false};
};

EmbeddedApp::EmbeddedApp(config::Config config, const Clock& clock)
    : parts_(std::make_unique<Parts>(std::move(config), clock)) {}

EmbeddedApp::~EmbeddedApp() = default;

void EmbeddedApp::Start() {
  Parts& p = *parts_;
  std::filesystem::create_directories(p.config.storage.data_dir);

  auto keyring = BuildKeyring(p.config);
  if (!keyring.ok()) throw std::runtime_error("auth key: " + keyring.error().message);
  p.authenticator = std::make_unique<gateway::JwtAuthenticator>(
      std::move(*keyring), VerifyOptionsFrom(p.config), p.clock, p.metrics);

  // Catalog.
  p.catalog_db = std::make_unique<ServiceDatabase>(
      "catalog", p.config, catalog::CatalogMigrations(), p.clock, p.metrics);
  p.databases.push_back(p.catalog_db.get());
  p.product_repository = std::make_unique<catalog::SqliteProductRepository>(*p.catalog_db->writer);
  p.catalog = std::make_unique<catalog::CatalogService>(*p.product_repository, p.clock);

  for (ServiceDatabase* db : p.databases) db->Start();
  p.catalog->Load();
  if (p.config.demo.seed) {
    if (const int seeded = SeedDemoCatalog(*p.catalog); seeded > 0) {
      spdlog::info("demo: seeded {} products into an empty catalog", seeded);
      std::printf(
          "Demo catalog seeded. Mint an admin token with:\n"
          "  build/rocketmart token --data-dir %s --member 1 --role admin\n",
          p.config.storage.data_dir.c_str());
    }
  }

  catalog::RegisterRoutes(p.router, *p.catalog);
  RegisterOpsRoutes(p.router, p.metrics, [&p] { return p.ready.load(); });

  p.server = std::make_unique<http::Server>(ServerOptionsFrom(p.config), p.router, *p.authenticator,
                                            p.metrics);
  p.server->Bind();
  p.ready = true;
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
  parts_->server->Run();
  parts_->ready = false;
}

void EmbeddedApp::Shutdown() {
  if (parts_->server) parts_->server->Shutdown();
}

}  // namespace rocketmart::app
