// Contract of IdempotencyGate (services/checkout/ports/idempotency_gate.hpp), checked only through
// the port.
//
// The promise: a key is held from its first request's Enter until that request leaves; of N
// parallel requests entering with one member's key and request, exactly one is first and the others
// are duplicates; the same key with another request is a mismatch while the first is in flight; a
// duplicate's wait ends when the first leaves (or at its bound, answering false); after the first
// left, the key enters first again, and a late Leave of an old ticket never releases a newer
// request. A gate shared by instances (Redis) keeps all of this across instances: a duplicate
// entering a second instance while the first holds the key on the first instance waits for it
// there; a gate of one instance (in memory) orders only what meets in it.
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

class IdempotencyGateFixture {
 public:
  virtual ~IdempotencyGateFixture() = default;
  // A gate over the fixture's storage: the first call the first instance's, each further call
  // another checkout instance's.
  virtual IdempotencyGate& Open() = 0;
  // Whether the instances Open() returns share what is in flight (Redis), or each orders only
  // its own requests (in memory: the embedded deployment's one instance).
  virtual bool SharedByInstances() const = 0;
  // Returns once what any instance sent without waiting (Leave) took effect. Nothing in memory.
  virtual void Sync() {}
};

using IdempotencyGateFactory = std::unique_ptr<IdempotencyGateFixture> (*)();

class IdempotencyGateContract : public ::testing::TestWithParam<IdempotencyGateFactory> {
 protected:
  using Role = IdempotencyGate::Role;
  void SetUp() override {
    fixture_ = GetParam()();
    gate_ = &fixture_->Open();
  }
  std::unique_ptr<IdempotencyGateFixture> fixture_;
  IdempotencyGate* gate_ = nullptr;
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
  fixture_->Sync();
  const auto again = Await(gate_->Enter(7, "k", "other"));
  EXPECT_EQ(again.role, Role::kFirst) << "a key whose first left enters first again";
  gate_->Leave(7, "k", again);
}

TEST_P(IdempotencyGateContract, AKeyIsHeldFromTheFirstEnterUntilItLeaves) {
  EXPECT_FALSE(Await(gate_->Held(7, "k")));
  const auto first = Await(gate_->Enter(7, "k", "hash"));
  ASSERT_EQ(first.role, Role::kFirst);
  EXPECT_TRUE(Await(gate_->Held(7, "k")));
  EXPECT_FALSE(Await(gate_->Held(8, "k"))) << "keys are per member";
  EXPECT_FALSE(Await(gate_->Held(7, "k2")));
  IdempotencyGate& other = fixture_->Open();
  EXPECT_EQ(Await(other.Held(7, "k")), fixture_->SharedByInstances())
      << "another instance sees it when the gate is shared";
  gate_->Leave(7, "k", first);
  fixture_->Sync();
  EXPECT_FALSE(Await(gate_->Held(7, "k")));
  EXPECT_FALSE(Await(other.Held(7, "k")));
}

TEST_P(IdempotencyGateContract, ALateLeaveOfAnOldTicketNeverReleasesANewerRequest) {
  const auto old_first = Await(gate_->Enter(7, "k", "hash"));
  ASSERT_EQ(old_first.role, Role::kFirst);
  gate_->Leave(7, "k", old_first);
  fixture_->Sync();
  const auto newer = Await(gate_->Enter(7, "k", "newer"));
  ASSERT_EQ(newer.role, Role::kFirst);
  gate_->Leave(7, "k", old_first);  // again, late (a retried release)
  fixture_->Sync();
  EXPECT_EQ(Await(gate_->Enter(7, "k", "newer")).role, Role::kDuplicate)
      << "the newer request still holds the key";
  EXPECT_EQ(Await(gate_->Enter(7, "k", "hash")).role, Role::kMismatch);
  gate_->Leave(7, "k", newer);
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

TEST_P(IdempotencyGateContract, ExactlyOneOfNParallelRequestsOnTwoInstancesIsFirstWhenShared) {
  IdempotencyGate* gates[] = {gate_, &fixture_->Open()};
  constexpr int kThreads = 12;
  std::atomic<int> first{0}, duplicates{0};
  std::mutex mu;
  std::vector<std::pair<int, IdempotencyGate::Ticket>> tickets;
  Together(kThreads, [&](int i) {
    const IdempotencyGate::Ticket t = Await(gates[i % 2]->Enter(7, "k", "hash"));
    if (t.role == Role::kFirst) ++first;
    if (t.role == Role::kDuplicate) ++duplicates;
    std::lock_guard lock(mu);
    tickets.emplace_back(i % 2, t);
  });
  // Shared: one first over both instances. Per instance: one first on each.
  const int expected_first = fixture_->SharedByInstances() ? 1 : 2;
  EXPECT_EQ(first.load(), expected_first);
  EXPECT_EQ(duplicates.load(), kThreads - expected_first);
  for (const auto& [on, t] : tickets) {
    if (t.role == Role::kFirst) gates[on]->Leave(7, "k", t);
  }
}

TEST_P(IdempotencyGateContract, ADuplicateOnASecondInstanceWaitsForTheFirstThereWhenShared) {
  IdempotencyGate& second = fixture_->Open();
  const auto first = Await(gate_->Enter(7, "k", "hash"));
  ASSERT_EQ(first.role, Role::kFirst);
  const auto duplicate = Await(second.Enter(7, "k", "hash"));
  if (!fixture_->SharedByInstances()) {
    // Each instance orders its own requests: the other instance's duplicate is first there (the
    // durable record, claimed in the effect's transaction, then decides).
    EXPECT_EQ(duplicate.role, Role::kFirst);
    second.Leave(7, "k", duplicate);
    gate_->Leave(7, "k", first);
    return;
  }
  ASSERT_EQ(duplicate.role, Role::kDuplicate);
  EXPECT_EQ(Await(second.Enter(7, "k", "other")).role, Role::kMismatch);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(Await(second.Wait(duplicate, std::chrono::milliseconds(30))));
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(30));
  std::atomic<bool> woke{false};
  std::thread waiter([&] { woke = Await(second.Wait(duplicate, std::chrono::seconds(30))); });
  std::this_thread::sleep_for(
      std::chrono::milliseconds(20));  // let it park (not a correctness wait)
  const auto left = std::chrono::steady_clock::now();
  gate_->Leave(7, "k", first);
  waiter.join();
  EXPECT_TRUE(woke.load());
  EXPECT_LT(std::chrono::steady_clock::now() - left, std::chrono::seconds(5))
      << "woken by the Leave, not by its 30 s bound";
  fixture_->Sync();
  const auto next = Await(second.Enter(7, "k", "other"));
  EXPECT_EQ(next.role, Role::kFirst) << "the first left on the other instance";
  second.Leave(7, "k", next);
}

}  // namespace rocketmart::checkout::contract
