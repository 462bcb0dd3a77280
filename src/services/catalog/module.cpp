#include "services/catalog/module.hpp"

#include "services/catalog/adapters/cart_checkout.hpp"
#include "services/catalog/adapters/catalog_cache_subscriber.hpp"
#include "services/catalog/adapters/http_routes.hpp"
#include "services/catalog/adapters/postgres/postgres_catalog_store.hpp"
#include "services/catalog/adapters/sqlite_product_repository.hpp"
#include "services/catalog/adapters/sqlite_shopping_repository.hpp"
#include "services/catalog/api/events.hpp"
#include "services/checkout/api/events.hpp"

namespace rocketmart::catalog {

CatalogModule::Stores CatalogModule::OpenStores(const config::Config& config,
                                                metrics::Registry& metrics) {
  Stores stores;
  stores.db = module::OpenDatabase("catalog", config.catalog.database, config.storage,
                                   CatalogMigrations(), MigratePostgresCatalog, metrics);
  if (module::PostgresDatabase* pg = stores.db.postgres.get()) {
    stores.products = std::make_unique<PostgresProductRepository>(pg->pool());
    auto shopping = std::make_shared<PostgresShoppingRepository>(pg->pool());
    stores.likes = shopping;
    stores.baskets = shopping;
    return stores;
  }
  storage::ServiceDatabase& db = *stores.db.sqlite;
  stores.products = std::make_unique<SqliteProductRepository>(*db.writer);
  auto shopping = std::make_shared<SqliteShoppingRepository>(*db.writer, *db.readers);
  stores.likes = shopping;
  stores.baskets = shopping;
  return stores;
}

CatalogModule::CatalogModule(const Clock& clock, Stores stores, Clients clients)
    : stores_(std::move(stores)),
      catalog_(*stores_.products, *stores_.likes, clients.availability, clock),
      shopping_(catalog_, *stores_.baskets, clients.checkout, clock),
      likes_client_(catalog_),
      wishlist_client_(shopping_),
      paid_cart_subscriber_(std::make_unique<PaidCartSubscriber>(shopping_)),
      cache_subscriber_(std::make_unique<CatalogCacheSubscriber>(catalog_)) {}

CatalogModule::~CatalogModule() = default;

void CatalogModule::Load() {
  catalog_.Load();
}

std::vector<events::Subscription> CatalogModule::Subscriptions() {
  // Paid lines leave the cart (an effect: once per catalog service).
  return {{std::string(checkout::api::kSource),
           {std::string(checkout::api::kOrderPaid)},
           "catalog",
           events::Delivery::kEffect,
           paid_cart_subscriber_.get()},
          // Every catalog instance's products and likes reach every instance's memory.
          {std::string(api::kSource), CatalogCacheSubscriber::Topics(), "catalog",
           events::Delivery::kCacheRefresh, cache_subscriber_.get()}};
}

void CatalogModule::RegisterRoutes(http::Router& router) {
  catalog::RegisterRoutes(router, catalog_);
  RegisterShoppingRoutes(router, shopping_);
  RegisterCartCheckoutRoute(router, shopping_);
}

boost::asio::awaitable<std::vector<module::StoreHealth>> CatalogModule::CheckStores() {
  return module::CheckDatabases(Databases());
}

}  // namespace rocketmart::catalog
