// The module boundary rule (ADR 0008), checked over the sources as text (label unit, under a
// second): only the composition roots in src/app/ name another service's concrete parts.
//   - a file of service A (src/services/A/, tests excepted) includes from another service B only
//     its ports/ (the client ports A binds for B) and its api/ (B's event contracts): never B's
//     adapters, module, application service or domain;
//   - nothing outside src/app/ includes from src/app/, and src/core, src/infra and src/auth
//     include no service at all.
// A service's tests (`*_test.cpp`, `*_test_support.hpp`, `test_doubles.hpp`) wire real services
// together the way a root does and are exempt. The CMake link graph enforces the same rule where
// it can (cmake/Rocketmart.cmake, rocketmart_check_module_links). The first tests feed the check
// snippets that break and keep the rule, so the check itself can fail.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace rocketmart::testing {
namespace {

bool IsTestFile(std::string_view path) {
  const auto name = path.substr(path.rfind('/') + 1);
  return name.ends_with("_test.cpp") || name.ends_with("_test_support.hpp") ||
         name == "test_doubles.hpp";
}

// The service a path under src/ belongs to ("catalog" for "services/catalog/module.cpp"), or "".
std::string_view ServiceOf(std::string_view path) {
  constexpr std::string_view kServices = "services/";
  if (!path.starts_with(kServices)) return {};
  const auto rest = path.substr(kServices.size());
  const auto slash = rest.find('/');
  return slash == std::string_view::npos ? std::string_view{} : rest.substr(0, slash);
}

// Violations of the rule by the file at `path` (relative to src/) with contents `text`, one line
// each: "<line>: <include> (<why>)".
std::vector<std::string> CheckIncludes(std::string_view path, std::string_view text) {
  std::vector<std::string> found;
  if (path.starts_with("app/") || IsTestFile(path)) return found;
  const std::string_view own = ServiceOf(path);
  int line_no = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto end = std::min(text.find('\n', start), text.size());
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    constexpr std::string_view kInclude = "#include \"";
    if (!line.starts_with(kInclude)) continue;
    line.remove_prefix(kInclude.size());
    const std::string_view target = line.substr(0, line.find('"'));
    const auto report = [&](std::string_view why) {
      found.push_back(std::to_string(line_no) + ": " + std::string(target) + " (" +
                      std::string(why) + ")");
    };
    if (target.starts_with("app/")) {
      report("only the composition roots include src/app/");
      continue;
    }
    const std::string_view other = ServiceOf(target);
    if (other.empty()) continue;
    if (own.empty()) {
      report("core, infra and auth know no service");
      continue;
    }
    if (other == own) continue;
    const auto inside = target.substr(std::string_view("services/").size() + other.size() + 1);
    if (!inside.starts_with("ports/") && !inside.starts_with("api/")) {
      report("another service's ports/ and api/ only; the root binds the rest");
    }
  }
  return found;
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

TEST(ModuleBoundaries, IncludesThatBreakTheRuleAreFound) {
  const std::string_view module_cpp =
      "#include \"services/catalog/module.hpp\"\n"
      "#include \"services/checkout/adapters/sqlite_inventory_store.hpp\"\n"
      "  #include \"services/checkout/checkout_service.hpp\"\n"
      "#include \"services/members/module.hpp\"\n"
      "#include \"app/in_process_clients.hpp\"\n";
  const auto found = CheckIncludes("services/catalog/module.cpp", module_cpp);
  ASSERT_EQ(found.size(), 4u) << Joined(found);
  EXPECT_TRUE(found[0].starts_with("2: services/checkout/adapters/")) << found[0];
  EXPECT_TRUE(found[1].starts_with("3: services/checkout/checkout_service.hpp")) << found[1];
  EXPECT_TRUE(found[2].starts_with("4: services/members/module.hpp")) << found[2];
  EXPECT_TRUE(found[3].starts_with("5: app/")) << found[3];
  // Shared infrastructure names no service.
  EXPECT_EQ(
      CheckIncludes("infra/events/event_bus.cpp", "#include \"services/checkout/api/events.hpp\"\n")
          .size(),
      1u);
}

TEST(ModuleBoundaries, IncludesThatKeepTheRulePass) {
  const std::string_view client =
      "#include \"services/catalog/catalog_service.hpp\"\n"
      "#include \"services/catalog/adapters/http_routes.hpp\"\n"
      "#include \"services/members/ports/clients.hpp\"\n"
      "#include \"services/checkout/api/events.hpp\"\n"
      "#include \"infra/module/module.hpp\"\n"
      "#include <vector>\n";
  EXPECT_EQ(Joined(CheckIncludes("services/catalog/module.cpp", client)), "");
  // The roots and a service's own tests wire concrete parts of several services.
  const std::string_view root =
      "#include \"services/checkout/adapters/sqlite_inventory_store.hpp\"\n";
  EXPECT_EQ(Joined(CheckIncludes("app/embedded_app.cpp", root)), "");
  EXPECT_EQ(Joined(CheckIncludes("services/orders/refund_flow_test.cpp", root)), "");
}

TEST(ModuleBoundaries, TheSourcesKeepIt) {
  const char* root = std::getenv("ROCKETMART_SOURCE_DIR");
  ASSERT_NE(root, nullptr) << "ROCKETMART_SOURCE_DIR is not set (CTest sets it)";
  const std::filesystem::path src = std::filesystem::path(root) / "src";
  std::size_t files = 0;
  std::string report;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(src)) {
    const auto ext = entry.path().extension();
    if (!entry.is_regular_file() || (ext != ".cpp" && ext != ".hpp")) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string path = std::filesystem::relative(entry.path(), src).generic_string();
    ++files;
    for (const auto& f : CheckIncludes(path, ss.str())) report += "src/" + path + ":" + f + "\n";
  }
  EXPECT_GT(files, 100u) << "the source tree was not found under " << src;
  EXPECT_EQ(report, "") << "see docs/adr/0008-service-modules.md";
}

}  // namespace
}  // namespace rocketmart::testing
