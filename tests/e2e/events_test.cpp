// Events between the services on the real binary, across an upgrade: a data directory written
// before issue 12 (positions and dead letters kept in the producer's database) keeps working.
// Nothing a subscriber had passed is delivered again, nothing it had not is skipped, and the dead
// letters stay listed, from the consumer's database.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sstream>

#include "support/db_probe.hpp"
#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/shop.hpp"
#include "support/wait.hpp"

namespace rocketmart::testing {
namespace {

std::string OrderPaid(std::int64_t order, std::int64_t product) {
  const std::string id = std::to_string(order);
  return R"({"orderId":)" + id + R"(,"paymentId":)" + id + R"(,"holdId":)" + id +
         R"(,"memberId":31,"total":1000,"lines":[{"productId":)" + std::to_string(product) +
         R"(,"quantity":1,"price":1000,"name":"Drop"}],"paidAtMs":1700000000000})";
}

TEST(EventsE2E, ADataDirectoryFromBeforeIssue12KeepsItsPositionsAndDeadLetters) {
  ServerProcess server;
  HttpClient c(server.port());
  const std::int64_t product = CreateProductOnSale(server, 10, 10, true, 1000);
  const std::string token = server.Token(31);
  auto paid = c.PostJson("/payment/request",
                         R"({"productId":)" + std::to_string(product) + R"(,"amount":1})", token);
  ASSERT_EQ(paid.status, 201) << paid.body;
  const std::int64_t first = paid.Json().at("orderId").as_int64();
  ASSERT_TRUE(WaitUntil([&] {
    return QueryInt(server.data_dir() / "orders.db",
                    "SELECT count(*) FROM orders WHERE id = " + std::to_string(first)) == 1;
  }));
  ASSERT_EQ(server.Terminate(), 0);

  // Rewind the directory to the old layout: every position back in its producer's outbox_cursor,
  // the consumer-side tables and the migration that made them gone.
  const auto dir = server.data_dir();
  const char* services[] = {"catalog", "checkout", "orders"};
  for (const char* producer : services) {
    for (const char* consumer : services) {
      if (std::string(producer) == consumer) continue;
      ExecWrite(dir / (std::string(producer) + ".db"),
                "ATTACH '" + (dir / (std::string(consumer) + ".db")).string() +
                    "' AS c; INSERT INTO outbox_cursor (subscriber, last_seq) "
                    "SELECT subscriber, last_seq FROM c.event_cursors WHERE source = '" +
                    producer + "'; DETACH c;");
    }
  }
  for (const char* db : {"catalog", "checkout", "orders", "members", "provider"}) {
    ExecWrite(dir / (std::string(db) + ".db"),
              "DROP TABLE event_cursors; DROP TABLE event_dead_letters; "
              "DELETE FROM storage_internal_migrations WHERE version = 4;");
  }
  ASSERT_EQ(QueryInt(dir / "checkout.db",
                     "SELECT count(*) FROM outbox_cursor WHERE subscriber = 'orders.order_paid'"),
            1);
  // Then, as the old version left it: an order.paid every subscriber had passed (but not yet
  // pruned, one subscriber lagging), one none had, and a dead letter in the producer's database.
  ExecWrite(dir / "checkout.db",
            "INSERT INTO outbox (topic, payload, created_at_ms) VALUES ('order.paid', '" +
                OrderPaid(777001, product) +
                "', 1); "
                "UPDATE outbox_cursor SET last_seq = (SELECT MAX(seq) FROM outbox); "
                "UPDATE outbox_cursor SET last_seq = last_seq - 1 "
                "WHERE subscriber = 'orders.payment_refunded'; "
                "INSERT INTO outbox (topic, payload, created_at_ms) VALUES ('order.paid', '" +
                OrderPaid(777002, product) +
                "', 2); "
                "INSERT INTO outbox_dead_letters (subscriber, event_id, topic, payload, reason, "
                "at_ms) VALUES ('orders.order_paid', 'checkout:1', 'order.paid', '{}', "
                "'order.paid: orderId is required', 3);");

  server.Restart();
  ASSERT_TRUE(WaitUntil([&] {
    return QueryInt(dir / "orders.db", "SELECT count(*) FROM orders WHERE id = 777002") == 1;
  })) << "the event no subscriber had passed is delivered";
  EXPECT_EQ(QueryInt(dir / "orders.db", "SELECT count(*) FROM orders WHERE id = 777001"), 0)
      << "the event every subscriber had passed is not delivered again";
  EXPECT_EQ(QueryInt(dir / "checkout.db", "SELECT count(*) FROM outbox_cursor"), 0);
  EXPECT_EQ(QueryInt(dir / "checkout.db", "SELECT count(*) FROM outbox_dead_letters"), 0);
  EXPECT_GE(QueryInt(dir / "checkout.db",
                     "SELECT last_seq FROM event_cursors WHERE source = 'catalog' AND "
                     "subscriber = 'checkout.inventory'"),
            1);

  const std::string listed =
      RunCommand({BinaryPath(), "admin", "dead-letters", "--data-dir", dir.string()});
  std::istringstream lines(listed);
  std::vector<boost::json::object> letters;
  for (std::string line; std::getline(lines, line);) {
    letters.push_back(boost::json::parse(line).as_object());
  }
  ASSERT_EQ(letters.size(), 1u) << listed;
  EXPECT_EQ(letters[0].at("db").as_string(), "orders");
  EXPECT_EQ(letters[0].at("source").as_string(), "checkout");
  EXPECT_EQ(letters[0].at("subscriber").as_string(), "orders.order_paid");
  EXPECT_EQ(letters[0].at("eventId").as_string(), "checkout:1");

  // And the shop goes on as before.
  HttpClient restarted(server.port());
  auto again = restarted.PostJson(
      "/payment/request", R"({"productId":)" + std::to_string(product) + R"(,"amount":1})", token);
  ASSERT_EQ(again.status, 201) << again.body;
  const std::int64_t second = again.Json().at("orderId").as_int64();
  EXPECT_TRUE(WaitUntil([&] {
    return QueryInt(dir / "orders.db",
                    "SELECT count(*) FROM orders WHERE id = " + std::to_string(second)) == 1;
  }));
}

}  // namespace
}  // namespace rocketmart::testing
