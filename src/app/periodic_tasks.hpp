// Background maintenance on its own thread: the hold-expiry sweeper, the stale-payment resolver and
// the reconciler run here, never on an I/O thread. Each task runs, then waits its interval, so a
// slow run never overlaps the next. Start() once, Stop() joins (idempotent).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace rocketmart::app {

class PeriodicTasks {
 public:
  using Task = std::function<boost::asio::awaitable<void>()>;
  ~PeriodicTasks() { Stop(); }

  void Add(std::string name, std::chrono::milliseconds every, Task task);
  void Start();
  void Stop();

 private:
  struct Entry {
    std::string name;
    std::chrono::milliseconds every;
    Task task;
  };
  boost::asio::awaitable<void> Loop(Entry& entry);

  boost::asio::io_context ioc_{1};
  std::vector<Entry> entries_;
  std::thread thread_;
};

}  // namespace rocketmart::app
