// What checkout's contract suites share: awaiting a port call from a test thread, unwrapping a
// Result that must be ok, and running real threads released together.
#pragma once

#include <gtest/gtest.h>

#include <barrier>
#include <functional>
#include <thread>
#include <vector>

#include "core/result.hpp"
#include "infra/async/run.hpp"

namespace rocketmart::checkout::contract {

template <class T>
T Await(boost::asio::awaitable<T> task) {
  return async::RunToCompletion(std::move(task));
}

template <class T>
T Ok(Result<T> result) {
  EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.error().message);
  return result.ok() ? std::move(result).value() : T{};
}

// Runs `body(i)` for i in [0, n) on n threads released together.
inline void Together(int n, const std::function<void(int)>& body) {
  std::barrier start(n);
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      body(i);
    });
  }
  for (auto& t : threads) t.join();
}

}  // namespace rocketmart::checkout::contract
