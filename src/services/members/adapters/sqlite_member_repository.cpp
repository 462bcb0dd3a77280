#include "services/members/adapters/sqlite_member_repository.hpp"

#include <span>

#include "auth/identity.hpp"
#include "auth/random.hpp"
#include "infra/async/write.hpp"

namespace rocketmart::members {
namespace {

using boost::asio::awaitable;

constexpr storage::Migration kMigrations[] = {
    {1, "members", R"sql(
      CREATE TABLE members (
        id                    INTEGER PRIMARY KEY AUTOINCREMENT,
        email                 TEXT    NOT NULL,
        email_key             TEXT    NOT NULL UNIQUE,
        password_hash         TEXT    NOT NULL,
        name                  TEXT    NOT NULL,
        phone                 BLOB    NOT NULL DEFAULT x'',
        address               BLOB    NOT NULL DEFAULT x'',
        role                  TEXT    NOT NULL CHECK (role IN ('user', 'admin')),
        email_verified        INTEGER NOT NULL DEFAULT 0,
        tokens_valid_after_ms INTEGER NOT NULL DEFAULT 0,
        created_at_ms         INTEGER NOT NULL,
        updated_at_ms         INTEGER NOT NULL
      );
      -- Single-use links (verification, reset): only the SHA-256 of the token is stored; a row is
      -- deleted when used or superseded.
      CREATE TABLE member_tokens (
        token_hash    TEXT    PRIMARY KEY,
        member_id     INTEGER NOT NULL REFERENCES members(id),
        kind          INTEGER NOT NULL,
        expires_at_ms INTEGER NOT NULL,
        created_at_ms INTEGER NOT NULL
      );
      CREATE INDEX member_tokens_by_member ON member_tokens(member_id, kind);
      CREATE TABLE refresh_families (
        family_id     TEXT    PRIMARY KEY,
        member_id     INTEGER NOT NULL REFERENCES members(id),
        revoked       INTEGER NOT NULL DEFAULT 0,
        expires_at_ms INTEGER NOT NULL,
        created_at_ms INTEGER NOT NULL
      );
      CREATE INDEX refresh_families_by_member ON refresh_families(member_id);
      -- Used tokens are kept until their family expires: presenting one again is reuse.
      CREATE TABLE refresh_tokens (
        token_hash    TEXT    PRIMARY KEY,
        family_id     TEXT    NOT NULL REFERENCES refresh_families(family_id),
        used_at_ms    INTEGER,
        created_at_ms INTEGER NOT NULL
      );
      CREATE INDEX refresh_tokens_by_family ON refresh_tokens(family_id);
      CREATE TABLE denied_tokens (
        jti           TEXT    PRIMARY KEY,
        member_id     INTEGER NOT NULL,
        expires_at_ms INTEGER NOT NULL
      );
      -- Mails wait here (sealed: they may carry a single-use link) until the SMTP server took them.
      CREATE TABLE mail_outbox (
        id                 INTEGER PRIMARY KEY AUTOINCREMENT,
        sealed             BLOB    NOT NULL,
        attempts           INTEGER NOT NULL DEFAULT 0,
        next_attempt_at_ms INTEGER NOT NULL,
        last_error         TEXT,
        created_at_ms      INTEGER NOT NULL
      );
    )sql"},
    // A denial can name a whole session: every access token whose jti starts with the refresh
    // family id held in `jti` (refresh-token reuse, logout).
    {2, "denied_families", R"sql(
      ALTER TABLE denied_tokens ADD COLUMN family INTEGER NOT NULL DEFAULT 0;
    )sql"},
    // Member ids from 2^53 (auth::kSyntheticMemberBase) up belong to synthetic load-test
    // identities: a real member never gets one, so it can never inherit their orders.
    {3, "real_member_ids_below_synthetic", R"sql(
      CREATE TRIGGER members_ids_below_synthetic AFTER INSERT ON members
      WHEN NEW.id >= 9007199254740992
      BEGIN
        SELECT RAISE(ABORT, 'member ids from 2^53 up are reserved for synthetic identities');
      END;
    )sql"},
    // find-password and resend-verification record the asked-for address here, the same way for
    // every address; the mail worker looks it up and deletes the row (docs/members.md).
    {4, "mail_requests", R"sql(
      CREATE TABLE mail_requests (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        kind          INTEGER NOT NULL,
        address       BLOB    NOT NULL,
        created_at_ms INTEGER NOT NULL
      );
    )sql"},
    // A used verification token is kept (marked) until it expires: presenting it again answers
    // "already verified", not an error.
    {5, "verification_tokens_used_at", R"sql(
      ALTER TABLE member_tokens ADD COLUMN used_at_ms INTEGER;
    )sql"},
    // The admin's members list (GET /admin/members): a name prefix search through an index (the
    // email one uses the unique email_key), and the member count kept by triggers so the list's
    // total is one row read.
    {6, "members list", R"sql(
      CREATE INDEX members_by_name ON members (name COLLATE NOCASE);
      CREATE TABLE member_count (
        id      INTEGER PRIMARY KEY CHECK (id = 1),
        members INTEGER NOT NULL
      );
      INSERT INTO member_count (id, members) SELECT 1, count(*) FROM members;
      CREATE TRIGGER members_counted_in AFTER INSERT ON members
        BEGIN UPDATE member_count SET members = members + 1 WHERE id = 1; END;
      CREATE TRIGGER members_counted_out AFTER DELETE ON members
        BEGIN UPDATE member_count SET members = members - 1 WHERE id = 1; END;
    )sql"},
    // Several instances may drain one members database: a mail worker or a mail-request resolver
    // claims its rows (a random claim, for a lease) in the transaction that reads them. An
    // outbox row's lease is its next_attempt_at_ms (a claimed row is due again when the lease
    // ends, if its sender died); a request's is claimed_until_ms.
    {7, "mail claims", R"sql(
      ALTER TABLE mail_outbox ADD COLUMN claim TEXT;
      CREATE INDEX mail_outbox_by_due ON mail_outbox (next_attempt_at_ms);
      ALTER TABLE mail_requests ADD COLUMN claim TEXT;
      ALTER TABLE mail_requests ADD COLUMN claimed_until_ms INTEGER NOT NULL DEFAULT 0;
    )sql"},
};

static_assert(auth::kSyntheticMemberBase == 9007199254740992, "migration 3 names this bound");

constexpr std::string_view kSelect =
    "SELECT id, email, password_hash, name, phone, address, role, email_verified, "
    "tokens_valid_after_ms, created_at_ms, updated_at_ms FROM members ";

std::span<const std::byte> Bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

std::string BlobString(const storage::Statement& s, int column) {
  const std::vector<std::byte> b = s.Blob(column);
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

MemberRecord ReadMember(const storage::Statement& s) {
  MemberRecord r;
  r.id = s.Int64(0);
  r.email = s.Text(1);
  r.password_hash = s.Text(2);
  r.name = s.Text(3);
  r.phone_sealed = BlobString(s, 4);
  r.address_sealed = BlobString(s, 5);
  r.role = s.Text(6) == "admin" ? MemberRole::kAdmin : MemberRole::kUser;
  r.email_verified = s.Int64(7) != 0;
  r.tokens_valid_after = FromUnixMillis(s.Int64(8));
  r.created_at = FromUnixMillis(s.Int64(9));
  r.updated_at = FromUnixMillis(s.Int64(10));
  return r;
}

std::optional<MemberRecord> FindWhere(storage::Database& db, std::string_view where,
                                      const std::function<void(storage::Statement&)>& bind) {
  auto& stmt = db.Cached(std::string(kSelect) + std::string(where));
  bind(stmt);
  std::optional<MemberRecord> out;
  if (stmt.Step()) out = ReadMember(stmt);
  stmt.Reset();
  return out;
}

std::optional<MemberRecord> FindIdIn(storage::Database& db, std::int64_t id) {
  return FindWhere(db, "WHERE id = ?", [id](storage::Statement& s) { s.BindInt64(1, id); });
}

void QueueMail(storage::Database& db, const QueuedMail& mail, TimePoint now) {
  auto& stmt = db.Cached(
      "INSERT INTO mail_outbox (sealed, next_attempt_at_ms, created_at_ms) VALUES (?, ?, ?)");
  stmt.BindBlob(1, Bytes(mail.sealed))
      .BindInt64(2, ToUnixMillis(now))
      .BindInt64(3, ToUnixMillis(now));
  stmt.Step();
  stmt.Reset();
}

void Exec1(storage::Database& db, std::string_view sql,
           const std::function<void(storage::Statement&)>& bind) {
  auto& stmt = db.Cached(sql);
  bind(stmt);
  stmt.Step();
  stmt.Reset();
}

void InsertDenial(storage::Database& db, std::int64_t member_id, const AccessDenial& denial,
                  TimePoint now) {
  Exec1(db, "DELETE FROM denied_tokens WHERE expires_at_ms <= ?",
        [&](storage::Statement& s) { s.BindInt64(1, ToUnixMillis(now)); });
  Exec1(db,
        "INSERT OR REPLACE INTO denied_tokens (jti, member_id, expires_at_ms, family) "
        "VALUES (?, ?, ?, ?)",
        [&](storage::Statement& s) {
          s.BindText(1, denial.id)
              .BindInt64(2, member_id)
              .BindInt64(3, ToUnixMillis(denial.expires_at))
              .BindInt64(4, denial.family ? 1 : 0);
        });
}

TimePoint RevokeFamilies(storage::Database& db, std::int64_t member_id, const std::string& keep,
                         TimePoint valid_after) {
  Exec1(db, "UPDATE refresh_families SET revoked = 1 WHERE member_id = ? AND family_id != ?",
        [&](storage::Statement& s) { s.BindInt64(1, member_id).BindText(2, keep); });
  auto member = FindIdIn(db, member_id);
  if (!member) return valid_after;
  // Tokens issued since the previous revocation carry iat = that instant: move strictly past it.
  const TimePoint stored = member->tokens_valid_after >= valid_after
                               ? member->tokens_valid_after + std::chrono::seconds{1}
                               : valid_after;
  Exec1(
      db, "UPDATE members SET tokens_valid_after_ms = ? WHERE id = ?",
      [&](storage::Statement& s) { s.BindInt64(1, ToUnixMillis(stored)).BindInt64(2, member_id); });
  return stored;
}

void InsertToken(storage::Database& db, std::int64_t member_id, TokenKind kind,
                 const std::string& hash, TimePoint expires_at, TimePoint now) {
  Exec1(db,
        "INSERT INTO member_tokens (token_hash, member_id, kind, expires_at_ms, created_at_ms) "
        "VALUES (?, ?, ?, ?, ?)",
        [&](storage::Statement& s) {
          s.BindText(1, hash)
              .BindInt64(2, member_id)
              .BindInt64(3, static_cast<int>(kind))
              .BindInt64(4, ToUnixMillis(expires_at))
              .BindInt64(5, ToUnixMillis(now));
        });
}

// Returns the member id of a live token of `kind`, deleting it (single use); 0 when none.
std::int64_t TakeToken(storage::Database& db, const std::string& hash, TokenKind kind,
                       TimePoint now) {
  auto& stmt = db.Cached(
      "SELECT member_id, expires_at_ms FROM member_tokens WHERE token_hash = ? AND kind = ?");
  stmt.BindText(1, hash).BindInt64(2, static_cast<int>(kind));
  std::int64_t member = 0;
  std::int64_t expires = 0;
  if (stmt.Step()) {
    member = stmt.Int64(0);
    expires = stmt.Int64(1);
  }
  stmt.Reset();
  if (member == 0 || expires <= ToUnixMillis(now)) return 0;
  Exec1(
      db, "DELETE FROM member_tokens WHERE member_id = ? AND kind = ?",
      [&](storage::Statement& s) { s.BindInt64(1, member).BindInt64(2, static_cast<int>(kind)); });
  return member;
}

std::int64_t InsertMember(storage::Database& db, const NewMember& m, TimePoint now) {
  Exec1(db,
        "INSERT INTO members (email, email_key, password_hash, name, role, email_verified, "
        "created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [&](storage::Statement& s) {
          s.BindText(1, m.email)
              .BindText(2, EmailKey(m.email))
              .BindText(3, m.password_hash)
              .BindText(4, m.name)
              .BindText(5, RoleName(m.role))
              .BindInt64(6, m.email_verified ? 1 : 0)
              .BindInt64(7, ToUnixMillis(now))
              .BindInt64(8, ToUnixMillis(now));
        });
  return db.LastInsertRowId();
}

// Whether `look` (one `?`, a time in ms) finds a row, on a reader: claims look before they write,
// because the mail worker wakes on every commit and an empty claim would wake it again, forever.
bool AnyRowAtOrBefore(storage::Database& reader, std::string_view look, TimePoint t) {
  auto& stmt = reader.Cached(look);
  stmt.BindInt64(1, ToUnixMillis(t));
  const bool any = stmt.Step();
  stmt.Reset();
  return any;
}

}  // namespace

std::span<const storage::Migration> MembersMigrations() {
  return kMigrations;
}

std::optional<MemberRecord> ReadMemberById(storage::Database& db, std::int64_t id) {
  return FindIdIn(db, id);
}

awaitable<Result<MemberRepository::MaybeMember>> SqliteMemberRepository::FindById(std::int64_t id) {
  co_return FindIdIn(readers_.ForThisThread(), id);
}

awaitable<Result<MemberList>> SqliteMemberRepository::ListMembers(MemberListQuery query) {
  storage::Database& db = readers_.ForThisThread();
  // A search reads the two index ranges (`+id` keeps the planner from walking the table by id
  // instead) and sorts the matches: its cost grows with the matches, not with the members.
  auto& stmt = query.search
                   ? db.Cached(
                         "SELECT id, email, name, role, email_verified, created_at_ms FROM members "
                         "WHERE ((email_key >= ?1 AND email_key < ?2) OR "
                         "(name >= ?1 COLLATE NOCASE AND name < ?2 COLLATE NOCASE)) AND +id < ?3 "
                         "ORDER BY id DESC LIMIT ?4")
                   : db.Cached(
                         "SELECT id, email, name, role, email_verified, created_at_ms FROM members "
                         "WHERE id < ?3 ORDER BY id DESC LIMIT ?4");
  if (query.search) stmt.BindText(1, query.search->from).BindText(2, query.search->to);
  stmt.BindInt64(3, query.before_id > 0 ? query.before_id : INT64_MAX)
      .BindInt64(4, static_cast<std::int64_t>(query.limit));
  MemberList out;
  while (stmt.Step()) {
    out.items.push_back(
        MemberSummary{stmt.Int64(0), stmt.Text(1), stmt.Text(2),
                      stmt.Text(3) == "admin" ? MemberRole::kAdmin : MemberRole::kUser,
                      stmt.Int64(4) != 0, FromUnixMillis(stmt.Int64(5))});
  }
  stmt.Reset();
  if (!query.search) {
    auto& count = db.Cached("SELECT members FROM member_count WHERE id = 1");
    if (count.Step()) out.total = count.Int64(0);
    count.Reset();
  }
  co_return out;
}

awaitable<Result<MemberRepository::MaybeMember>> SqliteMemberRepository::FindByEmail(
    std::string email) {
  const std::string key = EmailKey(email);
  co_return FindWhere(readers_.ForThisThread(), "WHERE email_key = ?",
                      [&key](storage::Statement& s) { s.BindText(1, key); });
}

awaitable<Result<std::int64_t>> SqliteMemberRepository::Signup(SignupRequest request, SealFn seal) {
  auto job = [request = std::move(request),
              seal = std::move(seal)](storage::Database& db) -> Result<std::int64_t> {
    const std::string key = EmailKey(request.member.email);
    auto existing =
        FindWhere(db, "WHERE email_key = ?", [&key](storage::Statement& s) { s.BindText(1, key); });
    if (existing) {
      QueueMail(db, request.taken_mail, request.now);
      return std::int64_t{0};
    }
    const std::int64_t id = InsertMember(db, request.member, request.now);
    const std::string phone = seal(id, "phone", request.phone);
    const std::string address = seal(id, "address", request.address);
    Exec1(db, "UPDATE members SET phone = ?, address = ? WHERE id = ?", [&](storage::Statement& s) {
      s.BindBlob(1, Bytes(phone)).BindBlob(2, Bytes(address)).BindInt64(3, id);
    });
    InsertToken(db, id, TokenKind::kVerifyEmail, request.verify_token_hash,
                request.verify_expires_at, request.now);
    QueueMail(db, request.new_mail, request.now);
    return id;
  };
  co_return co_await async::Write<std::int64_t>(writer_, std::move(job));
}

awaitable<Status> SqliteMemberRepository::RecordMailRequest(MailRequestKind kind,
                                                            std::string sealed_address,
                                                            TimePoint now) {
  auto job = [kind, sealed_address = std::move(sealed_address),
              now](storage::Database& db) -> Result<bool> {
    Exec1(db, "INSERT INTO mail_requests (kind, address, created_at_ms) VALUES (?, ?, ?)",
          [&](storage::Statement& s) {
            s.BindInt64(1, static_cast<int>(kind))
                .BindBlob(2, Bytes(sealed_address))
                .BindInt64(3, ToUnixMillis(now));
          });
    return true;
  };
  auto r = co_await async::Write<bool>(writer_, std::move(job));
  if (!r.ok()) co_return r.error();
  co_return Ok();
}

awaitable<Result<std::vector<MailRequest>>> SqliteMemberRepository::ClaimMailRequests(
    std::size_t limit, TimePoint now, TimePoint lease_until) {
  // A look first: the mail worker asks on every wake-up, and a write would wake it again.
  if (!AnyRowAtOrBefore(readers_.ForThisThread(),
                        "SELECT 1 FROM mail_requests WHERE claimed_until_ms <= ? LIMIT 1", now)) {
    co_return std::vector<MailRequest>{};
  }
  auto job = [limit, now, lease_until, claim = auth::RandomHex(16)](
                 storage::Database& db) -> Result<std::vector<MailRequest>> {
    std::vector<MailRequest> out;
    auto& stmt = db.Cached(
        "SELECT id, kind, address FROM mail_requests WHERE claimed_until_ms <= ? ORDER BY id "
        "LIMIT ?");
    stmt.BindInt64(1, ToUnixMillis(now)).BindInt64(2, static_cast<std::int64_t>(limit));
    while (stmt.Step()) {
      out.push_back(
          {stmt.Int64(0), static_cast<MailRequestKind>(stmt.Int64(1)), BlobString(stmt, 2), claim});
    }
    stmt.Reset();
    for (const MailRequest& r : out) {
      Exec1(db, "UPDATE mail_requests SET claim = ?, claimed_until_ms = ? WHERE id = ?",
            [&](storage::Statement& s) {
              s.BindText(1, claim).BindInt64(2, ToUnixMillis(lease_until)).BindInt64(3, r.id);
            });
    }
    return out;
  };
  co_return co_await async::Write<std::vector<MailRequest>>(writer_, std::move(job));
}

awaitable<Status> SqliteMemberRepository::ResolveMailRequest(MailRequest request,
                                                             std::optional<TokenIssue> issue,
                                                             TimePoint now) {
  auto job = [request = std::move(request), issue = std::move(issue),
              now](storage::Database& db) -> Result<bool> {
    Exec1(db, "DELETE FROM mail_requests WHERE id = ? AND claim = ?",
          [&](storage::Statement& s) { s.BindInt64(1, request.id).BindText(2, request.claim); });
    if (db.Changes() == 0) {
      return MakeError(Errc::kConflict, "the mail request is no longer held by this claim");
    }
    if (!issue || !FindIdIn(db, issue->member_id)) return true;
    Exec1(db, "DELETE FROM member_tokens WHERE member_id = ? AND kind = ?",
          [&](storage::Statement& s) {
            s.BindInt64(1, issue->member_id).BindInt64(2, static_cast<int>(issue->kind));
          });
    InsertToken(db, issue->member_id, issue->kind, issue->token_hash, issue->expires_at, now);
    QueueMail(db, issue->mail, now);
    return true;
  };
  auto r = co_await async::Write<bool>(writer_, std::move(job));
  if (!r.ok()) co_return r.error();
  co_return Ok();
}

awaitable<Result<MemberRepository::Verification>> SqliteMemberRepository::ConsumeVerification(
    std::string token_hash, TimePoint now) {
  auto job = [token_hash = std::move(token_hash),
              now](storage::Database& db) -> Result<Verification> {
    auto& stmt = db.Cached(
        "SELECT t.member_id, t.expires_at_ms, t.used_at_ms IS NOT NULL, m.email_verified "
        "FROM member_tokens t JOIN members m ON m.id = t.member_id "
        "WHERE t.token_hash = ? AND t.kind = ?");
    stmt.BindText(1, token_hash).BindInt64(2, static_cast<int>(TokenKind::kVerifyEmail));
    if (!stmt.Step()) {
      stmt.Reset();
      return MakeError(Errc::kValidationFailed, "invalid token");
    }
    const Verification found{stmt.Int64(0), stmt.Int64(2) != 0 || stmt.Int64(3) != 0};
    const bool expired = stmt.Int64(1) <= ToUnixMillis(now);
    const bool used = stmt.Int64(2) != 0;
    stmt.Reset();
    if (expired) return MakeError(Errc::kValidationFailed, "invalid token");
    if (used) return found;
    Exec1(
        db, "UPDATE member_tokens SET used_at_ms = ? WHERE token_hash = ?",
        [&](storage::Statement& s) { s.BindInt64(1, ToUnixMillis(now)).BindText(2, token_hash); });
    if (!found.already_verified) {
      Exec1(db, "UPDATE members SET email_verified = 1, updated_at_ms = ? WHERE id = ?",
            [&](storage::Statement& s) {
              s.BindInt64(1, ToUnixMillis(now)).BindInt64(2, found.member_id);
            });
    }
    return found;
  };
  co_return co_await async::Write<Verification>(writer_, std::move(job));
}

awaitable<Result<Revocation>> SqliteMemberRepository::ConsumeReset(std::string token_hash,
                                                                   std::string new_hash,
                                                                   TimePoint valid_after,
                                                                   TimePoint now) {
  auto job = [token_hash = std::move(token_hash), new_hash = std::move(new_hash), valid_after,
              now](storage::Database& db) -> Result<Revocation> {
    const std::int64_t member = TakeToken(db, token_hash, TokenKind::kResetPassword, now);
    if (member == 0) return MakeError(Errc::kValidationFailed, "invalid token");
    Exec1(db, "UPDATE members SET password_hash = ?, updated_at_ms = ? WHERE id = ?",
          [&](storage::Statement& s) {
            s.BindText(1, new_hash).BindInt64(2, ToUnixMillis(now)).BindInt64(3, member);
          });
    // Whoever could read the reset mail proved control of the address.
    Exec1(db, "UPDATE members SET email_verified = 1 WHERE id = ?",
          [&](storage::Statement& s) { s.BindInt64(1, member); });
    return Revocation{member, RevokeFamilies(db, member, "", valid_after)};
  };
  co_return co_await async::Write<Revocation>(writer_, std::move(job));
}

awaitable<Status> SqliteMemberRepository::StoreRefresh(std::int64_t member_id,
                                                       std::string family_id,
                                                       std::string token_hash,
                                                       TimePoint family_expires_at, TimePoint now) {
  auto job = [=, family_id = std::move(family_id),
              token_hash = std::move(token_hash)](storage::Database& db) -> Result<bool> {
    // Housekeeping: this member's expired families go (their used tokens can no longer matter).
    Exec1(
        db,
        "DELETE FROM refresh_tokens WHERE family_id IN (SELECT family_id FROM refresh_families "
        "WHERE member_id = ? AND expires_at_ms <= ?)",
        [&](storage::Statement& s) { s.BindInt64(1, member_id).BindInt64(2, ToUnixMillis(now)); });
    Exec1(
        db, "DELETE FROM refresh_families WHERE member_id = ? AND expires_at_ms <= ?",
        [&](storage::Statement& s) { s.BindInt64(1, member_id).BindInt64(2, ToUnixMillis(now)); });
    Exec1(db,
          "INSERT INTO refresh_families (family_id, member_id, expires_at_ms, created_at_ms) "
          "VALUES (?, ?, ?, ?)",
          [&](storage::Statement& s) {
            s.BindText(1, family_id)
                .BindInt64(2, member_id)
                .BindInt64(3, ToUnixMillis(family_expires_at))
                .BindInt64(4, ToUnixMillis(now));
          });
    Exec1(db, "INSERT INTO refresh_tokens (token_hash, family_id, created_at_ms) VALUES (?, ?, ?)",
          [&](storage::Statement& s) {
            s.BindText(1, token_hash).BindText(2, family_id).BindInt64(3, ToUnixMillis(now));
          });
    return true;
  };
  auto r = co_await async::Write<bool>(writer_, std::move(job));
  if (!r.ok()) co_return r.error();
  co_return Ok();
}

awaitable<Result<RefreshOutcome>> SqliteMemberRepository::RotateRefresh(
    std::string token_hash, std::string new_hash, TimePoint access_denied_until, TimePoint now) {
  auto job = [token_hash = std::move(token_hash), new_hash = std::move(new_hash),
              access_denied_until, now](storage::Database& db) -> Result<RefreshOutcome> {
    auto& stmt = db.Cached(
        "SELECT t.family_id, t.used_at_ms, f.member_id, f.revoked, f.expires_at_ms "
        "FROM refresh_tokens t JOIN refresh_families f ON f.family_id = t.family_id "
        "WHERE t.token_hash = ?");
    stmt.BindText(1, token_hash);
    RefreshOutcome out;
    if (!stmt.Step()) {
      stmt.Reset();
      return out;  // kUnknown
    }
    out.family_id = stmt.Text(0);
    const bool used = !stmt.IsNull(1);
    out.member_id = stmt.Int64(2);
    const bool revoked = stmt.Int64(3) != 0;
    out.family_expires_at = FromUnixMillis(stmt.Int64(4));
    stmt.Reset();
    if (used || revoked) {
      // Reuse of a rotated token: someone holds a copy. Revoke the family (ASVS 10.4.5); the
      // change commits because the job returns a value, not an error.
      Exec1(db, "UPDATE refresh_families SET revoked = 1 WHERE family_id = ?",
            [&](storage::Statement& s) { s.BindText(1, out.family_id); });
      // The access tokens the family issued stop too, whoever holds them.
      InsertDenial(db, out.member_id, AccessDenial{out.family_id, true, access_denied_until}, now);
      out.status = RefreshStatus::kReused;
      return out;
    }
    if (out.family_expires_at <= now) {
      out.status = RefreshStatus::kExpired;
      return out;
    }
    Exec1(
        db, "UPDATE refresh_tokens SET used_at_ms = ? WHERE token_hash = ?",
        [&](storage::Statement& s) { s.BindInt64(1, ToUnixMillis(now)).BindText(2, token_hash); });
    Exec1(db, "INSERT INTO refresh_tokens (token_hash, family_id, created_at_ms) VALUES (?, ?, ?)",
          [&](storage::Statement& s) {
            s.BindText(1, new_hash).BindText(2, out.family_id).BindInt64(3, ToUnixMillis(now));
          });
    out.status = RefreshStatus::kRotated;
    return out;
  };
  co_return co_await async::Write<RefreshOutcome>(writer_, std::move(job));
}

awaitable<Status> SqliteMemberRepository::Logout(std::int64_t member_id,
                                                 std::optional<std::string> token_hash,
                                                 AccessDenial denial, TimePoint now) {
  auto job = [=, token_hash = std::move(token_hash),
              denial = std::move(denial)](storage::Database& db) -> Result<bool> {
    if (token_hash) {
      Exec1(db,
            "UPDATE refresh_families SET revoked = 1 WHERE member_id = ? AND family_id = "
            "(SELECT family_id FROM refresh_tokens WHERE token_hash = ?)",
            [&](storage::Statement& s) { s.BindInt64(1, member_id).BindText(2, *token_hash); });
    }
    InsertDenial(db, member_id, denial, now);
    return true;
  };
  auto r = co_await async::Write<bool>(writer_, std::move(job));
  if (!r.ok()) co_return r.error();
  co_return Ok();
}

awaitable<Result<TimePoint>> SqliteMemberRepository::RevokeSessions(std::int64_t member_id,
                                                                    std::string keep_family,
                                                                    TimePoint valid_after,
                                                                    TimePoint now) {
  (void)now;
  auto job = [=, keep_family = std::move(keep_family)](storage::Database& db) -> Result<TimePoint> {
    return RevokeFamilies(db, member_id, keep_family, valid_after);
  };
  co_return co_await async::Write<TimePoint>(writer_, std::move(job));
}

awaitable<Result<TimePoint>> SqliteMemberRepository::ChangePassword(std::int64_t member_id,
                                                                    std::string new_hash,
                                                                    std::string keep_family,
                                                                    TimePoint valid_after,
                                                                    TimePoint now) {
  auto job = [=, new_hash = std::move(new_hash),
              keep_family = std::move(keep_family)](storage::Database& db) -> Result<TimePoint> {
    if (!FindIdIn(db, member_id)) return MakeError(Errc::kNotFound, "no such member");
    Exec1(db, "UPDATE members SET password_hash = ?, updated_at_ms = ? WHERE id = ?",
          [&](storage::Statement& s) {
            s.BindText(1, new_hash).BindInt64(2, ToUnixMillis(now)).BindInt64(3, member_id);
          });
    return RevokeFamilies(db, member_id, keep_family, valid_after);
  };
  co_return co_await async::Write<TimePoint>(writer_, std::move(job));
}

awaitable<Status> SqliteMemberRepository::UpgradeHash(std::int64_t member_id, std::string old_hash,
                                                      std::string new_hash) {
  auto job = [=, old_hash = std::move(old_hash),
              new_hash = std::move(new_hash)](storage::Database& db) -> Result<bool> {
    Exec1(db, "UPDATE members SET password_hash = ? WHERE id = ? AND password_hash = ?",
          [&](storage::Statement& s) {
            s.BindText(1, new_hash).BindInt64(2, member_id).BindText(3, old_hash);
          });
    return true;
  };
  auto r = co_await async::Write<bool>(writer_, std::move(job));
  if (!r.ok()) co_return r.error();
  co_return Ok();
}

awaitable<Result<MemberRecord>> SqliteMemberRepository::UpdateProfile(std::int64_t member_id,
                                                                      ProfileUpdate update,
                                                                      TimePoint now) {
  auto job = [=, update = std::move(update)](storage::Database& db) -> Result<MemberRecord> {
    if (!FindIdIn(db, member_id)) return MakeError(Errc::kNotFound, "no such member");
    if (update.name) {
      Exec1(db, "UPDATE members SET name = ? WHERE id = ?",
            [&](storage::Statement& s) { s.BindText(1, *update.name).BindInt64(2, member_id); });
    }
    if (update.phone_sealed) {
      Exec1(db, "UPDATE members SET phone = ? WHERE id = ?", [&](storage::Statement& s) {
        s.BindBlob(1, Bytes(*update.phone_sealed)).BindInt64(2, member_id);
      });
    }
    if (update.address_sealed) {
      Exec1(db, "UPDATE members SET address = ? WHERE id = ?", [&](storage::Statement& s) {
        s.BindBlob(1, Bytes(*update.address_sealed)).BindInt64(2, member_id);
      });
    }
    Exec1(db, "UPDATE members SET updated_at_ms = ? WHERE id = ?", [&](storage::Statement& s) {
      s.BindInt64(1, ToUnixMillis(now)).BindInt64(2, member_id);
    });
    return *FindIdIn(db, member_id);
  };
  co_return co_await async::Write<MemberRecord>(writer_, std::move(job));
}

awaitable<Result<DenylistSnapshot>> SqliteMemberRepository::LoadDenylist(TimePoint now) {
  storage::Database& db = readers_.ForThisThread();
  DenylistSnapshot out;
  auto denied = db.Prepare(
      "SELECT member_id, jti, family, expires_at_ms FROM denied_tokens WHERE expires_at_ms > ?");
  denied.BindInt64(1, ToUnixMillis(now));
  while (denied.Step()) {
    out.denied_tokens.push_back(
        {denied.Int64(0), denied.Text(1), denied.Int64(2) != 0, FromUnixMillis(denied.Int64(3))});
  }
  auto after =
      db.Prepare("SELECT id, tokens_valid_after_ms FROM members WHERE tokens_valid_after_ms > 0");
  while (after.Step()) out.valid_after.emplace_back(after.Int64(0), FromUnixMillis(after.Int64(1)));
  co_return out;
}

awaitable<Result<std::int64_t>> SqliteMemberRepository::CreateAdmin(NewMember member,
                                                                    TimePoint now) {
  auto job = [member = std::move(member), now](storage::Database& db) -> Result<std::int64_t> {
    const std::string key = EmailKey(member.email);
    auto existing =
        FindWhere(db, "WHERE email_key = ?", [&key](storage::Statement& s) { s.BindText(1, key); });
    if (!existing) {
      NewMember admin = member;
      admin.role = MemberRole::kAdmin;
      admin.email_verified = true;
      return InsertMember(db, admin, now);
    }
    Exec1(db,
          "UPDATE members SET role = 'admin', email_verified = 1, password_hash = ?, "
          "updated_at_ms = ? WHERE id = ?",
          [&](storage::Statement& s) {
            s.BindText(1, member.password_hash)
                .BindInt64(2, ToUnixMillis(now))
                .BindInt64(3, existing->id);
          });
    // A new password ends the sessions held with the old one.
    RevokeFamilies(db, existing->id, "",
                   std::chrono::floor<std::chrono::seconds>(now) + std::chrono::seconds{1});
    return existing->id;
  };
  co_return co_await async::Write<std::int64_t>(writer_, std::move(job));
}

awaitable<Result<std::int64_t>> SqliteMemberRepository::CreateMember(NewMember member,
                                                                     TimePoint now) {
  auto job = [member = std::move(member), now](storage::Database& db) -> Result<std::int64_t> {
    const std::string key = EmailKey(member.email);
    if (FindWhere(db, "WHERE email_key = ?",
                  [&key](storage::Statement& s) { s.BindText(1, key); })) {
      return MakeError(Errc::kConflict, "the email " + member.email + " is taken");
    }
    return InsertMember(db, member, now);
  };
  co_return co_await async::Write<std::int64_t>(writer_, std::move(job));
}

awaitable<Result<std::vector<OutboxMail>>> SqliteMailOutbox::Claim(TimePoint now,
                                                                   TimePoint lease_until,
                                                                   std::size_t limit) {
  // A look first: with nothing due, no write (see the class comment).
  if (!AnyRowAtOrBefore(readers_.ForThisThread(),
                        "SELECT 1 FROM mail_outbox WHERE next_attempt_at_ms <= ? LIMIT 1", now)) {
    co_return std::vector<OutboxMail>{};
  }
  auto job = [now, lease_until, limit, claim = auth::RandomHex(16)](
                 storage::Database& db) -> Result<std::vector<OutboxMail>> {
    std::vector<OutboxMail> out;
    auto& stmt = db.Cached(
        "SELECT id, sealed, attempts FROM mail_outbox WHERE next_attempt_at_ms <= ? ORDER BY id "
        "LIMIT ?");
    stmt.BindInt64(1, ToUnixMillis(now)).BindInt64(2, static_cast<std::int64_t>(limit));
    while (stmt.Step()) {
      out.push_back({stmt.Int64(0), BlobString(stmt, 1), static_cast<int>(stmt.Int64(2)), claim});
    }
    stmt.Reset();
    for (const OutboxMail& m : out) {
      // The lease is the row's next attempt: a claimed row is due again only when it ends.
      Exec1(db, "UPDATE mail_outbox SET claim = ?, next_attempt_at_ms = ? WHERE id = ?",
            [&](storage::Statement& s) {
              s.BindText(1, claim).BindInt64(2, ToUnixMillis(lease_until)).BindInt64(3, m.id);
            });
    }
    return out;
  };
  co_return co_await async::Write<std::vector<OutboxMail>>(writer_, std::move(job));
}

awaitable<Status> SqliteMailOutbox::Complete(OutboxMail mail) {
  auto job = [id = mail.id](storage::Database& db) -> Result<bool> {
    Exec1(db, "DELETE FROM mail_outbox WHERE id = ?",
          [id](storage::Statement& s) { s.BindInt64(1, id); });
    return true;
  };
  auto r = co_await async::Write<bool>(writer_, std::move(job));
  if (!r.ok()) co_return r.error();
  co_return Ok();
}

awaitable<Status> SqliteMailOutbox::Reschedule(OutboxMail mail, TimePoint next_attempt,
                                               std::string error) {
  auto job = [mail = std::move(mail), next_attempt,
              error = std::move(error)](storage::Database& db) -> Result<bool> {
    Exec1(db,
          "UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at_ms = ?, last_error = ?, "
          "claim = NULL WHERE id = ? AND claim = ?",
          [&](storage::Statement& s) {
            s.BindInt64(1, ToUnixMillis(next_attempt))
                .BindText(2, error.substr(0, 500))
                .BindInt64(3, mail.id)
                .BindText(4, mail.claim);
          });
    if (db.Changes() == 0) {
      return MakeError(Errc::kConflict, "the mail is no longer held by this claim");
    }
    return true;
  };
  auto r = co_await async::Write<bool>(writer_, std::move(job));
  if (!r.ok()) co_return r.error();
  co_return Ok();
}

std::int64_t SqliteMailOutbox::Pending() {
  auto stmt = readers_.ForThisThread().Prepare("SELECT count(*) FROM mail_outbox");
  return stmt.Step() ? stmt.Int64(0) : 0;
}

}  // namespace rocketmart::members
