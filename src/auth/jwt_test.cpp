#include "auth/jwt.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

#include "auth/base64url.hpp"

namespace rocketmart::auth {
namespace {

using std::chrono::seconds;

const TimePoint kNow{seconds{1'800'000'000}};
const std::string kSecret(32, 'a');
const std::string kOtherSecret(32, 'b');
constexpr std::int64_t kNowS = 1'800'000'000;

VerifyOptions Options() {
  VerifyOptions o;
  o.issuer = "rocketmart";
  o.audience = "rocketmart-api";
  o.leeway = seconds{30};
  return o;
}

Keyring Ring() {
  Keyring ring;
  EXPECT_TRUE(ring.Add({"k1", kSecret}, true).ok());
  return ring;
}

Claims AccessClaims() {
  Claims c;
  c.member_id = 42;
  c.role = "user";
  c.type = "access";
  c.token_id = "0123456789abcdef0123456789abcdef";
  c.issued_at = kNow - seconds{10};
  c.not_before = kNow - seconds{10};
  c.expires_at = kNow + seconds{900};
  c.issuer = "rocketmart";
  c.audience = "rocketmart-api";
  return c;
}

// Ordered JSON members as raw text, so tests can build any (even invalid) document.
using Members = std::vector<std::pair<std::string, std::string>>;

std::string ToJson(const Members& members) {
  std::string out = "{";
  for (const auto& [k, v] : members) {
    if (out.size() > 1) out += ',';
    out += '"' + k + "\":" + v;
  }
  return out + "}";
}

Members Header(std::string alg = "\"HS256\"") {
  return {{"alg", std::move(alg)}, {"typ", "\"JWT\""}, {"kid", "\"k1\""}};
}

Members Payload() {
  return {{"sub", "\"42\""},
          {"role", "\"user\""},
          {"typ", "\"access\""},
          {"jti", "\"0123456789abcdef0123456789abcdef\""},
          {"iat", std::to_string(kNowS - 10)},
          {"nbf", std::to_string(kNowS - 10)},
          {"exp", std::to_string(kNowS + 900)},
          {"iss", "\"rocketmart\""},
          {"aud", "\"rocketmart-api\""}};
}

Members With(Members m, const std::string& key, std::string raw) {
  for (auto& [k, v] : m) {
    if (k == key) {
      v = std::move(raw);
      return m;
    }
  }
  m.emplace_back(key, std::move(raw));
  return m;
}

Members Without(Members m, const std::string& key) {
  std::erase_if(m, [&](const auto& kv) { return kv.first == key; });
  return m;
}

std::string HmacB64(std::string_view input, std::string_view secret) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(mac), len));
}

// Builds a token from raw header and payload JSON, signed with `secret` (empty: no signature).
std::string Craft(std::string_view header_json, std::string_view payload_json,
                  std::string_view secret = kSecret) {
  std::string input = Base64UrlEncode(header_json) + "." + Base64UrlEncode(payload_json);
  return input + "." + (secret.empty() ? std::string() : HmacB64(input, secret));
}

std::string Craft(const Members& header, const Members& payload,
                  std::string_view secret = kSecret) {
  return Craft(ToJson(header), ToJson(payload), secret);
}

TEST(JwtTest, RoundTrip) {
  const Keyring ring = Ring();
  const Claims in = AccessClaims();
  const std::string token = Sign(in, ring);
  auto out = Verify(token, ring, Options(), kNow);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->member_id, 42);
  EXPECT_EQ(out->role, "user");
  EXPECT_EQ(out->type, "access");
  EXPECT_EQ(out->token_id, in.token_id);
  EXPECT_EQ(out->issued_at, in.issued_at);
  EXPECT_EQ(out->not_before, in.not_before);
  EXPECT_EQ(out->expires_at, in.expires_at);
  EXPECT_EQ(out->issuer, "rocketmart");
  EXPECT_EQ(out->audience, "rocketmart-api");
  EXPECT_FALSE(out->email_verified);
}

TEST(JwtTest, EmailVerifiedClaimRoundTripsAndMustBeBoolean) {
  const Keyring ring = Ring();
  Claims in = AccessClaims();
  in.email_verified = true;
  auto out = Verify(Sign(in, ring), ring, Options(), kNow);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_TRUE(out->email_verified);
  const std::string header = R"({"alg":"HS256","typ":"JWT","kid":"k1"})";
  const std::string base = R"({"sub":"42","role":"user","typ":"access","jti":"j","iat":)" +
                           std::to_string(ToUnixSeconds(kNow)) + R"(,"exp":)" +
                           std::to_string(ToUnixSeconds(kNow) + 60) +
                           R"(,"iss":"rocketmart","aud":"rocketmart-api","email_verified":)";
  EXPECT_FALSE(Verify(Craft(header, base + "\"true\"}"), ring, Options(), kNow).ok());
  EXPECT_FALSE(Verify(Craft(header, base + "1}"), ring, Options(), kNow).ok());
  EXPECT_TRUE(Verify(Craft(header, base + "true}"), ring, Options(), kNow).ok());
}

TEST(JwtTest, HeaderIsPinnedAndSignGeneratesJti) {
  const Keyring ring = Ring();
  Claims c = AccessClaims();
  c.token_id.clear();
  const std::string token = Sign(c, ring);
  EXPECT_EQ(*Base64UrlDecode(token.substr(0, token.find('.'))),
            R"({"alg":"HS256","typ":"JWT","kid":"k1"})");
  auto out = Verify(token, ring, Options(), kNow);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->token_id.size(), 32u);
  EXPECT_NE(Sign(c, ring), token);  // A fresh jti every time.
}

TEST(JwtTest, CraftedValidTokenVerifies) {
  // Guards the forgery table: its base token must be valid, so each row tests exactly one change.
  auto out = Verify(Craft(Header(), Payload()), Ring(), Options(), kNow);
  ASSERT_TRUE(out.ok()) << out.error().message;
}

// The HMAC is built on OpenSSL's SHA-256 (jwt.cpp, InitHmacStates): its signatures must be
// OpenSSL's HMAC-SHA256 for every key length, including a key of exactly one SHA-256 block and
// keys longer than a block, which RFC 2104 hashes first.
TEST(JwtTest, SignaturesAreHmacSha256ForEveryKeyLength) {
  for (const std::size_t length : {32, 63, 64, 65, 100, 200}) {
    std::string secret(length, '\0');
    for (std::size_t i = 0; i < length; ++i) secret[i] = static_cast<char>(i * 37 + 11);
    Keyring ring;
    ASSERT_TRUE(ring.Add({"k1", secret}, true).ok());
    const std::string token = Sign(AccessClaims(), ring);
    const auto dot = token.rfind('.');
    ASSERT_NE(dot, std::string::npos);
    EXPECT_EQ(token.substr(dot + 1), HmacB64(token.substr(0, dot), secret)) << length;
    EXPECT_TRUE(Verify(Craft(Header(), Payload(), secret), ring, Options(), kNow).ok()) << length;
    EXPECT_FALSE(Verify(Craft(Header(), Payload(), secret + "x"), ring, Options(), kNow).ok())
        << length;
  }
}

TEST(JwtTest, RefreshTokenVerifiesOnlyAsRefresh) {
  const Keyring ring = Ring();
  Claims c = AccessClaims();
  c.type = "refresh";
  const std::string token = Sign(c, ring);
  VerifyOptions o = Options();
  o.expected_type = "refresh";
  EXPECT_TRUE(Verify(token, ring, o, kNow).ok());
  auto as_access = Verify(token, ring, Options(), kNow);
  ASSERT_FALSE(as_access.ok());
  EXPECT_EQ(as_access.error().message, "wrong token type");
}

struct ForgeryRow {
  std::string name;
  std::string token;
  std::string reason;  // Expected internal reason; empty = any rejection.
};

std::vector<ForgeryRow> ForgeryTable() {
  const std::string valid = Sign(AccessClaims(), Ring());
  const std::string valid_no_sig = valid.substr(0, valid.rfind('.') + 1);
  const auto header_with = [](const std::string& key, const std::string& raw) {
    return Craft(With(Header(), key, raw), Payload());
  };
  const auto payload_with = [](const std::string& key, const std::string& raw) {
    return Craft(Header(), With(Payload(), key, raw));
  };
  std::vector<ForgeryRow> rows = {
      {"alg none, no signature", Craft(Header("\"none\""), Payload(), ""), "unsupported alg"},
      {"alg none, signed", Craft(Header("\"none\""), Payload()), "unsupported alg"},
      {"alg None", Craft(Header("\"None\""), Payload(), ""), "unsupported alg"},
      {"alg HS512", Craft(Header("\"HS512\""), Payload()), "unsupported alg"},
      {"alg RS256", Craft(Header("\"RS256\""), Payload()), "unsupported alg"},
      {"alg hs256", Craft(Header("\"hs256\""), Payload()), "unsupported alg"},
      {"alg not a string", Craft(Header("256"), Payload()), "unsupported alg"},
      {"alg missing", Craft(Without(Header(), "alg"), Payload()), "missing alg"},
      {"unknown kid", header_with("kid", "\"k9\""), "unknown kid"},
      {"missing kid", Craft(Without(Header(), "kid"), Payload()), "missing kid"},
      {"kid not a string", header_with("kid", "1"), "bad kid"},
      {"wrong key", Craft(Header(), Payload(), kOtherSecret), "bad signature"},
      {"jku header", header_with("jku", "\"https://evil.example/jwks\""), "forbidden header jku"},
      {"x5u header", header_with("x5u", "\"https://evil.example/cert\""), "forbidden header x5u"},
      {"jwk header", header_with("jwk", R"({"kty":"oct","k":"AAAA"})"), "forbidden header jwk"},
      {"x5c header", header_with("x5c", R"(["MIIB"])"), "forbidden header x5c"},
      {"crit header", header_with("crit", R"(["exp"])"), "forbidden header crit"},
      {"unknown header", header_with("cty", "\"JWT\""), "unsupported member"},
      {"header typ not JWT", header_with("typ", "\"at+jwt+evil\""), "bad header typ"},
      {"header typ missing", Craft(Without(Header(), "typ"), Payload()), "missing typ"},
      {"header typ not a string", header_with("typ", "1"), "bad header typ"},
      {"header typ lower case", header_with("typ", "\"jwt\""), "bad header typ"},
      {"duplicate alg", Craft(R"({"alg":"HS256","alg":"none","kid":"k1"})", ToJson(Payload())),
       "duplicate member"},
      {"header not an object", Craft("[\"HS256\"]", ToJson(Payload())), "not a JSON object"},
      {"header not JSON", Craft("alg=HS256", ToJson(Payload())), ""},
      {"stripped signature", valid_no_sig, "missing signature"},
      {"two segments", valid.substr(0, valid.rfind('.')), "malformed token"},
      {"signature too short", valid.substr(0, valid.size() - 1), "bad signature"},
      {"signature too long", valid + "A", "bad signature"},
      {"expired", payload_with("exp", std::to_string(kNowS - 30 - 1)), "expired"},
      {"nbf in the future", payload_with("nbf", std::to_string(kNowS + 30 + 1)), "not yet valid"},
      {"iat in the future", payload_with("iat", std::to_string(kNowS + 31)),
       "issued in the future"},
      {"exp before iat", payload_with("exp", std::to_string(kNowS - 20)), "exp before iat"},
      {"wrong iss", payload_with("iss", "\"evil\""), "wrong issuer"},
      {"wrong aud", payload_with("aud", "\"other-api\""), "wrong audience"},
      {"aud as array", payload_with("aud", R"(["rocketmart-api"])"), "wrong audience"},
      {"refresh as access", payload_with("typ", "\"refresh\""), "wrong token type"},
      {"typ missing", Craft(Header(), Without(Payload(), "typ")), "bad typ"},
      {"duplicate exp",
       Craft(Header(),
             [] {
               Members m = Payload();
               m.emplace_back("exp", std::to_string(kNowS + 99999));
               return m;
             }()),
       "duplicate member"},
      {"duplicate unknown claim",
       Craft(Header(),
             [] {
               Members m = With(Payload(), "foo", "1");
               m.emplace_back("foo", "2");
               return m;
             }()),
       "duplicate member"},
      {"sub 0", payload_with("sub", "\"0\""), "bad sub"},
      {"sub -5", payload_with("sub", "\"-5\""), "bad sub"},
      {"sub abc", payload_with("sub", "\"abc\""), "bad sub"},
      {"sub huge", payload_with("sub", "\"99999999999999999999\""), "bad sub"},
      {"sub leading zero", payload_with("sub", "\"042\""), "bad sub"},
      {"sub plus", payload_with("sub", "\"+42\""), "bad sub"},
      {"sub as number", payload_with("sub", "42"), "bad sub"},
      {"sub missing", Craft(Header(), Without(Payload(), "sub")), "bad sub"},
      {"exp as string", payload_with("exp", "\"" + std::to_string(kNowS + 900) + "\""), "bad exp"},
      {"exp as float", payload_with("exp", std::to_string(kNowS + 900) + ".5"), "bad exp"},
      {"exp huge", payload_with("exp", "99999999999999999999"), "bad exp"},
      {"exp 1e300", payload_with("exp", "1e300"), "bad exp"},
      {"exp int64 max", payload_with("exp", "9223372036854775807"), "bad exp"},
      {"exp negative", payload_with("exp", "-1"), "bad exp"},
      {"exp null", payload_with("exp", "null"), "bad exp"},
      {"exp missing", Craft(Header(), Without(Payload(), "exp")), "bad exp"},
      {"iat missing", Craft(Header(), Without(Payload(), "iat")), "bad iat"},
      {"nbf as bool", payload_with("nbf", "true"), "bad nbf"},
      {"role as object", payload_with("role", R"({"admin":true})"), "bad role"},
      {"jti missing", Craft(Header(), Without(Payload(), "jti")), "bad jti"},
      {"payload is an array", Craft(ToJson(Header()), "[1,2,3]"), "not a JSON object"},
      {"payload is a string", Craft(ToJson(Header()), "\"hi\""), "not a JSON object"},
      {"payload trailing garbage", Craft(ToJson(Header()), ToJson(Payload()) + "x"), ""},
      {"payload with comment", Craft(ToJson(Header()), "/*x*/" + ToJson(Payload())), ""},
      {"payload deeply nested", payload_with("x", std::string(50, '[') + std::string(50, ']')), ""},
      {"payload invalid utf8", payload_with("x", "\"\xff\xfe\""), ""},
      {"truncated", valid.substr(0, valid.size() / 2), ""},
      {"three dots", "...", "malformed token"},
      {"four segments", valid + ".x", "malformed token"},
      {"empty", "", "empty token"},
      {"64 KB", std::string(64 * 1024, 'A'), "token too large"},
      {"padding in header",
       Base64UrlEncode(ToJson(Header())) + "==." + valid.substr(valid.find('.') + 1),
       "bad header encoding"},
      {"no dots", "eyJhbGciOiJIUzI1NiJ9", "malformed token"},
  };
  // Standard-alphabet characters in the signature: same bits, different encoding.
  std::string std_alphabet = valid;
  for (std::size_t i = valid.rfind('.') + 1; i < std_alphabet.size(); ++i) {
    if (std_alphabet[i] == '-') std_alphabet[i] = '+';
    if (std_alphabet[i] == '_') std_alphabet[i] = '/';
  }
  if (std_alphabet != valid) rows.push_back({"standard base64 signature", std_alphabet, ""});
  rows.push_back({"standard base64 header", Craft(Header(), Payload()).replace(0, 1, "+"), ""});
  return rows;
}

TEST(JwtTest, ForgeryTableIsRejected) {
  const Keyring ring = Ring();
  for (const auto& row : ForgeryTable()) {
    auto result = Verify(row.token, ring, Options(), kNow);
    ASSERT_FALSE(result.ok()) << row.name;
    EXPECT_EQ(result.error().code, Errc::kUnauthenticated) << row.name;
    if (!row.reason.empty()) {
      EXPECT_EQ(result.error().message, row.reason) << row.name;
    }
  }
}

TEST(JwtTest, ExpiryLeewayEdges) {
  const Keyring ring = Ring();
  Claims c = AccessClaims();
  c.issued_at = c.not_before = kNow - seconds{900};
  c.expires_at = kNow - seconds{30};  // Exactly at the leeway edge: accepted.
  EXPECT_TRUE(Verify(Sign(c, ring), ring, Options(), kNow).ok());
  c.expires_at = kNow - seconds{31};
  EXPECT_EQ(Verify(Sign(c, ring), ring, Options(), kNow).error().message, "expired");

  c = AccessClaims();
  c.not_before = kNow + seconds{30};  // nbf at the leeway edge: accepted.
  EXPECT_TRUE(Verify(Sign(c, ring), ring, Options(), kNow).ok());

  // Leeway is clamped to 60 s however it is configured.
  VerifyOptions lax = Options();
  lax.leeway = seconds{3600};
  c = AccessClaims();
  c.issued_at = c.not_before = kNow - seconds{900};
  c.expires_at = kNow - seconds{61};
  EXPECT_EQ(Verify(Sign(c, ring), ring, lax, kNow).error().message, "expired");
}

TEST(JwtTest, EveryFlippedBitIsRejected) {
  const Keyring ring = Ring();
  const std::string token = Sign(AccessClaims(), ring);
  ASSERT_TRUE(Verify(token, ring, Options(), kNow).ok());
  for (std::size_t i = 0; i < token.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string t = token;
      t[i] = static_cast<char>(t[i] ^ (1 << bit));
      EXPECT_FALSE(Verify(t, ring, Options(), kNow).ok()) << "byte " << i << " bit " << bit;
    }
  }
}

TEST(JwtTest, GarbageNeverVerifiesNorCrashes) {
  const Keyring ring = Ring();
  std::mt19937 rng(12345);
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/{}\":";
  for (int n = 0; n < 2000; ++n) {
    std::string t(rng() % 300, '\0');
    for (char& ch : t) ch = alphabet[rng() % alphabet.size()];
    EXPECT_FALSE(Verify(t, ring, Options(), kNow).ok());
  }
  std::string binary(10 * 1024, '\0');
  for (char& ch : binary) ch = static_cast<char>(rng());
  EXPECT_FALSE(Verify(binary, ring, Options(), kNow).ok());
  // Valid signature over garbage JSON: exercises the payload parser on hostile input.
  for (int n = 0; n < 500; ++n) {
    std::string json(rng() % 200, '\0');
    for (char& ch : json) ch = "{}[]\",:0123456789eE.-tfnul\\ab"[rng() % 29];
    EXPECT_FALSE(Verify(Craft(ToJson(Header()), json), ring, Options(), kNow).ok());
  }
}

TEST(JwtTest, KeyRotation) {
  Keyring ring;
  ASSERT_TRUE(ring.Add({"k1", kSecret}, true).ok());
  const std::string old_token = Sign(AccessClaims(), ring);

  ASSERT_TRUE(ring.Add({"k2", kOtherSecret}, true).ok());
  EXPECT_EQ(ring.active_kid(), "k2");
  const std::string new_token = Sign(AccessClaims(), ring);
  EXPECT_EQ(*Base64UrlDecode(new_token.substr(0, new_token.find('.'))),
            R"({"alg":"HS256","typ":"JWT","kid":"k2"})");
  EXPECT_TRUE(Verify(old_token, ring, Options(), kNow).ok());  // k1 is now verify-only.
  EXPECT_TRUE(Verify(new_token, ring, Options(), kNow).ok());

  EXPECT_FALSE(ring.Remove("k2"));  // The active key cannot be removed.
  EXPECT_TRUE(ring.Remove("k1"));
  EXPECT_EQ(Verify(old_token, ring, Options(), kNow).error().message, "unknown kid");
  EXPECT_TRUE(Verify(new_token, ring, Options(), kNow).ok());

  // A key added verify-only never signs.
  Keyring verify_only;
  ASSERT_TRUE(verify_only.Add({"k1", kSecret}, false).ok());
  EXPECT_FALSE(verify_only.has_active());
  EXPECT_TRUE(Verify(old_token, verify_only, Options(), kNow).ok());
  EXPECT_THROW((void)Sign(AccessClaims(), verify_only), std::logic_error);
}

// Battery G2: after a rotation the retiring key's tokens verify until its grace ends, then answer
// "retired kid" even though their own exp lies later; new tokens carry only the new key.
TEST(JwtTest, ARetiringKeyVerifiesOnlyUntilItsGraceEnds) {
  Keyring before;
  ASSERT_TRUE(before.Add({"k1", kSecret}, true).ok());
  Claims long_lived = AccessClaims();
  long_lived.expires_at = kNow + seconds{86'400};
  const std::string old_token = Sign(long_lived, before);

  const TimePoint grace_end = kNow + seconds{600};
  Keyring after;
  ASSERT_TRUE(after.Add({"k1", kSecret, grace_end}, false).ok());
  ASSERT_TRUE(after.Add({"k2", kOtherSecret}, true).ok());
  const std::string new_token = Sign(AccessClaims(), after);
  EXPECT_EQ(*Base64UrlDecode(new_token.substr(0, new_token.find('.'))),
            R"({"alg":"HS256","typ":"JWT","kid":"k2"})");

  EXPECT_TRUE(Verify(old_token, after, Options(), kNow).ok());
  EXPECT_TRUE(Verify(old_token, after, Options(), grace_end - seconds{1}).ok());
  auto at_end = Verify(old_token, after, Options(), grace_end);
  ASSERT_FALSE(at_end.ok());
  EXPECT_EQ(at_end.error().code, Errc::kUnauthenticated);
  EXPECT_EQ(at_end.error().message, "retired kid");
  EXPECT_TRUE(Verify(new_token, after, Options(), grace_end).ok());

  // The signing key has no end: a ring that would stop verifying its own tokens is refused.
  Keyring wrong;
  auto ending_active = wrong.Add({"k2", kOtherSecret, grace_end}, true);
  ASSERT_FALSE(ending_active.ok());
  EXPECT_EQ(ending_active.error().code, Errc::kValidationFailed);
}

TEST(JwtTest, KeyringRejectsBadKeys) {
  Keyring ring;
  auto short_key = ring.Add({"k1", std::string(31, 'x')}, true);
  ASSERT_FALSE(short_key.ok());
  EXPECT_EQ(short_key.error().code, Errc::kValidationFailed);
  EXPECT_FALSE(ring.Add({"", kSecret}, true).ok());
  EXPECT_FALSE(ring.Add({"bad\"kid", kSecret}, true).ok());
  EXPECT_FALSE(ring.Add({std::string(65, 'k'), kSecret}, true).ok());
  ASSERT_TRUE(ring.Add({"k1", kSecret}, true).ok());
  EXPECT_FALSE(ring.Add({"k1", kOtherSecret}, false).ok());
  EXPECT_EQ(ring.size(), 1u);
}

TEST(JwtTest, Base64UrlIsStrict) {
  for (std::size_t n = 0; n < 40; ++n) {
    std::string data;
    for (std::size_t i = 0; i < n; ++i) data.push_back(static_cast<char>(i * 37 + 250));
    const std::string enc = Base64UrlEncode(data);
    EXPECT_EQ(enc.find('='), std::string::npos);
    auto dec = Base64UrlDecode(enc);
    ASSERT_TRUE(dec.has_value()) << n;
    EXPECT_EQ(*dec, data);
  }
  EXPECT_FALSE(Base64UrlDecode("QQ==").has_value());  // Padding.
  EXPECT_FALSE(Base64UrlDecode("QR").has_value());    // Non-zero unused bits.
  EXPECT_FALSE(Base64UrlDecode("QUJ").has_value());   // Non-zero unused bits.
  EXPECT_FALSE(Base64UrlDecode("a+b/").has_value());  // Standard alphabet.
  EXPECT_FALSE(Base64UrlDecode("QUJD R").has_value());
  EXPECT_FALSE(Base64UrlDecode("A").has_value());  // Impossible length.
  EXPECT_EQ(*Base64UrlDecode("QUI"), "AB");
  EXPECT_EQ(*Base64UrlDecode("-_-_"), "\xfb\xff\xbf");
}

}  // namespace
}  // namespace rocketmart::auth
