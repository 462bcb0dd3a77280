// The storefront's web rules and the live stock stream hub (its own thread, a real io_context
// standing in for a connection's thread, a writer that records what a client would receive).
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "core/change_signal.hpp"
#include "core/time_format.hpp"
#include "services/storefront/adapters/stock_stream_hub.hpp"
#include "services/storefront/domain/web.hpp"
#include "support/wait.hpp"

namespace rocketmart::storefront {
namespace {

using namespace std::chrono_literals;

TEST(ChooseEncoding, PrefersBrotliThenGzipAndHonoursQZero) {
  EXPECT_EQ(ChooseEncoding("gzip, deflate, br", true, true), Encoding::kBrotli);
  EXPECT_EQ(ChooseEncoding("gzip, deflate, br", true, false), Encoding::kGzip);
  EXPECT_EQ(ChooseEncoding("gzip", true, true), Encoding::kGzip);
  EXPECT_EQ(ChooseEncoding("", true, true), Encoding::kIdentity);
  EXPECT_EQ(ChooseEncoding("br;q=0, gzip;q=0.5", true, true), Encoding::kGzip);
  EXPECT_EQ(ChooseEncoding("gzip;q=0", true, false), Encoding::kIdentity);
  EXPECT_EQ(ChooseEncoding("*", true, true), Encoding::kBrotli);
  EXPECT_EQ(ChooseEncoding("*;q=0, identity", true, true), Encoding::kIdentity);
  EXPECT_EQ(ChooseEncoding("GZIP ; q=1.0", true, false), Encoding::kGzip);
  EXPECT_EQ(ChooseEncoding("gzip;q=0.8, br;q=0.9", true, true), Encoding::kBrotli);
  EXPECT_EQ(ChooseEncoding("gzip;q=0.9, br;q=0.8", true, true), Encoding::kGzip);
  EXPECT_EQ(ChooseEncoding("gzip;q=banana", true, false), Encoding::kIdentity);
}

TEST(ContentTypeFor, KnowsWhatTheBuildEmits) {
  EXPECT_EQ(ContentTypeFor("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("main-ABC123.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("main-ABC123.css"), "text/css; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("logo.svg"), "image/svg+xml");
  EXPECT_EQ(ContentTypeFor("README"), "application/octet-stream");
}

TEST(IsSafeAssetName, RefusesPathsAndDotFiles) {
  EXPECT_TRUE(IsSafeAssetName("main-ABC123.js"));
  EXPECT_FALSE(IsSafeAssetName(".env"));
  EXPECT_FALSE(IsSafeAssetName("..%2fsecret"));
  EXPECT_FALSE(IsSafeAssetName("a/b.js"));
  EXPECT_FALSE(IsSafeAssetName(""));
}

TEST(ParseProductIds, DistinctPositiveIdsWithinTheBound) {
  EXPECT_EQ(*ParseProductIds("1,2,30", 5), (std::vector<std::int64_t>{1, 2, 30}));
  EXPECT_FALSE(ParseProductIds("", 5).ok());
  EXPECT_FALSE(ParseProductIds("1,,2", 5).ok());
  EXPECT_FALSE(ParseProductIds("1,1", 5).ok());
  EXPECT_FALSE(ParseProductIds("0", 5).ok());
  EXPECT_FALSE(ParseProductIds("-3", 5).ok());
  EXPECT_FALSE(ParseProductIds("1,2,3", 2).ok());
  EXPECT_FALSE(ParseProductIds("1x", 5).ok());
  EXPECT_EQ(ParseProductIds("a", 5).error().field, "products");
}

TEST(ParseLastEventId, EmptyIsNoneAndGarbageIsRefused) {
  EXPECT_EQ(*ParseLastEventId(""), 0u);
  EXPECT_EQ(*ParseLastEventId("1733000000123456"), 1733000000123456u);
  EXPECT_FALSE(ParseLastEventId("12a").ok());
  EXPECT_FALSE(ParseLastEventId("-1").ok());
}

TEST(AppendStockEvent, WritesOneServerSentEvent) {
  std::string out;
  AppendStockEvent(out, 42, {7, 3, SaleState::kLive, std::nullopt, std::nullopt});
  AppendStockEvent(out, 43,
                   {8, std::nullopt, SaleState::kPreparing, ParseRfc3339("2026-12-01T12:00:00Z"),
                    ParseRfc3339("2026-12-01T13:00:00.500Z")});
  EXPECT_EQ(out,
            "id: 42\nevent: stock\ndata: {\"productId\":7,\"stock\":3,\"state\":\"live\"}\n\n"
            "id: 43\nevent: stock\ndata: {\"productId\":8,\"stock\":null,\"state\":\"preparing\","
            "\"startsAt\":\"2026-12-01T12:00:00Z\",\"endsAt\":\"2026-12-01T13:00:00.500Z\"}\n\n");
}

TEST(ChangeSignal, WakesOncePerArmingAndNeverBeforeTheFirstArm) {
  ChangeSignal signal;
  int wakes = 0;
  signal.SetWake([&] { ++wakes; });
  signal.Notify();
  EXPECT_EQ(wakes, 0) << "nobody listens yet";
  signal.Arm();
  signal.Notify();
  signal.Notify();
  EXPECT_EQ(wakes, 1);
  signal.Arm();
  signal.Notify();
  EXPECT_EQ(wakes, 2);
}

// ---------------------------------------------------------------------------------------------
// The hub.

class FakeReader final : public StockReader {
 public:
  std::optional<StockReading> Read(std::int64_t id) const override {
    std::lock_guard lock(mutex_);
    auto it = stock_.find(id);
    if (it == stock_.end()) return std::nullopt;
    return StockReading{{id, it->second, it->second > 0 ? SaleState::kLive : SaleState::kSoldOut,
                         std::nullopt, std::nullopt},
                        std::nullopt};
  }
  void Set(std::int64_t id, std::int64_t stock) {
    std::lock_guard lock(mutex_);
    stock_[id] = stock;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::int64_t, std::int64_t> stock_;
};

// What one client receives; the test closes it like a browser leaving the page.
class RecordingWriter final : public http::StreamWriter {
 public:
  boost::asio::awaitable<bool> Write(std::string_view data) override {
    {
      std::lock_guard lock(mutex_);
      received_ += data;
    }
    cv_.notify_all();
    co_return !closed_;
  }
  bool closed() const override { return closed_; }
  void OnClose(std::function<void()> on_close) override { on_close_ = std::move(on_close); }
  void Abort() override { Close(); }
  void Close() {  // on the connection's thread
    closed_ = true;
    if (on_close_) on_close_();
  }
  std::string received() const {
    std::lock_guard lock(mutex_);
    return received_;
  }
  // Waits (bounded) until what was received contains `needle`.
  bool WaitFor(const std::string& needle, std::chrono::milliseconds limit = 5s) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, limit, [&] { return received_.find(needle) != std::string::npos; });
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::string received_;
  bool closed_ = false;
  std::function<void()> on_close_;
};

class HubTest : public ::testing::Test {
 protected:
  HubTest() {
    reader_.Set(1, 5);
    reader_.Set(2, 9);
    thread_ = std::thread([this] {
      auto guard = boost::asio::make_work_guard(ioc_);
      ioc_.run();
    });
  }
  ~HubTest() override {
    hub_.reset();
    ioc_.stop();
    thread_.join();
  }
  void MakeHub(StreamOptions options = {}) {
    options.min_interval = 1ms;
    hub_ = std::make_unique<StockStreamHub>(reader_, signal_, clock_, options, metrics_);
    hub_->Start();
  }
  // Opens a stream on the "connection" thread.
  void Open(RecordingWriter& writer, std::vector<std::int64_t> products, std::uint64_t last = 0) {
    auto ticket = hub_->Reserve();
    ASSERT_TRUE(ticket);
    boost::asio::co_spawn(
        ioc_,
        [this, &writer, products, last, ticket]() -> boost::asio::awaitable<void> {
          co_await hub_->Serve(products, last, writer);
          ++finished_;
        },
        boost::asio::detached);
  }
  // Closes like a browser leaving, and waits until the stream has ended (bounded).
  void Close(RecordingWriter& writer) {
    const int before = finished_;
    boost::asio::post(ioc_, [&writer] { writer.Close(); });
    ASSERT_TRUE(rocketmart::testing::WaitUntil([&] { return finished_ > before; }, 5s))
        << "the stream did not end when its client left";
  }
  // A purchase: the stock moves and checkout notifies.
  void Sell(std::int64_t id, std::int64_t stock_after) {
    reader_.Set(id, stock_after);
    signal_.Notify();
  }
  static std::uint64_t LastId(const std::string& text) {
    const auto pos = text.rfind("id: ");
    return std::stoull(text.substr(pos + 4));
  }

  FakeReader reader_;
  ChangeSignal signal_;
  FakeClock clock_;
  metrics::Registry metrics_;
  boost::asio::io_context ioc_{1};
  std::thread thread_;
  std::unique_ptr<StockStreamHub> hub_;
  std::atomic<int> finished_{0};
};

TEST_F(HubTest, SendsTheCurrentStockThenEachChange) {
  MakeHub();
  RecordingWriter w;
  Open(w, {1});
  ASSERT_TRUE(w.WaitFor("\"stock\":5"));
  EXPECT_TRUE(w.received().starts_with("retry: 2000\n\n"));
  // The hub arms the signal once the stream's product is watched; keep selling until then.
  for (std::int64_t left = 4; left >= 0; --left) {
    Sell(1, left);
    ASSERT_TRUE(w.WaitFor("\"stock\":" + std::to_string(left))) << w.received();
  }
  EXPECT_TRUE(w.WaitFor("\"state\":\"soldout\""));
  Close(w);
}

TEST_F(HubTest, EveryStreamOfAProductGetsTheChangeAndOthersDoNot) {
  MakeHub();
  RecordingWriter a, b, other;
  Open(a, {1});
  Open(b, {1, 2});
  Open(other, {2});
  ASSERT_TRUE(a.WaitFor("\"stock\":5"));
  ASSERT_TRUE(other.WaitFor("\"stock\":9"));
  Sell(1, 3);
  ASSERT_TRUE(a.WaitFor("\"stock\":3"));
  ASSERT_TRUE(b.WaitFor("\"stock\":3"));
  std::this_thread::sleep_for(50ms);  // a wrong wake would have arrived by now
  EXPECT_EQ(other.received().find("\"productId\":1"), std::string::npos);
  Close(a);
  Close(b);
  Close(other);
}

TEST_F(HubTest, ResumeWithLastEventIdSendsOnlyWhatChangedSince) {
  MakeHub();
  RecordingWriter first;
  Open(first, {1, 2});
  ASSERT_TRUE(first.WaitFor("\"stock\":9"));
  Sell(1, 4);
  ASSERT_TRUE(first.WaitFor("\"stock\":4"));
  const std::uint64_t last = LastId(first.received());
  Close(first);
  // While the client was away, product 2 sold one.
  RecordingWriter watcher;  // keeps both products watched so the hub sees the change
  Open(watcher, {1, 2});
  ASSERT_TRUE(watcher.WaitFor("\"stock\":9"));
  Sell(2, 8);
  ASSERT_TRUE(watcher.WaitFor("\"stock\":8"));
  RecordingWriter resumed;
  Open(resumed, {1, 2}, last);
  ASSERT_TRUE(resumed.WaitFor("\"stock\":8"));
  EXPECT_EQ(resumed.received().find("\"productId\":1"), std::string::npos)
      << "product 1 did not change after the last event id: " << resumed.received();
  // An id this process never issued resumes nothing: everything is sent.
  RecordingWriter stranger;
  Open(stranger, {1, 2}, 12345);
  ASSERT_TRUE(stranger.WaitFor("\"productId\":1"));
  ASSERT_TRUE(stranger.WaitFor("\"productId\":2"));
  for (auto* w : {&watcher, &resumed, &stranger}) Close(*w);
}

TEST_F(HubTest, RefusesStreamsPastTheBoundAndFreesThePlaceOnClose) {
  StreamOptions options;
  options.max_streams = 2;
  MakeHub(options);
  auto a = hub_->Reserve();
  auto b = hub_->Reserve();
  EXPECT_TRUE(a && b);
  EXPECT_FALSE(hub_->Reserve());
  EXPECT_EQ(hub_->open_streams(), 2u);
  a.reset();
  EXPECT_TRUE(hub_->Reserve());
}

TEST_F(HubTest, AQuietStreamGetsHeartbeatsAndEndsWhenTheClientLeaves) {
  StreamOptions options;
  options.heartbeat = 20ms;
  MakeHub(options);
  RecordingWriter w;
  Open(w, {1});
  ASSERT_TRUE(w.WaitFor(":\n\n:\n\n"));
  Close(w);
  EXPECT_EQ(finished_, 1);
}

TEST_F(HubTest, WithoutStreamsThePurchasePathNeverWakesTheHub) {
  MakeHub();
  for (int i = 0; i < 100; ++i) Sell(1, 5);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(
      metrics_.RenderPrometheus().find("storefront_stream_looks_total 0") != std::string::npos,
      true)
      << metrics_.RenderPrometheus();
}

}  // namespace
}  // namespace rocketmart::storefront
