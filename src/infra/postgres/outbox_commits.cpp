#include "infra/postgres/outbox_commits.hpp"

#include <algorithm>
#include <map>
#include <string>

namespace rocketmart::postgres {

std::shared_ptr<OutboxCommits> OutboxCommits::For(std::string_view conninfo) {
  static std::mutex mutex;
  static auto* const by_database = new std::map<std::string, std::shared_ptr<OutboxCommits>,
                                                std::less<>>();  // never destroyed: no exit order
  std::lock_guard lock(mutex);
  const auto it = by_database->find(conninfo);
  if (it != by_database->end()) return it->second;
  auto made = std::make_shared<OutboxCommits>();
  by_database->emplace(std::string(conninfo), made);
  return made;
}

std::uint64_t OutboxCommits::Listen(std::function<void()> listener) {
  std::lock_guard lock(mutex_);
  const std::uint64_t id = next_id_++;
  listeners_.emplace_back(id, std::move(listener));
  return id;
}

void OutboxCommits::Unlisten(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  std::erase_if(listeners_, [id](const auto& l) { return l.first == id; });
}

void OutboxCommits::Announce() {
  std::lock_guard lock(mutex_);
  for (const auto& [id, listener] : listeners_) listener();
}

}  // namespace rocketmart::postgres
