// rocketmart-load: an async HTTP/1.1 load driver for the purchase path (Boost.Beast + C++20
// coroutines), N keep-alive connections on 1-2 threads, loopback only.
//
// It prepares the server itself (tokens minted in-process from <data_dir>/secrets/jwt.key with the
// server's own configuration loading, for synthetic identities (member ids 2^53 + n, a range no
// real member can have, auth::SyntheticMemberId), an admin-created product and an open sale), runs
// one scenario (`drop`: the original's Locust test; `soldout`; `orders`), prints the original's
// result table plus latency percentiles, then reads the outcome back over HTTP and from the SQLite
// files (read-only) and checks it: no oversell, orders = payments = captures = units sold, and the
// stock invariant initial + restocked = available + held + sold. Exit code 1 when a check fails.
//
//   rocketmart-load --url http://127.0.0.1:8080 --data-dir ./data --scenario drop
//       --members 100000 --attempts 1000000 --stock 10000 --connections 64
#include <libpq-fe.h>
#include <sqlite3.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "auth/identity.hpp"
#include "auth/jwt.hpp"
#include "auth/secret.hpp"
#include "core/time_format.hpp"
#include "infra/config/config.hpp"

namespace rocketmart::load {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using Steady = std::chrono::steady_clock;

struct Options {
  std::string url = "http://127.0.0.1:8080";
  std::string data_dir;
  std::string config_file;
  std::string scenario = "drop";  // drop | soldout | orders
  std::string mode = "holds";     // holds | oneshot | cart
  int cart_lines = 1;             // cart mode: lines (products) per checkout
  std::int64_t members = 1000;
  std::int64_t attempts = -1;  // -1: = members
  std::int64_t stock = 10;
  std::int64_t per_member_limit = 1;
  double leave = 0.2;
  std::uint64_t seed = 1;
  int connections = 64;
  int threads = 1;
  double duration_s = 300;
  double settle_s = 30;
  std::int64_t price = 1000;
  bool setup_only = false;
  bool no_idempotency_key = false;  // diagnostics only: measures what the key costs the server
  std::string tokens_file;
};

// ---------------------------------------------------------------------------------------------
// HTTP

struct Reply {
  int status = 0;  // 0 = transport error
  std::string body;
};

// One keep-alive connection; reconnects lazily after an error or a server close.
class Connection {
 public:
  Connection(asio::any_io_executor ex, tcp::endpoint endpoint, std::string host)
      : socket_(ex), endpoint_(endpoint), host_(std::move(host)) {}

  asio::awaitable<Reply> Send(bhttp::verb verb, const std::string& target, const std::string& body,
                              const std::string& token, const std::string& idempotency_key) {
    Reply reply;
    if (!connected_) {
      beast::error_code close_ec;
      socket_.close(close_ec);
      auto [ec] = co_await socket_.async_connect(endpoint_, asio::as_tuple(asio::use_awaitable));
      if (ec) co_return reply;
      socket_.set_option(tcp::no_delay(true));
      buffer_.clear();
      connected_ = true;
    }
    bhttp::request<bhttp::string_body> req(verb, target, 11);
    req.set(bhttp::field::host, host_);
    if (!token.empty()) req.set(bhttp::field::authorization, "Bearer " + token);
    if (!idempotency_key.empty()) req.set("Idempotency-Key", idempotency_key);
    if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
    req.keep_alive(true);
    req.prepare_payload();
    auto [wec, wn] = co_await bhttp::async_write(socket_, req, asio::as_tuple(asio::use_awaitable));
    if (wec) {
      connected_ = false;
      co_return reply;
    }
    bhttp::response<bhttp::string_body> res;
    auto [rec, rn] =
        co_await bhttp::async_read(socket_, buffer_, res, asio::as_tuple(asio::use_awaitable));
    if (rec) {
      connected_ = false;
      co_return reply;
    }
    if (!res.keep_alive()) connected_ = false;
    reply.status = static_cast<int>(res.result_int());
    reply.body = std::move(res.body());
    co_return reply;
  }

 private:
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  tcp::endpoint endpoint_;
  std::string host_;
  bool connected_ = false;
};

// Cheap field extraction from the server's compact JSON (no full parse on the hot path).
std::optional<std::int64_t> IntField(std::string_view body, std::string_view name) {
  const std::string needle = "\"" + std::string(name) + "\"";
  auto pos = body.find(needle);
  if (pos == std::string_view::npos) return std::nullopt;
  pos = body.find(':', pos + needle.size());
  if (pos == std::string_view::npos) return std::nullopt;
  ++pos;
  while (pos < body.size() && body[pos] == ' ') ++pos;
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(body.data() + pos, body.data() + body.size(), v);
  if (ec != std::errc{}) return std::nullopt;
  return v;
}

std::string ErrorCode(std::string_view body) {
  auto pos = body.find("\"code\"");
  if (pos == std::string_view::npos) return "";
  pos = body.find('"', body.find(':', pos + 6));
  if (pos == std::string_view::npos) return "";
  auto end = body.find('"', pos + 1);
  if (end == std::string_view::npos) return "";
  return std::string(body.substr(pos + 1, end - pos - 1));
}

// ---------------------------------------------------------------------------------------------
// Statistics

struct Stats {
  std::int64_t attempts = 0;
  std::int64_t requests = 0;
  std::int64_t paid = 0;
  std::int64_t sold_out = 0;
  std::int64_t declined = 0;
  std::int64_t left = 0;
  std::int64_t limit = 0;
  std::int64_t server_errors = 0;
  std::int64_t transport = 0;
  std::map<std::string, std::int64_t> other;
  std::map<std::string, std::string> other_sample;  // the first body seen per code
  std::vector<std::uint32_t> request_us;
  std::vector<std::uint32_t> attempt_us;

  void Merge(Stats& o) {
    attempts += o.attempts;
    requests += o.requests;
    paid += o.paid;
    sold_out += o.sold_out;
    declined += o.declined;
    left += o.left;
    limit += o.limit;
    server_errors += o.server_errors;
    transport += o.transport;
    for (auto& [k, v] : o.other) other[k] += v;
    other_sample.merge(o.other_sample);
    request_us.insert(request_us.end(), o.request_us.begin(), o.request_us.end());
    attempt_us.insert(attempt_us.end(), o.attempt_us.begin(), o.attempt_us.end());
  }

  // Classifies a final non-success answer of an attempt.
  void Classify(const Reply& r) {
    if (r.status == 0) {
      ++transport;
      return;
    }
    if (r.status >= 500) {
      ++server_errors;
      return;
    }
    const std::string code = ErrorCode(r.body);
    if (code == "SOLD_OUT" || code == "INSUFFICIENT_STOCK") {
      ++sold_out;
    } else if (code == "PAYMENT_DECLINED") {
      ++declined;
    } else if (code == "PURCHASE_LIMIT_REACHED") {
      ++limit;
    } else {
      const std::string key = std::to_string(r.status) + " " + (code.empty() ? "(no code)" : code);
      if (++other[key] == 1) other_sample[key] = r.body.substr(0, 160);
    }
  }
};

struct Latency {
  double avg_ms = 0, p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
};

Latency Summarise(std::vector<std::uint32_t>& us) {
  Latency l;
  if (us.empty()) return l;
  std::sort(us.begin(), us.end());
  double sum = 0;
  for (auto v : us) sum += v;
  auto pct = [&us](double p) {
    std::size_t i = static_cast<std::size_t>(std::ceil(p * us.size())) - 1;
    return us[std::min(i, us.size() - 1)] / 1000.0;
  };
  l.avg_ms = sum / us.size() / 1000.0;
  l.p50_ms = pct(0.50);
  l.p90_ms = pct(0.90);
  l.p99_ms = pct(0.99);
  l.max_ms = us.back() / 1000.0;
  return l;
}

// ---------------------------------------------------------------------------------------------
// The run

std::uint64_t SplitMix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

struct Shared {
  const Options* options = nullptr;
  tcp::endpoint endpoint;
  std::string host;
  std::int64_t product_id = 0;
  std::int64_t attempts = 0;
  std::vector<std::string> tokens;  // index = member id - 1
  std::atomic<std::int64_t> next{0};
  Steady::time_point deadline;
  std::string key_prefix;
  double leave = 0;
  bool oneshot = false;
  bool cart = false;                         // checkout from the cart (PUT lines, POST checkout)
  std::vector<std::int64_t> extra_products;  // the cart's other lines
};

std::uint32_t MicrosSince(Steady::time_point t0) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(Steady::now() - t0).count();
  return static_cast<std::uint32_t>(std::min<std::int64_t>(us, UINT32_MAX));
}

// One request: sent, counted, its latency recorded.
asio::awaitable<Reply> Timed(Connection& conn, Stats& st, bhttp::verb verb,
                             const std::string& target, const std::string& body,
                             const std::string& token, const std::string& key) {
  const auto t = Steady::now();
  Reply r = co_await conn.Send(verb, target, body, token, key);
  ++st.requests;
  st.request_us.push_back(MicrosSince(t));
  co_return r;
}

// Counts an answer: `expected` adds to `outcome`, anything else is classified by its code.
void Count(Stats& st, const Reply& r, int expected, std::int64_t& outcome) {
  if (r.status == expected) {
    ++outcome;
  } else {
    st.Classify(r);
  }
}

asio::awaitable<void> RunAttempt(Connection& conn, Shared& sh, Stats& st, std::int64_t i) {
  const std::int64_t members = static_cast<std::int64_t>(sh.tokens.size());
  const std::string& token = sh.tokens[static_cast<std::size_t>(i % members)];
  const std::string key =
      sh.options->no_idempotency_key ? std::string() : sh.key_prefix + std::to_string(i);
  // Keys of the steps of one attempt are distinct: each step is its own request.
  auto step_key = [&key](const char* suffix) { return key.empty() ? key : key + suffix; };
  const std::string body = "{\"productId\":" + std::to_string(sh.product_id) + ",\"amount\":1}";
  const std::string empty;
  const auto t0 = Steady::now();
  ++st.attempts;
  if (sh.cart) {
    std::vector<std::int64_t> products{sh.product_id};
    products.insert(products.end(), sh.extra_products.begin(), sh.extra_products.end());
    const std::string line_body = "{\"quantity\":1}";
    bool lines_ok = true;
    for (std::int64_t product : products) {
      const std::string target = "/cart/items/" + std::to_string(product);
      Reply line = co_await Timed(conn, st, bhttp::verb::put, target, line_body, token, empty);
      if (line.status != 200) {
        st.Classify(line);
        lines_ok = false;
        break;
      }
    }
    if (lines_ok) {
      const std::string target = "/cart/checkout";
      Reply r = co_await Timed(conn, st, bhttp::verb::post, target, empty, token, key);
      Count(st, r, 201, st.paid);
    }
  } else if (sh.oneshot) {
    const std::string target = "/payment/request";
    Reply r = co_await Timed(conn, st, bhttp::verb::post, target, body, token, key);
    Count(st, r, 201, st.paid);
  } else {
    const std::string hold_target = "/payment/holds";
    const std::string hold_key = step_key("-h");
    Reply hold = co_await Timed(conn, st, bhttp::verb::post, hold_target, body, token, hold_key);
    std::optional<std::int64_t> hold_id;
    if (hold.status == 201) hold_id = IntField(hold.body, "holdId");
    if (!hold_id) {
      if (hold.status == 201) {
        ++st.other["201 (no holdId)"];
      } else {
        st.Classify(hold);
      }
    } else {
      const double u =
          static_cast<double>(
              SplitMix(sh.options->seed * 1000003ULL + static_cast<std::uint64_t>(i)) >> 11) *
          0x1.0p-53;
      const std::string hold_path = "/payment/holds/" + std::to_string(*hold_id);
      if (u < sh.leave) {
        const std::string leave_key = step_key("-d");
        Reply r =
            co_await Timed(conn, st, bhttp::verb::delete_, hold_path, empty, token, leave_key);
        Count(st, r, 204, st.left);
      } else {
        const std::string pay_target = hold_path + "/pay";
        const std::string pay_key = step_key("-p");
        Reply r = co_await Timed(conn, st, bhttp::verb::post, pay_target, empty, token, pay_key);
        Count(st, r, 200, st.paid);
      }
    }
  }
  st.attempt_us.push_back(MicrosSince(t0));
}

asio::awaitable<void> Worker(Shared& sh, Stats& st) {
  auto ex = co_await asio::this_coro::executor;
  Connection conn(ex, sh.endpoint, sh.host);
  for (;;) {
    const std::int64_t i = sh.next.fetch_add(1, std::memory_order_relaxed);
    if (i >= sh.attempts) break;
    if ((i & 255) == 0 && Steady::now() >= sh.deadline) break;
    co_await RunAttempt(conn, sh, st, i);
  }
}

// A blocking request for setup and read-back (its own io_context).
Reply Blocking(const Shared& sh, bhttp::verb verb, const std::string& target,
               const std::string& body, const std::string& token) {
  asio::io_context io;
  Connection conn(io.get_executor(), sh.endpoint, sh.host);
  Reply out;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        const std::string no_key;
        out = co_await conn.Send(verb, target, body, token, no_key);
      },
      asio::detached);
  io.run();
  return out;
}

// ---------------------------------------------------------------------------------------------
// Read-back (read-only): each service's database where the server keeps it, the SQLite file in
// the data directory or, when the server was started with ROCKETMART_<SERVICE>_DATABASE_URL, its
// PostgreSQL database. Checkout's simulated payment provider keeps its ledger where checkout
// keeps its data: <dir>/provider.db beside SQLite, a table (charges) in checkout's PostgreSQL
// database otherwise (docs/postgres.md).

class Db {
 public:
  // `service`'s database: the URL in ROCKETMART_<URL_OF>_DATABASE_URL (`url_of` defaults to
  // `service`) if set and not sqlite, else <dir>/<service>.db.
  Db(const std::filesystem::path& dir, std::string_view service, std::string_view url_of = {}) {
    std::string env =
        "ROCKETMART_" + std::string(url_of.empty() ? service : url_of) + "_DATABASE_URL";
    for (char& ch : env) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    const char* url = std::getenv(env.c_str());
    if (url != nullptr && *url != '\0' && std::string_view(url).rfind("sqlite", 0) != 0) {
      pg_ = PQconnectdb(url);
      if (PQstatus(pg_) != CONNECTION_OK) error_ = PQerrorMessage(pg_);
      return;
    }
    const std::filesystem::path file = dir / (std::string(service) + ".db");
    if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      error_ = db_ ? sqlite3_errmsg(db_) : "open failed";
    } else {
      sqlite3_busy_timeout(db_, 5000);
    }
  }
  ~Db() {
    sqlite3_close(db_);
    if (pg_ != nullptr) PQfinish(pg_);
  }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  // Rows as text (NULL = ""); `sql` has at most one parameter, written `?`.
  std::vector<std::vector<std::string>> Rows(const std::string& sql, std::int64_t param = -1) {
    std::vector<std::vector<std::string>> rows;
    if (!ok()) return rows;
    if (pg_ != nullptr) return PgRows(sql, param);
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
      error_ = sqlite3_errmsg(db_);
      return rows;
    }
    if (param >= 0) sqlite3_bind_int64(s, 1, param);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int c = 0; c < sqlite3_column_count(s); ++c) {
        const unsigned char* t = sqlite3_column_text(s, c);
        row.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
      }
      rows.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) error_ = sqlite3_errmsg(db_);
    sqlite3_finalize(s);
    return rows;
  }
  std::int64_t Int(const std::string& sql, std::int64_t param = -1) {
    auto rows = Rows(sql, param);
    if (rows.empty() || rows[0].empty()) return -1;
    return std::stoll(rows[0][0].empty() ? "0" : rows[0][0]);
  }

 private:
  std::vector<std::vector<std::string>> PgRows(std::string sql, std::int64_t param) {
    std::vector<std::vector<std::string>> rows;
    if (const auto q = sql.find('?'); q != std::string::npos) sql.replace(q, 1, "$1");
    const std::string value = std::to_string(param);
    const char* values[1] = {value.c_str()};
    PGresult* res = PQexecParams(pg_, sql.c_str(), param >= 0 ? 1 : 0, nullptr,
                                 param >= 0 ? values : nullptr, nullptr, nullptr, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
      error_ = PQresultErrorMessage(res);
    } else {
      for (int r = 0; r < PQntuples(res); ++r) {
        std::vector<std::string> row;
        for (int c = 0; c < PQnfields(res); ++c) row.emplace_back(PQgetvalue(res, r, c));
        rows.push_back(std::move(row));
      }
    }
    PQclear(res);
    return rows;
  }

  sqlite3* db_ = nullptr;
  PGconn* pg_ = nullptr;
  std::string error_;
};

struct Counts {
  std::int64_t total = -1, available = -1, held = -1, sold = -1;
  std::map<std::string, std::int64_t> holds;
  std::int64_t payments = -1, orders = -1, orders_all = -1, captures = -1, http_stock = -1;
  std::string error;
};

// Captured charges of the product's holds: the provider's ledger and checkout's hold lines may
// live in different engines, so the join is made here.
std::int64_t CapturesOf(Db& checkout, Db& provider, std::int64_t product_id) {
  std::unordered_set<std::string> holds;
  for (auto& row :
       checkout.Rows("SELECT DISTINCT hold_id FROM hold_lines WHERE product_id = ?", product_id)) {
    holds.insert(std::move(row[0]));
  }
  std::int64_t captures = 0;
  for (const auto& row : provider.Rows("SELECT hold_id FROM charges WHERE status = 'CAPTURED'")) {
    captures += holds.contains(row[0]) ? 1 : 0;
  }
  return provider.ok() && checkout.ok() ? captures : -1;
}

Counts ReadCounts(const Shared& sh, const std::filesystem::path& dir, double settle_s) {
  Counts c;
  const std::int64_t p = sh.product_id;
  Db checkout(dir, "checkout");
  Db orders(dir, "orders");
  Db provider(dir, "provider", "checkout");
  if (!checkout.ok() || !orders.ok() || !provider.ok()) {
    c.error = "cannot open databases: " + checkout.error() + " " + orders.error() + " " +
              provider.error();
    return c;
  }
  const auto deadline = Steady::now() + std::chrono::duration<double>(settle_s);
  for (;;) {
    auto inv = checkout.Rows(
        "SELECT initial + restocked, available, held, sold FROM inventory WHERE product_id = ?", p);
    if (!inv.empty()) {
      c.total = std::stoll(inv[0][0]);
      c.available = std::stoll(inv[0][1]);
      c.held = std::stoll(inv[0][2]);
      c.sold = std::stoll(inv[0][3]);
    }
    c.holds.clear();
    for (auto& row : checkout.Rows("SELECT h.status, count(*) FROM holds h JOIN hold_lines l ON "
                                   "l.hold_id = h.id WHERE l.product_id = ? GROUP BY h.status",
                                   p)) {
      c.holds[row[0]] = std::stoll(row[1]);
    }
    c.payments = checkout.Int(
        "SELECT count(*) FROM payments y JOIN hold_lines l ON l.hold_id = y.hold_id "
        "WHERE l.product_id = ? AND y.status = 'CAPTURED'",
        p);
    c.orders =
        orders.Int("SELECT count(DISTINCT order_id) FROM order_lines WHERE product_id = ?", p);
    c.orders_all = orders.Int("SELECT count(*) FROM orders");
    Reply r = Blocking(sh, bhttp::verb::get, "/products/" + std::to_string(p), "", "");
    if (r.status == 200) c.http_stock = IntField(r.body, "stock").value_or(-1);
    const bool settled = c.orders == c.payments && c.held == 0 && c.http_stock == c.available;
    if (settled || Steady::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  c.captures = CapturesOf(checkout, provider, p);
  if (!checkout.ok()) c.error += "checkout: " + checkout.error() + " ";
  if (!orders.ok()) c.error += "orders: " + orders.error() + " ";
  if (!provider.ok()) c.error += "provider: " + provider.error() + " ";
  return c;
}

// ---------------------------------------------------------------------------------------------
// Setup

// A token for synthetic identity `n`: no real member has its id, so the load test needs no signups
// and its orders can never be inherited by a member signing up later.
std::string Sign(const auth::Keyring& ring, const config::Config& cfg, std::int64_t n, bool admin) {
  const auto now = std::chrono::system_clock::now();
  auth::Claims claims;
  claims.member_id = auth::SyntheticMemberId(n);
  claims.role = admin ? "admin" : "user";
  claims.type = std::string(auth::kAccessType);
  claims.issued_at = now;
  claims.not_before = now;
  claims.expires_at = now + std::chrono::hours(4);
  claims.issuer = cfg.auth.issuer;
  claims.audience = cfg.auth.audience;
  claims.email_verified = true;
  return auth::Sign(claims, ring);
}

int Main(const Options& o) {
  // Loopback only.
  constexpr std::string_view kScheme = "http://";
  if (o.url.rfind(kScheme, 0) != 0) {
    std::fprintf(stderr, "--url must be http://127.0.0.1:PORT\n");
    return 2;
  }
  std::string hostport = o.url.substr(kScheme.size());
  while (!hostport.empty() && hostport.back() == '/') hostport.pop_back();
  const auto colon = hostport.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "--url needs a port\n");
    return 2;
  }
  beast::error_code ec;
  auto address = asio::ip::make_address(
      hostport.substr(0, colon) == "localhost" ? "127.0.0.1" : hostport.substr(0, colon), ec);
  if (ec || !address.is_loopback()) {
    std::fprintf(stderr, "--url must name a loopback address (127.0.0.1 or ::1)\n");
    return 2;
  }
  Shared sh;
  sh.options = &o;
  sh.endpoint =
      tcp::endpoint(address, static_cast<unsigned short>(std::stoi(hostport.substr(colon + 1))));
  sh.host = hostport;

  // The server's configuration (file, ROCKETMART_* env, data dir), hence its issuer/audience/key.
  config::LoadOptions lo;
  if (!o.config_file.empty()) lo.file = o.config_file;
  lo.env = config::EnvFromEnviron();
  auto cfg = config::Load(lo);
  if (!cfg.ok()) {
    std::fprintf(stderr, "configuration error: %s\n", cfg.error().message.c_str());
    return 2;
  }
  if (!o.data_dir.empty()) (void)config::Set(*cfg, "storage.data_dir", o.data_dir);
  std::string secret = cfg->auth.secret;
  if (secret.empty()) {
    const auto path = config::JwtSecretPath(*cfg);
    if (!std::filesystem::exists(path)) {
      std::fprintf(stderr, "no JWT key at %s: start the server on this data dir first\n",
                   path.c_str());
      return 2;
    }
    auto loaded = auth::LoadOrCreateSecret(path);
    if (!loaded.ok()) {
      std::fprintf(stderr, "jwt key: %s\n", loaded.error().message.c_str());
      return 2;
    }
    secret = std::move(*loaded);
  }
  auth::Keyring ring;
  if (auto st = ring.Add({cfg->auth.key_id, secret}, true); !st.ok()) {
    std::fprintf(stderr, "jwt key: %s\n", st.error().message.c_str());
    return 2;
  }
  const std::string admin = Sign(ring, *cfg, 0, true);  // the buyers are 1..members
  const std::int64_t members = std::max<std::int64_t>(1, o.members);
  sh.tokens.reserve(static_cast<std::size_t>(members));
  for (std::int64_t m = 1; m <= members; ++m) sh.tokens.push_back(Sign(ring, *cfg, m, false));

  // Wait for the server, create the product, open the sale.
  const auto ready_by = Steady::now() + std::chrono::seconds(15);
  while (Blocking(sh, bhttp::verb::get, "/health", "", "").status != 200) {
    if (Steady::now() >= ready_by) {
      std::fprintf(stderr, "server at %s not healthy\n", o.url.c_str());
      return 2;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // Creates a product with an open sale and waits until checkout can sell it. 0 on failure.
  auto setup_product = [&]() -> std::int64_t {
    const std::string product_body =
        "{\"name\":\"load " + o.scenario + " " + std::to_string(o.seed) +
        "\",\"price\":" + std::to_string(o.price) + ",\"stock\":" + std::to_string(o.stock) + "}";
    Reply created = Blocking(sh, bhttp::verb::post, "/products", product_body, admin);
    auto product = IntField(created.body, "id");
    if (created.status / 100 != 2 || !product) {
      std::fprintf(stderr, "POST /products: %d %s\n", created.status, created.body.c_str());
      return std::int64_t{0};
    }
    const std::int64_t product_id = *product;
    const auto now = std::chrono::system_clock::now();
    const std::string sale_body =
        "{\"startsAt\":\"" + FormatRfc3339(now - std::chrono::minutes(1)) + "\",\"endsAt\":\"" +
        FormatRfc3339(now + std::chrono::hours(1)) +
        "\",\"perMemberLimit\":" + std::to_string(o.per_member_limit) + "}";
    const std::string sale_target = "/payment/" + std::to_string(product_id) + "/sale";
    const auto sale_by = Steady::now() + std::chrono::seconds(15);
    for (;;) {  // The inventory row arrives through the catalog's outbox: retry until it exists.
      Reply r = Blocking(sh, bhttp::verb::put, sale_target, sale_body, admin);
      if (r.status == 200) break;
      if (r.status != 404 || Steady::now() >= sale_by) {
        std::fprintf(stderr, "PUT %s: %d %s\n", sale_target.c_str(), r.status, r.body.c_str());
        return std::int64_t{0};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    {  // PUT .../sale may succeed (the catalog knows the product) before checkout has received
       // the product's stock; the sale reads "preparing" until then, and "live" after (or
       // "soldout" for the sold-out scenario's product, created with no stock).
      const std::string_view ready_state = o.stock > 0 ? "live" : "soldout";
      const auto state_by = Steady::now() + std::chrono::seconds(60);
      for (;;) {
        Reply r = Blocking(sh, bhttp::verb::get, sale_target, "", "");
        boost::system::error_code ec;
        const boost::json::value v = boost::json::parse(r.body, ec);
        const auto* state = !ec && v.is_object() ? v.as_object().if_contains("state") : nullptr;
        if (r.status == 200 && state && state->is_string() && state->as_string() == ready_state)
          break;
        if (Steady::now() >= state_by) {
          std::fprintf(stderr, "GET %s never read %s: %d %s\n", sale_target.c_str(),
                       std::string(ready_state).c_str(), r.status, r.body.c_str());
          return std::int64_t{0};
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    return product_id;
  };
  sh.product_id = setup_product();
  if (sh.product_id == 0) return 2;
  if (o.mode == "cart") {
    for (int line = 1; line < o.cart_lines; ++line) {
      const std::int64_t extra = setup_product();
      if (extra == 0) return 2;
      sh.extra_products.push_back(extra);
    }
  }
  std::printf("product_id=%lld stock=%lld per_member_limit=%lld members=%lld\n",
              static_cast<long long>(sh.product_id), static_cast<long long>(o.stock),
              static_cast<long long>(o.per_member_limit), static_cast<long long>(members));
  if (!o.tokens_file.empty()) {
    std::ofstream f(o.tokens_file, std::ios::trunc);
    for (auto& t : sh.tokens) f << t << '\n';
    std::printf("tokens written to %s\n", o.tokens_file.c_str());
  }
  std::fflush(stdout);
  if (o.setup_only) return 0;

  // The run.
  sh.attempts = o.attempts < 0 ? members : o.attempts;
  sh.oneshot = o.mode == "oneshot";
  sh.cart = o.mode == "cart";
  sh.leave = sh.oneshot || sh.cart ? 0.0 : o.leave;
  sh.key_prefix = "ld" + std::to_string(o.seed) + "-" + std::to_string(sh.product_id) + "-";
  const int threads = std::clamp(o.threads, 1, 2);
  const int conns = std::max(1, o.connections);
  std::vector<Stats> stats(static_cast<std::size_t>(threads));
  std::vector<std::unique_ptr<asio::io_context>> ios;
  for (int t = 0; t < threads; ++t) {
    ios.push_back(std::make_unique<asio::io_context>(1));
    stats[t].request_us.reserve(static_cast<std::size_t>(sh.attempts * 2 / threads + 16));
    stats[t].attempt_us.reserve(static_cast<std::size_t>(sh.attempts / threads + 16));
  }
  for (int c = 0; c < conns; ++c) {
    const int t = c % threads;
    asio::co_spawn(*ios[t], Worker(sh, stats[t]), asio::detached);
  }
  const auto started = Steady::now();
  sh.deadline = started + std::chrono::duration_cast<Steady::duration>(
                              std::chrono::duration<double>(o.duration_s));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back([&ios, t] { ios[t]->run(); });
  ios[0]->run();
  for (auto& th : pool) th.join();
  const double elapsed = std::chrono::duration<double>(Steady::now() - started).count();
  Stats total;
  for (auto& s : stats) total.Merge(s);
  const Latency req = Summarise(total.request_us);
  const Latency att = Summarise(total.attempt_us);
  const double tps = total.attempts / elapsed;
  const double rps = total.requests / elapsed;

  std::int64_t other4xx = 0;
  for (auto& [k, v] : total.other) other4xx += v;
  std::printf("\n== rocketmart-load: scenario %s (%s), %d connections on %d thread(s) ==\n",
              o.scenario.c_str(), o.mode.c_str(), conns, threads);
  std::printf("%-34s %12.3f s\n", "total duration", elapsed);
  std::printf("%-34s %12lld\n", "attempts", static_cast<long long>(total.attempts));
  std::printf("%-34s %12lld\n", "success (paid)", static_cast<long long>(total.paid));
  std::printf("%-34s %12lld\n", "out of stock", static_cast<long long>(total.sold_out));
  std::printf("%-34s %12lld\n", "payment failures (declined)",
              static_cast<long long>(total.declined));
  std::printf("%-34s %12lld\n", "left at payment entry", static_cast<long long>(total.left));
  std::printf("%-34s %12lld\n", "limit reached", static_cast<long long>(total.limit));
  for (auto& [k, v] : total.other) {
    std::printf("  other: %-26s %12lld  e.g. %s\n", k.c_str(), static_cast<long long>(v),
                total.other_sample[k].c_str());
  }
  std::printf("%-34s %12lld\n", "5xx", static_cast<long long>(total.server_errors));
  std::printf("%-34s %12lld\n", "transport errors", static_cast<long long>(total.transport));
  std::printf("%-34s %12lld\n", "requests", static_cast<long long>(total.requests));
  std::printf("%-22s %8s %8s %8s %8s %8s\n", "latency (ms)", "avg", "p50", "p90", "p99", "max");
  std::printf("%-22s %8.3f %8.3f %8.3f %8.3f %8.3f\n", "  per request", req.avg_ms, req.p50_ms,
              req.p90_ms, req.p99_ms, req.max_ms);
  std::printf("%-22s %8.3f %8.3f %8.3f %8.3f %8.3f\n", "  per attempt", att.avg_ms, att.p50_ms,
              att.p90_ms, att.p99_ms, att.max_ms);
  std::printf("%-34s %12.0f\n", "attempts/s (TPS)", tps);
  std::printf("%-34s %12.0f\n", "requests/s", rps);
  std::printf("%-34s %12.0f\n", "paid orders/s", total.paid / elapsed);
  std::fflush(stdout);

  // Correctness.
  const std::filesystem::path dir = cfg->storage.data_dir;
  const Counts c = ReadCounts(sh, dir, o.settle_s);
  const std::int64_t oversold = std::max<std::int64_t>(0, c.sold - o.stock);
  struct Check {
    std::string name;
    bool ok;
  };
  std::vector<Check> checks = {
      {"databases readable", c.error.empty()},
      {"oversold = 0 (sold <= stock)", c.sold >= 0 && oversold == 0 && total.paid <= o.stock},
      {"sold = successes", c.sold == total.paid},
      {"sold = min(stock, successes)", c.sold == std::min(o.stock, total.paid)},
      {"orders = sold", c.orders == c.sold},
      {"payments = sold", c.payments == c.sold},
      {"captures = payments", c.captures == c.payments},
      {"initial+restocked = available+held+sold", c.total == c.available + c.held + c.sold},
      {"held = 0 after the run", c.held == 0},
      {"GET /products stock = available", c.http_stock == c.available},
      {"no 5xx, no transport errors", total.server_errors == 0 && total.transport == 0},
  };
  if (o.scenario == "soldout") {
    checks.push_back({"every answer sold out", total.sold_out == total.attempts});
  }
  std::printf("\n== correctness (HTTP + %s, read-only) ==\n", dir.c_str());
  std::printf(
      "inventory: initial+restocked=%lld available=%lld held=%lld sold=%lld oversold=%lld\n",
      static_cast<long long>(c.total), static_cast<long long>(c.available),
      static_cast<long long>(c.held), static_cast<long long>(c.sold),
      static_cast<long long>(oversold));
  std::printf("holds:");
  for (auto& [k, v] : c.holds) std::printf(" %s=%lld", k.c_str(), static_cast<long long>(v));
  std::printf("\npayments=%lld orders=%lld (all products: %lld) captures=%lld http_stock=%lld\n",
              static_cast<long long>(c.payments), static_cast<long long>(c.orders),
              static_cast<long long>(c.orders_all), static_cast<long long>(c.captures),
              static_cast<long long>(c.http_stock));
  if (!c.error.empty()) std::printf("error: %s\n", c.error.c_str());
  bool all_ok = true;
  for (auto& ch : checks) {
    std::printf("  [%s] %s\n", ch.ok ? " ok " : "FAIL", ch.name.c_str());
    all_ok = all_ok && ch.ok;
  }

  boost::json::object j{{"scenario", o.scenario},
                        {"mode", o.mode},
                        {"connections", conns},
                        {"threads", threads},
                        {"duration_s", elapsed},
                        {"attempts", total.attempts},
                        {"requests", total.requests},
                        {"paid", total.paid},
                        {"sold_out", total.sold_out},
                        {"declined", total.declined},
                        {"left", total.left},
                        {"limit", total.limit},
                        {"other_4xx", other4xx},
                        {"server_errors", total.server_errors},
                        {"transport_errors", total.transport},
                        {"tps", tps},
                        {"rps", rps},
                        {"paid_per_s", total.paid / elapsed},
                        {"req_p50_ms", req.p50_ms},
                        {"req_p99_ms", req.p99_ms},
                        {"att_avg_ms", att.avg_ms},
                        {"att_p50_ms", att.p50_ms},
                        {"att_p90_ms", att.p90_ms},
                        {"att_p99_ms", att.p99_ms},
                        {"att_max_ms", att.max_ms},
                        {"stock", o.stock},
                        {"sold", c.sold},
                        {"oversold", oversold},
                        {"orders", c.orders},
                        {"payments", c.payments},
                        {"captures", c.captures},
                        {"checks_ok", all_ok}};
  std::printf("RESULT %s\n", boost::json::serialize(j).c_str());
  return all_ok ? 0 : 1;
}

}  // namespace
}  // namespace rocketmart::load

int main(int argc, char** argv) {
  rocketmart::load::Options o;
  CLI::App cli{"rocketmart-load: load driver for the rocketmart purchase path (loopback only)"};
  cli.add_option("--url", o.url, "Server base URL, http://127.0.0.1:PORT");
  cli.add_option("--data-dir", o.data_dir, "The server's data directory (JWT key, SQLite files)")
      ->required();
  cli.add_option("--config", o.config_file, "The server's TOML configuration, if any");
  cli.add_option("--scenario", o.scenario, "drop | soldout | orders")
      ->check(CLI::IsMember({"drop", "soldout", "orders"}));
  cli.add_option("--mode", o.mode,
                 "holds (hold, then pay or leave) | oneshot (/payment/request) | cart (PUT the "
                 "cart lines, POST /cart/checkout)")
      ->check(CLI::IsMember({"holds", "oneshot", "cart"}));
  cli.add_option("--cart-lines", o.cart_lines, "cart mode: products per checkout (1..10)")
      ->check(CLI::Range(1, 10));
  cli.add_option("--members", o.members,
                 "Virtual members: synthetic identities 1..N (member ids 2^53 + 1..N)");
  cli.add_option("--attempts", o.attempts, "Purchase attempts (default: = members)");
  cli.add_option("--stock", o.stock, "Stock of the product created for the run");
  cli.add_option("--per-member-limit", o.per_member_limit, "Sale's per-member limit")
      ->check(CLI::Range(1, 10000));
  cli.add_option("--leave", o.leave, "Share of holds abandoned at payment entry (holds mode)")
      ->check(CLI::Range(0.0, 1.0));
  cli.add_option("--seed", o.seed, "Seed of the leave decision and of the idempotency keys");
  cli.add_option("--connections,-c", o.connections, "Keep-alive connections");
  cli.add_option("--threads,-t", o.threads, "Client threads (1-2)")->check(CLI::Range(1, 2));
  cli.add_option("--duration", o.duration_s, "Stop issuing attempts after this many seconds");
  cli.add_option("--settle", o.settle_s, "Max seconds to wait for orders = payments afterwards");
  cli.add_option("--price", o.price, "Product price (minor units)");
  cli.add_flag("--setup-only", o.setup_only, "Create product and sale, write tokens, exit");
  cli.add_flag("--no-idempotency-key", o.no_idempotency_key,
               "Diagnostics: send no Idempotency-Key (to measure what the key costs)");
  cli.add_option("--tokens-file", o.tokens_file, "Write the members' tokens here, one a line");
  CLI11_PARSE(cli, argc, argv);
  if (o.scenario == "soldout") {
    o.stock = 0;
    o.mode = "oneshot";
  } else if (o.scenario == "orders" && o.mode != "cart") {
    o.mode = "oneshot";
  }
  return rocketmart::load::Main(o);
}
