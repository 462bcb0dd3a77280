// The catalog's module (ADR 0008): products and likes (CatalogService), wishlist and cart
// (ShoppingService) on catalog's database (catalog.db, or PostgreSQL by [catalog.database] url).
// Calls checkout for live availability and to buy a cart (client ports); consumes checkout's
// order.paid (paid lines leave the cart) and, on every instance, its own product.* and
// like.changed (the in-memory view follows every instance's writes). Serves members' LikesClient
// and WishlistClient.
#pragma once

#include <memory>

#include "core/clock.hpp"
#include "infra/config/config.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/module/module.hpp"
#include "services/catalog/catalog_service.hpp"
#include "services/catalog/clients/in_process/members_clients.hpp"
#include "services/catalog/ports/availability_source.hpp"
#include "services/catalog/ports/checkout_client.hpp"
#include "services/catalog/ports/product_repository.hpp"
#include "services/catalog/ports/shopping_repository.hpp"
#include "services/catalog/shopping_service.hpp"

namespace rocketmart::catalog {

class PaidCartSubscriber;
class CatalogCacheSubscriber;

class CatalogModule final : public module::Module {
 public:
  // catalog's database (SQLite or PostgreSQL, by [catalog.database] url) and the repositories on
  // it.
  struct Stores {
    module::Database db;
    std::unique_ptr<ProductRepository> products;
    std::shared_ptr<LikeRepository> likes;
    std::shared_ptr<BasketRepository> baskets;
  };
  static Stores OpenStores(const config::Config& config, metrics::Registry& metrics);

  // Checkout's side of the catalog: each must outlive the module.
  struct Clients {
    AvailabilitySource& availability;
    CheckoutClient& checkout;
  };

  CatalogModule(const Clock& clock, Stores stores, Clients clients);
  ~CatalogModule() override;

  // Served: members' my page.
  members::LikesClient& likes_client() { return likes_client_; }
  members::WishlistClient& wishlist_client() { return wishlist_client_; }
  // For the composition root's start-up work (the demo seed, the storefront's product check).
  CatalogService& catalog() { return catalog_; }

  std::string_view Name() const override { return "catalog"; }
  std::vector<module::Database*> Databases() override { return {&stores_.db}; }
  void Load() override;
  void StartWorkers() override {}
  void StopWorkers() override {}
  std::vector<events::Subscription> Subscriptions() override;
  void RegisterRoutes(http::Router& router) override;
  std::vector<module::PeriodicTask> PeriodicTasks() override { return {}; }
  boost::asio::awaitable<std::vector<module::StoreHealth>> CheckStores() override;

 private:
  Stores stores_;
  CatalogService catalog_;
  ShoppingService shopping_;
  InProcessLikesClient likes_client_;
  InProcessWishlistClient wishlist_client_;
  std::unique_ptr<PaidCartSubscriber> paid_cart_subscriber_;
  std::unique_ptr<CatalogCacheSubscriber> cache_subscriber_;
};

}  // namespace rocketmart::catalog
