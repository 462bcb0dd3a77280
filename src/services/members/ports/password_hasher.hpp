// Port: password hashing (argon2id). Hashing is deliberately slow (tens of ms, tens of MiB), so
// implementations run it off the I/O threads and report Errc::kOverloaded at once when their
// queue is full rather than letting logins pile up. Thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>

#include "core/result.hpp"

namespace rocketmart::members {

struct PasswordCheck {
  bool match = false;
  bool needs_rehash = false;  // the stored hash uses weaker parameters than the current ones
};

class PasswordHasher {
 public:
  virtual ~PasswordHasher() = default;
  virtual boost::asio::awaitable<Result<std::string>> Hash(std::string password) = 0;
  // With no stored hash (unknown account) a dummy hash is verified instead, so unknown and known
  // emails cost the same time (ASVS 6.3.8); the answer is then always "no match".
  virtual boost::asio::awaitable<Result<PasswordCheck>> Verify(std::optional<std::string> hash,
                                                               std::string password) = 0;
};

}  // namespace rocketmart::members
