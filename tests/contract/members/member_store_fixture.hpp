// The fixture the members store suites share (MemberRepository and MailOutbox are one store: the
// repository's writes queue the mails the outbox hands out). A factory per adapter returns one;
// it owns the storage and every instance opened over it.
#pragma once

#include <memory>

#include "core/clock.hpp"
#include "services/members/ports/mail_outbox.hpp"
#include "services/members/ports/member_repository.hpp"

namespace rocketmart::members::contract {

struct MemberStoreInstance {
  MemberRepository& repository;
  MailOutbox& outbox;
};

class MemberStoreFixture {
 public:
  virtual ~MemberStoreFixture() = default;
  // An instance over the fixture's storage. The first call opens the first; each further call
  // opens another one as a second process would (its own connections and writer).
  virtual MemberStoreInstance Open() = 0;
  virtual FakeClock& clock() = 0;
};

using MemberStoreFactory = std::unique_ptr<MemberStoreFixture> (*)();

}  // namespace rocketmart::members::contract
