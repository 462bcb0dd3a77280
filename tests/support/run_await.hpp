// Runs a coroutine to completion on a private io_context and returns its value. For tests of
// coroutine-based services without a server.
#pragma once

#include "infra/async/run.hpp"

namespace rocketmart::testing {

template <class T>
T RunAwait(boost::asio::awaitable<T> task) {
  return async::RunToCompletion(std::move(task));
}

}  // namespace rocketmart::testing
