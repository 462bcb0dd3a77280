#include "services/members/adapters/postgres/postgres_member_store.hpp"

#include <algorithm>

#include "auth/identity.hpp"
#include "auth/random.hpp"
#include "infra/events/postgres_outbox/outbox.hpp"
#include "infra/postgres/migrations.hpp"
#include "infra/postgres/transaction.hpp"

namespace rocketmart::members {

namespace asio = boost::asio;
using asio::awaitable;
using postgres::Connection;
using postgres::MakeParams;
using postgres::Params;
using postgres::Rows;

namespace {

// The SQLite schema's seven versions as one; see sqlite_member_repository.cpp for each column.
constexpr postgres::Migration kMigrations[] = {
    {1, "members", R"sql(
      CREATE TABLE members (
        id                    bigserial PRIMARY KEY
                              CHECK (id < 9007199254740992), -- 2^53 up: synthetic identities
        email                 text    NOT NULL,
        email_key             text    NOT NULL UNIQUE,
        password_hash         text    NOT NULL,
        name                  text    NOT NULL,
        phone                 bytea   NOT NULL DEFAULT '',
        address               bytea   NOT NULL DEFAULT '',
        role                  text    NOT NULL CHECK (role IN ('user', 'admin')),
        email_verified        boolean NOT NULL DEFAULT false,
        tokens_valid_after_ms bigint  NOT NULL DEFAULT 0,
        created_at_ms         bigint  NOT NULL,
        updated_at_ms         bigint  NOT NULL
      );
      CREATE INDEX members_by_email_key ON members (email_key COLLATE "C");
      CREATE INDEX members_by_name ON members ((lower(name) COLLATE "C"));
      CREATE TABLE member_count (
        id      integer PRIMARY KEY CHECK (id = 1),
        members bigint  NOT NULL
      );
      INSERT INTO member_count (id, members) VALUES (1, 0);
      CREATE FUNCTION members_counted() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        UPDATE member_count SET members = members + CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END
          WHERE id = 1;
        RETURN NULL;
      END $$;
      CREATE TRIGGER members_counted AFTER INSERT OR DELETE ON members
        FOR EACH ROW EXECUTE FUNCTION members_counted();
      CREATE TABLE member_tokens (
        token_hash    text   PRIMARY KEY,
        member_id     bigint NOT NULL REFERENCES members (id),
        kind          integer NOT NULL,
        expires_at_ms bigint NOT NULL,
        created_at_ms bigint NOT NULL,
        used_at_ms    bigint
      );
      CREATE INDEX member_tokens_by_member ON member_tokens (member_id, kind);
      CREATE TABLE refresh_families (
        family_id     text    PRIMARY KEY,
        member_id     bigint  NOT NULL REFERENCES members (id),
        revoked       boolean NOT NULL DEFAULT false,
        expires_at_ms bigint  NOT NULL,
        created_at_ms bigint  NOT NULL
      );
      CREATE INDEX refresh_families_by_member ON refresh_families (member_id);
      CREATE TABLE refresh_tokens (
        token_hash    text   PRIMARY KEY,
        family_id     text   NOT NULL REFERENCES refresh_families (family_id),
        used_at_ms    bigint,
        created_at_ms bigint NOT NULL
      );
      CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
      CREATE TABLE denied_tokens (
        jti           text    PRIMARY KEY,
        member_id     bigint  NOT NULL,
        expires_at_ms bigint  NOT NULL,
        family        boolean NOT NULL DEFAULT false
      );
      CREATE TABLE mail_outbox (
        id                 bigserial PRIMARY KEY,
        sealed             bytea  NOT NULL,
        attempts           integer NOT NULL DEFAULT 0,
        next_attempt_at_ms bigint NOT NULL,
        last_error         text,
        claim              text,
        created_at_ms      bigint NOT NULL
      );
      CREATE INDEX mail_outbox_by_due ON mail_outbox (next_attempt_at_ms);
      CREATE TABLE mail_requests (
        id               bigserial PRIMARY KEY,
        kind             integer NOT NULL,
        address          bytea   NOT NULL,
        claim            text,
        claimed_until_ms bigint  NOT NULL DEFAULT 0,
        created_at_ms    bigint  NOT NULL
      );
    )sql"},
};

static_assert(auth::kSyntheticMemberBase == 9007199254740992, "migration 1 names this bound");

constexpr std::string_view kSelect =
    "SELECT id, email, password_hash, name, phone, address, role, email_verified, "
    "tokens_valid_after_ms, created_at_ms, updated_at_ms FROM members ";

MemberRecord ReadMember(const Rows& r, int i) {
  MemberRecord m;
  m.id = r.Int64(i, 0);
  m.email = std::string(r.Text(i, 1));
  m.password_hash = std::string(r.Text(i, 2));
  m.name = std::string(r.Text(i, 3));
  m.phone_sealed = r.Bytes(i, 4);
  m.address_sealed = r.Bytes(i, 5);
  m.role = r.Text(i, 6) == "admin" ? MemberRole::kAdmin : MemberRole::kUser;
  m.email_verified = r.Bool(i, 7);
  m.tokens_valid_after = FromUnixMillis(r.Int64(i, 8));
  m.created_at = FromUnixMillis(r.Int64(i, 9));
  m.updated_at = FromUnixMillis(r.Int64(i, 10));
  return m;
}

using MaybeMember = MemberRepository::MaybeMember;

MaybeMember FirstMember(const Rows& rows) {
  if (rows.empty()) return std::nullopt;
  return ReadMember(rows, 0);
}

// The member with that id, its row locked for update when `lock` (inside a transaction).
awaitable<Result<MaybeMember>> FindId(Connection& c, std::int64_t id, bool lock) {
  static const std::string plain = std::string(kSelect) + "WHERE id = $1";
  static const std::string locked = plain + " FOR UPDATE";
  auto params = MakeParams(id);
  auto rows = co_await c.Query(lock ? locked : plain, std::move(params));
  if (!rows.ok()) co_return std::move(rows).error();
  co_return FirstMember(*rows);
}

awaitable<Result<MaybeMember>> FindEmail(Connection& c, const std::string& email, bool lock) {
  static const std::string plain = std::string(kSelect) + "WHERE email_key = $1";
  static const std::string locked = plain + " FOR UPDATE";
  auto params = MakeParams(EmailKey(email));
  auto rows = co_await c.Query(lock ? locked : plain, std::move(params));
  if (!rows.ok()) co_return std::move(rows).error();
  co_return FirstMember(*rows);
}

awaitable<Status> QueueMail(Connection& c, const QueuedMail& mail, TimePoint now) {
  Params params;
  params.AddBytes(mail.sealed).Add(ToUnixMillis(now));
  auto r = co_await c.Command(
      "INSERT INTO mail_outbox (sealed, next_attempt_at_ms, created_at_ms) VALUES ($1, $2, $2)",
      std::move(params));
  if (!r.ok()) co_return std::move(r).error();
  co_return Ok();
}

awaitable<Status> InsertDenial(Connection& c, std::int64_t member_id, const AccessDenial& denial,
                               TimePoint now) {
  auto expired = MakeParams(ToUnixMillis(now));
  auto pruned =
      co_await c.Command("DELETE FROM denied_tokens WHERE expires_at_ms <= $1", std::move(expired));
  if (!pruned.ok()) co_return std::move(pruned).error();
  auto params = MakeParams(denial.id, member_id, ToUnixMillis(denial.expires_at), denial.family);
  auto r = co_await c.Command(
      "INSERT INTO denied_tokens (jti, member_id, expires_at_ms, family) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (jti) DO UPDATE SET member_id = $2, expires_at_ms = $3, family = $4",
      std::move(params));
  if (!r.ok()) co_return std::move(r).error();
  co_return Ok();
}

// Revokes the member's refresh families but `keep` and moves tokens_valid_after forward (strictly
// past the previous instant); the member row is locked by the read.
awaitable<Result<TimePoint>> RevokeFamilies(Connection& c, std::int64_t member_id,
                                            const std::string& keep, TimePoint valid_after) {
  auto member = co_await FindId(c, member_id, true);
  if (!member.ok()) co_return std::move(member).error();
  auto params = MakeParams(member_id, keep);
  auto revoked = co_await c.Command(
      "UPDATE refresh_families SET revoked = true WHERE member_id = $1 AND family_id <> $2",
      std::move(params));
  if (!revoked.ok()) co_return std::move(revoked).error();
  if (!*member) co_return valid_after;
  const TimePoint stored = (*member)->tokens_valid_after >= valid_after
                               ? (*member)->tokens_valid_after + std::chrono::seconds{1}
                               : valid_after;
  auto instant = MakeParams(ToUnixMillis(stored), member_id);
  auto moved = co_await c.Command("UPDATE members SET tokens_valid_after_ms = $1 WHERE id = $2",
                                  std::move(instant));
  if (!moved.ok()) co_return std::move(moved).error();
  co_return stored;
}

awaitable<Status> InsertToken(Connection& c, std::int64_t member_id, TokenKind kind,
                              const std::string& hash, TimePoint expires_at, TimePoint now) {
  auto params = MakeParams(hash, member_id, static_cast<std::int64_t>(kind),
                           ToUnixMillis(expires_at), ToUnixMillis(now));
  auto r = co_await c.Command(
      "INSERT INTO member_tokens (token_hash, member_id, kind, expires_at_ms, created_at_ms) "
      "VALUES ($1, $2, $3, $4, $5)",
      std::move(params));
  if (!r.ok()) co_return std::move(r).error();
  co_return Ok();
}

awaitable<Status> DeleteTokens(Connection& c, std::int64_t member_id, TokenKind kind) {
  auto params = MakeParams(member_id, static_cast<std::int64_t>(kind));
  auto r = co_await c.Command("DELETE FROM member_tokens WHERE member_id = $1 AND kind = $2",
                              std::move(params));
  if (!r.ok()) co_return std::move(r).error();
  co_return Ok();
}

// Inserts the member unless its email is taken; returns the id, or 0 when taken.
awaitable<Result<std::int64_t>> InsertMember(Connection& c, const NewMember& m, TimePoint now) {
  auto params = MakeParams(m.email, EmailKey(m.email), m.password_hash, m.name,
                           std::string(RoleName(m.role)), m.email_verified, ToUnixMillis(now));
  auto rows = co_await c.Query(
      "INSERT INTO members (email, email_key, password_hash, name, role, email_verified, "
      "created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) "
      "ON CONFLICT (email_key) DO NOTHING RETURNING id",
      std::move(params));
  if (!rows.ok()) co_return std::move(rows).error();
  co_return rows->empty() ? std::int64_t{0} : rows->Int64(0, 0);
}

awaitable<Status> SetPassword(Connection& c, std::int64_t member_id, const std::string& hash,
                              TimePoint now) {
  auto params = MakeParams(hash, ToUnixMillis(now), member_id);
  auto r = co_await c.Command(
      "UPDATE members SET password_hash = $1, updated_at_ms = $2 WHERE id = $3", std::move(params));
  if (!r.ok()) co_return std::move(r).error();
  co_return Ok();
}

Status Done(const Result<bool>& r) {
  if (!r.ok()) return r.error();
  return Ok();
}

}  // namespace

awaitable<Status> MigratePostgresMembers(Connection& connection) {
  auto events = co_await events::postgres_outbox::Migrate(connection);
  if (!events.ok()) co_return events;
  co_return co_await postgres::Migrate(connection, "members", kMigrations);
}

awaitable<Result<MaybeMember>> PostgresMemberRepository::FindById(std::int64_t id) {
  static const std::string sql = std::string(kSelect) + "WHERE id = $1";
  auto params = MakeParams(id);
  auto rows = co_await pool_.Query(sql, std::move(params));
  if (!rows.ok()) co_return std::move(rows).error();
  co_return FirstMember(*rows);
}

awaitable<Result<MaybeMember>> PostgresMemberRepository::FindByEmail(std::string email) {
  static const std::string sql = std::string(kSelect) + "WHERE email_key = $1";
  auto params = MakeParams(EmailKey(email));
  auto rows = co_await pool_.Query(sql, std::move(params));
  if (!rows.ok()) co_return std::move(rows).error();
  co_return FirstMember(*rows);
}

awaitable<Result<MemberList>> PostgresMemberRepository::ListMembers(MemberListQuery query) {
  const std::int64_t before = query.before_id > 0 ? query.before_id : INT64_MAX;
  const auto limit = static_cast<std::int64_t>(query.limit);
  Params params;
  std::string_view sql;
  if (query.search) {
    params.Add(query.search->from).Add(query.search->to).Add(before).Add(limit);
    sql =
        "SELECT id, email, name, role, email_verified, created_at_ms FROM members "
        "WHERE ((email_key COLLATE \"C\" >= $1 AND email_key COLLATE \"C\" < $2) OR "
        "(lower(name) COLLATE \"C\" >= $1 AND lower(name) COLLATE \"C\" < $2)) AND id < $3 "
        "ORDER BY id DESC LIMIT $4";
  } else {
    params.Add(before).Add(limit);
    sql =
        "SELECT id, email, name, role, email_verified, created_at_ms FROM members "
        "WHERE id < $1 ORDER BY id DESC LIMIT $2";
  }
  auto lease = co_await pool_.Acquire();
  if (!lease.ok()) co_return std::move(lease).error();
  auto rows = co_await (*lease)->Query(sql, std::move(params));
  if (!rows.ok()) co_return std::move(rows).error();
  MemberList out;
  for (int i = 0; i < rows->size(); ++i) {
    out.items.push_back(MemberSummary{
        rows->Int64(i, 0), std::string(rows->Text(i, 1)), std::string(rows->Text(i, 2)),
        rows->Text(i, 3) == "admin" ? MemberRole::kAdmin : MemberRole::kUser, rows->Bool(i, 4),
        FromUnixMillis(rows->Int64(i, 5))});
  }
  if (!query.search) {
    auto count = co_await (*lease)->Query("SELECT members FROM member_count WHERE id = 1");
    if (!count.ok()) co_return std::move(count).error();
    if (!count->empty()) out.total = count->Int64(0, 0);
  }
  co_return out;
}

awaitable<Result<std::int64_t>> PostgresMemberRepository::Signup(SignupRequest request,
                                                                 SealFn seal) {
  auto work = [request = std::move(request),
               seal = std::move(seal)](Connection& c) -> awaitable<Result<std::int64_t>> {
    auto inserted = co_await InsertMember(c, request.member, request.now);
    if (!inserted.ok()) co_return std::move(inserted).error();
    const std::int64_t id = *inserted;
    if (id == 0) {  // the email is taken (possibly by a signup committed a moment ago)
      auto queued = co_await QueueMail(c, request.taken_mail, request.now);
      if (!queued.ok()) co_return std::move(queued).error();
      co_return std::int64_t{0};
    }
    Params sealed;
    sealed.AddBytes(seal(id, "phone", request.phone))
        .AddBytes(seal(id, "address", request.address))
        .Add(id);
    auto stored = co_await c.Command("UPDATE members SET phone = $1, address = $2 WHERE id = $3",
                                     std::move(sealed));
    if (!stored.ok()) co_return std::move(stored).error();
    auto token = co_await InsertToken(c, id, TokenKind::kVerifyEmail, request.verify_token_hash,
                                      request.verify_expires_at, request.now);
    if (!token.ok()) co_return std::move(token).error();
    auto queued = co_await QueueMail(c, request.new_mail, request.now);
    if (!queued.ok()) co_return std::move(queued).error();
    co_return id;
  };
  co_return co_await postgres::Transact<std::int64_t>(pool_, std::move(work));
}

awaitable<Status> PostgresMemberRepository::RecordMailRequest(MailRequestKind kind,
                                                              std::string sealed_address,
                                                              TimePoint now) {
  Params params;
  params.Add(static_cast<std::int64_t>(kind)).AddBytes(sealed_address).Add(ToUnixMillis(now));
  auto r = co_await pool_.Query(
      "INSERT INTO mail_requests (kind, address, created_at_ms) VALUES ($1, $2, $3)",
      std::move(params));
  if (!r.ok()) co_return std::move(r).error();
  co_return Ok();
}

awaitable<Result<std::vector<MailRequest>>> PostgresMemberRepository::ClaimMailRequests(
    std::size_t limit, TimePoint now, TimePoint lease_until) {
  const std::string claim = auth::RandomHex(16);
  auto params = MakeParams(claim, ToUnixMillis(lease_until), ToUnixMillis(now),
                           static_cast<std::int64_t>(limit));
  // Rows another instance is claiming right now are skipped, not waited for.
  auto rows = co_await pool_.Query(
      "UPDATE mail_requests SET claim = $1, claimed_until_ms = $2 WHERE id IN ("
      "SELECT id FROM mail_requests WHERE claimed_until_ms <= $3 ORDER BY id LIMIT $4 "
      "FOR UPDATE SKIP LOCKED) RETURNING id, kind, address",
      std::move(params));
  if (!rows.ok()) co_return std::move(rows).error();
  std::vector<MailRequest> out;
  for (int i = 0; i < rows->size(); ++i) {
    out.push_back({rows->Int64(i, 0), static_cast<MailRequestKind>(rows->Int64(i, 1)),
                   rows->Bytes(i, 2), claim});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  co_return out;
}

awaitable<Status> PostgresMemberRepository::ResolveMailRequest(MailRequest request,
                                                               std::optional<TokenIssue> issue,
                                                               TimePoint now) {
  auto work = [request = std::move(request), issue = std::move(issue),
               now](Connection& c) -> awaitable<Result<bool>> {
    auto held = MakeParams(request.id, request.claim);
    auto deleted = co_await c.Command("DELETE FROM mail_requests WHERE id = $1 AND claim = $2",
                                      std::move(held));
    if (!deleted.ok()) co_return std::move(deleted).error();
    if (*deleted == 0) {
      co_return MakeError(Errc::kConflict, "the mail request is no longer held by this claim");
    }
    if (!issue) co_return true;
    auto member = co_await FindId(c, issue->member_id, true);
    if (!member.ok()) co_return std::move(member).error();
    if (!*member) co_return true;
    auto cleared = co_await DeleteTokens(c, issue->member_id, issue->kind);
    if (!cleared.ok()) co_return std::move(cleared).error();
    auto token = co_await InsertToken(c, issue->member_id, issue->kind, issue->token_hash,
                                      issue->expires_at, now);
    if (!token.ok()) co_return std::move(token).error();
    auto queued = co_await QueueMail(c, issue->mail, now);
    if (!queued.ok()) co_return std::move(queued).error();
    co_return true;
  };
  auto r = co_await postgres::Transact<bool>(pool_, std::move(work));
  co_return Done(r);
}

awaitable<Result<MemberRepository::Verification>> PostgresMemberRepository::ConsumeVerification(
    std::string token_hash, TimePoint now) {
  auto work = [token_hash = std::move(token_hash),
               now](Connection& c) -> awaitable<Result<Verification>> {
    auto params = MakeParams(token_hash, static_cast<std::int64_t>(TokenKind::kVerifyEmail));
    auto rows = co_await c.Query(
        "SELECT t.member_id, t.expires_at_ms, t.used_at_ms IS NOT NULL, m.email_verified "
        "FROM member_tokens t JOIN members m ON m.id = t.member_id "
        "WHERE t.token_hash = $1 AND t.kind = $2 FOR UPDATE",
        std::move(params));
    if (!rows.ok()) co_return std::move(rows).error();
    if (rows->empty()) co_return MakeError(Errc::kValidationFailed, "invalid token");
    const bool used = rows->Bool(0, 2);
    const Verification found{rows->Int64(0, 0), used || rows->Bool(0, 3)};
    if (rows->Int64(0, 1) <= ToUnixMillis(now)) {
      co_return MakeError(Errc::kValidationFailed, "invalid token");
    }
    if (used) co_return found;
    auto mark = MakeParams(ToUnixMillis(now), token_hash);
    auto marked = co_await c.Command(
        "UPDATE member_tokens SET used_at_ms = $1 WHERE token_hash = $2", std::move(mark));
    if (!marked.ok()) co_return std::move(marked).error();
    if (!found.already_verified) {
      auto verify = MakeParams(ToUnixMillis(now), found.member_id);
      auto verified = co_await c.Command(
          "UPDATE members SET email_verified = true, updated_at_ms = $1 WHERE id = $2",
          std::move(verify));
      if (!verified.ok()) co_return std::move(verified).error();
    }
    co_return found;
  };
  co_return co_await postgres::Transact<Verification>(pool_, std::move(work));
}

awaitable<Result<Revocation>> PostgresMemberRepository::ConsumeReset(std::string token_hash,
                                                                     std::string new_hash,
                                                                     TimePoint valid_after,
                                                                     TimePoint now) {
  auto work = [token_hash = std::move(token_hash), new_hash = std::move(new_hash), valid_after,
               now](Connection& c) -> awaitable<Result<Revocation>> {
    // Single use: the DELETE takes it (a parallel use waits, then finds nothing).
    auto params = MakeParams(token_hash, static_cast<std::int64_t>(TokenKind::kResetPassword));
    auto taken = co_await c.Query(
        "DELETE FROM member_tokens WHERE token_hash = $1 AND kind = $2 "
        "RETURNING member_id, expires_at_ms",
        std::move(params));
    if (!taken.ok()) co_return std::move(taken).error();
    if (taken->empty() || taken->Int64(0, 1) <= ToUnixMillis(now)) {
      co_return MakeError(Errc::kValidationFailed, "invalid token");  // rolls the DELETE back
    }
    const std::int64_t member = taken->Int64(0, 0);
    auto others = co_await DeleteTokens(c, member, TokenKind::kResetPassword);
    if (!others.ok()) co_return std::move(others).error();
    auto password = co_await SetPassword(c, member, new_hash, now);
    if (!password.ok()) co_return std::move(password).error();
    // Whoever could read the reset mail proved control of the address.
    auto verify = MakeParams(member);
    auto verified = co_await c.Command("UPDATE members SET email_verified = true WHERE id = $1",
                                       std::move(verify));
    if (!verified.ok()) co_return std::move(verified).error();
    const std::string keep_none;
    auto stored = co_await RevokeFamilies(c, member, keep_none, valid_after);
    if (!stored.ok()) co_return std::move(stored).error();
    co_return Revocation{member, *stored};
  };
  co_return co_await postgres::Transact<Revocation>(pool_, std::move(work));
}

awaitable<Status> PostgresMemberRepository::StoreRefresh(std::int64_t member_id,
                                                         std::string family_id,
                                                         std::string token_hash,
                                                         TimePoint family_expires_at,
                                                         TimePoint now) {
  auto work = [=, family_id = std::move(family_id),
               token_hash = std::move(token_hash)](Connection& c) -> awaitable<Result<bool>> {
    // Housekeeping: this member's expired families go (their used tokens can no longer matter).
    auto expired = MakeParams(member_id, ToUnixMillis(now));
    auto expired_families = expired;  // named: no temporary copy inside co_await (ADR 0003)
    auto tokens = co_await c.Command(
        "DELETE FROM refresh_tokens WHERE family_id IN (SELECT family_id FROM refresh_families "
        "WHERE member_id = $1 AND expires_at_ms <= $2)",
        std::move(expired_families));
    if (!tokens.ok()) co_return std::move(tokens).error();
    auto families = co_await c.Command(
        "DELETE FROM refresh_families WHERE member_id = $1 AND expires_at_ms <= $2",
        std::move(expired));
    if (!families.ok()) co_return std::move(families).error();
    auto family =
        MakeParams(family_id, member_id, ToUnixMillis(family_expires_at), ToUnixMillis(now));
    auto added = co_await c.Command(
        "INSERT INTO refresh_families (family_id, member_id, expires_at_ms, created_at_ms) "
        "VALUES ($1, $2, $3, $4)",
        std::move(family));
    if (!added.ok()) co_return std::move(added).error();
    auto token = MakeParams(token_hash, family_id, ToUnixMillis(now));
    auto stored = co_await c.Command(
        "INSERT INTO refresh_tokens (token_hash, family_id, created_at_ms) VALUES ($1, $2, $3)",
        std::move(token));
    if (!stored.ok()) co_return std::move(stored).error();
    co_return true;
  };
  auto r = co_await postgres::Transact<bool>(pool_, std::move(work));
  co_return Done(r);
}

awaitable<Result<RefreshOutcome>> PostgresMemberRepository::RotateRefresh(
    std::string token_hash, std::string new_hash, TimePoint access_denied_until, TimePoint now) {
  auto work = [token_hash = std::move(token_hash), new_hash = std::move(new_hash),
               access_denied_until, now](Connection& c) -> awaitable<Result<RefreshOutcome>> {
    // The token's row lock makes parallel rotations take turns: the later ones read it used.
    auto params = MakeParams(token_hash);
    auto rows = co_await c.Query(
        "SELECT t.family_id, t.used_at_ms IS NOT NULL, f.member_id, f.revoked, f.expires_at_ms "
        "FROM refresh_tokens t JOIN refresh_families f ON f.family_id = t.family_id "
        "WHERE t.token_hash = $1 FOR UPDATE OF t",
        std::move(params));
    if (!rows.ok()) co_return std::move(rows).error();
    RefreshOutcome out;
    if (rows->empty()) co_return out;  // kUnknown
    out.family_id = std::string(rows->Text(0, 0));
    const bool used = rows->Bool(0, 1);
    out.member_id = rows->Int64(0, 2);
    const bool revoked = rows->Bool(0, 3);
    out.family_expires_at = FromUnixMillis(rows->Int64(0, 4));
    if (used || revoked) {
      // Reuse of a rotated token: revoke the family and deny its access tokens (committed).
      auto family = MakeParams(out.family_id);
      auto done = co_await c.Command(
          "UPDATE refresh_families SET revoked = true WHERE family_id = $1", std::move(family));
      if (!done.ok()) co_return std::move(done).error();
      const AccessDenial session{out.family_id, true, access_denied_until};
      auto denied = co_await InsertDenial(c, out.member_id, session, now);
      if (!denied.ok()) co_return std::move(denied).error();
      out.status = RefreshStatus::kReused;
      co_return out;
    }
    if (out.family_expires_at <= now) {
      out.status = RefreshStatus::kExpired;
      co_return out;
    }
    auto mark = MakeParams(ToUnixMillis(now), token_hash);
    auto marked = co_await c.Command(
        "UPDATE refresh_tokens SET used_at_ms = $1 WHERE token_hash = $2", std::move(mark));
    if (!marked.ok()) co_return std::move(marked).error();
    auto next = MakeParams(new_hash, out.family_id, ToUnixMillis(now));
    auto stored = co_await c.Command(
        "INSERT INTO refresh_tokens (token_hash, family_id, created_at_ms) VALUES ($1, $2, $3)",
        std::move(next));
    if (!stored.ok()) co_return std::move(stored).error();
    out.status = RefreshStatus::kRotated;
    co_return out;
  };
  co_return co_await postgres::Transact<RefreshOutcome>(pool_, std::move(work));
}

awaitable<Status> PostgresMemberRepository::Logout(std::int64_t member_id,
                                                   std::optional<std::string> token_hash,
                                                   AccessDenial denial, TimePoint now) {
  auto work = [=, token_hash = std::move(token_hash),
               denial = std::move(denial)](Connection& c) -> awaitable<Result<bool>> {
    if (token_hash) {
      auto params = MakeParams(member_id, *token_hash);
      auto revoked = co_await c.Command(
          "UPDATE refresh_families SET revoked = true WHERE member_id = $1 AND family_id = "
          "(SELECT family_id FROM refresh_tokens WHERE token_hash = $2)",
          std::move(params));
      if (!revoked.ok()) co_return std::move(revoked).error();
    }
    auto denied = co_await InsertDenial(c, member_id, denial, now);
    if (!denied.ok()) co_return std::move(denied).error();
    co_return true;
  };
  auto r = co_await postgres::Transact<bool>(pool_, std::move(work));
  co_return Done(r);
}

awaitable<Result<TimePoint>> PostgresMemberRepository::RevokeSessions(std::int64_t member_id,
                                                                      std::string keep_family,
                                                                      TimePoint valid_after,
                                                                      TimePoint now) {
  (void)now;
  auto work = [=, keep_family =
                      std::move(keep_family)](Connection& c) -> awaitable<Result<TimePoint>> {
    co_return co_await RevokeFamilies(c, member_id, keep_family, valid_after);
  };
  co_return co_await postgres::Transact<TimePoint>(pool_, std::move(work));
}

awaitable<Result<TimePoint>> PostgresMemberRepository::ChangePassword(std::int64_t member_id,
                                                                      std::string new_hash,
                                                                      std::string keep_family,
                                                                      TimePoint valid_after,
                                                                      TimePoint now) {
  auto work = [=, new_hash = std::move(new_hash), keep_family = std::move(keep_family)](
                  Connection& c) -> awaitable<Result<TimePoint>> {
    auto member = co_await FindId(c, member_id, true);
    if (!member.ok()) co_return std::move(member).error();
    if (!*member) co_return MakeError(Errc::kNotFound, "no such member");
    auto password = co_await SetPassword(c, member_id, new_hash, now);
    if (!password.ok()) co_return std::move(password).error();
    co_return co_await RevokeFamilies(c, member_id, keep_family, valid_after);
  };
  co_return co_await postgres::Transact<TimePoint>(pool_, std::move(work));
}

awaitable<Status> PostgresMemberRepository::UpgradeHash(std::int64_t member_id,
                                                        std::string old_hash,
                                                        std::string new_hash) {
  // One statement: the compare and the set are atomic.
  auto params = MakeParams(new_hash, member_id, old_hash);
  auto r = co_await pool_.Query(
      "UPDATE members SET password_hash = $1 WHERE id = $2 AND password_hash = $3",
      std::move(params));
  if (!r.ok()) co_return std::move(r).error();
  co_return Ok();
}

awaitable<Result<MemberRecord>> PostgresMemberRepository::UpdateProfile(std::int64_t member_id,
                                                                        ProfileUpdate update,
                                                                        TimePoint now) {
  auto work = [=, update = std::move(update)](Connection& c) -> awaitable<Result<MemberRecord>> {
    auto member = co_await FindId(c, member_id, true);
    if (!member.ok()) co_return std::move(member).error();
    if (!*member) co_return MakeError(Errc::kNotFound, "no such member");
    MemberRecord record = std::move(**member);
    if (update.name) record.name = *update.name;
    if (update.phone_sealed) record.phone_sealed = *update.phone_sealed;
    if (update.address_sealed) record.address_sealed = *update.address_sealed;
    record.updated_at = now;
    Params params;
    params.Add(record.name)
        .AddBytes(record.phone_sealed)
        .AddBytes(record.address_sealed)
        .Add(ToUnixMillis(now))
        .Add(member_id);
    auto stored = co_await c.Command(
        "UPDATE members SET name = $1, phone = $2, address = $3, updated_at_ms = $4 WHERE id = $5",
        std::move(params));
    if (!stored.ok()) co_return std::move(stored).error();
    co_return record;
  };
  co_return co_await postgres::Transact<MemberRecord>(pool_, std::move(work));
}

awaitable<Result<DenylistSnapshot>> PostgresMemberRepository::LoadDenylist(TimePoint now) {
  auto lease = co_await pool_.Acquire();
  if (!lease.ok()) co_return std::move(lease).error();
  auto params = MakeParams(ToUnixMillis(now));
  auto denied = co_await (*lease)->Query(
      "SELECT member_id, jti, family, expires_at_ms FROM denied_tokens WHERE expires_at_ms > $1",
      std::move(params));
  if (!denied.ok()) co_return std::move(denied).error();
  DenylistSnapshot out;
  for (int i = 0; i < denied->size(); ++i) {
    out.denied_tokens.push_back({denied->Int64(i, 0), std::string(denied->Text(i, 1)),
                                 denied->Bool(i, 2), FromUnixMillis(denied->Int64(i, 3))});
  }
  auto after = co_await (*lease)->Query(
      "SELECT id, tokens_valid_after_ms FROM members WHERE tokens_valid_after_ms > 0");
  if (!after.ok()) co_return std::move(after).error();
  for (int i = 0; i < after->size(); ++i) {
    out.valid_after.emplace_back(after->Int64(i, 0), FromUnixMillis(after->Int64(i, 1)));
  }
  co_return out;
}

awaitable<Result<std::int64_t>> PostgresMemberRepository::CreateAdmin(NewMember member,
                                                                      TimePoint now) {
  auto work = [member = std::move(member), now](Connection& c) -> awaitable<Result<std::int64_t>> {
    NewMember admin = member;
    admin.role = MemberRole::kAdmin;
    admin.email_verified = true;
    auto inserted = co_await InsertMember(c, admin, now);
    if (!inserted.ok()) co_return std::move(inserted).error();
    if (*inserted != 0) co_return *inserted;
    auto existing = co_await FindEmail(c, member.email, true);
    if (!existing.ok()) co_return std::move(existing).error();
    if (!*existing) co_return MakeError(Errc::kConflict, "the member changed meanwhile, retry");
    const std::int64_t id = (*existing)->id;
    auto params = MakeParams(member.password_hash, ToUnixMillis(now), id);
    auto promoted = co_await c.Command(
        "UPDATE members SET role = 'admin', email_verified = true, password_hash = $1, "
        "updated_at_ms = $2 WHERE id = $3",
        std::move(params));
    if (!promoted.ok()) co_return std::move(promoted).error();
    // A new password ends the sessions held with the old one.
    const TimePoint valid_after =
        std::chrono::floor<std::chrono::seconds>(now) + std::chrono::seconds(1);
    const std::string keep_none;
    auto revoked = co_await RevokeFamilies(c, id, keep_none, valid_after);
    if (!revoked.ok()) co_return std::move(revoked).error();
    co_return id;
  };
  co_return co_await postgres::Transact<std::int64_t>(pool_, std::move(work));
}

awaitable<Result<std::int64_t>> PostgresMemberRepository::CreateMember(NewMember member,
                                                                       TimePoint now) {
  auto work = [member = std::move(member), now](Connection& c) -> awaitable<Result<std::int64_t>> {
    auto inserted = co_await InsertMember(c, member, now);
    if (!inserted.ok()) co_return std::move(inserted).error();
    if (*inserted == 0)
      co_return MakeError(Errc::kConflict, "the email " + member.email + " is taken");
    co_return *inserted;
  };
  co_return co_await postgres::Transact<std::int64_t>(pool_, std::move(work));
}

// ---- the mail outbox ------------------------------------------------------------------------

awaitable<Result<std::vector<OutboxMail>>> PostgresMailOutbox::Claim(TimePoint now,
                                                                     TimePoint lease_until,
                                                                     std::size_t limit) {
  const std::string claim = auth::RandomHex(16);
  // The lease is the row's next attempt: a claimed row is due again only when it ends. With
  // nothing due the statement changes nothing (and so wakes nobody).
  auto params = MakeParams(claim, ToUnixMillis(lease_until), ToUnixMillis(now),
                           static_cast<std::int64_t>(limit));
  auto rows = co_await pool_.Query(
      "UPDATE mail_outbox SET claim = $1, next_attempt_at_ms = $2 WHERE id IN ("
      "SELECT id FROM mail_outbox WHERE next_attempt_at_ms <= $3 ORDER BY id LIMIT $4 "
      "FOR UPDATE SKIP LOCKED) RETURNING id, sealed, attempts",
      std::move(params));
  if (!rows.ok()) co_return std::move(rows).error();
  std::vector<OutboxMail> out;
  for (int i = 0; i < rows->size(); ++i) {
    out.push_back(
        {rows->Int64(i, 0), rows->Bytes(i, 1), static_cast<int>(rows->Int64(i, 2)), claim});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  co_return out;
}

awaitable<Status> PostgresMailOutbox::Complete(OutboxMail mail) {
  auto params = MakeParams(mail.id);
  auto r = co_await pool_.Query("DELETE FROM mail_outbox WHERE id = $1", std::move(params));
  if (!r.ok()) co_return std::move(r).error();
  co_return Ok();
}

awaitable<Status> PostgresMailOutbox::Reschedule(OutboxMail mail, TimePoint next_attempt,
                                                 std::string error) {
  auto params = MakeParams(ToUnixMillis(next_attempt), error.substr(0, 500), mail.id, mail.claim);
  auto r = co_await pool_.Query(
      "UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at_ms = $1, last_error = $2, "
      "claim = NULL WHERE id = $3 AND claim = $4",
      std::move(params));
  if (!r.ok()) co_return std::move(r).error();
  if (r->affected() == 0) {
    co_return MakeError(Errc::kConflict, "the mail is no longer held by this claim");
  }
  co_return Ok();
}

}  // namespace rocketmart::members
