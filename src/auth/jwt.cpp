#include "auth/jwt.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/json/basic_parser_impl.hpp>
#include <charconv>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "auth/base64url.hpp"
#include "auth/random.hpp"

namespace rocketmart::auth {

// ---------------------------------------------------------------------------------------------
// Keys

namespace {
std::uint64_t NextKeySerial() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1);
}
}  // namespace

struct Keyring::Entry {
  std::string kid;
  std::string secret;
  std::string header_b64;  // Encoded once: every token signed with this key shares the header.
  TimePoint verify_until = TimePoint::max();  // A retiring key's end (SigningKey::verify_until).
  // HMAC-SHA256's two SHA-256 states with the key absorbed (RFC 2104: key ^ ipad, key ^ opad);
  // each HMAC copies them into a context of its thread's (ComputeHmac).
  EVP_MD_CTX* inner = nullptr;
  EVP_MD_CTX* outer = nullptr;
  std::uint64_t serial = NextKeySerial();  // Keyring::active_key_serial

  Entry() = default;
  Entry(const Entry&) = delete;
  Entry& operator=(const Entry&) = delete;
  ~Entry() {
    EVP_MD_CTX_free(inner);
    EVP_MD_CTX_free(outer);
    OPENSSL_cleanse(secret.data(), secret.size());
  }
};

namespace {

constexpr std::string_view kAlg = "HS256";
constexpr std::size_t kSignatureBytes = 32;
constexpr std::size_t kSignatureChars = 43;  // Unpadded base64url of 32 bytes.
constexpr std::size_t kMaxHeaderBytes = 512;
// NumericDate bound: far beyond any real token, and small enough that converting seconds to the
// nanosecond system_clock can never overflow (the limit there is the year 2262).
constexpr std::int64_t kMaxNumericDate = 7'258'118'400;  // 2200-01-01T00:00:00Z

const EVP_MD* Sha256() {
  // Fetched once: fetching takes a global lock and a property query.
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

constexpr std::size_t kSha256BlockBytes = 64;

// The two keyed SHA-256 states of HMAC-SHA256 (RFC 2104) for `secret`, into `entry`. HMAC is
// built here on OpenSSL's SHA-256 rather than taken from EVP_MAC because every token is signed or
// verified on a request path: duplicating an EVP_MAC context per HMAC cost 670 ns on a 300-byte
// token, copying these two states 300 ns (docs/performance.md). Returns false if OpenSSL fails.
bool InitHmacStates(Keyring::Entry& entry) {
  const EVP_MD* md = Sha256();
  if (md == nullptr) return false;
  unsigned char key[kSha256BlockBytes] = {};
  if (entry.secret.size() > kSha256BlockBytes) {
    // A key longer than the block is hashed first (RFC 2104, section 2).
    unsigned int len = 0;
    if (EVP_Digest(entry.secret.data(), entry.secret.size(), key, &len, md, nullptr) != 1) {
      return false;
    }
  } else {
    std::memcpy(key, entry.secret.data(), entry.secret.size());
  }
  unsigned char ipad[kSha256BlockBytes];
  unsigned char opad[kSha256BlockBytes];
  for (std::size_t i = 0; i < kSha256BlockBytes; ++i) {
    ipad[i] = static_cast<unsigned char>(key[i] ^ 0x36);
    opad[i] = static_cast<unsigned char>(key[i] ^ 0x5c);
  }
  entry.inner = EVP_MD_CTX_new();
  entry.outer = EVP_MD_CTX_new();
  const bool ok = entry.inner != nullptr && entry.outer != nullptr &&
                  EVP_DigestInit_ex2(entry.inner, md, nullptr) == 1 &&
                  EVP_DigestUpdate(entry.inner, ipad, sizeof ipad) == 1 &&
                  EVP_DigestInit_ex2(entry.outer, md, nullptr) == 1 &&
                  EVP_DigestUpdate(entry.outer, opad, sizeof opad) == 1;
  OPENSSL_cleanse(key, sizeof key);
  OPENSSL_cleanse(ipad, sizeof ipad);
  OPENSSL_cleanse(opad, sizeof opad);
  return ok;
}

// A digest context per thread, reused by every HMAC on it (allocated once).
EVP_MD_CTX* ThreadDigestContext() {
  struct Holder {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Holder() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Holder holder;
  return holder.ctx;
}

bool ValidKid(std::string_view kid) {
  if (kid.empty() || kid.size() > 64) return false;
  return std::all_of(kid.begin(), kid.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

// HMAC-SHA256 of `data` under the entry's key. Returns false only if OpenSSL fails.
bool ComputeHmac(const Keyring::Entry& key, std::string_view data,
                 unsigned char (&out)[EVP_MAX_MD_SIZE]) {
  EVP_MD_CTX* ctx = ThreadDigestContext();
  if (ctx == nullptr) return false;
  unsigned char inner[EVP_MAX_MD_SIZE];
  unsigned int inner_len = 0;
  unsigned int len = 0;
  return EVP_MD_CTX_copy_ex(ctx, key.inner) == 1 &&
         EVP_DigestUpdate(ctx, data.data(), data.size()) == 1 &&
         EVP_DigestFinal_ex(ctx, inner, &inner_len) == 1 && inner_len == kSignatureBytes &&
         EVP_MD_CTX_copy_ex(ctx, key.outer) == 1 && EVP_DigestUpdate(ctx, inner, inner_len) == 1 &&
         EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == kSignatureBytes;
}

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20) {
      out.append("\\u00");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0f]);
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
}

void AppendJsonInt(std::string& out, std::int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, end);
}

// ---------------------------------------------------------------------------------------------
// A SAX handler for the flat JSON objects a JWT header and payload are. It records the members it
// knows (by index into `names`), rejects duplicate members (RFC 8725 §3.2: parsers disagree on
// which duplicate wins, which is an attack surface), and optionally rejects unknown members.
// It never builds a DOM: the only allocations are for string values longer than the SSO buffer.

enum class Kind : std::uint8_t { kAbsent, kString, kInt, kBool, kOther };

struct Slot {
  Kind kind = Kind::kAbsent;
  std::string str;
  std::int64_t num = 0;
};

constexpr std::size_t kMaxSlots = 12;

class FlatObjectHandler {
 public:
  static constexpr std::size_t max_object_size = 64;
  static constexpr std::size_t max_array_size = 64;
  static constexpr std::size_t max_key_size = 256;
  static constexpr std::size_t max_string_size = 4096;

  FlatObjectHandler(const std::string_view* names, std::size_t count, bool reject_unknown)
      : names_(names), count_(count), reject_unknown_(reject_unknown) {}

  const Slot& slot(std::size_t i) const { return slots_[i]; }
  std::string Take(std::size_t i) { return std::move(slots_[i].str); }
  const char* reason() const { return reason_ != nullptr ? reason_ : "invalid JSON"; }

  bool on_document_begin(boost::json::error_code&) { return true; }
  bool on_document_end(boost::json::error_code& ec) {
    return saw_root_ ? true : Fail(ec, "not a JSON object");
  }
  bool on_object_begin(boost::json::error_code& ec) {
    if (depth_ == 0) {
      saw_root_ = true;
      ++depth_;
      return true;
    }
    return EnterContainer(ec);
  }
  bool on_object_end(std::size_t, boost::json::error_code&) {
    --depth_;
    return true;
  }
  bool on_array_begin(boost::json::error_code& ec) {
    if (depth_ == 0) return Fail(ec, "not a JSON object");
    return EnterContainer(ec);
  }
  bool on_array_end(std::size_t, boost::json::error_code&) {
    --depth_;
    return true;
  }
  bool on_key_part(boost::json::string_view s, std::size_t, boost::json::error_code&) {
    if (depth_ == 1) part_.append(s.data(), s.size());
    return true;
  }
  bool on_key(boost::json::string_view s, std::size_t, boost::json::error_code& ec) {
    if (depth_ != 1) return true;  // Keys of nested objects (in ignored members) do not matter.
    std::string_view key(s.data(), s.size());
    if (!part_.empty()) {
      part_.append(key);
      key = part_;
    }
    const bool ok = OnMemberKey(key, ec);
    part_.clear();
    return ok;
  }
  bool on_string_part(boost::json::string_view s, std::size_t, boost::json::error_code&) {
    if (depth_ == 1 && current_ >= 0) part_.append(s.data(), s.size());
    return true;
  }
  bool on_string(boost::json::string_view s, std::size_t, boost::json::error_code& ec) {
    if (depth_ == 0) return Fail(ec, "not a JSON object");
    if (depth_ == 1 && current_ >= 0) {
      Slot& slot = slots_[current_];
      slot.kind = Kind::kString;
      if (part_.empty()) {
        slot.str.assign(s.data(), s.size());
      } else {
        part_.append(s.data(), s.size());
        slot.str.swap(part_);
        part_.clear();
      }
    }
    return true;
  }
  bool on_number_part(boost::json::string_view, boost::json::error_code&) { return true; }
  bool on_int64(std::int64_t v, boost::json::string_view, boost::json::error_code& ec) {
    if (depth_ == 0) return Fail(ec, "not a JSON object");
    if (depth_ == 1 && current_ >= 0) {
      slots_[current_].kind = Kind::kInt;
      slots_[current_].num = v;
    }
    return true;
  }
  bool on_uint64(std::uint64_t v, boost::json::string_view s, boost::json::error_code& ec) {
    if (v <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return on_int64(static_cast<std::int64_t>(v), s, ec);
    }
    return OnOther(ec);
  }
  bool on_double(double, boost::json::string_view, boost::json::error_code& ec) {
    return OnOther(ec);
  }
  bool on_bool(bool v, boost::json::error_code& ec) {
    if (depth_ == 0) return Fail(ec, "not a JSON object");
    if (depth_ == 1 && current_ >= 0) {
      slots_[current_].kind = Kind::kBool;
      slots_[current_].num = v ? 1 : 0;
    }
    return true;
  }
  bool on_null(boost::json::error_code& ec) { return OnOther(ec); }
  bool on_comment_part(boost::json::string_view, boost::json::error_code&) { return true; }
  bool on_comment(boost::json::string_view, boost::json::error_code&) { return true; }

 private:
  bool Fail(boost::json::error_code& ec, const char* reason) {
    reason_ = reason;
    ec = boost::json::error::syntax;
    return false;
  }
  bool EnterContainer(boost::json::error_code&) {
    if (depth_ == 1 && current_ >= 0) slots_[current_].kind = Kind::kOther;
    ++depth_;
    return true;
  }
  bool OnOther(boost::json::error_code& ec) {
    if (depth_ == 0) return Fail(ec, "not a JSON object");
    if (depth_ == 1 && current_ >= 0) slots_[current_].kind = Kind::kOther;
    return true;
  }
  bool OnMemberKey(std::string_view key, boost::json::error_code& ec) {
    for (std::size_t i = 0; i < count_; ++i) {
      if (names_[i] == key) {
        if (seen_ & (1u << i)) return Fail(ec, "duplicate member");
        seen_ |= 1u << i;
        current_ = static_cast<int>(i);
        return true;
      }
    }
    if (reject_unknown_) return Fail(ec, "unsupported member");
    // Unknown members are ignored, but a duplicate one still signals a crafted document.
    if (std::find(unknown_.begin(), unknown_.end(), key) != unknown_.end()) {
      return Fail(ec, "duplicate member");
    }
    if (unknown_.size() >= max_object_size) return Fail(ec, "too many members");
    unknown_.emplace_back(key);
    current_ = -1;
    return true;
  }

  const std::string_view* names_;
  std::size_t count_;
  bool reject_unknown_;
  std::array<Slot, kMaxSlots> slots_{};
  std::uint32_t seen_ = 0;
  std::vector<std::string> unknown_;
  std::string part_;
  const char* reason_ = nullptr;
  int depth_ = 0;
  int current_ = -1;
  bool saw_root_ = false;
};

// Parses `json` into `handler`; false on any syntax or shape error.
bool ParseFlat(std::string_view json, boost::json::basic_parser<FlatObjectHandler>& parser) {
  boost::json::error_code ec;
  const std::size_t n = parser.write_some(false, json.data(), json.size(), ec);
  return !ec && n == json.size() && parser.done();
}

boost::json::parse_options StrictOptions() {
  boost::json::parse_options opt;
  opt.max_depth = 4;  // Deep nesting has no business in a token; bound the parser's work.
  return opt;         // Comments, trailing commas and invalid UTF-8 stay disallowed (defaults).
}

// Header members. The key-locating and `crit` headers are known only so they can be named in the
// rejection; everything else unknown is rejected too (allowlist).
enum HeaderMember { kHAlg, kHTyp, kHKid, kHJku, kHX5u, kHJwk, kHX5c, kHCrit, kHeaderMemberCount };
constexpr std::string_view kHeaderNames[kHeaderMemberCount] = {"alg", "typ", "kid", "jku",
                                                               "x5u", "jwk", "x5c", "crit"};

enum ClaimMember {
  kCSub,
  kCRole,
  kCTyp,
  kCJti,
  kCIat,
  kCNbf,
  kCExp,
  kCIss,
  kCAud,
  kCEmailVerified,
  kClaimCount
};
constexpr std::string_view kClaimNames[kClaimCount] = {
    "sub", "role", "typ", "jti", "iat", "nbf", "exp", "iss", "aud", "email_verified"};

Error Fail(const char* reason) {
  return MakeError(Errc::kUnauthenticated, reason);
}

bool ParsePositiveId(std::string_view s, std::int64_t& out) {
  // Canonical decimal only: no sign, no leading zeros, fits in int64, > 0.
  if (s.empty() || s.size() > 19 || s[0] == '0') return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && out > 0;
}

bool NumericDate(const Slot& slot, TimePoint& out) {
  if (slot.kind != Kind::kInt || slot.num < 0 || slot.num > kMaxNumericDate) return false;
  out = TimePoint{std::chrono::seconds{slot.num}};
  return true;
}

}  // namespace

Result<void> Keyring::Add(SigningKey key, bool active) {
  if (!ValidKid(key.kid)) {
    return MakeError(Errc::kValidationFailed, "key id must be 1..64 chars of [A-Za-z0-9._-]");
  }
  if (key.secret.size() < kMinSecretBytes) {
    OPENSSL_cleanse(key.secret.data(), key.secret.size());
    return MakeError(Errc::kValidationFailed,
                     "HMAC secret for key '" + key.kid + "' is shorter than 32 bytes");
  }
  if (Contains(key.kid)) {
    return MakeError(Errc::kValidationFailed, "duplicate key id '" + key.kid + "'");
  }
  if (active && key.verify_until) {
    return MakeError(Errc::kValidationFailed,
                     "the signing key '" + key.kid + "' cannot have an end (only a retiring key)");
  }
  auto entry = std::make_shared<Entry>();
  entry->kid = std::move(key.kid);
  entry->secret = std::move(key.secret);
  if (key.verify_until) entry->verify_until = *key.verify_until;
  std::string header = R"({"alg":"HS256","typ":"JWT","kid":")";
  header += entry->kid;  // ValidKid guarantees no escaping is needed.
  header += "\"}";
  entry->header_b64 = Base64UrlEncode(header);

  if (!InitHmacStates(*entry)) throw std::runtime_error("OpenSSL SHA-256 is unavailable");
  entries_.push_back(std::move(entry));
  if (active) active_ = static_cast<int>(entries_.size() - 1);
  return {};
}

bool Keyring::Remove(std::string_view kid) {
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i]->kid != kid) continue;
    if (static_cast<int>(i) == active_) return false;
    entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(i));
    if (active_ > static_cast<int>(i)) --active_;
    return true;
  }
  return false;
}

bool Keyring::Contains(std::string_view kid) const {
  return Find(kid) != nullptr;
}

std::string_view Keyring::active_kid() const {
  return active_ >= 0 ? std::string_view(entries_[active_]->kid) : std::string_view();
}

std::uint64_t Keyring::active_key_serial() const {
  return active_ >= 0 ? entries_[active_]->serial : 0;
}

std::size_t Keyring::size() const {
  return entries_.size();
}

const Keyring::Entry* Keyring::Find(std::string_view kid) const {
  for (const auto& e : entries_) {
    if (e->kid == kid) return e.get();
  }
  return nullptr;
}

const Keyring::Entry* Keyring::Active() const {
  return active_ >= 0 ? entries_[active_].get() : nullptr;
}

std::string Sign(const Claims& claims, const Keyring& keyring) {
  const Keyring::Entry* key = keyring.Active();
  if (key == nullptr) throw std::logic_error("jwt Sign: the keyring has no active key");

  std::string payload;
  payload.reserve(256);
  payload += "{\"sub\":\"";
  AppendJsonInt(payload, claims.member_id);
  payload += "\",\"role\":";
  AppendJsonString(payload, claims.role);
  payload += ",\"typ\":";
  AppendJsonString(payload, claims.type);
  payload += ",\"jti\":";
  AppendJsonString(payload, claims.token_id.empty() ? RandomHex(16) : claims.token_id);
  payload += ",\"iat\":";
  AppendJsonInt(payload, ToUnixSeconds(claims.issued_at));
  payload += ",\"nbf\":";
  AppendJsonInt(payload, ToUnixSeconds(claims.not_before));
  payload += ",\"exp\":";
  AppendJsonInt(payload, ToUnixSeconds(claims.expires_at));
  payload += ",\"iss\":";
  AppendJsonString(payload, claims.issuer);
  payload += ",\"aud\":";
  AppendJsonString(payload, claims.audience);
  if (claims.email_verified) payload += ",\"email_verified\":true";
  payload += '}';

  std::string token;
  token.reserve(key->header_b64.size() + payload.size() * 4 / 3 + kSignatureChars + 8);
  token += key->header_b64;
  token += '.';
  Base64UrlEncodeAppend(payload, token);
  unsigned char mac[EVP_MAX_MD_SIZE];
  if (!ComputeHmac(*key, token, mac)) throw std::runtime_error("HMAC-SHA256 failed");
  token += '.';
  Base64UrlEncodeAppend(std::string_view(reinterpret_cast<const char*>(mac), kSignatureBytes),
                        token);
  return token;
}

bool ExpiredAt(const Claims& claims, const VerifyOptions& options, TimePoint now) {
  const auto leeway =
      std::clamp<std::chrono::seconds>(options.leeway, std::chrono::seconds{0}, kMaxLeeway);
  return now > claims.expires_at + leeway;
}

Result<Claims> Verify(std::string_view token, const Keyring& keyring, const VerifyOptions& options,
                      TimePoint now) {
  // 1. Shape, before decoding anything.
  if (token.empty()) return Fail("empty token");
  if (token.size() > kMaxTokenBytes) return Fail("token too large");
  const std::size_t dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return Fail("malformed token");
  const std::size_t dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) return Fail("malformed token");
  if (token.find('.', dot2 + 1) != std::string_view::npos) return Fail("malformed token");
  const std::string_view header_b64 = token.substr(0, dot1);
  const std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature_b64 = token.substr(dot2 + 1);
  if (header_b64.empty() || payload_b64.empty()) return Fail("malformed token");

  // 2. Header: algorithm and key, decided before the payload is looked at.
  char header[kMaxHeaderBytes];
  const auto header_size = Base64UrlDecode(header_b64, header, sizeof(header));
  if (!header_size) return Fail("bad header encoding");
  const Keyring::Entry* key = nullptr;
  {
    boost::json::basic_parser<FlatObjectHandler> parser(StrictOptions(), kHeaderNames,
                                                        kHeaderMemberCount, true);
    if (!ParseFlat(std::string_view(header, *header_size), parser)) {
      return Fail(parser.handler().reason());
    }
    const FlatObjectHandler& h = parser.handler();
    // Key-locating headers would let the token choose its own verification key (RFC 8725 §3.10);
    // `crit` demands extensions we do not implement (RFC 7515 §4.1.11).
    static constexpr std::pair<int, const char*> kForbidden[] = {{kHJku, "forbidden header jku"},
                                                                 {kHX5u, "forbidden header x5u"},
                                                                 {kHJwk, "forbidden header jwk"},
                                                                 {kHX5c, "forbidden header x5c"},
                                                                 {kHCrit, "forbidden header crit"}};
    for (const auto& [member, reason] : kForbidden) {
      if (h.slot(member).kind != Kind::kAbsent) return Fail(reason);
    }
    const Slot& alg = h.slot(kHAlg);
    if (alg.kind == Kind::kAbsent) return Fail("missing alg");
    // Exact, case-sensitive match: "none", "hs256", "HS512", "RS256" ... all end here.
    if (alg.kind != Kind::kString || alg.str != kAlg) return Fail("unsupported alg");
    // ADR 0005 pins the whole header, `typ` included: a token without it was not made by Sign.
    const Slot& typ = h.slot(kHTyp);
    if (typ.kind == Kind::kAbsent) return Fail("missing typ");
    if (typ.kind != Kind::kString || typ.str != "JWT") return Fail("bad header typ");
    const Slot& kid = h.slot(kHKid);
    if (kid.kind == Kind::kAbsent) return Fail("missing kid");
    if (kid.kind != Kind::kString) return Fail("bad kid");
    key = keyring.Find(kid.str);
    if (key == nullptr) return Fail("unknown kid");
    // A retired key's tokens end with its grace period, whatever their own `exp` says.
    if (now >= key->verify_until) return Fail("retired kid");
    // Every key in the ring is HS256, so the algorithm is pinned by construction.
  }

  // 3. Signature, in constant time, before any claim is trusted.
  if (signature_b64.empty()) return Fail("missing signature");
  if (signature_b64.size() != kSignatureChars) return Fail("bad signature");
  char signature[kSignatureBytes + 1];
  const auto signature_size = Base64UrlDecode(signature_b64, signature, sizeof(signature));
  if (!signature_size || *signature_size != kSignatureBytes) return Fail("bad signature");
  unsigned char expected[EVP_MAX_MD_SIZE];
  if (!ComputeHmac(*key, token.substr(0, dot2), expected)) return Fail("hmac failure");
  if (CRYPTO_memcmp(expected, signature, kSignatureBytes) != 0) return Fail("bad signature");

  // 4. Claims.
  char payload[Base64UrlDecodedSize(kMaxTokenBytes)];
  const auto payload_size = Base64UrlDecode(payload_b64, payload, sizeof(payload));
  if (!payload_size) return Fail("bad payload encoding");
  boost::json::basic_parser<FlatObjectHandler> parser(StrictOptions(), kClaimNames, kClaimCount,
                                                      false);
  if (!ParseFlat(std::string_view(payload, *payload_size), parser)) {
    return Fail(parser.handler().reason());
  }
  const FlatObjectHandler& h = parser.handler();

  Claims claims;
  const Slot& sub = h.slot(kCSub);
  if (sub.kind != Kind::kString || !ParsePositiveId(sub.str, claims.member_id)) {
    return Fail("bad sub");
  }
  const Slot& typ = h.slot(kCTyp);
  if (typ.kind != Kind::kString) return Fail("bad typ");
  if (typ.str != options.expected_type) return Fail("wrong token type");
  const Slot& iss = h.slot(kCIss);
  if (iss.kind != Kind::kString || iss.str != options.issuer) return Fail("wrong issuer");
  const Slot& aud = h.slot(kCAud);
  if (aud.kind != Kind::kString || aud.str != options.audience) return Fail("wrong audience");
  const Slot& role = h.slot(kCRole);
  if (role.kind != Kind::kString || role.str.empty()) return Fail("bad role");
  const Slot& jti = h.slot(kCJti);
  if (jti.kind != Kind::kString || jti.str.empty() || jti.str.size() > 128) return Fail("bad jti");

  const Slot& verified = h.slot(kCEmailVerified);
  if (verified.kind == Kind::kBool) {
    claims.email_verified = verified.num != 0;
  } else if (verified.kind != Kind::kAbsent) {
    return Fail("bad email_verified");
  }
  if (!NumericDate(h.slot(kCExp), claims.expires_at)) return Fail("bad exp");
  if (!NumericDate(h.slot(kCIat), claims.issued_at)) return Fail("bad iat");
  if (h.slot(kCNbf).kind == Kind::kAbsent) {
    claims.not_before = claims.issued_at;  // nbf is optional (RFC 7519 §4.1.5).
  } else if (!NumericDate(h.slot(kCNbf), claims.not_before)) {
    return Fail("bad nbf");
  }
  const auto leeway =
      std::clamp<std::chrono::seconds>(options.leeway, std::chrono::seconds{0}, kMaxLeeway);
  if (ExpiredAt(claims, options, now)) return Fail("expired");
  if (claims.not_before > now + leeway) return Fail("not yet valid");
  if (claims.issued_at > now + leeway) return Fail("issued in the future");
  if (claims.expires_at < claims.issued_at) return Fail("exp before iat");

  FlatObjectHandler& mutable_h = parser.handler();
  claims.role = mutable_h.Take(kCRole);
  claims.type = mutable_h.Take(kCTyp);
  claims.token_id = mutable_h.Take(kCJti);
  claims.issuer = mutable_h.Take(kCIss);
  claims.audience = mutable_h.Take(kCAud);
  return claims;
}

}  // namespace rocketmart::auth
