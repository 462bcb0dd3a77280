// The in-memory adapter of the discovery ports (in_memory_discovery.*): registrations reach
// watchers of their service only, at once; Deregister and a registry's end take them away.
#include "infra/discovery/in_memory_discovery.hpp"

#include <gtest/gtest.h>

#include "infra/async/run.hpp"

namespace rocketmart::discovery {
namespace {

Instance Make(std::string service, std::string id, std::uint16_t port) {
  return Instance{std::move(service), std::move(id), "127.0.0.1", port, {}};
}

std::vector<std::string> Ids(const InstanceSet& set) {
  std::vector<std::string> ids;
  for (const auto& i : set) ids.push_back(i.id);
  return ids;
}

TEST(InMemoryDiscovery, WatchersSeeTheirServiceOnlyAndEveryChange) {
  auto directory = InMemoryDirectory::Create();
  std::vector<std::vector<std::string>> catalog_calls;
  std::vector<std::vector<std::string>> orders_calls;
  const auto catalog_watch = directory->Watch(
      "catalog", [&](const InstanceSet& set) { catalog_calls.push_back(Ids(set)); });
  directory->Watch("orders", [&](const InstanceSet& set) { orders_calls.push_back(Ids(set)); });
  ASSERT_EQ(catalog_calls.size(), 1u) << "the current (empty) set at once";
  EXPECT_TRUE(catalog_calls[0].empty());

  auto a = directory->NewRegistry();
  auto b = directory->NewRegistry();
  ASSERT_TRUE(a->Register(Make("catalog", "c2", 2)).ok());
  ASSERT_TRUE(a->Register(Make("catalog", "c1", 1)).ok());
  ASSERT_TRUE(b->Register(Make("orders", "o1", 3)).ok());
  EXPECT_EQ(catalog_calls.back(), (std::vector<std::string>{"c1", "c2"})) << "sorted by id";
  EXPECT_EQ(orders_calls.back(), (std::vector<std::string>{"o1"}));
  EXPECT_EQ(catalog_calls.size(), 3u);
  EXPECT_EQ(Ids(directory->Instances("catalog")), (std::vector<std::string>{"c1", "c2"}));

  auto done = async::RunToCompletion(a->Deregister());
  EXPECT_TRUE(done.ok());
  EXPECT_TRUE(catalog_calls.back().empty());
  EXPECT_EQ(Ids(directory->Instances("orders")), (std::vector<std::string>{"o1"}));

  directory->Unwatch(catalog_watch);
  const auto calls = catalog_calls.size();
  ASSERT_TRUE(b->Register(Make("catalog", "c3", 4)).ok());
  EXPECT_EQ(catalog_calls.size(), calls) << "no call after Unwatch";
  b.reset();  // a registry that ends takes its instances with it
  EXPECT_TRUE(directory->Instances("orders").empty());
  EXPECT_TRUE(directory->Instances("catalog").empty());
}

TEST(InMemoryDiscovery, BadInstancesAreRefused) {
  auto directory = InMemoryDirectory::Create();
  auto registry = directory->NewRegistry();
  auto refused = registry->Register(Make("catalog", "c1", 0));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::kValidationFailed);
  EXPECT_TRUE(directory->Instances("catalog").empty());
}

}  // namespace
}  // namespace rocketmart::discovery
