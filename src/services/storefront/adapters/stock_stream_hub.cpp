#include "services/storefront/adapters/stock_stream_hub.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/thread_name.hpp"

namespace rocketmart::storefront {

namespace asio = boost::asio;

namespace {
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

std::uint64_t BootSequence(const Clock& clock) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(clock.Now().time_since_epoch()).count();
  return micros > 0 ? static_cast<std::uint64_t>(micros) : 1;
}
}  // namespace

// One open stream, living in its Serve() frame; touched only on its connection's thread.
struct StockStreamHub::Subscriber {
  asio::steady_timer timer;
  const std::vector<std::int64_t>& products;
  std::uint64_t sent_seq = 0;

  bool Wants(const Snapshot& snapshot) const {
    for (std::int64_t id : products) {
      auto it = snapshot.entries.find(id);
      if (it != snapshot.entries.end() && it->second.seq > sent_seq) return true;
    }
    return false;
  }
};

// The streams of one I/O thread and the latest snapshot that thread has seen. `subscribers` and
// `latest` are touched only on that thread (the hub posts its updates there).
struct StockStreamHub::Group {
  asio::any_io_executor executor;
  std::vector<Subscriber*> subscribers;
  std::shared_ptr<const Snapshot> latest;
};

StockStreamHub::StockStreamHub(const StockReader& reader, ChangeSignal& signal, const Clock& clock,
                               StreamOptions options, metrics::Registry& metrics)
    : reader_(reader),
      signal_(signal),
      clock_(clock),
      options_(options),
      first_seq_(BootSequence(clock)),
      seq_(first_seq_),
      current_(std::make_shared<Snapshot>(Snapshot{first_seq_, {}})),
      events_(metrics.GetCounter("storefront_stream_events_total",
                                 "Stock events written to live stock streams")),
      rejected_(metrics.GetCounter("storefront_streams_rejected_total",
                                   "Live stock streams refused: storefront.max_streams reached")),
      looks_(metrics.GetCounter("storefront_stream_looks_total",
                                "Times the stream hub read the stock after a change")),
      delay_(
          metrics.GetHistogram("storefront_stream_delay_seconds",
                               "From a stock change's snapshot to its event written on a stream")) {
  metrics.AddGauge("storefront_streams_open", "Open live stock streams", "",
                   [this] { return static_cast<double>(open_streams()); });
  signal_.SetWake([this] { Wake(); });
}

StockStreamHub::~StockStreamHub() {
  Stop();
  signal_.SetWake(nullptr);
}

void StockStreamHub::Start() {
  thread_ = std::thread([this] {
    NameThisThread("stock-stream");
    auto guard = asio::make_work_guard(ioc_);
    ioc_.run();
  });
}

void StockStreamHub::Stop() {
  ioc_.stop();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const void> StockStreamHub::Reserve() {
  if (open_->fetch_add(1, std::memory_order_relaxed) >= options_.max_streams) {
    open_->fetch_sub(1, std::memory_order_relaxed);
    rejected_.Add();
    return nullptr;
  }
  return std::shared_ptr<const void>(
      open_.get(), [open = open_](const void*) { open->fetch_sub(1, std::memory_order_relaxed); });
}

void StockStreamHub::Wake() {
  asio::post(ioc_, [this] { ScheduleLook(); });
}

void StockStreamHub::ScheduleLook() {
  if (look_scheduled_) return;
  look_scheduled_ = true;
  look_timer_.expires_at(
      std::max(std::chrono::steady_clock::now(), last_look_ + options_.min_interval));
  look_timer_.async_wait([this](const boost::system::error_code&) {
    look_scheduled_ = false;
    Look();
  });
}

StockFigures StockStreamHub::ReadNow(std::int64_t product_id) const {
  auto reading = reader_.Read(product_id);
  return reading ? reading->figures : StockFigures{product_id, std::nullopt, SaleState::kNone};
}

void StockStreamHub::Look() {
  last_look_ = std::chrono::steady_clock::now();
  std::vector<std::int64_t> watched;
  {
    std::lock_guard lock(mutex_);
    watched.reserve(watched_.size());
    for (const auto& [id, count] : watched_) watched.push_back(id);
  }
  // Nobody watches: leave the signal pending, so the purchase path never calls us.
  if (watched.empty()) return;
  looks_.Add();
  signal_.Arm();  // Before reading: a change from now on wakes us again.
  std::vector<StockFigures> readings;
  readings.reserve(watched.size());
  std::optional<TimePoint> boundary;
  for (std::int64_t id : watched) {
    auto reading = reader_.Read(id);
    readings.push_back(reading ? reading->figures
                               : StockFigures{id, std::nullopt, SaleState::kNone});
    if (reading && reading->next_state_change &&
        (!boundary || *reading->next_state_change < *boundary)) {
      boundary = reading->next_state_change;
    }
  }
  std::shared_ptr<const Snapshot> next;
  std::vector<std::shared_ptr<Group>> groups;
  {
    std::lock_guard lock(mutex_);
    auto updated = std::make_shared<Snapshot>();
    bool changed = false;
    for (const StockFigures& figures : readings) {
      auto it = current_->entries.find(figures.product_id);
      if (it != current_->entries.end() && it->second.figures == figures) {
        updated->entries.emplace(figures.product_id, it->second);
      } else {
        updated->entries.emplace(figures.product_id, Entry{figures, ++seq_});
        changed = true;
      }
    }
    // Products a stream started watching while we read keep the entry it made.
    for (const auto& [id, entry] : current_->entries) {
      if (watched_.count(id) != 0) updated->entries.emplace(id, entry);
    }
    updated->seq = seq_;
    updated->published = std::chrono::steady_clock::now();
    current_ = updated;
    next = std::move(updated);
    if (changed) groups = groups_;
  }
  for (const auto& group : groups) {
    asio::post(group->executor, [group, next] {
      group->latest = next;
      for (Subscriber* s : group->subscribers) {
        if (s->Wants(*next)) s->timer.cancel();
      }
    });
  }
  // A sale that opens or closes by the clock alone changes its state without a stock change.
  if (boundary) {
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(*boundary - clock_.Now());
    boundary_timer_.expires_after(std::max(wait, std::chrono::milliseconds(0)) +
                                  std::chrono::milliseconds(5));
    boundary_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) ScheduleLook();
    });
  } else {
    boundary_timer_.cancel();
  }
}

std::shared_ptr<StockStreamHub::Group> StockStreamHub::GroupFor(
    const asio::any_io_executor& executor) {
  std::lock_guard lock(mutex_);
  for (const auto& g : groups_) {
    if (g->executor == executor) return g;
  }
  auto group = std::make_shared<Group>();
  group->executor = executor;
  group->latest = current_;
  groups_.push_back(group);
  return group;
}

asio::awaitable<void> StockStreamHub::Serve(std::vector<std::int64_t> products,
                                            std::uint64_t last_event_id,
                                            http::StreamWriter& writer) {
  const auto executor = co_await asio::this_coro::executor;
  const std::shared_ptr<Group> group = GroupFor(executor);
  std::shared_ptr<const Snapshot> snapshot;
  bool unseen = false;
  {
    std::lock_guard lock(mutex_);
    std::shared_ptr<Snapshot> grown;
    for (std::int64_t id : products) {
      if (watched_[id]++ == 0) unseen = true;
      if (current_->entries.count(id) == 0) {
        // Nobody watched it: read it now (memory) and give it an event id of this process.
        if (!grown) grown = std::make_shared<Snapshot>(*current_);
        grown->entries.emplace(id, Entry{ReadNow(id), ++seq_});
        grown->seq = seq_;
        grown->published = std::chrono::steady_clock::now();
      }
    }
    if (grown) current_ = std::move(grown);
    snapshot = current_;
  }
  // A product nobody watched yet: the hub starts looking at it (and arms the signal).
  if (unseen) Wake();

  Subscriber sub{asio::steady_timer(executor), products, snapshot->seq};
  group->subscribers.push_back(&sub);
  writer.OnClose([&sub] { sub.timer.cancel(); });

  // First the figures the client does not have: all of them, or on a resume those that changed
  // after its last event id (an id from another process resumes nothing).
  const bool resume = last_event_id >= first_seq_ && last_event_id <= snapshot->seq;
  std::string out = "retry: " + std::to_string(options_.retry.count()) + "\n\n";
  std::uint64_t events = 0;
  // What this client was last sent, per product: it never gets the same figures twice in a row.
  std::vector<std::optional<StockFigures>> sent(products.size());
  for (std::size_t i = 0; i < products.size(); ++i) {
    auto it = snapshot->entries.find(products[i]);
    if (it != snapshot->entries.end() && (!resume || it->second.seq > last_event_id)) {
      sent[i] = it->second.figures;
      out += it->second.event;
      ++events;
    }
  }
  bool open = co_await writer.Write(out);
  events_.Add(events);

  while (open && !writer.closed()) {
    const std::shared_ptr<const Snapshot> latest = group->latest;
    if (latest && latest->seq > sub.sent_seq) {
      out.clear();
      events = 0;
      for (std::size_t i = 0; i < products.size(); ++i) {
        auto it = latest->entries.find(products[i]);
        if (it != latest->entries.end() && it->second.seq > sub.sent_seq &&
            sent[i] != it->second.figures) {
          sent[i] = it->second.figures;
          out += it->second.event;
          ++events;
        }
      }
      sub.sent_seq = latest->seq;
      if (!out.empty()) {
        open = co_await writer.Write(out);
        events_.Add(events);
        delay_.ObserveMicros(
            static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                           std::chrono::steady_clock::now() - latest->published)
                                           .count()));
      }
      continue;
    }
    sub.timer.expires_after(options_.heartbeat);
    auto [ec] = co_await sub.timer.async_wait(kNoThrow);
    if (!ec && !writer.closed()) open = co_await writer.Write(":\n\n");
  }

  group->subscribers.erase(std::find(group->subscribers.begin(), group->subscribers.end(), &sub));
  writer.OnClose({});
  std::lock_guard lock(mutex_);
  for (std::int64_t id : products) {
    auto it = watched_.find(id);
    if (it != watched_.end() && --it->second == 0) watched_.erase(it);
  }
}

}  // namespace rocketmart::storefront
