// The documents agree with the binary: every route the server registers is in api/openapi.json
// (and the reverse), and docs/config.md is what `rocketmart config-docs` prints.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/source_file.hpp"

namespace rocketmart::testing {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

TEST(Contract, EveryRouteIsDocumentedAndEveryDocumentedRouteExists) {
  ServerProcess server;
  HttpClient c(server.port());
  const std::string metrics = HttpClient(server.admin_port()).Get("/metrics").body;
  // Routes are pre-registered in the metrics at start: route="/x/{id}",method="GET".
  std::set<std::pair<std::string, std::string>> served;
  const std::regex route_re(R"re(route="([^"]+)",method="([A-Z]+)")re");
  for (auto it = std::sregex_iterator(metrics.begin(), metrics.end(), route_re);
       it != std::sregex_iterator(); ++it) {
    if ((*it)[1] != "unmatched") served.insert({(*it)[1], Lower((*it)[2])});
  }
  ASSERT_FALSE(served.empty());
  const auto doc = boost::json::parse(SourceFile("api/openapi.json")).as_object();
  std::set<std::pair<std::string, std::string>> documented;
  for (const auto& [path, item] : doc.at("paths").as_object()) {
    for (const auto& [method, op] : item.as_object()) {
      // Path-item fields that are not operations (the admin listener's /metrics has `servers`).
      static const std::set<std::string> kMethods = {"get",     "put",  "post",  "delete",
                                                     "options", "head", "patch", "trace"};
      if (!kMethods.count(std::string(method))) continue;
      documented.insert({std::string(path), std::string(method)});
    }
  }
  for (const auto& r : served) {
    EXPECT_TRUE(documented.count(r))
        << r.second << " " << r.first << " is served but not documented";
  }
  for (const auto& d : documented) {
    EXPECT_TRUE(served.count(d)) << d.second << " " << d.first << " is documented but not served";
  }
  // The served document is the repository's document.
  EXPECT_EQ(boost::json::parse(c.Get("/openapi.json").body),
            boost::json::parse(SourceFile("api/openapi.json")));
}

TEST(Contract, ConfigDocsMatchTheBinary) {
  const std::string generated = RunCommand({BinaryPath(), "config-docs"});
  const std::string committed = SourceFile("docs/config.md");
  EXPECT_NE(committed.find(generated), std::string::npos)
      << "docs/config.md is stale: regenerate it with `build/rocketmart config-docs`";
}

}  // namespace
}  // namespace rocketmart::testing
