// A service module: what one service hands the process that runs it (ADR 0008). Each service has
// one, in src/services/<service>/module.{hpp,cpp}; the embedded root (src/app/embedded_app.cpp)
// builds all of them and binds their client ports in-process; a service root will build one and
// bind HTTP clients instead.
//
// A module's concrete class declares, by type (no lookup by name, no service locator):
//  - `Stores` and a static `OpenStores(config, metrics)`: the store adapters it keeps its data in,
//    opened and migrated from its configuration section (step 1 below): SQLite or PostgreSQL
//    adapters by [<service>.database] url (database.hpp). The root opens them and hands them to
//    the constructor, so it decides the order in which stores are checked at start and could hand
//    in other adapters;
//  - its constructor: configuration, clock, metrics, its `Stores`, and the client ports of other
//    services it calls (`Clients`: interfaces from its own ports/, never another module);
//  - accessors for the client ports it serves (in-process bindings from its clients/in_process/).
// What every module hands back is this interface.
//
// Start, in this order, over all modules (the root drives it; each step for every module before
// the next step):
//   1. open + migrate its stores (OpenStores; a PostgreSQL store is checked durable and writable
//      here, before the banner). The root starts the SQLite writers and hands every database's
//      outbox and consumer side, whatever its engine, to the one in-process event bus
//   2. Load()            fill memory from its stores (throws when it cannot)
//   3. StartWorkers()    its own background threads (the mail worker)
//   4. the root starts the event bus with every module's Subscriptions()
//   5. RegisterRoutes(), the root starts every module's PeriodicTasks(), then serves
// Stop, in reverse: stop serving -> stop the periodic tasks -> stop the bus -> StopWorkers() ->
// the root stops the SQLite writers -> the modules are destroyed (databases and pools closed),
// last built first.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "infra/events/event_bus.hpp"
#include "infra/http/router.hpp"
#include "infra/module/database.hpp"

namespace rocketmart::module {

// Maintenance the module wants run: `run` runs, then waits `every`, so a slow run never overlaps
// the next. A task that touches only the module's stores runs on the process's maintenance thread
// with the other modules' sweepers and must not block. A task that waits for another system (a
// payment provider, another service) says so (`calls_remote`) and runs on a thread of its own, so
// a stall there never delays an expiry that is due.
struct PeriodicTask {
  std::string name;
  std::chrono::milliseconds every{};
  bool calls_remote = false;
  std::function<boost::asio::awaitable<void>()> run;
};

// One store a module writes to (a database, a mail directory; the process's Redis) and whether it
// can now (/health), and the word /health shows when it cannot.
struct StoreHealth {
  std::string name;
  bool writable = true;
  std::string_view down = "unwritable";  // "unreachable" for a server that does not answer
};

class Module {
 public:
  virtual ~Module() = default;

  // The service's name ("catalog"): logs and errors.
  virtual std::string_view Name() const = 0;

  // Its databases (SQLite or PostgreSQL, database.hpp), in the order they opened (empty for a
  // module without one). The root starts and stops what they need (SQLite writers) and adds each
  // to the event bus (its outbox as a source, its positions and claims as a consumer).
  virtual std::vector<Database*> Databases() = 0;

  // Step 2: fills its memory from its stores; their writers run. Start-up only (synchronous).
  virtual void Load() = 0;

  // Step 3 and its reverse: its own background threads (nothing for most modules).
  virtual void StartWorkers() = 0;
  virtual void StopWorkers() = 0;

  // What it consumes from other services' events: effects and cache refreshes (ADR 0007). The
  // subscribers belong to the module and live as long as it does.
  virtual std::vector<events::Subscription> Subscriptions() = 0;

  // Its HTTP routes, on the router the process serves.
  virtual void RegisterRoutes(http::Router& router) = 0;

  // Its maintenance, run from step 5 until the stop (see PeriodicTask for which thread).
  virtual std::vector<PeriodicTask> PeriodicTasks() = 0;

  // Every store it writes to and whether it can now (GET /health).
  virtual boost::asio::awaitable<std::vector<StoreHealth>> CheckStores() = 0;
};

// The writability of each database in `databases`, in order (Database::CheckWritable): what
// CheckStores answers for a module whose stores are its databases.
boost::asio::awaitable<std::vector<StoreHealth>> CheckDatabases(std::vector<Database*> databases);

}  // namespace rocketmart::module
