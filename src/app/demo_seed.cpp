#include "app/demo_seed.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "auth/random.hpp"
#include "infra/async/run.hpp"

namespace rocketmart::app {

namespace {
// The seed runs before the server serves, with no request to take a deadline from: its own bound
// for what a product's creation and its sale ask other services (in-process: answered from memory).
constexpr Millis kSeedCallTimeout{5000};
}  // namespace

std::vector<std::int64_t> SeedDemoCatalog(catalog::CatalogService& catalog,
                                          checkout::CheckoutService& checkout, TimePoint now) {
  std::vector<std::int64_t> ids;
  if (catalog.size() != 0) return ids;
  struct DemoProduct {
    catalog::ProductDraft draft;
    std::int64_t per_member_limit;
  };
  const DemoProduct products[] = {
      {{"Rocket Sneakers (limited)", "The drop everyone waits for: 100 pairs, one per member.",
        129000, "https://example.com/img/rocket-sneakers.jpg", 100},
       1},
      {{"Moon Hoodie", "Heavyweight cotton hoodie.", 89000,
        "https://example.com/img/moon-hoodie.jpg", 500},
       5},
      {{"Orbit Cap", "Six-panel cap with embroidered orbit.", 35000,
        "https://example.com/img/orbit-cap.jpg", 1000},
       5},
      {{"Launch Tee", "Everyday tee.", 29000, "", 5000}, 10},
  };
  for (const auto& product : products) {
    const Deadline deadline = std::chrono::steady_clock::now() + kSeedCallTimeout;
    auto created = async::RunToCompletion(catalog.Create(product.draft, deadline));
    if (!created.ok()) throw std::runtime_error("demo seed failed: " + created.error().message);
    const std::int64_t id = created->product.id;
    const checkout::Sale sale{now - std::chrono::minutes(1), now + std::chrono::hours(24 * 30),
                              product.per_member_limit};
    auto opened = async::RunToCompletion(checkout.SetSale(id, sale, deadline));
    if (!opened.ok()) throw std::runtime_error("demo sale failed: " + opened.error().message);
    ids.push_back(id);
  }
  return ids;
}

namespace {

// Written then renamed, mode 0600 from the start: the file holds passwords.
void WritePrivateFile(const std::filesystem::path& file, const std::string& contents) {
  const std::filesystem::path tmp = file.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    throw std::runtime_error("cannot write " + tmp.string() + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      throw std::runtime_error("cannot write " + tmp.string() + ": " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  std::filesystem::rename(tmp, file);
}

std::string Assignments(const char* prefix, const DemoAccount& a) {
  // Ids are integers, emails and passwords use only [a-z0-9@.-]: nothing needs shell quoting.
  return std::string(prefix) + "_ID=" + std::to_string(a.id) + "\n" + prefix + "_EMAIL=" + a.email +
         "\n" + prefix + "_PASSWORD=" + a.password + "\n";
}

}  // namespace

std::filesystem::path DemoAccountsFile(const std::filesystem::path& data_dir) {
  return data_dir / "demo-accounts.env";
}

std::optional<DemoAccounts> SeedDemoAccounts(members::MemberRepository& repository,
                                             const members::SodiumPasswordHasher& hasher,
                                             const std::filesystem::path& data_dir, TimePoint now) {
  DemoAccounts out;
  out.admin.email = "admin@rocketmart.test";
  out.buyer.email = "buyer@rocketmart.test";
  for (const std::string& email : {out.admin.email, out.buyer.email}) {
    auto found = async::RunToCompletion(repository.FindByEmail(email));
    if (!found.ok()) throw std::runtime_error("demo account: " + found.error().message);
    if (*found) return std::nullopt;
  }
  const auto create = [&](DemoAccount& account, members::MemberRole role, const char* name) {
    // 96 random bits per data directory: a demo that is reachable from a network is not an
    // open door with a password everyone read in the README.
    account.password = auth::RandomHex(12);
    members::NewMember member;
    member.email = account.email;
    member.password_hash = hasher.HashNow(account.password);
    member.name = name;
    member.role = role;
    member.email_verified = true;
    auto id = async::RunToCompletion(repository.CreateMember(std::move(member), now));
    if (!id.ok()) throw std::runtime_error("demo account: " + id.error().message);
    account.id = *id;
  };
  create(out.admin, members::MemberRole::kAdmin, "Demo Admin");
  create(out.buyer, members::MemberRole::kUser, "Demo Buyer");
  out.file = DemoAccountsFile(data_dir);
  WritePrivateFile(out.file,
                   "# rocketmart demo accounts, generated at the first start of this data "
                   "directory. Keep it private.\n# Load them into a shell: . " +
                       out.file.string() + "\n" + Assignments("DEMO_ADMIN", out.admin) +
                       Assignments("DEMO_BUYER", out.buyer));
  return out;
}

}  // namespace rocketmart::app
