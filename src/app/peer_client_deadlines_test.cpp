// Issue 15: every HTTP binding of a client port (src/services/*/clients/http/) calls its peer by
// the deadline it was given, the caller's request's. Against a real local peer (the project's own
// http::Server on 127.0.0.1:0, answering each route with a canned body of the shape the real
// service answers, and recording the X-Request-Deadline-Ms it received):
// - the header sent is no larger than the time the deadline had left when the call began (and a
//   positive number: the call was made in time), whatever the client's own default timeout;
// - a call whose deadline has passed fails at once with kTimeout and never reaches the peer.
// No timing is asserted beyond that upper bound.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "auth/jwt.hpp"
#include "infra/http/client/client.hpp"
#include "infra/http/client/peer_call.hpp"
#include "infra/http/router.hpp"
#include "infra/http/server.hpp"
#include "services/catalog/clients/http/clients.hpp"
#include "services/checkout/clients/http/clients.hpp"
#include "services/orders/clients/http/orders_client.hpp"
#include "support/loopback_server.hpp"

namespace rocketmart::app {
namespace {

namespace asio = boost::asio;
using http::Request;
using http::Response;
using SteadyClock = std::chrono::steady_clock;

// The routes the HTTP bindings call, each answering a body of the real route's shape, on a real
// server. Records the X-Request-Deadline-Ms of every request it receives.
class RecordingPeer {
 public:
  RecordingPeer() {
    const auto answer = [this](boost::json::object body) {
      return [this, body](Request& req) -> asio::awaitable<Response> {
        Record(req);
        co_return http::JsonResponse(http::Status::ok, body);
      };
    };
    boost::json::object product{{"id", 7}, {"name", "Rocket"}};
    boost::json::object likes{{"items", boost::json::array{{{"productId", 7}}}}};
    boost::json::object wishlist{
        {"items", boost::json::array{{{"productId", 7}, {"quantity", 2}}}}};
    boost::json::object orders{
        {"items", boost::json::array{{{"id", 41},
                                      {"status", "PAID"},
                                      {"total", 1200},
                                      {"createdAt", "2026-11-30T10:00:00Z"}}}}};
    boost::json::object paid{
        {"orderId", 41},
        {"paymentId", 41},
        {"memberId", 3},
        {"total", 1200},
        {"paidAt", "2026-11-30T10:00:00Z"},
        {"lines", boost::json::array{
                      {{"productId", 7}, {"quantity", 1}, {"price", 1200}, {"name", "Rocket"}}}}};
    boost::json::object figures{{"available", 5},     {"held", 0},       {"sold", 1},
                                {"refundedUnits", 0}, {"revenue", 1200}, {"refundedAmount", 0}};
    router_.Add(http::Method::get, "/products/likes", {.query = {"limit"}}, answer(likes));
    router_.Add(http::Method::get, "/products/wishlist", {}, answer(wishlist));
    router_.Add(http::Method::get, "/products/{id}", {}, answer(product));
    router_.Add(http::Method::get, "/order", {.query = {"limit"}}, answer(orders));
    router_.Add(http::Method::get, "/payment/purchases/{id}", {}, answer(paid));
    router_.Add(http::Method::get, "/payment/{id}/figures", {}, answer(figures));
    boost::json::object availability{{"items", boost::json::array{{{"stock", 5}}}}};
    router_.Add(http::Method::get, "/payment/availability", {.query = {"ids"}},
                answer(availability));

    server_ = std::make_unique<http::Server>(testing::LoopbackServerOptions("recording-peer"),
                                             router_, auth_, registry_);
    server_->Bind();
    thread_ = std::thread([this] { server_->Run(); });
  }
  ~RecordingPeer() {
    server_->Shutdown();
    thread_.join();
  }

  http::client::Endpoint endpoint() const { return {"peer", "127.0.0.1", server_->port()}; }
  // The X-Request-Deadline-Ms of every request received so far, in order.
  std::vector<std::string> deadlines() const {
    std::lock_guard lock(mutex_);
    return deadlines_;
  }

 private:
  void Record(const Request& req) {
    std::lock_guard lock(mutex_);
    deadlines_.emplace_back(req.Header("X-Request-Deadline-Ms"));
  }

  http::Router router_;
  http::NoMemberIdentities auth_;
  metrics::Registry registry_;
  mutable std::mutex mutex_;
  std::vector<std::string> deadlines_;
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
};

// One port method of one HTTP binding, called by a deadline; its Status says whether it answered.
struct PortCall {
  std::string name;
  std::function<asio::awaitable<Status>(Deadline)> call;
};

template <class T>
Status StatusOf(const Result<T>& r) {
  if (r.ok()) return Ok();
  return r.error();
}

class PeerClientDeadlinesTest : public ::testing::Test {
 protected:
  PeerClientDeadlinesTest() {
    EXPECT_TRUE(keys_.Add({"internal-1", std::string(32, 'k')}, true).ok());
    client_.endpoints().Update({peer_.endpoint()});
  }

  // Runs `task` on the test's own event loop (the client's pooled connections belong to it).
  Status Run(asio::awaitable<Status> task) {
    std::optional<Status> out;
    auto wrapper = [](std::optional<Status>& out,
                      asio::awaitable<Status> task) -> asio::awaitable<void> {
      Status status = co_await std::move(task);
      out.emplace(std::move(status));
    };
    asio::co_spawn(ioc_, wrapper(out, std::move(task)), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
    ioc_.restart();
    while (!out) ioc_.run_one();
    return std::move(*out);
  }

  // Every port method a service calls over HTTP when the services run apart.
  std::vector<PortCall> Calls() {
    std::vector<PortCall> calls;
    calls.push_back(
        {"catalog ProductDirectory::Exists", [this](Deadline d) -> asio::awaitable<Status> {
           auto r = co_await product_directory_.Exists(7, d);
           co_return StatusOf(r);
         }});
    calls.push_back({"catalog LikesClient::Likes", [this](Deadline d) -> asio::awaitable<Status> {
                       auto r = co_await likes_.Likes(3, 10, d);
                       co_return StatusOf(r);
                     }});
    calls.push_back(
        {"catalog WishlistClient::Wishlist", [this](Deadline d) -> asio::awaitable<Status> {
           auto r = co_await wishlist_.Wishlist(3, 10, d);
           co_return StatusOf(r);
         }});
    calls.push_back(
        {"orders OrdersClient::RecentOrders", [this](Deadline d) -> asio::awaitable<Status> {
           auto r = co_await orders_.RecentOrders(3, 10, d);
           co_return StatusOf(r);
         }});
    calls.push_back(
        {"checkout PaymentsClient::PaidOrder", [this](Deadline d) -> asio::awaitable<Status> {
           auto r = co_await payments_.PaidOrder(41, d);
           co_return StatusOf(r);
         }});
    calls.push_back(
        {"checkout SaleFiguresSource::Figures", [this](Deadline d) -> asio::awaitable<Status> {
           auto r = co_await figures_.Figures(7, d);
           co_return StatusOf(r);
         }});
    calls.push_back({"checkout AvailabilitySource::Availability",
                     [this](Deadline d) -> asio::awaitable<Status> {
                       const std::vector<std::int64_t> ids{7};
                       const std::span<const std::int64_t> asked(ids);
                       auto r = co_await availability_.Availability(asked, d);
                       co_return StatusOf(r);
                     }});
    return calls;
  }

  // Destroyed last: the client's connections belong to it (client.hpp).
  asio::io_context ioc_{1};
  RecordingPeer peer_;
  FakeClock clock_;
  metrics::Registry registry_;
  auth::Keyring keys_;
  // The client's own bound (5 s) is far above the deadlines given: only theirs can explain a
  // smaller header.
  http::client::Client client_{
      http::client::ClientOptions{.peer = "peer", .default_timeout = Millis{5000}}, clock_,
      registry_};
  http::client::PeerCaller caller_{client_, keys_, clock_};
  catalog::HttpProductDirectory product_directory_{caller_};
  catalog::HttpLikesClient likes_{caller_};
  catalog::HttpWishlistClient wishlist_{caller_};
  orders::HttpOrdersClient orders_{caller_};
  checkout::HttpPaymentsClient payments_{caller_};
  checkout::HttpSaleFigures figures_{caller_};
  checkout::HttpAvailability availability_{caller_};
};

TEST_F(PeerClientDeadlinesTest, EachCallTellsThePeerAtMostTheTimeItsDeadlineHadLeft) {
  constexpr Millis kLeft{1500};
  for (const PortCall& c : Calls()) {
    SCOPED_TRACE(c.name);
    const std::size_t before = peer_.deadlines().size();
    const Deadline deadline = SteadyClock::now() + kLeft;
    const Status answered = Run(c.call(deadline));
    ASSERT_TRUE(answered.ok()) << answered.error().message;
    const std::vector<std::string> seen = peer_.deadlines();
    ASSERT_EQ(seen.size(), before + 1) << "one request reached the peer";
    ASSERT_FALSE(seen.back().empty()) << "X-Request-Deadline-Ms sent";
    const long long sent_ms = std::stoll(seen.back());
    EXPECT_GT(sent_ms, 0);
    EXPECT_LE(sent_ms, kLeft.count());
  }
}

TEST_F(PeerClientDeadlinesTest, ACallWhoseDeadlinePassedFailsWithTimeoutAndNeverReachesThePeer) {
  for (const PortCall& c : Calls()) {
    SCOPED_TRACE(c.name);
    const Status answered = Run(c.call(SteadyClock::now() - Millis{1}));
    ASSERT_FALSE(answered.ok());
    EXPECT_EQ(answered.error().code, Errc::kTimeout);
  }
  EXPECT_TRUE(peer_.deadlines().empty()) << "no request reached the peer";
}

}  // namespace
}  // namespace rocketmart::app
