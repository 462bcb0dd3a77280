// The mails members receive, rendered from fixed templates. Pure: no I/O. Every template has a
// plain-text and an HTML part (sent as multipart/alternative). Values interpolated into the HTML
// part are escaped; links are built by the caller from the configured public base URL, never from
// a request's Host header.
#pragma once

#include <string>
#include <string_view>

#include "core/clock.hpp"

namespace rocketmart::members {

struct MailMessage {
  std::string to;
  std::string subject;
  std::string text;
  std::string html;
  // The action link in the mail (empty if none). It carries a single-use token: never logged.
  std::string link;
};

MailMessage VerificationMail(std::string_view to, std::string_view name, std::string_view link,
                             int ttl_hours);
MailMessage ResetMail(std::string_view to, std::string_view link, int ttl_minutes);
// Sent instead of a verification mail when someone signs up with an address already registered,
// so signup answers the same for new and taken addresses (no enumeration) and the owner learns of
// the attempt.
MailMessage SignupAttemptMail(std::string_view to, std::string_view reset_page_url);

// Serialized form stored (sealed) in the mail outbox, and back.
std::string EncodeMail(const MailMessage& mail);
bool DecodeMail(std::string_view encoded, MailMessage& mail);

// A complete RFC 5322 message (CRLF line endings): headers, then multipart/alternative text+HTML.
std::string RenderRfc5322(const MailMessage& mail, std::string_view from, TimePoint date,
                          std::string_view message_id);

std::string HtmlEscape(std::string_view text);

}  // namespace rocketmart::members
