// The event bus contract for the SQLite outbox + in-process relay (SqliteEventBus): two service
// databases under the test's directory (sqlite_event_harness.hpp).
#include "contract/events/sqlite_event_harness.hpp"

namespace rocketmart::events::contract {
namespace {

std::unique_ptr<EventBusHarness> OpenSqliteEventBus(const std::filesystem::path& dir) {
  return std::make_unique<SqliteHarness>(dir);
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Sqlite, EventBusContract, ::testing::Values(&OpenSqliteEventBus));

}  // namespace rocketmart::events::contract
