#include "infra/discovery/etcd/etcd_registry.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

namespace rocketmart::discovery::etcd {
namespace {

namespace asio = boost::asio;
namespace bj = boost::json;
using SteadyClock = std::chrono::steady_clock;

std::string LeaseJson(std::int64_t lease) {
  return R"({"ID":")" + std::to_string(lease) + R"("})";
}

// A third of the lease's TTL, in milliseconds: `seconds(ttl) / 3` divides whole seconds and gave
// 0 for the 2 s lease, so the registry kept the lease alive back to back (about a thousand
// keep-alives a second per process, most of a core in etcd on the 2-core bench machine).
Millis KeepAliveInterval(std::int64_t ttl_s) {
  return std::chrono::duration_cast<Millis>(std::chrono::seconds(ttl_s)) / 3;
}

}  // namespace

Result<std::shared_ptr<EtcdServiceRegistry>> EtcdServiceRegistry::Create(
    asio::any_io_executor executor, EtcdOptions options) {
  if (auto valid = ValidateOptions(options); !valid) return valid.error();
  return std::shared_ptr<EtcdServiceRegistry>(
      new EtcdServiceRegistry(std::move(executor), std::move(options)));
}

EtcdServiceRegistry::EtcdServiceRegistry(asio::any_io_executor executor, EtcdOptions options)
    : strand_(asio::make_strand(std::move(executor))),  // converted once (Strand)
      options_(std::move(options)),
      client_(strand_, options_),
      wake_(strand_),
      backoff_(options_.backoff_initial, options_.backoff_max) {}

Result<void> EtcdServiceRegistry::Register(Instance instance) {
  if (auto valid = ValidateInstance(instance); !valid) return valid.error();
  if (stopped_.load()) return MakeError(Errc::kUnavailable, "discovery: the registry is closed");
  std::string key = InstanceKey(options_.root, instance.service, instance.id);
  std::string value = EncodeInstanceValue(instance);
  asio::post(strand_,
             [self = shared_from_this(), key = std::move(key), value = std::move(value)]() mutable {
               if (self->stopped_.load()) return;
               self->values_[key] = std::move(value);
               self->pending_.insert(std::move(key));
               self->listed_.store(false);
               if (!self->running_) {
                 self->running_ = true;
                 asio::co_spawn(self->strand_, self->Run(), asio::detached);
               } else {
                 self->wake_.cancel();  // put it now, not at the next keep-alive
               }
             });
  return {};
}

asio::awaitable<void> EtcdServiceRegistry::Sleep(Millis delay) {
  if (stopped_.load()) co_return;
  wake_.expires_after(delay);
  boost::system::error_code ignored;
  co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
}

void EtcdServiceRegistry::LoseLease(const char* why) {
  spdlog::warn("discovery: etcd lease {} lost ({}); granting a new one and registering again",
               lease_, why);
  lease_ = 0;
  lease_id_.store(0);
  listed_.store(false);
}

void EtcdServiceRegistry::NoteFailure(const Error& error) {
  if (!failing_) {
    spdlog::warn("discovery: registration in etcd {} failing, retrying with backoff: {}",
                 options_.endpoint, error.message);
  }
  failing_ = true;
}

void EtcdServiceRegistry::NoteSuccess() {
  if (failing_) spdlog::info("discovery: etcd {} answers again", options_.endpoint);
  failing_ = false;
  backoff_.Reset();
}

asio::awaitable<void> EtcdServiceRegistry::Run() {
  const auto self = shared_from_this();  // alive while the loop runs
  const auto ttl = std::chrono::duration_cast<Millis>(options_.lease_ttl);
  while (!stopped_.load()) {
    if (lease_ == 0) {
      const std::string grant =
          R"({"TTL":")" + std::to_string(options_.lease_ttl.count()) + R"("})";
      auto granted = co_await client_.Call("/v3/lease/grant", grant);
      if (stopped_.load()) break;
      const auto id =
          granted && granted->code == kGrpcOk ? Int64Field(granted->body, "ID") : std::nullopt;
      if (!id || *id == 0) {
        NoteFailure(granted ? MakeError(Errc::kUnavailable, "lease grant: " + granted->message)
                            : granted.error());
        co_await Sleep(backoff_.Next());
        continue;
      }
      // etcd may raise the TTL (to 2 s at least); keep-alives follow the granted one.
      const auto granted_ttl = Int64Field(granted->body, "TTL").value_or(ttl.count() / 1000);
      NoteSuccess();
      lease_ = *id;
      lease_id_.store(lease_);
      grants_.fetch_add(1);
      next_keepalive_ = SteadyClock::now() + KeepAliveInterval(granted_ttl);
      for (const auto& [key, value] : values_) pending_.insert(key);
    }
    bool failed = false;
    while (!pending_.empty() && lease_ != 0 && !stopped_.load()) {
      const std::string key = *pending_.begin();
      const std::string value = values_.at(key);
      bj::object put;
      put["key"] = Base64Encode(key);
      put["value"] = Base64Encode(value);
      put["lease"] = std::to_string(lease_);
      const std::string put_body = bj::serialize(put);
      auto answer = co_await client_.Call("/v3/kv/put", put_body);
      if (stopped_.load()) break;
      if (!answer) {
        NoteFailure(answer.error());
        failed = true;
        break;
      }
      if (answer->code == kGrpcNotFound) {
        LoseLease("put: lease not found");
        break;
      }
      if (answer->code != kGrpcOk) {
        NoteFailure(MakeError(Errc::kUnavailable, "put: " + answer->message));
        failed = true;
        break;
      }
      NoteSuccess();
      // Register() may have replaced the value meanwhile: then it stays pending.
      if (values_.at(key) == value) pending_.erase(key);
    }
    if (stopped_.load()) break;
    listed_.store(lease_ != 0 && pending_.empty());
    if (failed) {
      co_await Sleep(backoff_.Next());
      continue;
    }
    if (lease_ == 0 || !pending_.empty()) continue;
    const auto now = SteadyClock::now();
    if (now < next_keepalive_) {
      const Millis until_keepalive =
          std::chrono::duration_cast<Millis>(next_keepalive_ - now) + Millis(1);
      co_await Sleep(until_keepalive);
      continue;
    }
    const std::string keepalive = LeaseJson(lease_);
    auto kept = co_await client_.Call("/v3/lease/keepalive", keepalive);
    if (stopped_.load()) break;
    if (!kept) {
      NoteFailure(kept.error());  // keep the lease: it may outlive a short outage
      co_await Sleep(backoff_.Next());
      continue;
    }
    // The keep-alive is a stream method: the answer is the stream's first message.
    const bj::object* result = &kept->body;
    if (const auto* r = kept->body.if_contains("result"); r != nullptr && r->is_object()) {
      result = &r->as_object();
    }
    const auto left = Int64Field(*result, "TTL").value_or(0);
    if (kept->code != kGrpcOk || left <= 0) {
      LoseLease(kept->code != kGrpcOk ? "keep-alive refused" : "keep-alive: TTL 0");
      continue;
    }
    NoteSuccess();
    next_keepalive_ = SteadyClock::now() + KeepAliveInterval(left);
    keepalives_.fetch_add(1);
  }
  running_ = false;
}

asio::awaitable<Result<void>> EtcdServiceRegistry::Deregister() {
  co_return co_await asio::co_spawn(strand_, DoDeregister(), asio::use_awaitable);
}

asio::awaitable<Result<void>> EtcdServiceRegistry::DoDeregister() {
  const auto self = shared_from_this();
  stopped_.store(true);
  wake_.cancel();
  const std::int64_t lease = lease_;
  lease_ = 0;
  lease_id_.store(0);
  listed_.store(false);
  values_.clear();
  pending_.clear();
  if (lease == 0) co_return Result<void>{};
  const std::string revoke = LeaseJson(lease);
  auto revoked = co_await client_.Call("/v3/lease/revoke", revoke);
  if (!revoked) {
    spdlog::warn("discovery: revoking etcd lease {} failed ({}): its instances go when it runs out",
                 lease, revoked.error().message);
    co_return revoked.error();
  }
  if (revoked->code != kGrpcOk && revoked->code != kGrpcNotFound) {
    co_return MakeError(Errc::kUnavailable, "etcd: lease revoke: " + revoked->message);
  }
  co_return Result<void>{};
}

void EtcdServiceRegistry::Close() {
  stopped_.store(true);
  asio::dispatch(strand_, [self = shared_from_this()] {
    self->wake_.cancel();
    self->client_.Close();
  });
}

}  // namespace rocketmart::discovery::etcd
