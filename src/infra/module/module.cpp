#include "infra/module/module.hpp"

namespace rocketmart::module {

boost::asio::awaitable<std::vector<StoreHealth>> CheckDatabases(std::vector<Database*> databases) {
  std::vector<StoreHealth> stores;
  for (Database* db : databases) {
    const bool writable = co_await db->CheckWritable();
    stores.push_back({db->name(), writable});
  }
  co_return stores;
}

}  // namespace rocketmart::module
