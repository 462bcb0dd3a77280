// Port: the durable mail outbox, drained by the mail worker. Mails are queued by the repository's
// writes (ports/member_repository.hpp), in the transaction of the change that causes them; this
// port is the worker's side. The contract is tests/contract/members/mail_outbox_contract.hpp.
//
// Several workers (one per instance) may drain one outbox: a worker claims the mails it is about
// to send, in the transaction that reads them, until a lease ends; nobody else gets them before
// then, so a mail is sent once. A worker that dies mid-send leaves its claim to expire, and the
// mail is sent by whoever claims it next (at least once: a crash between the transport's
// acceptance and Complete sends it again). One convention: awaitable, Result/Status. Thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace rocketmart::members {

struct OutboxMail {
  std::int64_t id = 0;
  std::string sealed;  // sealed with the context "mail" (FieldCipher)
  int attempts = 0;    // failed attempts before this one
  std::string claim;   // who holds it
};

class MailOutbox {
 public:
  virtual ~MailOutbox() = default;
  // Claims up to `limit` mails that are due at `now` (never tried, or their retry time came) and
  // that nobody holds (no claim, or its lease ended before `now`), oldest first, each until
  // `lease_until`. With nothing to claim it writes nothing (the worker is woken by every write).
  virtual boost::asio::awaitable<Result<std::vector<OutboxMail>>> Claim(TimePoint now,
                                                                        TimePoint lease_until,
                                                                        std::size_t limit) = 0;
  // The transport took it (or it can never be sent): the mail and the link it carries are gone.
  virtual boost::asio::awaitable<Status> Complete(OutboxMail mail) = 0;
  // The transport failed: one more attempt counted, the claim released, due again at
  // `next_attempt`. kConflict, and nothing changes, when `mail.claim` no longer holds it.
  virtual boost::asio::awaitable<Status> Reschedule(OutboxMail mail, TimePoint next_attempt,
                                                    std::string error) = 0;
};

}  // namespace rocketmart::members
