#include "support/cluster.hpp"

#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "auth/identity.hpp"
#include "auth/internal_identity.hpp"
#include "auth/jwt.hpp"
#include "support/http_client.hpp"
#include "support/local_postgres.hpp"

namespace rocketmart::testing {

namespace {

const std::string kMemberSecret(40, 'm');
const std::string kInternalSecret(40, 'i');
const std::string kDataKey(64, 'd');

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

Cluster::Cluster(ClusterOptions options) : options_(std::move(options)) {
  etcd_ = std::make_unique<LocalEtcd>();
  redis_ = std::make_unique<LocalRedis>();
  LocalPostgres& pg = SharedLocalPostgres();
  env_ = {
      {"ROCKETMART_AUTH_SECRET", kMemberSecret},
      {"ROCKETMART_AUTH_INTERNAL_SECRET", kInternalSecret},
      {"ROCKETMART_MEMBERS_DATA_KEY", kDataKey},
      {"ROCKETMART_REDIS_URL", redis_->tcp_url()},
      {"ROCKETMART_DISCOVERY_ETCD_URL", etcd_->endpoint()},
      // Services believe the client address the gateway reports (throttles, access log).
      {"ROCKETMART_SERVER_TRUSTED_PROXIES", "127.0.0.1/32"},
      // The tests' load comes from 127.0.0.1, many members at machine speed: no rate limits at
      // the gateways.
      {"ROCKETMART_GATEWAY_RATE_PER_IP_PER_S", "0"},
      {"ROCKETMART_GATEWAY_RATE_PER_MEMBER_PER_S", "0"},
  };
  for (const std::string& service : kClusterServices) {
    env_["ROCKETMART_" + Upper(service) + "_DATABASE_URL"] =
        "postgresql://rocketmart@127.0.0.1:" + std::to_string(pg.port()) + "/" +
        pg.NewDatabase(service);
  }
  for (const auto& [k, v] : options_.env) env_[k] = v;

  for (int i = 0; i < options_.gateways; ++i) gateways_.push_back(Start("gateway"));
  // Mailed links point at the (first) gateway, as a deployment's public URL would.
  env_["ROCKETMART_MEMBERS_PUBLIC_BASE_URL"] =
      "http://127.0.0.1:" + std::to_string(gateways_.front()->port());
  for (const std::string& service : kClusterServices) {
    const int count = options_.instances.contains(service) ? options_.instances.at(service) : 1;
    for (int i = 0; i < count; ++i) instances_[service].push_back(Start(service));
  }
  for (const std::string& service : kClusterServices) {
    if (!WaitForInstances(service, static_cast<int>(instances_[service].size()))) {
      throw std::runtime_error("the gateways do not see every " + service + " instance");
    }
  }
}

Cluster::~Cluster() {
  // The services first (they deregister), then the gateways; etcd and Redis last.
  for (auto it = kClusterServices.rbegin(); it != kClusterServices.rend(); ++it) {
    for (auto& process : instances_[*it]) {
      if (process) process->Terminate(std::chrono::seconds(10));
    }
  }
  for (auto& g : gateways_) g->Terminate(std::chrono::seconds(10));
}

std::unique_ptr<ServerProcess> Cluster::Start(const std::string& service) {
  const int n = started_[service]++;
  ServerOptions options;
  options.data_dir = dir_.path() / (service + "-" + std::to_string(n));
  options.extra_args = {"--service", service};
  options.env = env_;
  options.engine_env = false;
  if (std::getenv("ROCKETMART_E2E_SERVER_LOGS")) {
    options.log_file = dir_.path() / (service + "-" + std::to_string(n) + ".log");
  }
  return std::make_unique<ServerProcess>(std::move(options));
}

ServerProcess& Cluster::AddInstance(const std::string& service) {
  auto& list = instances_[service];
  list.push_back(Start(service));
  return *list.back();
}

std::filesystem::path Cluster::mail_dir() const {
  return instances_.at("members").front()->data_dir() / "mail";
}

std::string Cluster::Token(std::int64_t n, bool admin, bool verified) const {
  return SignSyntheticToken(kMemberSecret, n, admin, verified);
}

std::string Cluster::InternalIdentity(std::int64_t member_id, bool admin,
                                      std::chrono::seconds age) const {
  auth::Keyring keyring;
  if (!keyring.Add({"internal", kInternalSecret}, true).ok()) throw std::runtime_error("bad key");
  auth::Identity identity;
  identity.member_id = member_id;
  identity.role = admin ? auth::Role::kAdmin : auth::Role::kUser;
  identity.email_verified = true;
  return auth::SignInternalIdentity(identity, keyring, std::chrono::system_clock::now() - age);
}

int Cluster::KnownInstances(std::size_t gateway, const std::string& service) const {
  try {
    HttpClient admin(gateways_.at(gateway)->admin_port());
    const std::string body = admin.Get("/metrics").body;
    const std::string key = "discovery_instances{service=\"" + service + "\"} ";
    const auto at = body.find(key);
    if (at == std::string::npos) return -1;
    return std::stoi(body.substr(at + key.size()));
  } catch (const std::exception&) {
    return -1;
  }
}

bool Cluster::WaitForInstances(const std::string& service, int count,
                               std::chrono::milliseconds timeout) const {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    bool all = true;
    for (std::size_t g = 0; g < gateways_.size() && all; ++g) {
      all = KnownInstances(g, service) == count;
    }
    if (all) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace rocketmart::testing
