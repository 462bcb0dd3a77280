// Bridges the group-commit writer to C++20 coroutines.
//
//   Result<Hold> hold = co_await async::Write<Hold>(writer, [&](storage::Database& db) {...});
//
// The job runs on the writer thread inside its own SAVEPOINT of a grouped transaction. The
// coroutine resumes on its own executor only after the batch COMMIT returned, so an answer sent
// after the await is durable. A job returning an Error has its writes rolled back (it may have
// written before discovering the problem, e.g. the third line of a multi-line hold). When the
// writer's queue is full the caller gets Errc::kOverloaded at once instead of queueing.
// Infrastructure failures (I/O errors, a corrupt file) are rethrown into the coroutine.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <memory>
#include <optional>
#include <utility>

#include "core/result.hpp"
#include "infra/storage/group_commit_writer.hpp"

namespace rocketmart::async {

namespace detail {

// Thrown inside a job to roll back its savepoint while carrying a business outcome out.
struct RollbackWith {
  Error error;
};

template <class T>
struct WriteState {
  std::optional<Result<T>> result;
  std::exception_ptr failure;
};

}  // namespace detail

template <class T, class Fn>
boost::asio::awaitable<Result<T>> Write(storage::GroupCommitWriter& writer, Fn job) {
  auto state = std::make_shared<detail::WriteState<T>>();
  bool submitted = true;
  // Named, not a temporary inside the co_await expression: GCC 12 destroys such temporaries twice
  // (see docs/adr/0003-concurrency-model.md).
  auto initiation = [&writer, &submitted, state, job = std::move(job)](auto handler) mutable {
    auto shared_handler = std::make_shared<decltype(handler)>(std::move(handler));
    // A tracked executor keeps the io_context from running out of work while the job waits
    // in the writer's queue.
    auto executor = boost::asio::prefer(boost::asio::get_associated_executor(*shared_handler),
                                        boost::asio::execution::outstanding_work.tracked);
    auto resume = [shared_handler, executor]() {
      boost::asio::post(executor, [shared_handler]() mutable { (*shared_handler)(); });
    };
    const bool accepted = writer.TrySubmit(
        [state, job = std::move(job)](storage::Database& db) mutable {
          Result<T> r = job(db);
          if (!r.ok()) throw detail::RollbackWith{std::move(r).error()};
          state->result.emplace(std::move(r));
        },
        [state, resume](std::exception_ptr failure) {
          if (failure) {
            try {
              std::rethrow_exception(failure);
            } catch (detail::RollbackWith& rollback) {
              state->result.emplace(std::move(rollback.error));
            } catch (...) {
              state->failure = std::current_exception();
            }
          }
          resume();
        });
    if (!accepted) {
      submitted = false;
      resume();
    }
  };
  co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void()>(
      std::move(initiation), boost::asio::use_awaitable);
  if (!submitted) co_return MakeError(Errc::kOverloaded, "the service is busy, retry shortly");
  if (state->failure) std::rethrow_exception(state->failure);
  co_return std::move(*state->result);
}

}  // namespace rocketmart::async
