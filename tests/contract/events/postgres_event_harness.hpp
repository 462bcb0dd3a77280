// The storage of the event bus contract on PostgreSQL: the producer and the consumer are two fresh
// databases on the test binary's server (SharedLocalPostgres), each with the bus seam's stores
// (postgres_outbox/postgres_stores.hpp). Their names are kept in the test's directory, so reopening
// the storage (a restart, the crash clause's child) finds the same databases. The in-process bus
// uses it as is; a bus that reads the same seam (Redis Streams) derives and overrides NewBus().
#pragma once

#include <fstream>

#include "contract/events/event_bus_contract.hpp"
#include "infra/events/outbox_relay/outbox_event_bus.hpp"
#include "infra/events/postgres_outbox/outbox.hpp"
#include "infra/events/postgres_outbox/postgres_stores.hpp"
#include "infra/postgres/migrations.hpp"
#include "infra/postgres/transaction.hpp"
#include "support/postgres_database.hpp"
#include "support/run_await.hpp"

namespace rocketmart::events::contract {

inline constexpr postgres::Migration kPostgresEffects[] = {
    {1, "effects", "CREATE TABLE effects (seq bigserial PRIMARY KEY, payload text NOT NULL)"}};

inline boost::asio::awaitable<Status> MigrateProducer(postgres::Connection& c) {
  co_return co_await postgres_outbox::Migrate(c);
}

inline boost::asio::awaitable<Status> MigrateConsumer(postgres::Connection& c) {
  auto events = co_await postgres_outbox::Migrate(c);
  if (!events.ok()) co_return events;
  co_return co_await postgres::Migrate(c, "contract_effects", kPostgresEffects);
}

// The connection strings of the two databases, created on first open of `dir`.
inline std::pair<std::string, std::string> PostgresDatabases(const std::filesystem::path& dir) {
  const auto file = dir / "postgres-databases";
  std::pair<std::string, std::string> names;
  if (std::ifstream in(file);
      in && std::getline(in, names.first) && std::getline(in, names.second)) {
    return names;
  }
  names = {rocketmart::testing::NewMigratedDatabase("producer", &MigrateProducer),
           rocketmart::testing::NewMigratedDatabase("consumer", &MigrateConsumer)};
  std::ofstream(file) << names.first << '\n' << names.second << '\n';
  return names;
}

class PostgresHarness : public EventBusHarness {
 public:
  explicit PostgresHarness(std::pair<std::string, std::string> databases)
      : producer_db_(std::move(databases.first)),
        consumer_db_(std::move(databases.second)),
        producer_pool_(rocketmart::testing::InstancePool(producer_db_, 2)),
        consumer_pool_(rocketmart::testing::InstancePool(consumer_db_, 2)),
        producer_outbox_(kProducer, rocketmart::testing::InstancePool(producer_db_, 2)),
        producer_store_(kProducer, rocketmart::testing::InstancePool(producer_db_, 2)),
        consumer_outbox_(kConsumer, rocketmart::testing::InstancePool(consumer_db_, 2)),
        consumer_store_(kConsumer, rocketmart::testing::InstancePool(consumer_db_, 2)) {}

  std::unique_ptr<EventBus> NewBus() override {
    auto bus = std::make_unique<OutboxEventBus>(
        clock_, OutboxEventBusOptions{.poll_interval = std::chrono::milliseconds(20),
                                      .retry_backoff_initial = RetryBackoff(),
                                      .retry_backoff_max = RetryBackoff() * 4});
    bus->AddService(producer_outbox_, producer_store_);
    bus->AddService(consumer_outbox_, consumer_store_);
    return bus;
  }

  void Publish(const std::string& topic, const std::string& payload) override {
    auto work = [&](postgres::Connection& c) -> boost::asio::awaitable<Result<std::int64_t>> {
      co_return co_await postgres_outbox::Append(c, topic, payload, clock_.Now());
    };
    const auto appended =
        rocketmart::testing::RunAwait(postgres::Transact<std::int64_t>(producer_pool_, work));
    if (!appended.ok()) throw std::runtime_error("publish: " + appended.error().message);
  }

  bool ApplyEffect(const std::string& name, const Event& event) override {
    auto work = [&](postgres::Connection& c) -> boost::asio::awaitable<Result<bool>> {
      auto claimed = co_await postgres_outbox::ClaimEvent(c, name, event.id, clock_.Now());
      if (!claimed.ok() || !*claimed) co_return claimed;
      auto inserted = co_await c.Command("INSERT INTO effects (payload) VALUES ($1)",
                                         postgres::MakeParams(event.payload));
      if (!inserted.ok()) co_return std::move(inserted).error();
      co_return true;
    };
    const auto applied =
        rocketmart::testing::RunAwait(postgres::Transact<bool>(consumer_pool_, work));
    if (!applied.ok()) throw std::runtime_error("effect: " + applied.error().message);
    return *applied;
  }

  int EffectsFor(const std::string& payload) override {
    const auto rows = rocketmart::testing::RunAwait(consumer_pool_.Query(
        "SELECT count(*) FROM effects WHERE payload = $1", postgres::MakeParams(payload)));
    if (!rows.ok()) throw std::runtime_error("effects: " + rows.error().message);
    return static_cast<int>(rows->Int64(0, 0));
  }

  std::chrono::milliseconds RetryBackoff() const override { return std::chrono::milliseconds(20); }

 protected:
  SystemClock clock_;
  const std::string producer_db_;
  const std::string consumer_db_;
  postgres::Pool producer_pool_;
  postgres::Pool consumer_pool_;
  postgres_outbox::PostgresOutboxSource producer_outbox_;
  postgres_outbox::PostgresConsumerStore producer_store_;
  postgres_outbox::PostgresOutboxSource consumer_outbox_;
  postgres_outbox::PostgresConsumerStore consumer_store_;
};

}  // namespace rocketmart::events::contract
