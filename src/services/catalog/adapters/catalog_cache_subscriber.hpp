// Consumes the catalog's own events (decoded by its api/ codec) as a cache refresh: every catalog
// instance brings its in-memory view up to every instance's writes. product.created / updated /
// retired refresh the product (newest version wins, CatalogService::RefreshProduct); like.changed
// refreshes the product's count and the member's likedByMe (newest sequence number wins,
// CatalogService::RefreshLike). The instance that made a write applied it already; its own event
// changes nothing. Runs on the bus's thread for the catalog source; no I/O.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "infra/events/event_bus.hpp"
#include "services/catalog/catalog_service.hpp"

namespace rocketmart::catalog {

class CatalogCacheSubscriber final : public events::EventSubscriber {
 public:
  // The topics it takes: catalog's product topics and like.changed.
  static std::vector<std::string> Topics();

  // The name is the instance's own (a cache refresh keeps a position per instance); the default
  // suits one instance per process, as the composition roots build.
  explicit CatalogCacheSubscriber(CatalogService& catalog, std::string name = "catalog.cache")
      : catalog_(catalog), name_(std::move(name)) {}
  std::string_view Name() const override { return name_; }
  void Handle(std::span<const events::Event> batch) override;

 private:
  CatalogService& catalog_;
  std::string name_;
};

}  // namespace rocketmart::catalog
