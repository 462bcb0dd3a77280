// The members domain: what a member is and the rules its fields obey. Pure: no I/O, no clock
// (times are passed in), no crypto. Thread-safe: free functions over values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace rocketmart::members {

// Field limits, part of the public contract (documented in the OpenAPI document).
inline constexpr std::size_t kEmailMaxChars = 254;  // RFC 5321 path limit
inline constexpr std::size_t kEmailLocalMaxChars = 64;
inline constexpr std::size_t kPasswordMinChars = 8;  // ASVS 6.2.1
inline constexpr std::size_t kPasswordMaxChars = 128;
inline constexpr std::size_t kNameMaxChars = 100;
inline constexpr std::size_t kAddressMaxChars = 500;
inline constexpr std::size_t kPhoneMaxChars = 20;
inline constexpr std::size_t kTokenMaxChars = 128;  // a presented verification/reset/refresh token

enum class MemberRole { kUser, kAdmin };

// A member as the service sees it: personal data already decrypted (adapters store it sealed).
struct Member {
  std::int64_t id = 0;
  std::string email;
  std::string password_hash;  // argon2id PHC string
  std::string name;
  std::optional<std::string> phone;
  std::optional<std::string> address;
  MemberRole role = MemberRole::kUser;
  bool email_verified = false;
  // Access tokens issued (iat) before this instant are void: set by logout-all, password change
  // and reset. Whole seconds, because `iat` is whole seconds on the wire.
  TimePoint tokens_valid_after{};
  TimePoint created_at{};
  TimePoint updated_at{};
};

// Fields a caller may change on their own profile; absent = unchanged, "" clears phone/address.
struct ProfileChanges {
  std::optional<std::string> name;
  std::optional<std::string> phone;
  std::optional<std::string> address;
  bool empty() const { return !name && !phone && !address; }
};

// The uniqueness key of an email: the whole address lower-cased (ASCII only: non-ASCII is
// rejected by ValidateEmail).
std::string EmailKey(std::string_view email);

// Syntax of an address we can deliver to: dot-atom local part (no quoted strings), a DNS domain
// with at least two labels and an alphabetic TLD, no IP literals, <= 254 characters.
Status ValidateEmail(std::string_view email);
// 8..128 code points, not on the common-password list (case-insensitive), no composition rules,
// never truncated (ASVS 6.2.1, 6.2.4, 6.2.5, 6.2.8).
Status ValidatePassword(std::string_view password);
bool IsCommonPassword(std::string_view password);
Status ValidateName(std::string_view name);
// "+", digits, spaces, '-', '(' and ')': 7..20 characters with at least 7 digits.
Status ValidatePhone(std::string_view phone);
Status ValidateAddress(std::string_view address);
Status ValidateChanges(const ProfileChanges& changes);

std::string_view RoleName(MemberRole role);

// The admin's members search (GET /admin/members?q=): a prefix of the email or of the name,
// compared without ASCII case (emails and names are stored in clear, ADR 0011). [from, to) is
// the range of ASCII-lowercased keys that start with the prefix, so an index answers it: the
// email through its unique lowercased key, the name through a NOCASE index.
inline constexpr std::size_t kSearchMaxChars = kEmailMaxChars;
struct SearchPrefix {
  std::string from;
  std::string to;
};
// kValidationFailed (field q) for an empty prefix, one over kSearchMaxChars bytes or one with
// control characters or bytes that never occur in UTF-8.
Result<SearchPrefix> MakeSearchPrefix(std::string_view q);

}  // namespace rocketmart::members
