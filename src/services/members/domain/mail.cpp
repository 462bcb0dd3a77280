#include "services/members/domain/mail.hpp"

#include <boost/json.hpp>
#include <ctime>

namespace rocketmart::members {
namespace {

std::string Html(std::string_view title, std::string_view body_html) {
  return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + HtmlEscape(title) +
         "</title></head>\n<body style=\"font-family:sans-serif\">\n" + std::string(body_html) +
         "\n<p>Rocket Mart</p>\n</body></html>\n";
}

// Lines of at most 76 characters for the text part: base64 keeps the message 7-bit clean and
// immune to SMTP dot-stuffing and line-length limits whatever the content.
std::string Base64Lines(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t line = 0;
  for (std::size_t i = 0; i < data.size(); i += 3) {
    const auto b0 = static_cast<unsigned char>(data[i]);
    const auto b1 = i + 1 < data.size() ? static_cast<unsigned char>(data[i + 1]) : 0;
    const auto b2 = i + 2 < data.size() ? static_cast<unsigned char>(data[i + 2]) : 0;
    out += kAlphabet[b0 >> 2];
    out += kAlphabet[((b0 & 3) << 4) | (b1 >> 4)];
    out += i + 1 < data.size() ? kAlphabet[((b1 & 15) << 2) | (b2 >> 6)] : '=';
    out += i + 2 < data.size() ? kAlphabet[b2 & 63] : '=';
    line += 4;
    if (line >= 76) {
      out += "\r\n";
      line = 0;
    }
  }
  if (line > 0) out += "\r\n";
  return out;
}

std::string RfcDate(TimePoint t) {
  const std::time_t secs = static_cast<std::time_t>(ToUnixSeconds(t));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

// Subjects are ASCII by construction (fixed templates); a header never carries CR/LF.
std::string HeaderSafe(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c != '\r' && c != '\n') out += c;
  }
  return out;
}

}  // namespace

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

MailMessage VerificationMail(std::string_view to, std::string_view name, std::string_view link,
                             int ttl_hours) {
  MailMessage m;
  m.to = std::string(to);
  m.subject = "Verify your Rocket Mart email address";
  m.link = std::string(link);
  const std::string hours = std::to_string(ttl_hours);
  m.text = "Hello " + std::string(name) +
           ",\n\nPlease confirm your email address by opening this link:\n\n" + std::string(link) +
           "\n\nThe link works once and expires in " + hours +
           " hours. If you did not sign up, ignore this mail.\n\nRocket Mart\n";
  m.html = Html(m.subject, "<p>Hello " + HtmlEscape(name) +
                               ",</p>\n<p>Please confirm your email address:</p>\n<p><a href=\"" +
                               HtmlEscape(link) +
                               "\">Verify my email</a></p>\n<p>The link works "
                               "once and expires in " +
                               hours + " hours. If you did not sign up, ignore this mail.</p>");
  return m;
}

MailMessage ResetMail(std::string_view to, std::string_view link, int ttl_minutes) {
  MailMessage m;
  m.to = std::string(to);
  m.subject = "Reset your Rocket Mart password";
  m.link = std::string(link);
  const std::string minutes = std::to_string(ttl_minutes);
  m.text =
      "Someone asked to reset the password of this Rocket Mart account.\n\nTo choose a new "
      "password, open this link:\n\n" +
      std::string(link) + "\n\nThe link works once and expires in " + minutes +
      " minutes. If it was not you, ignore this mail: your password stays as it is.\n\nRocket "
      "Mart\n";
  m.html = Html(m.subject,
                "<p>Someone asked to reset the password of this Rocket Mart account.</p>\n<p><a "
                "href=\"" +
                    HtmlEscape(link) +
                    "\">Choose a new password</a></p>\n<p>The link works once and expires in " +
                    minutes +
                    " minutes. If it was not you, ignore this mail: your password stays as it "
                    "is.</p>");
  return m;
}

MailMessage SignupAttemptMail(std::string_view to, std::string_view reset_page_url) {
  MailMessage m;
  m.to = std::string(to);
  m.subject = "Someone tried to sign up with your email address";
  m.text =
      "Someone tried to create a Rocket Mart account with this email address, which already has "
      "an account.\n\nIf it was you and you forgot your password, reset it here:\n\n" +
      std::string(reset_page_url) + "\n\nOtherwise, ignore this mail.\n\nRocket Mart\n";
  m.html = Html(m.subject,
                "<p>Someone tried to create a Rocket Mart account with this email address, which "
                "already has an account.</p>\n<p>If it was you and you forgot your password, <a "
                "href=\"" +
                    HtmlEscape(reset_page_url) +
                    "\">reset it here</a>.</p>\n<p>Otherwise, ignore this mail.</p>");
  return m;
}

std::string EncodeMail(const MailMessage& mail) {
  boost::json::object o;
  o["to"] = mail.to;
  o["subject"] = mail.subject;
  o["text"] = mail.text;
  o["html"] = mail.html;
  o["link"] = mail.link;
  return boost::json::serialize(o);
}

bool DecodeMail(std::string_view encoded, MailMessage& mail) {
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(encoded, ec);
  if (ec || !v.is_object()) return false;
  const auto& o = v.as_object();
  auto get = [&](const char* key, std::string& out) {
    const auto* f = o.if_contains(key);
    if (!f || !f->is_string()) return false;
    out = std::string(f->as_string());
    return true;
  };
  return get("to", mail.to) && get("subject", mail.subject) && get("text", mail.text) &&
         get("html", mail.html) && get("link", mail.link);
}

std::string RenderRfc5322(const MailMessage& mail, std::string_view from, TimePoint date,
                          std::string_view message_id) {
  const std::string boundary = "=_rocketmart_" + std::string(message_id.substr(0, 32));
  std::string m;
  m += "From: " + HeaderSafe(from) + "\r\n";
  m += "To: " + HeaderSafe(mail.to) + "\r\n";
  m += "Subject: " + HeaderSafe(mail.subject) + "\r\n";
  m += "Date: " + RfcDate(date) + "\r\n";
  m += "Message-ID: <" + HeaderSafe(message_id) + "@rocketmart>\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += "Auto-Submitted: auto-generated\r\n";
  m += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n";
  m += "--" + boundary + "\r\n";
  m += "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  m += Base64Lines(mail.text);
  m += "--" + boundary + "\r\n";
  m += "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  m += Base64Lines(mail.html);
  m += "--" + boundary + "--\r\n";
  return m;
}

}  // namespace rocketmart::members
