#include "app/demo_seed.hpp"

#include <stdexcept>

#include "infra/async/run.hpp"

namespace rocketmart::app {

int SeedDemoCatalog(catalog::CatalogService& catalog) {
  if (catalog.size() != 0) return 0;
  const catalog::ProductDraft drafts[] = {
      {"Rocket Sneakers (limited)", "The drop everyone waits for: 100 pairs, one per member.",
       129000, "https://example.com/img/rocket-sneakers.jpg", 100},
      {"Moon Hoodie", "Heavyweight cotton hoodie.", 89000,
       "https://example.com/img/moon-hoodie.jpg", 500},
      {"Orbit Cap", "Six-panel cap with embroidered orbit.", 35000,
       "https://example.com/img/orbit-cap.jpg", 1000},
      {"Launch Tee", "Everyday tee.", 29000, "", 5000},
  };
  int created = 0;
  for (const auto& draft : drafts) {
    auto result = async::RunToCompletion(catalog.Create(draft));
    if (!result.ok()) throw std::runtime_error("demo seed failed: " + result.error().message);
    ++created;
  }
  return created;
}

}  // namespace rocketmart::app
