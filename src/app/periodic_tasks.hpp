// Background maintenance on its own thread (named `thread_name`), never on an I/O thread: the
// hold-expiry sweeper, the order scheduler and the reconciler run on one ("periodic"), the calls
// that wait for the payment provider on another ("provider-tasks"), so a stalled provider delays
// no expiry. Each task runs, then waits its interval, so a slow run never overlaps the next;
// tasks of one thread interleave at their co_awaits. Start() once, Stop() joins (idempotent).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "infra/module/module.hpp"

namespace rocketmart::app {

class PeriodicTasks {
 public:
  using Task = std::function<boost::asio::awaitable<void>()>;
  explicit PeriodicTasks(std::string thread_name = "periodic")
      : thread_name_(std::move(thread_name)) {}
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

  const std::string thread_name_;
  boost::asio::io_context ioc_{1};
  std::vector<Entry> entries_;
  std::thread thread_;
};

// The modules' tasks on their threads: those that call another system (`calls_remote`) on
// `remote_calls`, the others on `local`.
void SchedulePeriodicTasks(std::vector<module::PeriodicTask> tasks, PeriodicTasks& local,
                           PeriodicTasks& remote_calls);

}  // namespace rocketmart::app
