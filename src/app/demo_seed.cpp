#include "app/demo_seed.hpp"

#include <stdexcept>

#include "infra/async/run.hpp"

namespace rocketmart::app {

std::vector<std::int64_t> SeedDemoCatalog(catalog::CatalogService& catalog,
                                          checkout::CheckoutService& checkout, TimePoint now) {
  std::vector<std::int64_t> ids;
  if (catalog.size() != 0) return ids;
  struct DemoProduct {
    catalog::ProductDraft draft;
    std::int64_t per_member_limit;
  };
  const DemoProduct products[] = {
      {{"Rocket Sneakers (limited)", "The drop everyone waits for: 100 pairs, one per member.",
        129000, "https://example.com/img/rocket-sneakers.jpg", 100},
       1},
      {{"Moon Hoodie", "Heavyweight cotton hoodie.", 89000,
        "https://example.com/img/moon-hoodie.jpg", 500},
       5},
      {{"Orbit Cap", "Six-panel cap with embroidered orbit.", 35000,
        "https://example.com/img/orbit-cap.jpg", 1000},
       5},
      {{"Launch Tee", "Everyday tee.", 29000, "", 5000}, 10},
  };
  for (const auto& product : products) {
    auto created = async::RunToCompletion(catalog.Create(product.draft));
    if (!created.ok()) throw std::runtime_error("demo seed failed: " + created.error().message);
    const std::int64_t id = created->product.id;
    const checkout::Sale sale{now - std::chrono::minutes(1), now + std::chrono::hours(24 * 30),
                              product.per_member_limit};
    auto opened = async::RunToCompletion(checkout.SetSale(id, sale));
    if (!opened.ok()) throw std::runtime_error("demo sale failed: " + opened.error().message);
    ids.push_back(id);
  }
  return ids;
}

}  // namespace rocketmart::app
