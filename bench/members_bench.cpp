// Members benchmarks (docs/performance.md, section "Members"):
//  - login: one full MembersService::Login (argon2id verify on the hasher pool + the refresh-token
//    commit on SQLite, synchronous=FULL), production hash parameters;
//  - argon2id alone (hash and verify), the bound of the login rate per hashing thread;
//  - gateway token verification: JwtAuthenticator::Authenticate with and without a populated
//    denylist (the check every authenticated request pays, including the sale path).
#include <benchmark/benchmark.h>

#include <filesystem>

#include "auth/jwt.hpp"
#include "infra/async/run.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/storage/migrations.hpp"
#include "services/gateway/adapters/in_memory_token_denylist.hpp"
#include "services/gateway/jwt_authenticator.hpp"
#include "services/members/adapters/in_memory_throttle_store.hpp"
#include "services/members/adapters/sodium_crypto.hpp"
#include "services/members/adapters/sqlite_member_repository.hpp"
#include "services/members/members_service.hpp"

namespace rocketmart::members {
namespace {

constexpr std::string_view kSecret = "0123456789abcdef0123456789abcdef-bench";

class NullRevoker final : public TokenRevoker {
 public:
  boost::asio::awaitable<Status> DenyToken(std::int64_t, std::string, TimePoint) override {
    co_return Ok();
  }
  boost::asio::awaitable<Status> DenyFamily(std::int64_t, std::string, TimePoint) override {
    co_return Ok();
  }
  boost::asio::awaitable<Status> InvalidateBefore(std::int64_t, TimePoint) override {
    co_return Ok();
  }
};

// My page is not measured: its other services answer "unavailable".
class NoOrders final : public OrdersClient {
 public:
  boost::asio::awaitable<Result<std::vector<OrderSummary>>> RecentOrders(std::int64_t, std::size_t,
                                                                         Deadline) override {
    co_return MakeError(Errc::kUnavailable, "not bound in the benchmark");
  }
};
class NoWishlist final : public WishlistClient {
 public:
  boost::asio::awaitable<Result<std::vector<WishlistEntry>>> Wishlist(std::int64_t, std::size_t,
                                                                      Deadline) override {
    co_return MakeError(Errc::kUnavailable, "not bound in the benchmark");
  }
};
class NoLikes final : public LikesClient {
 public:
  boost::asio::awaitable<Result<std::vector<LikedProduct>>> Likes(std::int64_t, std::size_t,
                                                                  Deadline) override {
    co_return MakeError(Errc::kUnavailable, "not bound in the benchmark");
  }
};

void BM_Argon2idHash(benchmark::State& state) {
  SodiumPasswordHasher hasher;
  for (auto _ : state) benchmark::DoNotOptimize(hasher.HashNow("correct horse battery"));
}
BENCHMARK(BM_Argon2idHash)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Argon2idVerify(benchmark::State& state) {
  SodiumPasswordHasher hasher;
  const std::string hash = hasher.HashNow("correct horse battery");
  for (auto _ : state) benchmark::DoNotOptimize(hasher.VerifyNow(hash, "correct horse battery"));
}
BENCHMARK(BM_Argon2idVerify)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Login(benchmark::State& state) {
  const auto dir = std::filesystem::temp_directory_path() / "rocketmart-members-bench";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  storage::OpenOptions open;
  open.path = (dir / "members.db").string();
  storage::GroupCommitWriter writer(open);
  storage::Migrate(writer.Connection(), MembersMigrations());
  writer.Start();
  open.read_only = true;
  storage::ReadConnections readers(open);
  SqliteMemberRepository repository(writer, readers);
  SodiumPasswordHasher hasher({.threads = static_cast<int>(state.range(0))});
  SodiumFieldCipher cipher(kSecret);
  NullRevoker revoker;
  auth::Keyring keyring;
  (void)keyring.Add({"k1", std::string(kSecret)}, true);
  SystemClock clock;
  MembersOptions options;
  options.account_throttle.free_failures = 1 << 30;
  InMemoryThrottleStore throttles;
  NoOrders orders;
  NoWishlist wishlist;
  NoLikes likes;
  MembersService service({.repository = repository,
                          .hasher = hasher,
                          .cipher = cipher,
                          .revoker = revoker,
                          .throttles = throttles,
                          .orders = orders,
                          .wishlist = wishlist,
                          .likes = likes},
                         keyring, clock, options);
  NewMember member{"bench@example.com", hasher.HashNow("correct horse battery"), "Bench"};
  (void)async::RunToCompletion(repository.CreateAdmin(member, clock.Now()));
  for (auto _ : state) {
    auto r = async::RunToCompletion(
        service.Login("bench@example.com", "correct horse battery", "10.0.0.1"));
    if (!r.ok()) state.SkipWithError(r.error().message.c_str());
  }
  writer.Stop();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_Login)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_GatewayVerify(benchmark::State& state) {
  auth::Keyring keyring;
  (void)keyring.Add({"k1", std::string(kSecret)}, true);
  SystemClock clock;
  metrics::Registry registry;
  gateway::InMemoryTokenDenylist denylist(clock);
  gateway::JwtAuthenticator authenticator(
      keyring, {.issuer = "rocketmart", .audience = "rocketmart-api"}, denylist, clock, registry);
  const bool with_denylist = state.range(0) != 0;
  if (with_denylist) {
    // 100k revoked members and 100k denied tokens, none of them the caller's.
    const TimePoint expires = clock.Now() + std::chrono::minutes{15};
    for (std::int64_t m = 2; m < 100'002; ++m) {
      (void)async::RunToCompletion(denylist.InvalidateBefore(m, clock.Now()));
      (void)async::RunToCompletion(denylist.DenyToken(m, "jti-" + std::to_string(m), expires));
    }
    (void)async::RunToCompletion(denylist.DenyToken(1, "another-session", expires));
  }
  auth::Claims claims;
  claims.member_id = 1;
  claims.role = "user";
  claims.type = "access";
  claims.issued_at = clock.Now();
  claims.not_before = clock.Now();
  claims.expires_at = clock.Now() + std::chrono::minutes{15};
  claims.issuer = "rocketmart";
  claims.audience = "rocketmart-api";
  claims.email_verified = true;
  const std::string token = auth::Sign(claims, keyring);
  for (auto _ : state) {
    auto identity = authenticator.Authenticate(token);
    if (!identity.ok()) state.SkipWithError("rejected");
    benchmark::DoNotOptimize(identity);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GatewayVerify)->Arg(0)->Arg(1)->ThreadRange(1, 2)->UseRealTime();

}  // namespace
}  // namespace rocketmart::members

BENCHMARK_MAIN();
