#include "app/periodic_tasks.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/thread_name.hpp"

namespace rocketmart::app {

void PeriodicTasks::Add(std::string name, std::chrono::milliseconds every, Task task) {
  entries_.push_back({std::move(name), every, std::move(task)});
}

boost::asio::awaitable<void> PeriodicTasks::Loop(Entry& entry) {
  boost::asio::steady_timer timer(ioc_);
  for (;;) {
    try {
      co_await entry.task();
    } catch (const std::exception& e) {
      spdlog::error("maintenance task {} failed: {}", entry.name, e.what());
    }
    timer.expires_after(entry.every);
    auto [ec] = co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec) co_return;
  }
}

void PeriodicTasks::Start() {
  for (Entry& entry : entries_) boost::asio::co_spawn(ioc_, Loop(entry), boost::asio::detached);
  thread_ = std::thread([this] {
    NameThisThread(thread_name_);
    ioc_.run();
  });
}

void PeriodicTasks::Stop() {
  ioc_.stop();
  if (thread_.joinable()) thread_.join();
}

void SchedulePeriodicTasks(std::vector<module::PeriodicTask> tasks, PeriodicTasks& local,
                           PeriodicTasks& remote_calls) {
  for (module::PeriodicTask& task : tasks) {
    PeriodicTasks& thread = task.calls_remote ? remote_calls : local;
    thread.Add(std::move(task.name), task.every, std::move(task.run));
  }
}

}  // namespace rocketmart::app
