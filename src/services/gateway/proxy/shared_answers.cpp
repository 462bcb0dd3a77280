#include "services/gateway/proxy/shared_answers.hpp"

#include <charconv>

#include "infra/http/idempotency_key.hpp"

namespace rocketmart::gateway {

namespace {

// A 2xx answer to anything but a read, unless it replays an earlier answer to the same
// Idempotency-Key (the service marks those): a replay changed nothing now.
bool ChangedSomething(http::Method method, const http::Response& res) {
  const unsigned status = res.result_int();
  if (method == http::Method::get || method == http::Method::head) return false;
  if (status < 200 || status >= 300) return false;
  const auto replayed = res.find("Idempotent-Replayed");
  return replayed == res.end() || replayed->value() != "true";
}

}  // namespace

std::optional<SharedAnswers::Ask> SharedAnswers::Begin(const http::Request& req, TimePoint now,
                                                       bool keyed) const {
  // Only a member's answer is shared: the service's mark speaks for verified members alike.
  if (!req.identity || !req.identity->email_verified) return std::nullopt;
  if (req.raw.body().size() > kMaxRequestBody) return std::nullopt;
  // Present at all, even empty or malformed (the service refuses those): answered here only when
  // the caller checks keys, and only a key the service would take.
  const auto idempotency_key = http::IdempotencyKeyOf(req);
  if (!idempotency_key.ok() || (*idempotency_key && !keyed)) return std::nullopt;
  const std::string_view method = req.raw.method_string();
  const std::string_view target = req.raw.target();
  const std::string_view content_type = req.Header("Content-Type");
  const std::string_view body = req.raw.body();
  Ask ask{.at = now, .generation = generation_.load(std::memory_order_acquire)};
  std::string& key = ask.key;
  key.reserve(method.size() + target.size() + content_type.size() + body.size() + 8);
  key.append(method).append(" ").append(target).append("\n");
  key.append(content_type).append("\n");
  key.append(auth::RoleName(req.identity->role)).append("\n");
  key.append(body);
  if (*idempotency_key) ask.idempotency_key = std::string(**idempotency_key);
  return ask;
}

std::optional<http::Response> SharedAnswers::Find(const Ask& ask) {
  if (size_.load(std::memory_order_relaxed) == 0) return std::nullopt;
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(std::string_view(ask.key));
  if (it == entries_.end()) return std::nullopt;
  if (ask.at >= it->second.expires || it->second.generation < ask.generation) {
    entries_.erase(it);
    size_.store(entries_.size(), std::memory_order_relaxed);
    return std::nullopt;
  }
  // Learned after a change this request came before: not for it (the entry stays for later ones).
  if (it->second.generation != ask.generation) return std::nullopt;
  return it->second.response;
}

void SharedAnswers::Gave() {
  if (answered_ != nullptr) answered_->Add();
}

void SharedAnswers::Learn(const Ask* ask, http::Method method, Millis shared_for,
                          const http::Response& res) {
  if (ChangedSomething(method, res)) {
    // Something changed at the service: an answer held from before may no longer be its answer.
    generation_.fetch_add(1, std::memory_order_acq_rel);
    return;
  }
  if (ask == nullptr || shared_for <= Millis{0}) return;
  // A change answered while the request was at the service: its answer may predate the change.
  const std::uint64_t now_generation = generation_.load(std::memory_order_acquire);
  if (ask->generation != now_generation) return;
  std::lock_guard lock(mutex_);
  if (entries_.size() >= kMaxEntries && !entries_.contains(ask->key)) {
    std::erase_if(entries_, [&](const auto& kv) {
      return ask->at >= kv.second.expires || kv.second.generation != now_generation;
    });
    if (entries_.size() >= kMaxEntries) entries_.clear();
  }
  // Counted from before the request left: never later than the service's own mark ends.
  Entry& entry = entries_[ask->key];
  entry.expires = ask->at + shared_for;
  entry.generation = ask->generation;
  entry.response = res;
  size_.store(entries_.size(), std::memory_order_relaxed);
}

Millis SharedAnswers::MarkOf(const http::Response& res) {
  const auto it = res.find(http::kSharedAnswerHeader);
  if (it == res.end()) return Millis{0};
  const std::string_view value = it->value();
  std::int64_t ms = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
  if (ec != std::errc() || end != value.data() + value.size() || ms < 0) return Millis{0};
  return std::min(Millis(ms), kMaxFor);
}

std::size_t SharedAnswers::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace rocketmart::gateway
