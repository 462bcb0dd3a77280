// Runs one coroutine to completion on a private io_context and returns its value, rethrowing its
// exception. For start-up work (demo seeding) and tests; never call it from a server thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <optional>
#include <utility>

namespace rocketmart::async {

template <class T>
T RunToCompletion(boost::asio::awaitable<T> task) {
  boost::asio::io_context ioc;
  std::optional<T> out;
  std::exception_ptr failure;
  auto wrapper = [](std::optional<T>& out,
                    boost::asio::awaitable<T> task) -> boost::asio::awaitable<void> {
    T value = co_await std::move(task);
    out.emplace(std::move(value));
  };
  boost::asio::co_spawn(ioc, wrapper(out, std::move(task)),
                        [&failure](std::exception_ptr e) { failure = e; });
  ioc.run();
  if (failure) std::rethrow_exception(failure);
  return std::move(*out);
}

inline void RunToCompletion(boost::asio::awaitable<void> task) {
  boost::asio::io_context ioc;
  std::exception_ptr failure;
  boost::asio::co_spawn(ioc, std::move(task), [&failure](std::exception_ptr e) { failure = e; });
  ioc.run();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace rocketmart::async
