// Port: authenticated encryption of personal data at rest (phone, address, queued mails).
// `context` is bound as associated data (e.g. "member:42:phone"), so a ciphertext copied to
// another row or field fails to open instead of showing someone else's data. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace rocketmart::members {

class FieldCipher {
 public:
  virtual ~FieldCipher() = default;
  virtual std::string Seal(std::string_view plaintext, std::string_view context) const = 0;
  // nullopt when the ciphertext is corrupt, was made with another key, or for another context.
  virtual std::optional<std::string> Open(std::string_view sealed,
                                          std::string_view context) const = 0;
};

}  // namespace rocketmart::members
