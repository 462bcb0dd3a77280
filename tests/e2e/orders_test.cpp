// Orders end to end on the real binary: cancel, return, the operator's controls and views, the
// refunds they cause in checkout, refusals with stable codes, and a kill -9 in the middle of the
// schedule. Transitions are driven by the operator's "advance" (no waiting for time) except in
// the restart test, which configures zero delays. Waits below poll for asynchronous event
// delivery between services, never for time to pass.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include "support/db_probe.hpp"
#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/shop.hpp"

namespace rocketmart::testing {
namespace {

using namespace std::chrono_literals;

std::int64_t CreateSale(ServerProcess& server, std::int64_t stock) {
  return CreateProductOnSale(server, stock, /*per_member_limit=*/10, /*open_sale=*/true,
                             /*price=*/1000);
}

// Buys and waits until the order exists in the orders service.
std::int64_t Buy(HttpClient& c, const std::string& token, std::int64_t product, int amount) {
  HttpResponse r = c.PostJson(
      "/payment/request",
      R"({"productId":)" + std::to_string(product) + R"(,"amount":)" + std::to_string(amount) + "}",
      token);
  EXPECT_EQ(r.status, 201) << r.body;
  const std::int64_t order = r.Json().at("orderId").as_int64();
  EXPECT_TRUE(
      WaitUntil([&] { return c.Get("/order/" + std::to_string(order), token).status == 200; }));
  return order;
}

std::string StatusOf(HttpClient& c, const std::string& token, std::int64_t order) {
  auto r = c.Get("/order/" + std::to_string(order), token);
  return std::string(r.Json().at("status").as_string());
}

TEST(OrdersE2E, AMalformedOrderPaidIsSetAsideAndListedForTheOperator) {
  ServerProcess server;
  HttpClient c(server.port());
  const std::int64_t product = CreateSale(server, 10);
  const std::string token = server.Token(21);
  const std::int64_t first = Buy(c, token, product, 1);
  // An order.paid this version cannot decode (another version's producer, a hand edit).
  ExecWrite(server.data_dir() / "checkout.db",
            "INSERT INTO outbox (topic, payload, created_at_ms) "
            "VALUES ('order.paid', '{\"orderId\":\"not a number\"}', 0)");
  // Buy waits until this order exists: the bad event before it held nothing back.
  const std::int64_t second = Buy(c, token, product, 1);
  EXPECT_NE(first, second);
  const std::vector<std::string> list{BinaryPath(), "admin", "dead-letters", "--data-dir",
                                      server.data_dir().string()};
  std::vector<boost::json::object> letters;
  ASSERT_TRUE(WaitUntil([&] {
    letters.clear();
    std::istringstream lines(RunCommand(list));
    for (std::string line; std::getline(lines, line);) {
      letters.push_back(boost::json::parse(line).as_object());
    }
    return letters.size() == 2;  // both order.paid subscribers set it aside
  })) << letters.size();
  std::set<std::string> subscribers;
  for (const auto& letter : letters) {
    // Kept by the consuming service, named after the one that published it.
    EXPECT_EQ(letter.at("source").as_string(), "checkout");
    EXPECT_EQ(letter.at("db").as_string(),
              letter.at("subscriber").as_string() == "catalog.cart" ? "catalog" : "orders");
    EXPECT_EQ(letter.at("topic").as_string(), "order.paid");
    EXPECT_EQ(letter.at("payload").as_string(), R"({"orderId":"not a number"})");
    EXPECT_FALSE(letter.at("reason").as_string().empty());
    subscribers.insert(std::string(letter.at("subscriber").as_string()));
  }
  EXPECT_EQ(subscribers, (std::set<std::string>{"catalog.cart", "orders.order_paid"}));
  // Counted by the processes that consume checkout's events: the one process (its outbox's
  // subscribers), or on a cluster its catalog and orders instances (per Redis Streams
  // subscription, whichever service's stream).
  const std::string series = OnCluster() ? "events_stream_dead_letters_total{source=\"checkout\","
                                         : "outbox_dead_letters_total{db=\"checkout\"} ";
  std::int64_t dead_letters = 0;
  for (const std::uint16_t port : server.AdminPorts()) {
    std::istringstream metrics(HttpClient(port).Get("/metrics").body);
    for (std::string line; std::getline(metrics, line);) {
      if (!line.starts_with(series)) continue;
      dead_letters += std::stoll(line.substr(line.rfind(' ') + 1));
    }
  }
  EXPECT_EQ(dead_letters, 2);
  EXPECT_EQ(QueryInt(server.data_dir() / "orders.db", "SELECT count(*) FROM orders"), 2);
}

// Issue 11 point 2: right after 201 {orderId}, GET and DELETE /order/{id} answered 404 (the
// order is created later, from the order.paid event). Its owner reads and cancels it at once;
// another member still gets 404.
TEST(OrdersE2E, TheOrderA201NamesIsReadAndCancelledByItsOwnerAtOnce) {
  ServerProcess server;
  const std::int64_t product = CreateProductOnSale(server, 500, 200, true, 1000);
  HttpClient c(server.port());
  const std::string owner = server.FastToken(61);
  const std::string stranger = server.FastToken(62);
  constexpr int kRounds = 60;
  int read_404 = 0, cancel_404 = 0;
  for (int i = 0; i < kRounds; ++i) {
    HttpResponse paid =
        c.PostJson("/payment/request",
                   R"({"productId":)" + std::to_string(product) + R"(,"amount":1})", owner);
    ASSERT_EQ(paid.status, 201) << paid.body;
    const std::string path = "/order/" + std::to_string(paid.Json().at("orderId").as_int64());
    if (i % 3 == 0) {
      EXPECT_EQ(c.Get(path, stranger).status, 404) << "another member's order";
      EXPECT_EQ(c.Delete(path, stranger).status, 404) << "another member's order";
    }
    if (i % 2 == 0) {
      HttpResponse read = c.Get(path, owner);
      read_404 += read.status == 404;
      ASSERT_TRUE(read.status == 200 || read.status == 404) << read.body;
      if (read.status == 200) {
        EXPECT_EQ(read.Json().at("status").as_string(), "PAID");
        EXPECT_EQ(read.Json().at("total").as_int64(), 1000);
        EXPECT_EQ(read.Json().at("lines").as_array().size(), 1u);
      }
    }
    HttpResponse cancelled = c.Delete(path, owner);
    cancel_404 += cancelled.status == 404;
    if (cancelled.status != 404) {
      ASSERT_EQ(cancelled.status, 200) << cancelled.body;
      EXPECT_EQ(cancelled.Json().at("status").as_string(), "CANCELLED");
    }
  }
  EXPECT_EQ(read_404, 0) << "reads of a just-paid order answered 404";
  EXPECT_EQ(cancel_404, 0) << "cancels of a just-paid order answered 404";
  // When the events arrive they change nothing: one order per payment, one PAID line each.
  const auto orders = server.data_dir() / "orders.db";
  EXPECT_TRUE(WaitUntil([&] {
    return QueryInt(orders,
                    "SELECT count(*) FROM processed_events WHERE consumer = "
                    "'orders.order_paid'") == kRounds;
  }));
  EXPECT_EQ(QueryInt(orders, "SELECT count(*) FROM orders"), kRounds);
  EXPECT_EQ(QueryInt(orders, "SELECT count(*) FROM orders WHERE status = 'CANCELLED'"), kRounds);
  EXPECT_EQ(QueryInt(orders, "SELECT count(*) FROM order_history WHERE status = 'PAID'"), kRounds);
}

// Issue 11 point 12: an order line carries the product's name and unit price as they were when it
// was paid, so the order still reads after the product is renamed or retired.
TEST(OrdersE2E, AnOrderKeepsItsProductNamesAfterTheProductIsRenamedOrRetired) {
  ServerProcess server;
  HttpClient c(server.port());
  const std::string admin = server.FastToken(1, true);
  const std::string token = server.FastToken(71);
  const std::int64_t renamed = CreateSale(server, 10), retired = CreateSale(server, 10);
  auto order_of = [&](std::int64_t product) {
    HttpResponse r =
        c.PostJson("/payment/request",
                   R"({"productId":)" + std::to_string(product) + R"(,"amount":2})", token);
    EXPECT_EQ(r.status, 201) << r.body;
    return r.Json().at("orderId").as_int64();
  };
  const std::int64_t first = order_of(renamed), second = order_of(retired);
  // Both orders created from their order.paid events (not from a read).
  ASSERT_TRUE(WaitUntil([&] {
    return QueryInt(server.data_dir() / "orders.db", "SELECT count(*) FROM orders") == 2;
  }));
  ASSERT_EQ(
      c.PutJson("/products/" + std::to_string(renamed), R"({"name":"Renamed","price":5})", admin)
          .status,
      200);
  ASSERT_EQ(c.Delete("/products/" + std::to_string(retired), admin).status, 204);
  for (std::int64_t order : {first, second}) {
    auto read = c.Get("/order/" + std::to_string(order), token);
    ASSERT_EQ(read.status, 200) << read.body;
    const boost::json::value body = read.Json();
    const auto& line = body.at("lines").at(0);
    EXPECT_EQ(line.at("name").as_string(), "Drop");
    EXPECT_EQ(line.at("price").as_int64(), 1000);
    EXPECT_EQ(line.at("quantity").as_int64(), 2);
  }
  const auto list = c.Get("/order", token).Json().at("items").as_array();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].at("lines").at(0).at("name").as_string(), "Drop");
  // Read at once (before its event), a new order carries the name too: once checkout has the
  // product's new facts (the catalog's event), the next purchase is at the new name and price.
  // Checkout applies the event twice, to its inventory row and to the price it sells at (its
  // memory), by two consumers: wait on the second, which a purchase uses. A hold shows it and is
  // cancelled at once.
  const std::string probe = server.FastToken(72);
  ASSERT_TRUE(WaitUntil([&] {
    auto hold = c.PostJson("/payment/holds",
                           R"({"productId":)" + std::to_string(renamed) + R"(,"amount":1})", probe);
    if (hold.status != 201) return false;
    const bool sells_new = hold.Json().at("lines").at(0).at("price").as_int64() == 5;
    c.Delete("/payment/holds/" + std::to_string(hold.Json().at("holdId").as_int64()), probe);
    return sells_new;
  }));
  const std::int64_t third = order_of(renamed);
  auto read = c.Get("/order/" + std::to_string(third), token);
  ASSERT_EQ(read.status, 200) << read.body;
  EXPECT_EQ(read.Json().at("lines").at(0).at("name").as_string(), "Renamed");
  EXPECT_EQ(read.Json().at("lines").at(0).at("price").as_int64(), 5);
}

// Issue 11 point 12: the member sees the refund of their own cancelled order: pending at once,
// then refunded with its amount and time once checkout's provider confirmed it.
TEST(OrdersE2E, TheMemberSeesTheRefundOfTheirCancelledOrder) {
  ServerProcess server;
  HttpClient c(server.port());
  const std::int64_t product = CreateSale(server, 10);
  const std::string token = server.FastToken(81);
  const std::int64_t order = Buy(c, token, product, 3);
  const std::string path = "/order/" + std::to_string(order);
  EXPECT_FALSE(c.Get(path, token).Json().as_object().contains("refund")) << "paid: no refund";
  auto cancelled = c.Delete(path, token);
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  const boost::json::value at_cancel = cancelled.Json();
  EXPECT_EQ(at_cancel.at("refund").at("amount").as_int64(), 3000);
  boost::json::value refund;
  ASSERT_TRUE(WaitUntil([&] {
    refund = c.Get(path, token).Json().at("refund");
    return refund.at("status").as_string() == "REFUNDED";
  })) << boost::json::serialize(refund);
  EXPECT_EQ(refund.at("amount").as_int64(), 3000);
  EXPECT_TRUE(refund.at("at").is_string());
  const auto list = c.Get("/order", token).Json().at("items").as_array();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].at("refund").at("status").as_string(), "REFUNDED");
}

TEST(OrdersE2E, CancelReturnRefundsAndOperatorControls) {
  ServerProcess server;
  const std::string admin = server.Token(1, true);
  const std::string alice = server.Token(2);
  const std::string bob = server.Token(3);
  HttpClient c(server.port());
  const std::int64_t product = CreateSale(server, 20);
  const std::int64_t o1 = Buy(c, alice, product, 1);
  const std::int64_t o2 = Buy(c, alice, product, 2);
  const std::int64_t o3 = Buy(c, alice, product, 3);
  const std::int64_t o4 = Buy(c, bob, product, 4);
  auto path = [](std::int64_t id) { return "/order/" + std::to_string(id); };
  auto ret = [](std::int64_t id) { return "/order/return/" + std::to_string(id); };
  auto admin_path = [](std::int64_t id, const char* what) {
    return "/admin/orders/" + std::to_string(id) + "/" + what;
  };
  auto advance = [&](std::int64_t id) {
    auto r = c.PostJson(admin_path(id, "advance"), R"({"reason":"courier scan"})", admin);
    EXPECT_EQ(r.status, 200) << r.body;
    return r;
  };

  // Refusals: another member's order, unknown ids, wrong states. Each changes nothing.
  EXPECT_EQ(c.Delete(path(o1), bob).ErrorCode(), "NOT_FOUND");
  EXPECT_EQ(c.PostJson(ret(o1), "", bob).ErrorCode(), "NOT_FOUND");
  EXPECT_EQ(c.Get(path(o1), bob).status, 404);
  EXPECT_EQ(c.Delete(path(999999), alice).status, 404);
  EXPECT_EQ(c.Delete("/order/abc", alice).status, 404);
  auto not_returnable = c.PostJson(ret(o1), "", alice);
  EXPECT_EQ(not_returnable.status, 409);
  EXPECT_EQ(not_returnable.ErrorCode(), "ORDER_NOT_RETURNABLE");
  EXPECT_EQ(c.Delete(path(o1)).status, 401);
  EXPECT_EQ(StatusOf(c, alice, o1), "PAID");

  // Cancel before shipping.
  auto cancelled = c.Delete(path(o1), alice);
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_EQ(cancelled.Json().at("status").as_string(), "CANCELLED");
  EXPECT_EQ(c.Delete(path(o1), alice).ErrorCode(), "ORDER_NOT_CANCELLABLE");

  // Shipped: no cancel; delivered: return inside the window, received by the operator.
  advance(o2);
  EXPECT_EQ(c.Delete(path(o2), alice).ErrorCode(), "ORDER_NOT_CANCELLABLE");
  advance(o2);
  auto requested = c.PostJson(ret(o2), "", alice);
  ASSERT_EQ(requested.status, 200) << requested.body;
  EXPECT_EQ(requested.Json().at("status").as_string(), "RETURN_REQUESTED");
  EXPECT_EQ(advance(o2).Json().at("status").as_string(), "RETURNED");
  auto detail = c.Get(path(o2), alice).Json().as_object();
  std::vector<std::string> statuses;
  for (const auto& h : detail.at("history").as_array()) {
    statuses.emplace_back(h.at("status").as_string());
  }
  EXPECT_EQ(statuses, (std::vector<std::string>{"PAID", "SHIPPING", "DELIVERED", "RETURN_REQUESTED",
                                                "RETURNED"}));
  EXPECT_EQ(detail.at("history").as_array()[1].at("cause").as_string(), "operator: courier scan");

  // Completed: the window closed. A final order has no next state.
  advance(o3);
  advance(o3);
  advance(o3);
  EXPECT_EQ(StatusOf(c, alice, o3), "COMPLETED");
  auto closed = c.PostJson(ret(o3), "", alice);
  EXPECT_EQ(closed.status, 409);
  EXPECT_EQ(closed.ErrorCode(), "RETURN_WINDOW_CLOSED");
  EXPECT_EQ(c.PostJson(admin_path(o3, "advance"), R"({"reason":"x"})", admin).ErrorCode(),
            "CONFLICT");

  // Hold and release with reasons; bad bodies and non-admins are refused.
  EXPECT_EQ(c.PostJson(admin_path(o4, "hold"), R"({"reason":"fraud check"})", admin).status, 200);
  EXPECT_EQ(c.PostJson(admin_path(o4, "hold"), R"({"reason":"again"})", admin).status, 409);
  EXPECT_EQ(c.PostJson(admin_path(o4, "hold"), R"({})", admin).status, 400);
  EXPECT_EQ(c.PostJson(admin_path(o4, "hold"), R"({"reason":"x"})", bob).status, 403);
  auto released = c.PostJson(admin_path(o4, "release"), R"({"reason":"ok"})", admin);
  ASSERT_EQ(released.status, 200) << released.body;
  EXPECT_FALSE(released.Json().at("onHold").as_bool());

  // Refunds and restocks equal the cancel plus the received return (1 + 2 units).
  const std::string summary_path = "/admin/sales/" + std::to_string(product) + "/summary";
  boost::json::object summary;
  ASSERT_TRUE(WaitUntil([&] {
    summary = c.Get(summary_path, admin).Json().as_object();
    return summary.at("refunded").at("units").as_int64() == 3;
  })) << boost::json::serialize(summary);
  EXPECT_EQ(summary.at("refunded").at("amount").as_int64(), 3000);
  EXPECT_EQ(summary.at("sold").as_int64(), 7);
  EXPECT_EQ(summary.at("revenue").as_int64(), 7000);
  EXPECT_EQ(summary.at("available").as_int64(), 13);
  EXPECT_EQ(summary.at("held").as_int64(), 0);
  EXPECT_EQ(summary.at("cancelled").at("orders").as_int64(), 1);
  EXPECT_EQ(summary.at("returned").at("units").as_int64(), 2);
  EXPECT_EQ(c.Get(summary_path, alice).status, 403);

  // Admin views by status and product.
  auto list = c.Get("/admin/orders?status=CANCELLED&productId=" + std::to_string(product), admin);
  ASSERT_EQ(list.status, 200) << list.body;
  const boost::json::value listed = list.Json();
  const auto& items = listed.at("items").as_array();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].at("id").as_int64(), o1);
  EXPECT_EQ(c.Get("/admin/orders?productId=" + std::to_string(product), admin)
                .Json()
                .at("items")
                .as_array()
                .size(),
            4u);
  EXPECT_EQ(c.Get("/admin/orders?status=LOST", admin).ErrorCode(), "VALIDATION_FAILED");
  EXPECT_EQ(c.Get("/admin/orders", alice).status, 403);
}

TEST(OrdersE2E, Kill9MidScheduleThenEveryTransitionHappensExactlyOnce) {
  ServerOptions options;
  // Zero delays: every order walks PAID -> SHIPPING -> DELIVERED -> COMPLETED on the scheduler's
  // next runs, so a kill -9 right after buying lands in the middle of the schedule.
  options.env = {{"ROCKETMART_ORDERS_SHIP_AFTER_S", "0"},
                 {"ROCKETMART_ORDERS_DELIVER_AFTER_S", "0"},
                 {"ROCKETMART_ORDERS_RETURN_WINDOW_S", "0"},
                 {"ROCKETMART_ORDERS_SCHEDULER_INTERVAL_MS", "10"},
                 {"ROCKETMART_ORDERS_SCHEDULER_BATCH", "3"}};
  ServerProcess server(options);
  const std::string admin = server.Token(1, true);
  HttpClient c(server.port());
  const std::int64_t product = CreateSale(server, 100);
  std::vector<std::string> tokens;
  for (int member = 2; member < 22; ++member) tokens.push_back(server.Token(member));
  std::vector<std::int64_t> orders{Buy(c, tokens[0], product, 1)};
  for (std::size_t k = 1; k < tokens.size(); ++k) {
    auto r =
        c.PostJson("/payment/request",
                   R"({"productId":)" + std::to_string(product) + R"(,"amount":1})", tokens[k]);
    ASSERT_EQ(r.status, 201) << r.body;
    orders.push_back(r.Json().at("orderId").as_int64());
  }
  server.Kill();  // order.paid events and due transitions are still in flight
  server.Restart();
  HttpClient again(server.port());
  const std::string list =
      "/admin/orders?limit=100&status=COMPLETED&productId=" + std::to_string(product);
  ASSERT_TRUE(WaitUntil([&] {
    auto r = again.Get(list, admin);
    return r.status == 200 && r.Json().at("items").as_array().size() == orders.size();
  }));
  for (std::int64_t id : orders) {
    auto r = again.Get("/admin/orders/" + std::to_string(id), admin);
    ASSERT_EQ(r.status, 200);
    std::vector<std::string> statuses;
    const boost::json::value order = r.Json();
    for (const auto& h : order.at("history").as_array()) {
      statuses.emplace_back(h.at("status").as_string());
    }
    EXPECT_EQ(statuses, (std::vector<std::string>{"PAID", "SHIPPING", "DELIVERED", "COMPLETED"}))
        << "order " << id;
  }
}

TEST(OrdersE2E, TheSaleSummaryOfAProductThatDoesNotExistIsNotFound) {
  ServerProcess server;
  HttpClient c(server.port());
  const std::string admin = server.FastToken(1, true);
  for (const char* path : {"/admin/sales/987654321/summary", "/admin/sales/2/summary"}) {
    auto missing = c.Get(path, admin);
    EXPECT_EQ(missing.status, 404) << path << " " << missing.body;
    EXPECT_EQ(missing.ErrorCode(), "NOT_FOUND") << path;
  }
  // A product with no orders yet has a summary of zeros, not a 404.
  const std::int64_t product = CreateSale(server, 5);
  auto empty = c.Get("/admin/sales/" + std::to_string(product) + "/summary", admin);
  ASSERT_EQ(empty.status, 200) << empty.body;
  EXPECT_EQ(empty.Json().at("available").as_int64(), 5);
  EXPECT_EQ(empty.Json().at("sold").as_int64(), 0);
}

}  // namespace
}  // namespace rocketmart::testing
