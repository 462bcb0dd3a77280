#include "services/members/adapters/link_pages.hpp"

#include <sodium.h>

namespace rocketmart::members {
namespace {

constexpr std::string_view kStyle =
    "body{font-family:system-ui,sans-serif;max-width:30em;margin:3em auto;padding:0 1em;"
    "line-height:1.5}label{display:block;margin:.8em 0 .2em}input{width:100%;box-sizing:border-box;"
    "padding:.4em;font-size:1em}button{margin-top:1em;padding:.5em 1.2em;font-size:1em}"
    "#result{margin-top:1em;font-weight:bold}";

// One script for the three pages: it posts the form's named inputs (plus the token of the page's
// URL when the form says data-token) as JSON to the form's data-post, relative to the page, so a
// public base URL with a path prefix works too.
constexpr std::string_view kScript = R"js(
(function () {
  var form = document.querySelector('form');
  var out = document.getElementById('result');
  var button = form.querySelector('button');
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var body = {};
    if (form.hasAttribute('data-token')) {
      body.token = new URLSearchParams(location.search).get('token') || '';
    }
    var inputs = form.querySelectorAll('input[name]');
    for (var i = 0; i < inputs.length; i++) body[inputs[i].name] = inputs[i].value;
    var again = form.querySelector('input[data-confirm]');
    if (again && again.value !== body[again.getAttribute('data-confirm')]) {
      out.textContent = 'The two passwords differ.';
      return;
    }
    button.disabled = true;
    out.textContent = '';
    fetch(form.getAttribute('data-post'), {
      method: 'POST',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
      referrerPolicy: 'no-referrer'
    }).then(function (r) {
      return r.text().then(function (text) {
        var json = {};
        try { json = text ? JSON.parse(text) : {}; } catch (e) {}
        if (r.ok) {
          out.textContent = form.getAttribute(json.alreadyVerified ? 'data-again' : 'data-done');
          form.hidden = true;
        } else {
          out.textContent = (json.error && json.error.message) ||
              ('The request failed (' + r.status + ').');
          button.disabled = false;
        }
      });
    }).catch(function () {
      out.textContent = 'The server could not be reached. Try again.';
      button.disabled = false;
    });
  });
})();
)js";

std::string Sha256Base64(std::string_view text) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  char b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(b64, sizeof b64, digest, sizeof digest, sodium_base64_VARIANT_ORIGINAL);
  return b64;
}

const std::string& Policy() {
  // Nothing but this page's own style and script, and its POST back to this server.
  static const std::string policy = "default-src 'none'; script-src 'sha256-" +
                                    Sha256Base64(kScript) + "'; style-src 'sha256-" +
                                    Sha256Base64(kStyle) +
                                    "'; connect-src 'self'; form-action 'none'; base-uri 'none'; "
                                    "frame-ancestors 'none'";
  return policy;
}

std::string Html(std::string_view title, std::string_view form) {
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<meta name=\"referrer\" content=\"no-referrer\"><meta name=\"robots\" content=\"noindex\">\n"
      "<title>";
  html += title;
  html += " - Rocket Mart</title>\n<style>";
  html += kStyle;
  html += "</style></head>\n<body>\n<h1>";
  html += title;
  html += "</h1>\n";
  html += form;
  html +=
      "\n<p id=\"result\" role=\"status\" aria-live=\"polite\"></p>\n"
      "<noscript><p>This page needs JavaScript: it confirms with a POST request, so that opening "
      "the link alone (as mail scanners do) changes nothing.</p></noscript>\n<script>";
  html += kScript;
  html += "</script>\n</body></html>\n";
  return html;
}

const std::string& PageHtml(LinkPage page) {
  static const std::string verify = Html(
      "Verify your email address",
      "<form data-post=\"verify\" data-token data-done=\"Your email address is verified. Log in "
      "again, or refresh your session, to buy.\" data-again=\"Your email address was already "
      "verified.\">\n<p>Confirm that this address belongs to you.</p>\n"
      "<button type=\"submit\">Verify my email</button>\n</form>");
  static const std::string reset = Html(
      "Choose a new password",
      "<form data-post=\"reset-password\" data-token data-done=\"Your password was changed and "
      "every session was ended. Log in with the new password.\">\n"
      "<label for=\"p1\">New password (8 to 128 characters)</label>\n"
      "<input id=\"p1\" name=\"newPassword\" type=\"password\" autocomplete=\"new-password\" "
      "minlength=\"8\" maxlength=\"128\" required>\n"
      "<label for=\"p2\">The same password again</label>\n"
      "<input id=\"p2\" type=\"password\" autocomplete=\"new-password\" "
      "data-confirm=\"newPassword\" required>\n"
      "<button type=\"submit\">Change my password</button>\n</form>");
  static const std::string find = Html(
      "Forgot your password?",
      "<form data-post=\"find-password\" data-done=\"If this address has an account, a link to "
      "choose a new password is on its way.\">\n"
      "<label for=\"e\">Email address</label>\n"
      "<input id=\"e\" name=\"email\" type=\"email\" autocomplete=\"email\" maxlength=\"254\" "
      "required>\n<button type=\"submit\">Send me a link</button>\n</form>");
  switch (page) {
    case LinkPage::kVerifyEmail:
      return verify;
    case LinkPage::kResetPassword:
      return reset;
    case LinkPage::kFindPassword:
      return find;
  }
  return verify;  // Unreachable: every enumerator is handled above.
}

}  // namespace

std::string_view LinkPagePolicy() {
  return Policy();
}

http::Response LinkPageResponse(LinkPage page) {
  http::Response res =
      http::TextResponse(http::Status::ok, PageHtml(page), "text/html; charset=utf-8");
  res.set("Content-Security-Policy", Policy());
  res.set("Referrer-Policy", "no-referrer");
  res.set(http::beast_http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("X-Frame-Options", "DENY");
  return res;
}

}  // namespace rocketmart::members
