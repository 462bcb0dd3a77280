#include "services/members/domain/member.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace rocketmart::members {
namespace {

// The most common passwords of 8+ characters from public breach corpora (shorter ones already
// fail the length rule). A compact built-in list; see docs/members.md for the follow-up to load
// a top-3000/breached list from a file.
constexpr std::string_view kCommonPasswords[] = {
    "password",   "12345678",   "123456789",     "1234567890",    "qwertyuiop",  "iloveyou",
    "password1",  "11111111",   "00000000",      "12341234",      "88888888",    "87654321",
    "abcd1234",   "qwerty123",  "1q2w3e4r",      "1qaz2wsx",      "qwertyui",    "asdfghjk",
    "zxcvbnm1",   "baseball",   "football",      "sunshine",      "princess",    "superman",
    "trustno1",   "whatever",   "starwars",      "computer",      "michelle",    "jennifer",
    "corvette",   "mercedes",   "passw0rd",      "p@ssw0rd",      "p@ssword",    "welcome1",
    "letmein1",   "admin123",   "administrator", "changeme",      "password123", "password12",
    "password!",  "qwerty12",   "123qweasd",     "1q2w3e4r5t",    "qazwsxedc",   "123123123",
    "987654321",  "123456789a", "a123456789",    "abc12345",      "abcdefgh",    "iloveyou1",
    "liverpool",  "chelsea1",   "arsenal1",      "michael1",      "charlie1",    "jordan23",
    "shadow12",   "monkey12",   "dragon12",      "master12",      "football1",   "baseball1",
    "sunshine1",  "princess1",  "welcome123",    "qwerty1234",    "1234qwer",    "zaq12wsx",
    "!qaz2wsx",   "q1w2e3r4",   "q1w2e3r4t5",    "11223344",      "12344321",    "12121212",
    "66666666",   "99999999",   "55555555",      "77777777",      "22222222",    "33333333",
    "44444444",   "123456123",  "741852963",     "147258369",     "159753456",   "asdf1234",
    "zxcvbnm123", "asdfasdf",   "qwerasdf",      "internet",      "samsung1",    "google123",
    "facebook",   "linkedin",   "minecraft",     "pokemon1",      "blink182",    "hello123",
    "hellokitty", "lovely12",   "iloveu123",     "babygirl",      "loveyou1",    "fuckyou1",
    "secret123",  "testtest",   "test1234",      "testing1",      "rocketmart",  "rocketmart1",
    "flashsale",  "12qwaszx",   "1qazxsw2",      "qwertyuiop123", "passpass",    "access14",
    "freedom1",   "mustang1",   "security",
};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Error Invalid(std::string message, std::string field) {
  return MakeError(Errc::kValidationFailed, std::move(message), std::move(field));
}

std::size_t CodePoints(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

bool IsAtext(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

}  // namespace

std::string EmailKey(std::string_view email) {
  return Lower(email);
}

Result<SearchPrefix> MakeSearchPrefix(std::string_view q) {
  if (q.empty() || q.size() > kSearchMaxChars) {
    return Invalid("q must be 1 to " + std::to_string(kSearchMaxChars) + " bytes", "q");
  }
  for (const char c : q) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || u >= 0xf8) return Invalid("q has a character we never store", "q");
  }
  SearchPrefix range{Lower(q), Lower(q)};
  // The least key above every key with this prefix: the last byte plus one (never 0xff here). A
  // NOCASE comparison folds A-Z, so a bound ending in 'A' (after '@') would read as 'a': '[' is
  // the next byte that folds to itself, and nothing between them survives folding.
  char& last = range.to.back();
  last = static_cast<char>(static_cast<unsigned char>(last) + 1);
  if (last == 'A') last = '[';
  return range;
}

Status ValidateEmail(std::string_view email) {
  const Error bad = Invalid("email is not a valid address", "email");
  if (email.empty() || email.size() > kEmailMaxChars) return bad;
  const std::size_t at = email.rfind('@');
  if (at == std::string_view::npos || email.find('@') != at) return bad;
  const std::string_view local = email.substr(0, at);
  const std::string_view domain = email.substr(at + 1);
  if (local.empty() || local.size() > kEmailLocalMaxChars) return bad;
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
    return bad;
  }
  if (!std::all_of(local.begin(), local.end(), [](char c) { return c == '.' || IsAtext(c); })) {
    return bad;
  }
  if (domain.empty() || domain.size() > 253) return bad;
  std::size_t labels = 0;
  std::string_view last;
  std::size_t start = 0;
  while (start <= domain.size()) {
    std::size_t dot = domain.find('.', start);
    if (dot == std::string_view::npos) dot = domain.size();
    const std::string_view label = domain.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return bad;
    }
    if (!std::all_of(label.begin(), label.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
        })) {
      return bad;
    }
    ++labels;
    last = label;
    start = dot + 1;
  }
  if (labels < 2 || last.size() < 2) return bad;
  if (!std::all_of(last.begin(), last.end(),
                   [](char c) { return std::isalpha(static_cast<unsigned char>(c)); })) {
    return bad;
  }
  return Ok();
}

bool IsCommonPassword(std::string_view password) {
  const std::string lowered = Lower(password);
  return std::find(std::begin(kCommonPasswords), std::end(kCommonPasswords), lowered) !=
         std::end(kCommonPasswords);
}

Status ValidatePassword(std::string_view password) {
  const std::size_t chars = CodePoints(password);
  if (chars < kPasswordMinChars || chars > kPasswordMaxChars) {
    return Invalid("password must be 8 to 128 characters", "password");
  }
  if (password.find('\0') != std::string_view::npos) {
    return Invalid("password contains a NUL character", "password");
  }
  if (IsCommonPassword(password)) {
    return Invalid("this password is too common; choose another", "password");
  }
  return Ok();
}

Status ValidateName(std::string_view name) {
  const std::size_t chars = CodePoints(name);
  if (chars < 1 || chars > kNameMaxChars || HasControl(name)) {
    return Invalid("name must be 1 to 100 characters", "name");
  }
  if (std::all_of(name.begin(), name.end(), [](char c) { return c == ' '; })) {
    return Invalid("name must not be blank", "name");
  }
  return Ok();
}

Status ValidatePhone(std::string_view phone) {
  const Error bad =
      Invalid("phone must be 7 to 20 characters of digits, spaces, +, -, ( and )", "phone");
  if (phone.size() < 7 || phone.size() > kPhoneMaxChars) return bad;
  int digits = 0;
  for (std::size_t i = 0; i < phone.size(); ++i) {
    const char c = phone[i];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      ++digits;
    } else if (c == '+') {
      if (i != 0) return bad;
    } else if (c != ' ' && c != '-' && c != '(' && c != ')') {
      return bad;
    }
  }
  return digits >= 7 ? Ok() : Status(bad);
}

Status ValidateAddress(std::string_view address) {
  if (CodePoints(address) > kAddressMaxChars || HasControl(address)) {
    return Invalid("address must be at most 500 characters on one line", "address");
  }
  return Ok();
}

Status ValidateChanges(const ProfileChanges& changes) {
  if (changes.empty()) return Invalid("nothing to change", "");
  if (changes.name) {
    if (auto st = ValidateName(*changes.name); !st.ok()) return st;
  }
  if (changes.phone && !changes.phone->empty()) {
    if (auto st = ValidatePhone(*changes.phone); !st.ok()) return st;
  }
  if (changes.address) {
    if (auto st = ValidateAddress(*changes.address); !st.ok()) return st;
  }
  return Ok();
}

std::string_view RoleName(MemberRole role) {
  return role == MemberRole::kAdmin ? "admin" : "user";
}

}  // namespace rocketmart::members
