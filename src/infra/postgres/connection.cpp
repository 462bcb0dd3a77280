#include "infra/postgres/connection.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>

#include <boost/asio/async_result.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <charconv>
#include <utility>

namespace rocketmart::postgres {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

bool IsTransient(Errc code) noexcept {
  return code == Errc::kUnavailable || code == Errc::kTimeout || code == Errc::kOverloaded;
}

bool IsTransient(const Error& error) noexcept {
  return IsTransient(error.code);
}

// ---- Params, Rows ---------------------------------------------------------------------------

Params& Params::Add(std::int64_t v) {
  values_.emplace_back(std::to_string(v));
  return *this;
}
Params& Params::Add(std::string_view v) {
  values_.emplace_back(std::string(v));
  return *this;
}
Params& Params::Add(bool v) {
  values_.emplace_back(v ? "t" : "f");
  return *this;
}
Params& Params::AddNull() {
  values_.emplace_back(std::nullopt);
  return *this;
}
Params& Params::AddBytes(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text = "\\x";
  text.reserve(2 + bytes.size() * 2);
  for (unsigned char b : bytes) {
    text.push_back(kHex[b >> 4]);
    text.push_back(kHex[b & 0xf]);
  }
  values_.emplace_back(std::move(text));
  return *this;
}
std::vector<const char*> Params::Pointers() const {
  std::vector<const char*> out;
  out.reserve(values_.size());
  for (const auto& v : values_) out.push_back(v ? v->c_str() : nullptr);
  return out;
}

Rows::Rows(PGresult* result) : result_(result, Clear{}) {}
int Rows::size() const {
  return result_ ? PQntuples(result_.get()) : 0;
}
bool Rows::IsNull(int row, int col) const {
  return PQgetisnull(result_.get(), row, col) != 0;
}
std::string_view Rows::Text(int row, int col) const {
  return {PQgetvalue(result_.get(), row, col),
          static_cast<std::size_t>(PQgetlength(result_.get(), row, col))};
}
std::int64_t Rows::Int64(int row, int col) const {
  const std::string_view text = Text(row, col);
  std::int64_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}
std::optional<std::int64_t> Rows::OptInt64(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return Int64(row, col);
}
bool Rows::Bool(int row, int col) const {
  return Text(row, col) == "t";
}
std::string Rows::Bytes(int row, int col) const {
  std::string_view text = Text(row, col);
  if (text.starts_with("\\x")) text.remove_prefix(2);
  auto nibble = [](char c) -> int { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  std::string out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i + 1 < text.size(); i += 2) {
    out.push_back(static_cast<char>(nibble(text[i]) << 4 | nibble(text[i + 1])));
  }
  return out;
}
std::int64_t Rows::affected() const {
  if (!result_) return 0;
  const char* tuples = PQcmdTuples(result_.get());
  std::int64_t v = 0;
  std::from_chars(tuples, tuples + std::char_traits<char>::length(tuples), v);
  return v;
}

// ---- Connection -----------------------------------------------------------------------------

// The socket as seen by the executor of the coroutine that uses the connection now, and the
// timer that bounds each wait. Recreated on each attach; released (never closed: libpq owns the
// socket) on Detach.
struct Connection::Io {
  explicit Io(const asio::any_io_executor& ex, int fd) : executor(ex), socket(ex, fd), timer(ex) {}
  ~Io() {
    boost::system::error_code ignored;
    socket.cancel(ignored);
    socket.release();
  }
  asio::any_io_executor executor;
  asio::posix::stream_descriptor socket;
  asio::steady_timer timer;
};

namespace {

// Connection errors, the server shutting down or refusing connections, a deadlock or a
// serialization failure: a retry (of the transaction, on a new connection) may succeed.
bool TransientState(std::string_view sqlstate) {
  return sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" ||
         sqlstate == "57P03" || sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "53300";
}

Error Unavailable() {
  return MakeError(Errc::kUnavailable, "the database is unavailable, retry shortly");
}

// A script whose last statement is ROLLBACK or ABORT (any case).
bool EndsInRollback(std::string_view sql) {
  while (!sql.empty() &&
         (std::isspace(static_cast<unsigned char>(sql.back())) || sql.back() == ';'))
    sql.remove_suffix(1);
  const auto ends_with = [&](std::string_view word) {
    if (sql.size() < word.size()) return false;
    const std::string_view tail = sql.substr(sql.size() - word.size());
    for (std::size_t i = 0; i < word.size(); ++i) {
      if (std::toupper(static_cast<unsigned char>(tail[i])) != word[i]) return false;
    }
    return true;
  };
  return ends_with("ROLLBACK") || ends_with("ABORT");
}

}  // namespace

Connection::Connection(PGconn* conn, ConnectOptions options)
    : conn_(conn),
      options_(std::move(options)),
      outbox_commits_(OutboxCommits::For(options_.conninfo)) {}

void Connection::Settle(bool ok) {
  if (!outbox_appended_) return;
  if (!ok) {
    outbox_appended_ = false;  // an error aborts the transaction: nothing of it will commit
    return;
  }
  if (PQtransactionStatus(conn_) != PQTRANS_IDLE) return;  // still inside the transaction
  outbox_appended_ = false;
  outbox_commits_->Announce();
}

Connection::~Connection() {
  io_.reset();
  if (conn_ != nullptr) PQfinish(conn_);
}

bool Connection::broken() const {
  return broken_ || PQstatus(conn_) != CONNECTION_OK || PQtransactionStatus(conn_) != PQTRANS_IDLE;
}

bool Connection::LooksAlive() {
  if (broken()) return false;
  // An idle connection has nothing to read unless its server is going away: a backend that
  // shuts down (restart, crash of the postmaster, pg_terminate_backend) sends a FATAL message and
  // closes the socket. Anything readable (or a hang-up) retires the connection; the rare harmless
  // notice only costs a reconnect.
  pollfd p{PQsocket(conn_), POLLIN, 0};
  if (::poll(&p, 1, 0) != 0) {
    broken_ = true;
    return false;
  }
  return true;
}

void Connection::Detach() {
  io_.reset();
}

asio::awaitable<void> Connection::Attach() {
  auto executor = co_await asio::this_coro::executor;
  if (io_ && io_->executor == executor) co_return;
  io_.reset();
  io_ = std::make_unique<Io>(executor, PQsocket(conn_));
}

Clock::time_point Connection::Deadline() const {
  return Clock::now() + options_.statement_timeout + options_.statement_grace;
}

// Waits until the socket is readable or writable (as asked) or the deadline passes: the first of
// the three waits to finish wins and cancels the others.
asio::awaitable<Connection::Ready> Connection::Wait(bool read, bool write,
                                                    Clock::time_point deadline) {
  Io& io = *io_;
  auto initiation = [&io, read, write, deadline](auto handler) {
    using Handler = decltype(handler);
    struct Race {
      explicit Race(Handler h) : handler(std::move(h)) {}
      Handler handler;
      bool done = false;
    };
    auto race = std::make_shared<Race>(std::move(handler));
    auto finish = [race, &io](Ready outcome) {
      if (race->done) return;
      race->done = true;
      boost::system::error_code ignored;
      io.socket.cancel(ignored);
      io.timer.cancel();
      std::move(race->handler)(outcome);
    };
    io.timer.expires_at(deadline);
    io.timer.async_wait([finish](boost::system::error_code ec) {
      if (ec != asio::error::operation_aborted) finish(Ready::kTimedOut);
    });
    if (read) {
      io.socket.async_wait(asio::posix::descriptor_base::wait_read,
                           [finish](boost::system::error_code ec) {
                             if (ec != asio::error::operation_aborted) {
                               finish(ec ? Ready::kFailed : Ready::kRead);
                             }
                           });
    }
    if (write) {
      io.socket.async_wait(asio::posix::descriptor_base::wait_write,
                           [finish](boost::system::error_code ec) {
                             if (ec != asio::error::operation_aborted) {
                               finish(ec ? Ready::kFailed : Ready::kWrite);
                             }
                           });
    }
  };
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(Ready)>(
      std::move(initiation), asio::use_awaitable);
}

asio::awaitable<Result<std::unique_ptr<Connection>>> Connection::Connect(ConnectOptions options) {
  const std::string session =
      "-c statement_timeout=" + std::to_string(options.statement_timeout.count());
  // The caller's connection string first (expanded), then what the client insists on.
  // A password given apart comes last, so it wins over any in the string.
  const char* keywords[] = {"dbname",
                            "options",
                            "application_name",
                            "keepalives_idle",
                            "keepalives_interval",
                            "keepalives_count",
                            options.password.empty() ? nullptr : "password",
                            nullptr};
  const char* values[] = {options.conninfo.c_str(),
                          session.c_str(),
                          "rocketmart",
                          "10",
                          "2",
                          "3",
                          options.password.empty() ? nullptr : options.password.c_str(),
                          nullptr};
  PGconn* raw = PQconnectStartParams(keywords, values, 1);
  if (raw == nullptr) throw std::bad_alloc();
  std::unique_ptr<Connection> conn(new Connection(raw, options));
  // Server notices (e.g. "relation already exists, skipping") go to the debug log, not stderr.
  PQsetNoticeProcessor(
      raw, [](void*, const char* message) { spdlog::debug("postgres: {}", message); }, nullptr);
  if (PQstatus(raw) == CONNECTION_BAD) {
    spdlog::warn("postgres: cannot connect: {}", PQerrorMessage(raw));
    co_return Unavailable();
  }
  const auto deadline = Clock::now() + options.connect_timeout;
  PostgresPollingStatusType status = PGRES_POLLING_WRITING;
  for (;;) {
    if (status == PGRES_POLLING_OK) break;
    if (status == PGRES_POLLING_FAILED) {
      spdlog::warn("postgres: cannot connect: {}", PQerrorMessage(raw));
      co_return Unavailable();
    }
    // libpq may open a new socket while connecting (another address): attach afresh each time.
    conn->io_.reset();
    co_await conn->Attach();
    const bool want_read = status == PGRES_POLLING_READING;
    const Ready ready = co_await conn->Wait(want_read, !want_read, deadline);
    if (ready == Ready::kTimedOut) {
      spdlog::warn("postgres: no connection within {} ms", options.connect_timeout.count());
      co_return MakeError(Errc::kUnavailable, "the database did not answer in time");
    }
    status = PQconnectPoll(raw);
  }
  if (PQsetnonblocking(raw, 1) != 0) co_return conn->Fail(Errc::kUnavailable, "set non-blocking");
  co_return std::move(conn);
}

Error Connection::Fail(Errc code, std::string_view what) {
  broken_ = true;
  spdlog::warn("postgres: {}: {}", what, PQerrorMessage(conn_));
  if (code == Errc::kTimeout) return MakeError(code, "the database did not answer in time");
  return Unavailable();
}

Error Connection::FromResult(const PGresult* result) {
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  last_sqlstate_ = state != nullptr ? state : "";
  const char* message = PQresultErrorMessage(result);
  if (PQstatus(conn_) != CONNECTION_OK) {
    broken_ = true;
    spdlog::warn("postgres: connection lost: {}", message);
    return Unavailable();
  }
  if (last_sqlstate_ == "57014") {
    spdlog::warn("postgres: statement timeout: {}", message);
    return MakeError(Errc::kTimeout, "the database did not answer in time");
  }
  if (TransientState(last_sqlstate_)) {
    spdlog::info("postgres: transient failure {}: {}", last_sqlstate_, message);
    if (last_sqlstate_.starts_with("08") || last_sqlstate_.starts_with("57")) broken_ = true;
    return Unavailable();
  }
  spdlog::error("postgres: statement failed ({}): {}", last_sqlstate_, message);
  return MakeError(Errc::kInternal, "the database refused the statement");
}

asio::awaitable<Status> Connection::Flush(Clock::time_point deadline) {
  for (;;) {
    const int r = PQflush(conn_);
    if (r == 0) co_return Ok();
    if (r < 0) co_return Fail(Errc::kUnavailable, "send failed");
    // Wait until we can send more, or must read (the server blocks on its own output otherwise).
    const Ready ready = co_await Wait(true, true, deadline);
    if (ready == Ready::kTimedOut) co_return Fail(Errc::kTimeout, "send timed out");
    if (ready == Ready::kFailed) co_return Fail(Errc::kUnavailable, "socket failed");
    if (ready == Ready::kRead && PQconsumeInput(conn_) == 0) {
      co_return Fail(Errc::kUnavailable, "receive failed");
    }
  }
}

asio::awaitable<Result<PGresult*>> Connection::NextResult(Clock::time_point deadline) {
  for (;;) {
    if (PQconsumeInput(conn_) == 0) co_return Fail(Errc::kUnavailable, "receive failed");
    if (PQisBusy(conn_) == 0) co_return PQgetResult(conn_);
    const Ready ready = co_await Wait(true, false, deadline);
    if (ready == Ready::kTimedOut) co_return Fail(Errc::kTimeout, "no answer in time");
    if (ready == Ready::kFailed) co_return Fail(Errc::kUnavailable, "socket failed");
  }
}

asio::awaitable<Result<Rows>> Connection::Collect(Clock::time_point deadline) {
  Rows last;
  std::optional<Error> failure;
  for (;;) {
    auto next = co_await NextResult(deadline);
    if (!next.ok()) co_return std::move(next).error();
    PGresult* result = *next;
    if (result == nullptr) break;
    Rows rows(result);
    const auto status = PQresultStatus(result);
    if (status == PGRES_PIPELINE_ABORTED && !failure) {
      // Skipped because an earlier statement of the pipeline failed (that one is reported).
      failure = MakeError(Errc::kInternal, "the database refused the statement");
    } else if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && !failure) {
      failure = FromResult(result);
    }
    last = std::move(rows);
  }
  if (failure) co_return std::move(*failure);
  co_return last;
}

asio::awaitable<Result<Rows>> Connection::Query(std::string_view sql, Params params) {
  if (broken_) co_return Unavailable();
  last_sqlstate_.clear();
  co_await Attach();
  const auto deadline = Deadline();
  const std::string text(sql);
  std::string name = PreparedName(text);
  if (name.empty()) {
    name = NewPreparedName(params.size(), 0);
    if (!name.empty()) {
      // Prepared on its own first (one round trip, once per connection): outside pipeline mode
      // libpq takes one query at a time.
      if (PQsendPrepare(conn_, name.c_str(), text.c_str(), static_cast<int>(params.size()),
                        nullptr) == 0) {
        co_return Fail(Errc::kUnavailable, "send failed");
      }
      auto flushed = co_await Flush(deadline);
      if (!flushed.ok()) co_return std::move(flushed).error();
      auto prepared = co_await Collect(deadline);
      if (!prepared.ok()) {
        Settle(false);
        co_return std::move(prepared).error();
      }
      prepared_.emplace(text, name);
    }
  }
  if (!SendStatement(text, params, name, false)) co_return Fail(Errc::kUnavailable, "send failed");
  auto flushed = co_await Flush(deadline);
  if (!flushed.ok()) co_return std::move(flushed).error();
  auto rows = co_await Collect(deadline);
  Settle(rows.ok());
  co_return rows;
}

const std::string& Connection::PreparedName(const std::string& sql) const {
  static const std::string kNone;
  const auto found = prepared_.find(sql);
  return found == prepared_.end() ? kNone : found->second;
}

std::string Connection::NewPreparedName(std::size_t params, std::size_t pending) const {
  // BEGIN, COMMIT and other statements without parameters stay unnamed: little to save.
  const std::size_t taken = prepared_.size() + pending;
  if (params == 0 || taken >= kMaxPrepared) return {};
  return "rm" + std::to_string(taken);
}

bool Connection::SendStatement(const std::string& sql, const Params& params,
                               const std::string& name, bool prepare) {
  const auto values = params.Pointers();
  const int count = static_cast<int>(values.size());
  if (name.empty()) {
    return PQsendQueryParams(conn_, sql.c_str(), count, nullptr, values.data(), nullptr, nullptr,
                             0) != 0;
  }
  if (prepare && PQsendPrepare(conn_, name.c_str(), sql.c_str(), count, nullptr) == 0) {
    return false;
  }
  return PQsendQueryPrepared(conn_, name.c_str(), count, values.data(), nullptr, nullptr, 0) != 0;
}

asio::awaitable<Result<Rows>> Connection::Query(std::string_view sql) {
  Params none;
  co_return co_await Query(sql, std::move(none));
}

asio::awaitable<Result<std::int64_t>> Connection::Command(std::string_view sql, Params params) {
  auto rows = co_await Query(sql, std::move(params));
  if (!rows.ok()) co_return std::move(rows).error();
  co_return rows->affected();
}

asio::awaitable<Status> Connection::Execute(std::string_view sql) {
  if (broken_) co_return Unavailable();
  last_sqlstate_.clear();
  co_await Attach();
  const auto deadline = Deadline();
  const std::string text(sql);
  if (PQsendQuery(conn_, text.c_str()) == 0) co_return Fail(Errc::kUnavailable, "send failed");
  auto flushed = co_await Flush(deadline);
  if (!flushed.ok()) co_return std::move(flushed).error();
  auto rows = co_await Collect(deadline);
  // A ROLLBACK that succeeds leaves the connection idle too, with nothing committed.
  Settle(rows.ok() && !EndsInRollback(sql));
  if (!rows.ok()) co_return std::move(rows).error();
  co_return Ok();
}

asio::awaitable<Result<std::vector<Rows>>> Connection::Pipeline(
    std::span<const Statement> statements) {
  if (broken_) co_return Unavailable();
  last_sqlstate_.clear();
  co_await Attach();
  const auto deadline = Deadline();
  if (PQenterPipelineMode(conn_) == 0) co_return Fail(Errc::kUnavailable, "pipeline mode");
  // A statement not prepared yet is prepared in the pipeline, just before its first use (a
  // batch's repeats of it use that name); its name is kept only if the server accepted it.
  std::unordered_map<std::string, std::string> preparing;
  std::vector<const std::string*> prepare_before(statements.size(), nullptr);
  for (std::size_t i = 0; i < statements.size(); ++i) {
    const Statement& s = statements[i];
    if (s.appends_outbox) outbox_appended_ = true;
    std::string name = PreparedName(s.sql);
    bool prepare = false;
    if (name.empty()) {
      if (const auto pending = preparing.find(s.sql); pending != preparing.end()) {
        name = pending->second;
      } else if (name = NewPreparedName(s.params.size(), preparing.size()); !name.empty()) {
        prepare = true;
        prepare_before[i] = &preparing.emplace(s.sql, name).first->second;
      }
    }
    if (!SendStatement(s.sql, s.params, name, prepare)) {
      co_return Fail(Errc::kUnavailable, "send failed");
    }
  }
  if (PQpipelineSync(conn_) == 0) co_return Fail(Errc::kUnavailable, "send failed");
  auto flushed = co_await Flush(deadline);
  if (!flushed.ok()) co_return std::move(flushed).error();

  std::vector<Rows> out;
  out.reserve(statements.size());
  std::optional<Error> failure;
  // Each statement's results and a null after them (a statement after an error answers
  // PGRES_PIPELINE_ABORTED); then the sync.
  for (std::size_t i = 0; i < statements.size(); ++i) {
    if (prepare_before[i] != nullptr) {
      auto prepared = co_await Collect(deadline);
      if (prepared.ok()) {
        prepared_.emplace(statements[i].sql, *prepare_before[i]);
      } else if (broken_) {
        co_return std::move(prepared).error();
      } else if (!failure) {
        failure = std::move(prepared).error();
      }
    }
    auto rows = co_await Collect(deadline);
    if (rows.ok()) {
      out.push_back(std::move(*rows));
    } else if (broken_) {
      co_return std::move(rows).error();
    } else if (!failure) {
      failure = std::move(rows).error();
    }
  }
  auto sync = co_await NextResult(deadline);
  if (!sync.ok()) co_return std::move(sync).error();
  if (*sync != nullptr) {
    Rows keep(*sync);
    if (PQresultStatus(*sync) != PGRES_PIPELINE_SYNC) {
      co_return Fail(Errc::kUnavailable, "pipeline out of step");
    }
  }
  if (PQexitPipelineMode(conn_) == 0) co_return Fail(Errc::kUnavailable, "pipeline exit");
  Settle(!failure);
  if (failure) co_return std::move(*failure);
  co_return out;
}

asio::awaitable<Status> CheckDurable(Connection& connection) {
  auto rows = co_await connection.Query(
      "SELECT current_setting('fsync'), current_setting('synchronous_commit')");
  if (!rows.ok()) co_return std::move(rows).error();
  if (rows->Text(0, 0) != "on") {
    spdlog::critical(
        "postgres: the server runs with fsync = {}: a crash may lose committed orders; refusing "
        "it (set fsync = on)",
        rows->Text(0, 0));
    co_return MakeError(Errc::kInternal,
                        "unsafe PostgreSQL setting: fsync is off (commits are not durable)",
                        "fsync");
  }
  if (rows->Text(0, 1) == "off") {
    spdlog::critical(
        "postgres: synchronous_commit = off: an acknowledged commit may be lost; refusing it (set "
        "synchronous_commit = on for the server, database or role)");
    co_return MakeError(
        Errc::kInternal,
        "unsafe PostgreSQL setting: synchronous_commit is off (commits are not durable)",
        "synchronous_commit");
  }
  co_return Ok();
}

}  // namespace rocketmart::postgres
