// The demo catalog seeded into an empty data directory so a newcomer can try the API at once.
#pragma once

#include "services/catalog/catalog_service.hpp"

namespace rocketmart::app {

// Seeds only when the catalog is empty. Returns the number of products created.
int SeedDemoCatalog(catalog::CatalogService& catalog);

}  // namespace rocketmart::app
