// Buyers for the fault batteries over HTTP (tests/faults/): many members buying one unit of one
// product each on their own threads while a dependency fails under them, every answer recorded
// (when it was sent, how long it took, its status, Retry-After, its error code).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/http_client.hpp"
#include "support/server_process.hpp"

namespace rocketmart::testing {

struct SaleAnswer {
  std::chrono::steady_clock::time_point sent;
  std::chrono::steady_clock::duration took{};
  int status = 0;  // -1: the connection broke (an indefinite answer)
  bool retry_after = false;
  std::string code;           // the error code of a 4xx/5xx
  std::int64_t order_id = 0;  // of a 201
};

// One POST /payment/request of one unit, timed.
inline SaleAnswer AskToBuy(HttpClient& client, std::int64_t product, const std::string& token) {
  const std::string body = R"({"productId":)" + std::to_string(product) + R"(,"amount":1})";
  SaleAnswer a;
  a.sent = std::chrono::steady_clock::now();
  HttpResponse r = client.PostJson("/payment/request", body, token);
  a.took = std::chrono::steady_clock::now() - a.sent;
  a.status = r.status;
  a.retry_after = !r.Header("Retry-After").empty();
  if (r.status >= 400) a.code = r.ErrorCode();
  if (r.status == 201) a.order_id = r.Json().at("orderId").as_int64();
  return a;
}

// Members [first, first + count) buying one unit each, on `threads` threads, until Stop() or out
// of members. A member keeps asking while the answer is 503 or the connection broke (after
// `retry_pause`, sooner than Retry-After: the test is eager), then the next member comes.
class SaleBuyers {
 public:
  SaleBuyers(ServerProcess& server, std::int64_t product, std::int64_t first, int count,
             int threads = 16,
             std::chrono::milliseconds retry_pause = std::chrono::milliseconds(50))
      : server_(server),
        product_(product),
        first_(first),
        count_(count),
        retry_pause_(retry_pause) {
    for (int m = 0; m < count; ++m) tokens_.push_back(server.FastToken(first + m));
    for (int t = 0; t < threads; ++t) threads_.emplace_back([this] { Run(); });
  }
  ~SaleBuyers() { Stop(); }
  SaleBuyers(const SaleBuyers&) = delete;
  SaleBuyers& operator=(const SaleBuyers&) = delete;

  void Stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  int sales() const { return sales_.load(); }
  bool sold_out() const { return sold_out_.load(); }
  std::vector<SaleAnswer> answers() const {
    std::lock_guard lock(mutex_);
    return answers_;
  }
  // The order ids of the 201s.
  std::set<std::int64_t> acknowledged() const {
    std::lock_guard lock(mutex_);
    return acknowledged_;
  }
  // Member id -> 201s received.
  std::map<std::int64_t, int> wins() const {
    std::lock_guard lock(mutex_);
    return wins_;
  }
  // Sales whose 201 was sent at or after `t`.
  int SalesSince(std::chrono::steady_clock::time_point t) const {
    std::lock_guard lock(mutex_);
    return static_cast<int>(
        std::count_if(answers_.begin(), answers_.end(),
                      [&](const SaleAnswer& a) { return a.status == 201 && a.sent >= t; }));
  }

 private:
  void Run() {
    auto client = std::make_unique<HttpClient>(server_.port());
    int member = -1;
    while (!stop_) {
      if (member < 0) member = next_.fetch_add(1);
      if (member >= count_) break;
      SaleAnswer a;
      try {
        a = AskToBuy(*client, product_, tokens_[static_cast<std::size_t>(member)]);
      } catch (const std::exception&) {
        a.status = -1;
        client = std::make_unique<HttpClient>(server_.port());
      }
      {
        std::lock_guard lock(mutex_);
        answers_.push_back(a);
        if (a.status == 201) {
          acknowledged_.insert(a.order_id);
          ++wins_[first_ + member];
          sales_.fetch_add(1);
        }
      }
      if (a.status == 409 && a.code == "SOLD_OUT") sold_out_ = true;
      if (a.status == 503 || a.status < 0) {
        std::this_thread::sleep_for(retry_pause_);
      } else {
        member = -1;
      }
    }
  }

  ServerProcess& server_;
  const std::int64_t product_;
  const std::int64_t first_;
  const int count_;
  const std::chrono::milliseconds retry_pause_;
  std::vector<std::string> tokens_;
  std::atomic<bool> stop_{false};
  std::atomic<int> next_{0};
  std::atomic<int> sales_{0};
  std::atomic<bool> sold_out_{false};
  mutable std::mutex mutex_;
  std::vector<SaleAnswer> answers_;
  std::set<std::int64_t> acknowledged_;
  std::map<std::int64_t, int> wins_;
  std::vector<std::thread> threads_;
};

}  // namespace rocketmart::testing
