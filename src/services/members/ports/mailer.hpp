// Port: delivers one mail. Called only by the mail worker's thread (never on a request path), so
// implementations may block up to their timeout. A failure is retried later from the durable
// outbox, so Send must not retry internally for long.
#pragma once

#include <string>

#include "core/result.hpp"
#include "services/members/domain/mail.hpp"

namespace rocketmart::members {

class Mailer {
 public:
  virtual ~Mailer() = default;
  // `message_id` is unique per outbox row (stable across retries). Errc::kUnavailable when the
  // transport failed (retry later); any other error is permanent.
  virtual Status Send(const MailMessage& mail, const std::string& message_id) = 0;
};

}  // namespace rocketmart::members
