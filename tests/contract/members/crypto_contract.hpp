// Contracts of the two crypto ports members relies on, checked only through the ports.
//
// PasswordHasher (ports/password_hasher.hpp): a hash verifies its own password and no other; two
// hashes of one password differ (salted) and never contain it; with no stored hash the answer is
// "no match" (a dummy is verified instead); a hash made with weaker parameters than the current
// ones is reported as needing a rehash; a full queue answers kOverloaded at once instead of
// queueing without bound.
//
// FieldCipher (ports/field_cipher.hpp): Open(Seal(x, c), c) == x; a ciphertext does not open
// under another context, another key, or with any byte changed; two seals of one value differ.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "infra/async/run.hpp"
#include "services/members/ports/field_cipher.hpp"
#include "services/members/ports/password_hasher.hpp"

namespace rocketmart::members::contract {

class HasherFixture {
 public:
  virtual ~HasherFixture() = default;
  virtual PasswordHasher& Current() = 0;
  // Hashes that Current() considers weaker than its own parameters.
  virtual PasswordHasher& Weaker() = 0;
  // A hasher with a queue of one, slow enough that a burst of requests fills it.
  virtual PasswordHasher& OneSlot() = 0;
};
using HasherFactory = std::unique_ptr<HasherFixture> (*)();

class PasswordHasherContract : public ::testing::TestWithParam<HasherFactory> {
 protected:
  void SetUp() override { fixture_ = GetParam()(); }
  static std::string Hash(PasswordHasher& hasher, std::string password) {
    auto h = async::RunToCompletion(hasher.Hash(std::move(password)));
    EXPECT_TRUE(h.ok());
    return h.ok() ? *h : std::string();
  }
  static PasswordCheck Verify(PasswordHasher& hasher, std::optional<std::string> hash,
                              std::string password) {
    auto c = async::RunToCompletion(hasher.Verify(std::move(hash), std::move(password)));
    EXPECT_TRUE(c.ok());
    return c.ok() ? *c : PasswordCheck{};
  }
  std::unique_ptr<HasherFixture> fixture_;
};

// A free coroutine (not a capturing lambda): its arguments live in the coroutine frame.
inline boost::asio::awaitable<void> HashInto(PasswordHasher& hasher, std::vector<Errc>* failures,
                                             int* ok) {
  auto h = co_await hasher.Hash("correct horse battery");
  if (h.ok()) {
    ++*ok;
  } else {
    failures->push_back(h.error().code);
  }
}

TEST_P(PasswordHasherContract, AHashVerifiesItsPasswordAndNoOther) {
  PasswordHasher& h = fixture_->Current();
  // Exactly as received: no truncation, no case folding, the 80th character counts.
  const std::string password = std::string(79, 'p') + "X" + std::string(20, 'q');
  const std::string hash = Hash(h, password);
  EXPECT_TRUE(Verify(h, hash, password).match);
  EXPECT_FALSE(Verify(h, hash, std::string(79, 'p') + "x" + std::string(20, 'q')).match);
  EXPECT_FALSE(Verify(h, hash, password.substr(0, 72)).match);
  EXPECT_FALSE(Verify(h, hash, "").match);
  EXPECT_FALSE(Verify(h, hash, password).needs_rehash);
}

TEST_P(PasswordHasherContract, HashesAreSaltedAndNeverContainThePassword) {
  PasswordHasher& h = fixture_->Current();
  const std::string a = Hash(h, "correct horse battery");
  const std::string b = Hash(h, "correct horse battery");
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find("correct horse battery"), std::string::npos);
  EXPECT_TRUE(Verify(h, b, "correct horse battery").match);
}

TEST_P(PasswordHasherContract, NoStoredHashNeverMatches) {
  PasswordHasher& h = fixture_->Current();
  EXPECT_FALSE(Verify(h, std::nullopt, "").match);
  EXPECT_FALSE(Verify(h, std::nullopt, "correct horse battery").match);
}

TEST_P(PasswordHasherContract, AWeakerHashVerifiesAndAsksForARehash) {
  const std::string weak = Hash(fixture_->Weaker(), "correct horse battery");
  const PasswordCheck check = Verify(fixture_->Current(), weak, "correct horse battery");
  EXPECT_TRUE(check.match);
  EXPECT_TRUE(check.needs_rehash);
}

TEST_P(PasswordHasherContract, AFullQueueAnswersOverloadedAtOnce) {
  PasswordHasher& h = fixture_->OneSlot();
  boost::asio::io_context ioc;
  std::vector<Errc> failures;
  int ok = 0;
  for (int i = 0; i < 10; ++i) {
    boost::asio::co_spawn(ioc, HashInto(h, &failures, &ok), boost::asio::detached);
  }
  ioc.run();
  EXPECT_GE(ok, 1);
  EXPECT_GE(failures.size(), 1u);
  EXPECT_EQ(static_cast<int>(failures.size()) + ok, 10);
  for (Errc e : failures) EXPECT_EQ(e, Errc::kOverloaded);
}

class CipherFixture {
 public:
  virtual ~CipherFixture() = default;
  virtual const FieldCipher& Cipher() = 0;
  virtual const FieldCipher& OtherKey() = 0;
};
using CipherFactory = std::unique_ptr<CipherFixture> (*)();

class FieldCipherContract : public ::testing::TestWithParam<CipherFactory> {
 protected:
  void SetUp() override { fixture_ = GetParam()(); }
  std::unique_ptr<CipherFixture> fixture_;
};

TEST_P(FieldCipherContract, ASealedValueOpensUnderItsContextOnly) {
  const FieldCipher& c = fixture_->Cipher();
  for (const std::string& value : {std::string("010-1234-5678"), std::string(""),
                                   std::string("서울시 강남구"), std::string(4000, 'a')}) {
    const std::string sealed = c.Seal(value, "member:7:phone");
    if (!value.empty()) {
      EXPECT_EQ(sealed.find(value), std::string::npos);
    }
    EXPECT_EQ(c.Open(sealed, "member:7:phone"), value);
    EXPECT_FALSE(c.Open(sealed, "member:8:phone"));    // another row
    EXPECT_FALSE(c.Open(sealed, "member:7:address"));  // another field
  }
}

TEST_P(FieldCipherContract, TamperedOrForeignCiphertextsDoNotOpen) {
  const FieldCipher& c = fixture_->Cipher();
  const std::string sealed = c.Seal("secret address", "ctx");
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    std::string bad = sealed;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    EXPECT_FALSE(c.Open(bad, "ctx")) << "byte " << i;
  }
  EXPECT_FALSE(c.Open(sealed.substr(0, sealed.size() - 1), "ctx"));
  EXPECT_FALSE(c.Open("", "ctx"));
  EXPECT_FALSE(fixture_->OtherKey().Open(sealed, "ctx"));
}

TEST_P(FieldCipherContract, TwoSealsOfOneValueDiffer) {
  const FieldCipher& c = fixture_->Cipher();
  EXPECT_NE(c.Seal("same", "ctx"), c.Seal("same", "ctx"));
}

}  // namespace rocketmart::members::contract
