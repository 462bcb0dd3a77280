// End-to-end test setup shared by the suites: an admin creates a product, opens its sale, and the
// test waits until checkout's stock for it is visible (it arrives through the catalog's event), on
// every instance when the server is a cluster.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/wait.hpp"

namespace rocketmart::testing {

// True when `read` holds on every instance that may answer it: once embedded; on a cluster, eight
// reads in a row (the gateway's balancer breaks ties round robin, so consecutive reads reach each
// of up to four instances of a service twice). A write reaches the other instances' caches
// through events, tens to hundreds of milliseconds later.
template <class Read>
bool SeenByEveryInstance(Read read) {
  const int reads = OnCluster() ? 8 : 1;
  for (int i = 0; i < reads; ++i) {
    if (!read()) return false;
  }
  return true;
}

// What the consistency model promises about `read`, a view that a write by someone else changes
// (another member's like, an admin's price): embedded, it holds at once; on a cluster, every
// instance holds it within a bounded time (WaitUntil's), as the write's event reaches it. A
// member's own writes need no wait: the gateway sends the member's catalog requests to one
// instance (docs/adr/0045).
template <class Read>
bool ConvergesOnEveryInstance(Read read) {
  if (!OnCluster()) return read();
  return WaitUntil([&] { return SeenByEveryInstance(read); });
}

inline std::int64_t CreateProductOnSale(ServerProcess& server, std::int64_t stock,
                                        std::int64_t per_member_limit, bool open_sale = true,
                                        std::int64_t price = 129000) {
  HttpClient c(server.port());
  const std::string admin = server.FastToken(1, true);
  auto created = c.PostJson("/products",
                            R"({"name":"Drop","price":)" + std::to_string(price) + R"(,"stock":)" +
                                std::to_string(stock) + "}",
                            admin);
  EXPECT_EQ(created.status, 201) << created.body;
  const std::int64_t id = created.Json().at("id").as_int64();
  if (open_sale) {
    auto sale = c.PutJson(
        "/payment/" + std::to_string(id) + "/sale",
        R"({"startsAt":"2020-01-01T00:00:00Z","endsAt":"2099-01-01T00:00:00Z","perMemberLimit":)" +
            std::to_string(per_member_limit) + "}",
        admin);
    EXPECT_EQ(sale.status, 200) << sale.body;
  }
  EXPECT_TRUE(WaitUntil([&] {
    return SeenByEveryInstance([&] {
      auto p = c.Get("/products/" + std::to_string(id));
      return p.status == 200 && p.Json().at("stock").as_int64() == stock;
    });
  }));
  if (open_sale && stock > 0) {
    // Checkout learns the stock from the catalog's event; until then its sale reads "preparing" and
    // a purchase answers 503. "live" means the stock has arrived and a purchase can be admitted.
    EXPECT_TRUE(WaitUntil([&] {
      return SeenByEveryInstance([&] {
        auto s = c.Get("/payment/" + std::to_string(id) + "/sale");
        return s.status == 200 && s.Json().at("state").as_string() == "live";
      });
    }));
  }
  return id;
}

}  // namespace rocketmart::testing
