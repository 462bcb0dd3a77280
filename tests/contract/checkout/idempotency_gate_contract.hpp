// Contract of IdempotencyGate (services/checkout/ports/idempotency_gate.hpp), checked only through
// the port.
//
// The promise: of N parallel requests entering with one member's key and request, exactly one is
// first and the others are duplicates; the same key with another request is a mismatch while the
// first is in flight; a duplicate's wait ends when the first leaves (or at its bound, answering
// false); after the first left, the key enters first again.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "contract/checkout/contract_support.hpp"
#include "services/checkout/ports/idempotency_gate.hpp"

namespace rocketmart::checkout::contract {

using IdempotencyGateFactory = std::unique_ptr<IdempotencyGate> (*)();

class IdempotencyGateContract : public ::testing::TestWithParam<IdempotencyGateFactory> {
 protected:
  using Role = IdempotencyGate::Role;
  void SetUp() override { gate_ = GetParam()(); }
  std::unique_ptr<IdempotencyGate> gate_;
};

TEST_P(IdempotencyGateContract, ExactlyOneOfNParallelRequestsIsFirst) {
  constexpr int kThreads = 12;
  std::barrier start(kThreads);
  std::atomic<int> first{0}, duplicates{0};
  std::mutex mu;
  std::vector<IdempotencyGate::Ticket> tickets;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      const IdempotencyGate::Ticket t = Await(gate_->Enter(7, "k", "hash"));
      if (t.role == Role::kFirst) ++first;
      if (t.role == Role::kDuplicate) ++duplicates;
      std::lock_guard lock(mu);
      tickets.push_back(t);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(first.load(), 1);
  EXPECT_EQ(duplicates.load(), kThreads - 1);
  for (const auto& t : tickets) {
    if (t.role == Role::kFirst) gate_->Leave(7, "k", t);
  }
}

TEST_P(IdempotencyGateContract, AnotherRequestWithTheKeyIsAMismatchWhileTheFirstIsInFlight) {
  const auto first = Await(gate_->Enter(7, "k", "hash"));
  ASSERT_EQ(first.role, Role::kFirst);
  EXPECT_EQ(Await(gate_->Enter(7, "k", "other")).role, Role::kMismatch);
  EXPECT_EQ(Await(gate_->Enter(8, "k", "other")).role, Role::kFirst) << "keys are per member";
  gate_->Leave(7, "k", first);
  const auto again = Await(gate_->Enter(7, "k", "other"));
  EXPECT_EQ(again.role, Role::kFirst) << "a key whose first left enters first again";
  gate_->Leave(7, "k", again);
}

TEST_P(IdempotencyGateContract, ADuplicatesWaitEndsWhenTheFirstLeavesOrAtItsBound) {
  const auto first = Await(gate_->Enter(7, "k", "hash"));
  const auto duplicate = Await(gate_->Enter(7, "k", "hash"));
  ASSERT_EQ(duplicate.role, Role::kDuplicate);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(Await(gate_->Wait(duplicate, std::chrono::milliseconds(30))));
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(30));
  std::atomic<bool> woke{false};
  std::thread waiter([&] { woke = Await(gate_->Wait(duplicate, std::chrono::seconds(30))); });
  std::this_thread::sleep_for(
      std::chrono::milliseconds(20));  // let it park (not a correctness wait)
  gate_->Leave(7, "k", first);
  waiter.join();
  EXPECT_TRUE(woke.load());
  EXPECT_TRUE(Await(gate_->Wait(duplicate, std::chrono::seconds(30)))) << "left already";
}

}  // namespace rocketmart::checkout::contract
