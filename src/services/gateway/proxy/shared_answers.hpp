// Answers the gateway gives itself for a short while (docs/adr/0048): a service marks an answer
// with http::kSharedAnswerHeader when the same request from any member alike would get the same
// answer for that long (checkout's sold-out answer to a purchase without an Idempotency-Key, while
// its sold-out mark holds). The gateway then answers such requests without the round trip to the
// service, which is most of what a sold-out storm costs the cluster.
//
// A request is answered here only if it is the same as the one that was marked: method, target,
// Content-Type and body byte for byte; the member's role and verified email; no Idempotency-Key
// header (a key may replay a purchase), unless the caller asks for keyed requests too: a valid key
// then rides on the Ask, and the caller gives a held answer only once checkout's state says the
// key is unused (PurchaseKeys, docs/adr/0049). A keyed and an unkeyed request share an entry: the
// service marks only the answer either would get alike. Any 2xx answer to a request that changes
// something (not GET or HEAD; not a replay, marked Idempotent-Replayed) forwarded to the same
// service forgets every answer, so a member who cancelled a hold or an operator who restocked is
// not answered from before it. The table is bounded (kMaxEntries, bodies up to kMaxRequestBody) and
// thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/clock.hpp"
#include "infra/http/types.hpp"
#include "infra/metrics/metrics.hpp"

namespace rocketmart::gateway {

class SharedAnswers {
 public:
  static constexpr std::size_t kMaxEntries = 256;
  static constexpr std::size_t kMaxRequestBody = 1024;
  // A service's mark above this is taken as this (checkout's own bound is 10 s).
  static constexpr Millis kMaxFor{10'000};

  // `answered` counts the answers given here (may be null).
  explicit SharedAnswers(metrics::Counter* answered = nullptr) : answered_(answered) {}

  // A request that may be answered here, as it was when it came (before it is forwarded, which
  // moves its body away).
  struct Ask {
    std::string key;              // method, target, Content-Type, role and body
    TimePoint at;                 // when it came
    std::uint64_t generation{0};  // of the table then: a change answered since voids what it learns
    std::string idempotency_key;  // the request's (valid) Idempotency-Key; empty: none
  };
  // nullopt when `req` does not qualify (see above); `keyed`: a request with a valid
  // Idempotency-Key qualifies too.
  std::optional<Ask> Begin(const http::Request& req, TimePoint now, bool keyed = false) const;
  // The answer held for `ask` now, if any (for a keyed ask, to be given only once its key is
  // found unused).
  std::optional<http::Response> Find(const Ask& ask);
  // Counts an answer given from the table.
  void Gave();
  // The service's mark on `res` (http::kSharedAnswerHeader): how long its answer is everyone's,
  // at most kMaxFor; zero when there is none or it is not a plain count of milliseconds.
  static Millis MarkOf(const http::Response& res);
  // After the service answered a request (`ask`: its Begin, null when it had none) with `res` as
  // it goes to the client (its mark `shared_for` already taken off): keeps a copy of `res` for
  // `shared_for` when the request qualified, and forgets everything on a 2xx to a change.
  void Learn(const Ask* ask, http::Method method, Millis shared_for, const http::Response& res);

  std::size_t size() const;

 private:
  struct Entry {
    TimePoint expires;
    std::uint64_t generation = 0;
    http::Response response;
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  metrics::Counter* const answered_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::size_t> size_{0};  // read without the lock: an empty table costs no lock
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> entries_;
};

}  // namespace rocketmart::gateway
