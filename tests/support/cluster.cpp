#include "support/cluster.hpp"

#include <cctype>
#include <cstdlib>
#include <exception>
#include <functional>
#include <mutex>
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

// Runs every task on a thread of its own and waits for all; rethrows the first failure. Starting
// and stopping a cluster's processes side by side keeps a cluster per test affordable.
void RunSideBySide(const std::vector<std::function<void()>>& tasks) {
  std::vector<std::exception_ptr> failures(tasks.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    threads.emplace_back([&, i] {
      try {
        tasks[i]();
      } catch (...) {
        failures[i] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& failure : failures) {
    if (failure) std::rethrow_exception(failure);
  }
}

}  // namespace

ClusterOptions ScenarioClusterOptions() {
  ClusterOptions options;
  const char* spec = std::getenv("ROCKETMART_TEST_CLUSTER");
  std::string rest = spec != nullptr ? spec : "";
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string item = rest.substr(0, comma);
    rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
    const auto eq = item.find('=');
    if (eq == std::string::npos) throw std::runtime_error("ROCKETMART_TEST_CLUSTER: " + item);
    const std::string name = item.substr(0, eq);
    const int count = std::stoi(item.substr(eq + 1));
    if (name == "gateways") {
      options.gateways = count;
    } else {
      options.instances[name] = count;
    }
  }
  return options;
}

Cluster::Cluster(ClusterOptions options) : options_(std::move(options)) {
  if (options_.dir.empty()) {
    own_dir_.emplace("cluster");
    dir_ = own_dir_->path();
  } else {
    dir_ = options_.dir;
  }
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
  std::vector<std::string> databases(kClusterServices.size());
  std::vector<std::function<void()>> create;
  for (std::size_t i = 0; i < kClusterServices.size(); ++i) {
    create.emplace_back([&, i] { databases[i] = pg.NewDatabase(kClusterServices[i]); });
  }
  RunSideBySide(create);
  for (std::size_t i = 0; i < kClusterServices.size(); ++i) {
    env_["ROCKETMART_" + Upper(kClusterServices[i]) + "_DATABASE_URL"] =
        "postgresql://rocketmart@127.0.0.1:" + std::to_string(pg.port()) + "/" + databases[i];
  }
  for (const auto& [k, v] : options_.env) env_[k] = v;

  for (int i = 0; i < options_.gateways; ++i) gateways_.push_back(Start("gateway"));
  // Mailed links point at the (first) gateway, as a deployment's public URL would (unless the
  // caller named one).
  env_.try_emplace("ROCKETMART_MEMBERS_PUBLIC_BASE_URL",
                   "http://127.0.0.1:" + std::to_string(gateways_.front()->port()));
  // The services side by side: each finds the others through etcd, none waits for another.
  std::vector<std::function<void()>> start;
  for (const std::string& service : kClusterServices) {
    const int count = options_.instances.contains(service) ? options_.instances.at(service) : 1;
    auto& list = instances_[service];
    list.resize(static_cast<std::size_t>(count));
    for (auto& slot : list) {
      const int n = started_[service]++;
      start.emplace_back([this, &slot, service, n] { slot = Start(service, n); });
    }
  }
  RunSideBySide(start);
  WaitForAll();
}

void Cluster::ForEachInstance(const std::function<void(ServerProcess&)>& action) {
  std::vector<std::function<void()>> tasks;
  for (auto& [service, list] : instances_) {
    for (auto& process : list) {
      if (process) tasks.emplace_back([&action, p = process.get()] { action(*p); });
    }
  }
  RunSideBySide(tasks);
}

void Cluster::WaitForAll() const {
  for (const std::string& service : kClusterServices) {
    if (!WaitForInstances(service, static_cast<int>(instances_.at(service).size()))) {
      throw std::runtime_error("the gateways do not see every " + service + " instance");
    }
  }
}

int Cluster::TerminateAll(std::chrono::milliseconds timeout) {
  int first_failure = 0;
  const auto note = [&](int status) {
    if (first_failure == 0) first_failure = status;
  };
  std::mutex mutex;
  ForEachInstance([&](ServerProcess& process) {
    const int status = process.Terminate(timeout);
    std::lock_guard lock(mutex);
    note(status);
  });
  for (auto& g : gateways_) note(g->Terminate(timeout));
  return first_failure;
}

void Cluster::KillAll() {
  for (auto& g : gateways_) g->Kill();
  for (auto& [service, list] : instances_) {
    for (auto& process : list) process->Kill();
  }
}

void Cluster::RestartAll() {
  // Restart() kills a process still running first.
  ForEachInstance([](ServerProcess& process) { process.Restart(); });
  for (auto& g : gateways_) g->RestartOnSamePort();
  WaitForAll();
}

Cluster::~Cluster() {
  // The services first (each deregisters, then drains), then the gateways; etcd and Redis last.
  try {
    ForEachInstance([](ServerProcess& process) { process.Terminate(std::chrono::seconds(10)); });
  } catch (...) {
    // Terminate does not throw; a thread that could not start leaves its process to its handle.
  }
  for (auto& g : gateways_) g->Terminate(std::chrono::seconds(10));
}

std::unique_ptr<ServerProcess> Cluster::Start(const std::string& service) {
  return Start(service, started_[service]++);
}

std::unique_ptr<ServerProcess> Cluster::Start(const std::string& service, int n) {
  ServerOptions options;
  options.data_dir = dir_ / (service + "-" + std::to_string(n));
  options.extra_args = {"--service", service};
  for (const std::string& arg : options_.extra_args) options.extra_args.push_back(arg);
  options.env = env_;
  options.seed_demo = options_.seed_demo;
  options.engine_env = false;
  options.follow_topology = false;
  if (!options_.log_file.empty()) {
    options.log_file = options_.log_file;
  } else if (const char* logs = std::getenv("ROCKETMART_E2E_SERVER_LOGS")) {
    // A directory that exists keeps the logs after the cluster is gone (named by its folder).
    std::error_code ec;
    const std::filesystem::path kept(logs);
    const std::string name = service + "-" + std::to_string(n) + ".log";
    options.log_file = std::filesystem::is_directory(kept, ec)
                           ? kept / (dir_.filename().string() + "-" + name)
                           : dir_ / name;
  }
  return std::make_unique<ServerProcess>(std::move(options));
}

ServerProcess& Cluster::AddInstance(const std::string& service) {
  auto& list = instances_[service];
  list.push_back(Start(service));
  return *list.back();
}

std::string Cluster::DatabaseName(const std::string& service) const {
  std::string upper = service;
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  const std::string url = env_.at("ROCKETMART_" + upper + "_DATABASE_URL");
  return url.substr(url.rfind('/') + 1);
}

std::filesystem::path Cluster::mail_dir() const {
  return instances_.at("members").front()->data_dir() / "mail";
}

std::string Cluster::Token(std::int64_t n, bool admin, bool verified) const {
  return SignSyntheticToken(kMemberSecret, n, admin, verified);
}

std::string Cluster::InternalIdentity(std::int64_t member_id, bool admin,
                                      std::chrono::seconds age) const {
  auto keyring = auth::InternalKeyring(kInternalSecret, "");
  if (!keyring.ok()) throw std::runtime_error("bad key: " + keyring.error().message);
  auth::Identity identity;
  identity.member_id = member_id;
  identity.role = admin ? auth::Role::kAdmin : auth::Role::kUser;
  identity.email_verified = true;
  return auth::SignInternalIdentity(identity, *keyring, std::chrono::system_clock::now() - age);
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
