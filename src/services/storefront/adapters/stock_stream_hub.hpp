// The live stock stream (Server-Sent Events): many open streams, one reader of the stock.
//
// How a change travels: the purchase path changes an admission counter and notifies checkout's
// ChangeSignal (a fence and a flag read; no lock, no allocation, no I/O). The first notification
// after the hub armed the signal posts one task to the hub's own thread (`stock-stream`), which
// waits until `min_interval` has passed since its previous look, re-arms the signal, reads the
// stock and sale state of every product some stream watches (memory only, through StockReader)
// and, if anything changed, publishes an immutable snapshot: one task per I/O thread, which wakes
// the streams of that thread that watch a changed product. Each stream then writes its events on
// its own connection coroutine. A busy drop therefore costs at most one look per `min_interval`
// whatever the purchase rate, and an idle server (or one without streams) does nothing.
//
// Event ids are one sequence per process, starting at the boot time in microseconds so that ids
// of an earlier process are older than every id of this one. A stream resumed with Last-Event-ID
// gets only the products whose figures changed after that id (all of them if the id is not one
// of this process's). Heartbeat comments keep proxies from closing quiet streams and let the
// server notice a client that left without closing.
//
// Thread-safety: Reserve/Serve from the I/O threads; Start/Stop from the owner.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/change_signal.hpp"
#include "core/clock.hpp"
#include "infra/http/types.hpp"
#include "infra/metrics/metrics.hpp"
#include "services/storefront/ports/stock_reader.hpp"

namespace rocketmart::storefront {

struct StreamOptions {
  std::size_t max_streams = 10000;             // open streams; more are refused (503 OVERLOADED)
  std::chrono::milliseconds min_interval{50};  // least time between two looks at the stock
  std::chrono::milliseconds heartbeat{15000};
  std::chrono::milliseconds retry{2000};  // the reconnect delay the stream tells browsers
  std::size_t max_products = 50;          // products one stream may watch
};

class StockStreamHub {
 public:
  StockStreamHub(const StockReader& reader, ChangeSignal& signal, const Clock& clock,
                 StreamOptions options, metrics::Registry& metrics);
  ~StockStreamHub();
  StockStreamHub(const StockStreamHub&) = delete;
  StockStreamHub& operator=(const StockStreamHub&) = delete;

  void Start();
  // Stops the hub's thread; open streams get no more events (the server's drain ends them).
  void Stop();

  // A place among the open streams, held by one stream for its life; nullptr past max_streams.
  std::shared_ptr<const void> Reserve();
  // Serves one stream on the calling connection's executor until the client leaves.
  boost::asio::awaitable<void> Serve(std::vector<std::int64_t> products,
                                     std::uint64_t last_event_id, http::StreamWriter& writer);

  const StreamOptions& options() const { return options_; }
  std::size_t open_streams() const { return open_->load(std::memory_order_relaxed); }

 private:
  // One product's figures and its event, rendered once for every stream that sends it.
  struct Entry {
    Entry(StockFigures f, std::uint64_t s) : figures(f), seq(s) { AppendStockEvent(event, seq, f); }
    StockFigures figures;
    std::uint64_t seq = 0;
    std::string event;
  };
  struct Snapshot {
    std::uint64_t seq = 0;
    std::unordered_map<std::int64_t, Entry> entries;
    std::chrono::steady_clock::time_point published{};
  };
  struct Subscriber;
  struct Group;

  void Wake();  // any thread
  void ScheduleLook();
  void Look();
  std::shared_ptr<Group> GroupFor(const boost::asio::any_io_executor& executor);
  StockFigures ReadNow(std::int64_t product_id) const;

  const StockReader& reader_;
  ChangeSignal& signal_;
  const Clock& clock_;
  const StreamOptions options_;
  const std::uint64_t first_seq_;

  boost::asio::io_context ioc_{1};
  boost::asio::steady_timer look_timer_{ioc_};
  boost::asio::steady_timer boundary_timer_{ioc_};
  std::thread thread_;
  bool look_scheduled_ = false;  // hub thread only
  std::chrono::steady_clock::time_point last_look_{};
  std::uint64_t seq_;  // hub thread only

  mutable std::mutex mutex_;                               // guards the three below
  std::unordered_map<std::int64_t, std::size_t> watched_;  // product -> streams watching it
  std::shared_ptr<const Snapshot> current_;
  std::vector<std::shared_ptr<Group>> groups_;  // one per I/O thread that ever had a stream

  // Shared with the tickets: a stream torn down after the hub (a connection still open when the
  // server's threads stop) gives its place back to a counter that still exists.
  std::shared_ptr<std::atomic<std::size_t>> open_ = std::make_shared<std::atomic<std::size_t>>(0);
  metrics::Counter& events_;
  metrics::Counter& rejected_;
  metrics::Counter& looks_;
  metrics::Histogram& delay_;
};

}  // namespace rocketmart::storefront
