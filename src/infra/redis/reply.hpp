// A Redis reply as a value (copied out of hiredis's reply tree), and where a server lives.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace rocketmart::redis {

struct Reply {
  enum class Type : std::uint8_t { kNil, kString, kStatus, kError, kInteger, kArray };
  Type type = Type::kNil;
  std::string str;  // a string, a status ("OK") or an error ("NOSCRIPT No matching script...")
  long long integer = 0;
  std::vector<Reply> elements;

  bool is_error() const { return type == Type::kError; }
  bool is_nil() const { return type == Type::kNil; }
  // An error reply whose first word is `prefix` ("NOSCRIPT", "NOGROUP", "BUSYGROUP", ...).
  bool IsErrorCode(std::string_view prefix) const;
  // An integer reply, or a string holding one; nullopt otherwise.
  std::optional<long long> AsInteger() const;
};

// What a Redis command answers: the reply (an error reply included: the caller knows which errors
// it expects), or a transport failure that says nothing about whether the command ran:
// Errc::kTimeout (no answer within the command timeout) or Errc::kUnavailable (not connected,
// the connection was lost before the answer). Both are transient: a later try may succeed.
using ReplyResult = Result<Reply>;

// Where the server is: "redis://host[:port][/db]" (port 6379, database 0 by default) or
// "unix:///path/to/socket", and how to log in: every connection sends AUTH `password` (when not
// empty) and SELECT `db` (when not 0) before anything else.
struct Endpoint {
  std::string host;
  std::uint16_t port = 6379;
  std::string unix_path;  // non-empty: a unix socket, host and port unused
  int db = 0;             // 0..15 as Redis configures by default
  std::string password;   // never in the URL (it would be logged), never in ToString()

  std::string ToString() const;
};
Result<Endpoint> ParseEndpoint(std::string_view url);

}  // namespace rocketmart::redis
