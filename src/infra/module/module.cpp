#include "infra/module/module.hpp"

namespace rocketmart::module {

boost::asio::awaitable<std::vector<StoreHealth>> CheckDatabases(
    std::vector<storage::ServiceDatabase*> databases) {
  std::vector<StoreHealth> stores;
  for (storage::ServiceDatabase* db : databases) {
    const bool writable = co_await db->CheckWritable();
    stores.push_back({db->name, writable});
  }
  co_return stores;
}

}  // namespace rocketmart::module
