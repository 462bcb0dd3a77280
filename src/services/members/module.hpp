// The members module (ADR 0008): accounts, sessions and my page (MembersService) on members.db,
// the mail outbox and its worker, the revocation replay (a periodic task). Calls the gateway's
// deny-list (TokenRevoker) and, for my page, orders and the catalog (client ports).
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "auth/jwt.hpp"
#include "core/clock.hpp"
#include "infra/config/config.hpp"
#include "infra/metrics/metrics.hpp"
#include "infra/module/module.hpp"
#include "infra/module/redis.hpp"
#include "services/members/members_service.hpp"
#include "services/members/ports/clients.hpp"
#include "services/members/ports/field_cipher.hpp"
#include "services/members/ports/mail_outbox.hpp"
#include "services/members/ports/mailer.hpp"
#include "services/members/ports/member_repository.hpp"
#include "services/members/ports/throttle_store.hpp"
#include "services/members/ports/token_revoker.hpp"

namespace rocketmart::members {

class MailWorker;
class SodiumPasswordHasher;

class MembersModule final : public module::Module {
 public:
  // members' database (members, sessions, the mail outbox: members.db, or PostgreSQL by
  // [members.database] url), the key personal data is sealed with, the
  // mail transport (with its directory for the file transport: a store /health reports), and the
  // throttle counters.
  struct Stores {
    module::Database db;
    std::unique_ptr<FieldCipher> cipher;
    std::unique_ptr<MemberRepository> members;
    std::unique_ptr<MailOutbox> mail_outbox;
    std::unique_ptr<Mailer> mailer;
    std::optional<std::filesystem::path> mail_dir;  // file transport only
    std::unique_ptr<ThrottleStore> throttles;
  };
  // Opens members' database, then the data key (members.data_key, else
  // <data_dir>/secrets/members.key), then the mail transport; throws naming what failed.
  // `redis`: the process's Redis (the throttles go there), or nullptr.
  static Stores OpenStores(const config::Config& config, const Clock& clock,
                           metrics::Registry& metrics, module::SharedRedis* redis = nullptr);

  // The gateway's deny-list and my page's other services: each must outlive the module.
  struct Clients {
    TokenRevoker& revoker;
    OrdersClient& orders;
    WishlistClient& wishlist;
    LikesClient& likes;
  };

  // `keyring`: the keys it signs access tokens with. `public_base_url`: where mailed links point
  // (members.public_base_url, or the root's default from the bound port).
  MembersModule(const config::Config& config, const Clock& clock, metrics::Registry& metrics,
                Stores stores, Clients clients, auth::Keyring keyring, std::string public_base_url);
  ~MembersModule() override;

  // For the composition root's demo seed.
  MemberRepository& member_repository() { return *stores_.members; }
  const SodiumPasswordHasher& password_hasher() const { return *hasher_; }

  std::string_view Name() const override { return "members"; }
  std::vector<module::Database*> Databases() override { return {&stores_.db}; }
  void Load() override;
  void StartWorkers() override;
  void StopWorkers() override;
  std::vector<events::Subscription> Subscriptions() override { return {}; }
  void RegisterRoutes(http::Router& router) override;
  std::vector<module::PeriodicTask> PeriodicTasks() override;
  boost::asio::awaitable<std::vector<module::StoreHealth>> CheckStores() override;

 private:
  Stores stores_;
  auth::Keyring keyring_;
  std::unique_ptr<SodiumPasswordHasher> hasher_;
  std::unique_ptr<MembersService> members_;
  std::unique_ptr<MailWorker> mail_worker_;
};

}  // namespace rocketmart::members
