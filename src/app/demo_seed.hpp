// The demo seeded into an empty data directory so a newcomer can try the API at once: a few
// products, each with a sale open now for 30 days (the sneakers: one per member), and two real
// accounts, an admin and a verified buyer, whose passwords are generated for this data directory
// (never baked into the binary) and kept in <data_dir>/demo-accounts.env (mode 0600).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "services/catalog/catalog_service.hpp"
#include "services/checkout/checkout_service.hpp"
#include "services/members/adapters/sodium_crypto.hpp"
#include "services/members/ports/member_repository.hpp"

namespace rocketmart::app {

// Seeds only when the catalog is empty. Returns the ids of the products created.
std::vector<std::int64_t> SeedDemoCatalog(catalog::CatalogService& catalog,
                                          checkout::CheckoutService& checkout, TimePoint now);

struct DemoAccount {
  std::int64_t id = 0;
  std::string email;
  std::string password;
};

struct DemoAccounts {
  DemoAccount admin;  // role admin, verified
  DemoAccount buyer;  // role user, verified
  std::filesystem::path file;
};

// The demo accounts' file: shell assignments (DEMO_ADMIN_ID, DEMO_ADMIN_EMAIL,
// DEMO_ADMIN_PASSWORD and the same for DEMO_BUYER_), so `. <data_dir>/demo-accounts.env` loads
// them into a shell.
std::filesystem::path DemoAccountsFile(const std::filesystem::path& data_dir);

// Creates the admin and the buyer with freshly generated passwords, writes the file, and returns
// them; nullopt (and nothing created) when either email is already taken. Start-up only: hashes
// synchronously and writes through the repository's synchronous path.
std::optional<DemoAccounts> SeedDemoAccounts(members::MemberRepository& repository,
                                             const members::SodiumPasswordHasher& hasher,
                                             const std::filesystem::path& data_dir, TimePoint now);

}  // namespace rocketmart::app
