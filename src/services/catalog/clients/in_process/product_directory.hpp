// Checkout asks the catalog whether a product exists: the in-process binding of checkout's
// ProductDirectory port, answered from the catalog service's memory, inline. Distributed, checkout
// calls GET /products/{id} instead.
//
// The one cycle between modules: the catalog is built after checkout (its availability and its
// cart read checkout), so the composition root makes this binding first, hands it to checkout,
// and Binds the catalog once it exists. Until then it answers kUnavailable (only before the
// server serves). Thread-safe.
#pragma once

#include <atomic>

#include "services/catalog/catalog_service.hpp"
#include "services/checkout/ports/product_directory.hpp"

namespace rocketmart::catalog {

class InProcessProductDirectory final : public checkout::ProductDirectory {
 public:
  void Bind(const CatalogService& catalog) { catalog_.store(&catalog, std::memory_order_release); }

  boost::asio::awaitable<Result<bool>> Exists(std::int64_t product_id,
                                              Deadline /*unused: no wait*/) override {
    const CatalogService* catalog = catalog_.load(std::memory_order_acquire);
    if (catalog == nullptr)
      co_return MakeError(Errc::kUnavailable, "the catalog is not up yet; retry");
    co_return catalog->Exists(product_id);
  }

 private:
  std::atomic<const CatalogService*> catalog_{nullptr};
};

}  // namespace rocketmart::catalog
