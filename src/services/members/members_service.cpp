#include "services/members/members_service.hpp"

#include <sodium.h>

#include <algorithm>

#include "auth/random.hpp"
#include "services/members/domain/mail.hpp"

namespace rocketmart::members {
namespace {

using boost::asio::awaitable;

constexpr std::size_t kTokenHexChars = 64;  // 256 bits
constexpr std::size_t kMyPageLimit = 20;

Error Unauthenticated() {
  // One message for unknown email and wrong password (no enumeration).
  return MakeError(Errc::kUnauthenticated, "invalid email or password");
}

Error BadLink() {
  // One answer for unknown, used, superseded and expired tokens: no oracle for guessing.
  return MakeError(Errc::kValidationFailed, "this link is invalid or has expired", "token");
}

Error BadRefresh() {
  return MakeError(Errc::kUnauthenticated, "invalid or expired refresh token");
}

// Field names on the wire differ per endpoint (password vs newPassword).
Status Renamed(Status st, std::string field) {
  if (st.ok()) return st;
  Error e = st.error();
  e.field = std::move(field);
  return e;
}

std::string FamilyOf(std::string_view token_id) {
  const std::size_t dot = token_id.find('.');
  return dot == std::string_view::npos ? std::string() : std::string(token_id.substr(0, dot));
}

MembersOptions WithoutTrailingSlash(MembersOptions options) {
  while (options.public_base_url.ends_with('/')) options.public_base_url.pop_back();
  return options;
}

}  // namespace

Error RateLimitedError(std::chrono::seconds retry_after) {
  const auto secs = std::max<std::int64_t>(1, retry_after.count());
  return MakeError(Errc::kRateLimited,
                   "too many attempts; retry in " + std::to_string(secs) + " seconds",
                   std::to_string(secs));
}

MembersService::MembersService(MembersPorts ports, const auth::Keyring& keyring, const Clock& clock,
                               MembersOptions options)
    : repository_(ports.repository),
      hasher_(ports.hasher),
      cipher_(ports.cipher),
      revoker_(ports.revoker),
      throttles_(ports.throttles),
      orders_(ports.orders),
      wishlist_(ports.wishlist),
      likes_(ports.likes),
      keyring_(keyring),
      clock_(clock),
      options_(WithoutTrailingSlash(std::move(options))) {}

awaitable<Status> MembersService::Load() {
  co_return co_await Replay();
}

awaitable<Status> MembersService::Replay() {
  auto loaded = co_await repository_.LoadDenylist(clock_.Now());
  if (!loaded.ok()) co_return loaded.error();
  const DenylistSnapshot& snapshot = *loaded;
  Status all = Ok();
  for (const auto& d : snapshot.denied_tokens) {
    Status st = Ok();
    if (d.family) {
      st = co_await revoker_.DenyFamily(d.member_id, d.jti, d.expires_at);
    } else {
      st = co_await revoker_.DenyToken(d.member_id, d.jti, d.expires_at);
    }
    if (!st.ok()) all = std::move(st);
  }
  for (const auto& [member, after] : snapshot.valid_after) {
    Status st = co_await revoker_.InvalidateBefore(member, after);
    if (!st.ok()) all = std::move(st);
  }
  co_return all;
}

awaitable<bool> MembersService::RepublishRevocations() {
  if (!republish_pending_.exchange(false, std::memory_order_acq_rel)) co_return false;
  Status st = co_await Replay();
  if (!st.ok()) republish_pending_.store(true, std::memory_order_release);
  co_return st.ok();
}

Status MembersService::Published(Status st) {
  if (st.ok()) return st;
  // The change is committed (the durable record); the gateway may still accept the tokens. Say
  // so, and replay the record until the revoker takes it.
  revocations_unpublished_.fetch_add(1, std::memory_order_relaxed);
  republish_pending_.store(true, std::memory_order_release);
  return MakeError(Errc::kUnavailable,
                   "saved, but not every server refuses the old tokens yet; this is retried "
                   "automatically");
}

bool MembersService::IsWellFormedToken(std::string_view token) {
  return token.size() == kTokenHexChars && std::all_of(token.begin(), token.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string MembersService::HashToken(std::string_view token) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(token.data()), token.size());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * sizeof digest);
  for (unsigned char b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

awaitable<Status> MembersService::Limit(std::string key, int per_hour, TimePoint now) {
  const WindowRule rule{per_hour, std::chrono::hours{1}};
  auto verdict = co_await throttles_.Acquire(std::move(key), rule, now);
  if (!verdict.ok()) co_return verdict.error();
  if (*verdict) co_return RateLimitedError(**verdict);
  co_return Ok();
}

awaitable<Status> MembersService::AttemptLink(const std::string& ip_key, TimePoint now) {
  auto verdict = co_await throttles_.Attempt(ip_key, options_.ip_throttle, now);
  if (!verdict.ok()) co_return verdict.error();
  if (*verdict) co_return RateLimitedError(**verdict);
  co_return Ok();
}

awaitable<void> MembersService::Forgive(std::string key) {
  auto st = co_await throttles_.Forgive(std::move(key));
  (void)st;
}

TimePoint MembersService::ValidAfter(TimePoint now) {
  return std::chrono::floor<std::chrono::seconds>(now) + std::chrono::seconds{1};
}

std::string MembersService::Seal(std::int64_t id, std::string_view field,
                                 std::string_view plaintext) const {
  if (plaintext.empty()) return {};
  return cipher_.Seal(plaintext, "member:" + std::to_string(id) + ":" + std::string(field));
}

std::optional<std::string> MembersService::OpenField(std::int64_t id, std::string_view field,
                                                     const std::string& sealed) const {
  if (sealed.empty()) return std::nullopt;
  auto plain = cipher_.Open(sealed, "member:" + std::to_string(id) + ":" + std::string(field));
  if (!plain)
    throw std::runtime_error("members: stored " + std::string(field) + " of member " +
                             std::to_string(id) + " does not decrypt (wrong data key?)");
  return plain;
}

ProfileView MembersService::View(const MemberRecord& r) const {
  ProfileView v;
  v.id = r.id;
  v.email = r.email;
  v.name = r.name;
  v.phone = OpenField(r.id, "phone", r.phone_sealed);
  v.address = OpenField(r.id, "address", r.address_sealed);
  v.email_verified = r.email_verified;
  v.role = r.role;
  v.created_at = r.created_at;
  return v;
}

Result<TokenPair> MembersService::IssueTokens(const MemberRecord& member,
                                              const std::string& family_id,
                                              const std::string& refresh_token,
                                              TimePoint family_expires_at, TimePoint now) {
  (void)family_expires_at;
  auth::Claims claims;
  claims.member_id = member.id;
  claims.role = std::string(RoleName(member.role));
  claims.type = std::string(auth::kAccessType);
  // The family rides in the jti so password change can keep the caller's own session.
  claims.token_id = family_id + "." + auth::RandomHex(8);
  // Never before the member's revocation instant, so a token issued in the same second as a
  // logout-all is not voided with the old ones.
  claims.issued_at = std::max(now, member.tokens_valid_after);
  claims.not_before = now;
  claims.expires_at = now + options_.access_ttl;
  claims.issuer = options_.issuer;
  claims.audience = options_.audience;
  claims.email_verified = member.email_verified;
  TokenPair pair;
  pair.access_token = auth::Sign(claims, keyring_);
  pair.refresh_token = refresh_token;
  pair.expires_in = options_.access_ttl.count();
  return pair;
}

awaitable<Status> MembersService::Signup(SignupInput input, std::string client_ip) {
  if (auto st = ValidateEmail(input.email); !st.ok()) co_return st;
  if (auto st = ValidatePassword(input.password); !st.ok()) co_return st;
  if (auto st = ValidateName(input.name); !st.ok()) co_return st;
  if (!input.phone.empty()) {
    if (auto st = ValidatePhone(input.phone); !st.ok()) co_return st;
  }
  if (auto st = ValidateAddress(input.address); !st.ok()) co_return st;
  const TimePoint now = clock_.Now();
  if (auto st = co_await Limit("signup:" + client_ip, options_.signups_per_ip_per_hour, now);
      !st.ok()) {
    co_return st;
  }
  // Hash whether or not the email is taken: both answers cost the same.
  auto hash = co_await hasher_.Hash(std::move(input.password));
  if (!hash.ok()) co_return hash.error();

  const std::string token = auth::RandomHex(32);
  const std::string& base_url = options_.public_base_url;
  const std::string link = base_url + "/member/verify?token=" + token;
  const int hours = static_cast<int>(options_.verify_ttl.count() / 3600);
  MemberRepository::SignupRequest request;
  request.member.email = input.email;
  request.member.password_hash = std::move(*hash);
  request.member.name = input.name;
  request.phone = std::move(input.phone);
  request.address = std::move(input.address);
  request.verify_token_hash = HashToken(token);
  request.verify_expires_at = now + options_.verify_ttl;
  request.new_mail.sealed =
      cipher_.Seal(EncodeMail(VerificationMail(input.email, input.name, link, hours)), "mail");
  request.taken_mail.sealed = cipher_.Seal(
      EncodeMail(SignupAttemptMail(input.email, base_url + "/member/find-password")), "mail");
  request.now = now;
  auto seal = [this](std::int64_t id, std::string_view field, std::string_view plain) {
    return Seal(id, field, plain);
  };
  auto created = co_await repository_.Signup(std::move(request), seal);
  if (!created.ok()) co_return created.error();
  co_return Ok();
}

awaitable<Result<MembersService::VerifyOutcome>> MembersService::VerifyEmail(
    std::string token, std::string client_ip) {
  const TimePoint now = clock_.Now();
  // Every use of a link counts as a guess from the client address until it proves a real one.
  const std::string ip_key = "link:" + client_ip;
  if (auto st = co_await AttemptLink(ip_key, now); !st.ok()) co_return st.error();
  if (!IsWellFormedToken(token)) co_return BadLink();
  auto consumed = co_await repository_.ConsumeVerification(HashToken(token), now);
  if (!consumed.ok()) co_return BadLink();
  co_await Forgive(ip_key);
  co_return VerifyOutcome{consumed->already_verified};
}

awaitable<Status> MembersService::ResendVerification(std::string email, std::string client_ip) {
  co_return co_await RecordMailRequest(MailRequestKind::kVerification, std::move(email),
                                       std::move(client_ip));
}

awaitable<Status> MembersService::RecordMailRequest(MailRequestKind kind, std::string email,
                                                    std::string client_ip) {
  if (auto st = ValidateEmail(email); !st.ok()) co_return st;
  const TimePoint now = clock_.Now();
  if (auto st = co_await Limit("mail:" + client_ip, options_.mails_per_ip_per_hour, now);
      !st.ok()) {
    co_return st;
  }
  // No lookup here: whether the address is registered is decided by the mail worker, so the
  // answer (and its time) is the same for every address (no enumeration, ASVS 6.3.8).
  co_return co_await repository_.RecordMailRequest(kind, cipher_.Seal(email, "mail-request"), now);
}

awaitable<Result<std::optional<TokenIssue>>> MembersService::LinkFor(MailRequestKind kind,
                                                                     std::string email,
                                                                     TimePoint now) {
  using Link = std::optional<TokenIssue>;
  auto found = co_await repository_.FindByEmail(std::move(email));
  if (!found.ok()) co_return found.error();
  const std::optional<MemberRecord>& member = *found;
  if (!member) co_return Link{};
  const bool reset = kind == MailRequestKind::kPasswordReset;
  if (!reset && member->email_verified) co_return Link{};
  // Over the per-account limit the mail is just not sent (the request was answered long ago).
  const std::string limit_key = (reset ? "reset:" : "verify:") + std::to_string(member->id);
  if (auto st = co_await Limit(limit_key, options_.mails_per_account_per_hour, now); !st.ok()) {
    if (st.error().code == Errc::kRateLimited) co_return Link{};
    co_return st.error();
  }
  const std::string token = auth::RandomHex(32);
  const std::string& base_url = options_.public_base_url;
  TokenIssue issue;
  issue.member_id = member->id;
  issue.token_hash = HashToken(token);
  if (reset) {
    issue.kind = TokenKind::kResetPassword;
    issue.expires_at = now + options_.reset_ttl;
    const std::string link = base_url + "/member/reset-password?token=" + token;
    issue.mail.sealed =
        cipher_.Seal(EncodeMail(ResetMail(member->email, link,
                                          static_cast<int>(options_.reset_ttl.count() / 60))),
                     "mail");
  } else {
    issue.kind = TokenKind::kVerifyEmail;
    issue.expires_at = now + options_.verify_ttl;
    const std::string link = base_url + "/member/verify?token=" + token;
    issue.mail.sealed = cipher_.Seal(
        EncodeMail(VerificationMail(member->email, member->name, link,
                                    static_cast<int>(options_.verify_ttl.count() / 3600))),
        "mail");
  }
  co_return Link{std::move(issue)};
}

awaitable<int> MembersService::ResolveMailRequests() {
  constexpr std::size_t kBatch = 64;
  int resolved = 0;
  for (;;) {
    // Claimed for a lease: another instance's resolver skips them meanwhile.
    const TimePoint claimed_at = clock_.Now();
    auto claimed = co_await repository_.ClaimMailRequests(kBatch, claimed_at,
                                                          claimed_at + options_.mail_request_lease);
    if (!claimed.ok()) co_return resolved;  // the writer is overloaded: the next pass retries
    std::vector<MailRequest> batch = std::move(*claimed);
    for (MailRequest& request : batch) {
      const TimePoint now = clock_.Now();
      std::optional<TokenIssue> issue;
      // A row this key cannot open (the data key changed) earns nothing; it is deleted anyway.
      if (auto address = cipher_.Open(request.sealed_address, "mail-request")) {
        auto link = co_await LinkFor(request.kind, std::move(*address), now);
        if (!link.ok()) co_return resolved;  // the throttle store is down: the next pass retries
        issue = std::move(*link);
      }
      auto st = co_await repository_.ResolveMailRequest(std::move(request), std::move(issue), now);
      if (!st.ok() && st.error().code == Errc::kConflict) continue;  // another resolver has it
      // Overloaded: the claims lapse at the end of their lease and a later pass resolves them.
      if (!st.ok()) co_return resolved;
      ++resolved;
    }
    if (batch.size() < kBatch) co_return resolved;
  }
}

awaitable<Result<TokenPair>> MembersService::Login(std::string email, std::string password,
                                                   std::string client_ip) {
  const TimePoint now = clock_.Now();
  const std::string ip_key = "login:" + client_ip;
  const std::string account_key = "login:" + EmailKey(email);
  // Each attempt counts against the client address and the account before the password is
  // checked (so parallel guesses cannot all pass one check), and is taken back if it was right.
  auto by_ip = co_await throttles_.Attempt(ip_key, options_.ip_throttle, now);
  if (!by_ip.ok()) co_return by_ip.error();
  ThrottleVerdict wait = *by_ip;
  if (!wait) {
    auto by_account = co_await throttles_.Attempt(account_key, options_.account_throttle, now);
    if (!by_account.ok() || *by_account) co_await Forgive(ip_key);  // not checked: no guess
    if (!by_account.ok()) co_return by_account.error();
    wait = *by_account;
  }
  if (wait) {
    logins_throttled_.fetch_add(1, std::memory_order_relaxed);
    co_return RateLimitedError(*wait);
  }

  std::optional<MemberRecord> member;
  if (ValidateEmail(email).ok()) {
    auto found = co_await repository_.FindByEmail(email);
    if (!found.ok()) {  // not checked: no guess was made
      co_await Forgive(ip_key);
      co_await Forgive(account_key);
      co_return found.error();
    }
    member = std::move(*found);
  }
  std::optional<std::string> stored;
  if (member) stored = member->password_hash;
  auto check = co_await hasher_.Verify(stored, password);
  if (!check.ok()) {  // not checked (the hasher is overloaded): no guess was made
    co_await Forgive(ip_key);
    co_await Forgive(account_key);
    co_return check.error();
  }
  if (!member || !check->match) {
    login_failures_.fetch_add(1, std::memory_order_relaxed);
    co_return Unauthenticated();
  }
  co_await Forgive(ip_key);
  auto reset = co_await throttles_.Reset(account_key);
  (void)reset;  // best effort: the login succeeds either way
  if (check->needs_rehash) {
    auto upgraded = co_await hasher_.Hash(password);
    if (upgraded.ok()) {
      auto st =
          co_await repository_.UpgradeHash(member->id, member->password_hash, std::move(*upgraded));
      (void)st;  // best effort: the login succeeds either way
    }
  }
  const std::string family = auth::RandomHex(16);
  const std::string refresh = auth::RandomHex(32);
  const TimePoint family_expires = now + options_.refresh_ttl;
  auto stored_refresh = co_await repository_.StoreRefresh(member->id, family, HashToken(refresh),
                                                          family_expires, now);
  if (!stored_refresh.ok()) co_return stored_refresh.error();
  co_return IssueTokens(*member, family, refresh, family_expires, now);
}

awaitable<Result<TokenPair>> MembersService::Refresh(std::string refresh_token) {
  if (!IsWellFormedToken(refresh_token)) co_return BadRefresh();
  const TimePoint now = clock_.Now();
  const std::string next = auth::RandomHex(32);
  // On reuse, the family's access tokens are denied for as long as any of them can live.
  const TimePoint denied_until = now + options_.access_ttl;
  auto outcome = co_await repository_.RotateRefresh(HashToken(refresh_token), HashToken(next),
                                                    denied_until, now);
  if (!outcome.ok()) co_return outcome.error();
  if (outcome->status == RefreshStatus::kReused) {
    Status denied =
        co_await revoker_.DenyFamily(outcome->member_id, outcome->family_id, denied_until);
    if (!denied.ok()) co_return Published(std::move(denied)).error();
  }
  if (outcome->status != RefreshStatus::kRotated) co_return BadRefresh();
  auto found = co_await repository_.FindById(outcome->member_id);
  if (!found.ok()) co_return found.error();
  const std::optional<MemberRecord>& member = *found;
  if (!member) co_return BadRefresh();
  co_return IssueTokens(*member, outcome->family_id, next, outcome->family_expires_at, now);
}

awaitable<Status> MembersService::Logout(auth::Identity identity,
                                         std::optional<std::string> refresh_token) {
  std::optional<std::string> hash;
  if (refresh_token) {
    if (!IsWellFormedToken(*refresh_token)) {
      co_return MakeError(Errc::kValidationFailed, "refreshToken is malformed", "refreshToken");
    }
    hash = HashToken(*refresh_token);
  }
  // A session's access tokens all end with it (those issued before its last refresh too). A token
  // minted outside a session (`rocketmart token`) has no family and is denied alone.
  const TimePoint now = clock_.Now();
  AccessDenial denial{FamilyOf(identity.token_id), true,
                      std::max(identity.expires_at, now + options_.access_ttl)};
  if (denial.id.empty()) denial = AccessDenial{identity.token_id, false, identity.expires_at};
  auto st = co_await repository_.Logout(identity.member_id, std::move(hash), denial, now);
  if (!st.ok()) co_return st;
  Status published = Ok();
  if (denial.family) {
    published = co_await revoker_.DenyFamily(identity.member_id, denial.id, denial.expires_at);
  } else {
    published = co_await revoker_.DenyToken(identity.member_id, denial.id, denial.expires_at);
  }
  co_return Published(std::move(published));
}

awaitable<Status> MembersService::LogoutAll(auth::Identity identity) {
  const TimePoint valid_after = ValidAfter(clock_.Now());
  auto stored =
      co_await repository_.RevokeSessions(identity.member_id, "", valid_after, clock_.Now());
  if (!stored.ok()) co_return stored.error();
  Status published = co_await revoker_.InvalidateBefore(identity.member_id, *stored);
  co_return Published(std::move(published));
}

awaitable<Status> MembersService::UpdatePassword(auth::Identity identity,
                                                 std::string current_password,
                                                 std::string new_password) {
  if (auto st = Renamed(ValidatePassword(new_password), "newPassword"); !st.ok()) co_return st;
  auto found = co_await repository_.FindById(identity.member_id);
  if (!found.ok()) co_return found.error();
  const std::optional<MemberRecord>& member = *found;
  if (!member) co_return MakeError(Errc::kNotFound, "no such member");
  const TimePoint now = clock_.Now();
  const std::string account_key = "login:" + EmailKey(member->email);
  auto attempt = co_await throttles_.Attempt(account_key, options_.account_throttle, now);
  if (!attempt.ok()) co_return attempt.error();
  if (*attempt) co_return RateLimitedError(**attempt);
  auto check = co_await hasher_.Verify(member->password_hash, std::move(current_password));
  if (!check.ok() || check->match) co_await Forgive(account_key);
  if (!check.ok()) co_return check.error();
  if (!check->match) {
    co_return MakeError(Errc::kValidationFailed, "the current password is not correct",
                        "currentPassword");
  }
  auto hash = co_await hasher_.Hash(std::move(new_password));
  if (!hash.ok()) co_return hash.error();
  const TimePoint valid_after = ValidAfter(clock_.Now());
  auto stored = co_await repository_.ChangePassword(
      member->id, std::move(*hash), FamilyOf(identity.token_id), valid_after, clock_.Now());
  if (!stored.ok()) co_return stored.error();
  Status published = co_await revoker_.InvalidateBefore(member->id, *stored);
  co_return Published(std::move(published));
}

awaitable<Status> MembersService::FindPassword(std::string email, std::string client_ip) {
  co_return co_await RecordMailRequest(MailRequestKind::kPasswordReset, std::move(email),
                                       std::move(client_ip));
}

awaitable<Status> MembersService::ResetPassword(std::string token, std::string new_password,
                                                std::string client_ip) {
  const TimePoint now = clock_.Now();
  const std::string ip_key = "link:" + client_ip;
  if (auto st = co_await AttemptLink(ip_key, now); !st.ok()) co_return st;
  if (!IsWellFormedToken(token)) co_return BadLink();
  if (auto st = Renamed(ValidatePassword(new_password), "newPassword"); !st.ok()) {
    co_await Forgive(ip_key);  // the link was not tried
    co_return st;
  }
  auto hash = co_await hasher_.Hash(std::move(new_password));
  if (!hash.ok()) {
    co_await Forgive(ip_key);
    co_return hash.error();
  }
  const TimePoint valid_after = ValidAfter(clock_.Now());
  auto revocation = co_await repository_.ConsumeReset(HashToken(token), std::move(*hash),
                                                      valid_after, clock_.Now());
  if (!revocation.ok()) co_return BadLink();
  co_await Forgive(ip_key);
  Status published =
      co_await revoker_.InvalidateBefore(revocation->member_id, revocation->valid_after);
  co_return Published(std::move(published));
}

awaitable<Result<MembersService::MemberPage>> MembersService::ListMembers(
    std::optional<std::string> q, std::int64_t before_id, std::size_t limit) {
  MemberListQuery query{std::nullopt, before_id, limit + 1};
  if (q) {
    auto prefix = MakeSearchPrefix(*q);
    if (!prefix.ok()) co_return prefix.error();
    query.search = std::move(*prefix);
  }
  auto found = co_await repository_.ListMembers(std::move(query));
  if (!found.ok()) co_return found.error();
  MemberPage page{std::move(found->items), found->total, 0};
  if (page.items.size() > limit) {
    page.items.resize(limit);
    page.next_before_id = page.items.back().id;
  }
  co_return page;
}

awaitable<Result<ProfileView>> MembersService::Me(std::int64_t member_id) {
  auto found = co_await repository_.FindById(member_id);
  if (!found.ok()) co_return found.error();
  if (!*found) co_return MakeError(Errc::kNotFound, "no such member");
  co_return View(**found);
}

awaitable<Result<ProfileView>> MembersService::UpdateProfile(std::int64_t member_id,
                                                             ProfileChanges changes) {
  if (auto st = ValidateChanges(changes); !st.ok()) co_return st.error();
  MemberRepository::ProfileUpdate update;
  update.name = std::move(changes.name);
  if (changes.phone) update.phone_sealed = Seal(member_id, "phone", *changes.phone);
  if (changes.address) update.address_sealed = Seal(member_id, "address", *changes.address);
  auto stored = co_await repository_.UpdateProfile(member_id, std::move(update), clock_.Now());
  if (!stored.ok()) co_return stored.error();
  co_return View(*stored);
}

awaitable<Result<MyPageView>> MembersService::MyPage(std::int64_t member_id, Deadline deadline) {
  auto profile = co_await Me(member_id);
  if (!profile.ok()) co_return profile.error();
  MyPageView page;
  page.profile = std::move(*profile);
  // A section whose service fails is "unavailable"; the page itself still answers.
  auto orders = co_await orders_.RecentOrders(member_id, kMyPageLimit, deadline);
  if (orders.ok()) page.orders.items = std::move(*orders);
  auto wishlist = co_await wishlist_.Wishlist(member_id, kMyPageLimit, deadline);
  if (wishlist.ok()) page.wishlist.items = std::move(*wishlist);
  auto likes = co_await likes_.Likes(member_id, kMyPageLimit, deadline);
  if (likes.ok()) page.likes.items = std::move(*likes);
  co_return page;
}

}  // namespace rocketmart::members
