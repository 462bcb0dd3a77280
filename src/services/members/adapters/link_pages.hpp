// The small HTML pages the links in members' mails open. A mailed link is a GET, and mail scanners
// prefetch links, so a GET must never use a token up: each page only shows a form whose script
// confirms with a POST to the JSON route of the same path (POST /member/verify {token},
// POST /member/reset-password {token, newPassword}, POST /member/find-password {email}), reading
// the token from the page's own URL. The pages are self-contained (no external resource; inline
// style and script allowed by their SHA-256 in the Content-Security-Policy), sent with
// Referrer-Policy: no-referrer and never cached. They answer the same whatever the token: the
// server does not even look at it on a GET. A later storefront replaces them.
//
// Thread-safety: the pages are built once (static) and immutable.
#pragma once

#include <string>
#include <string_view>

#include "infra/http/types.hpp"

namespace rocketmart::members {

enum class LinkPage { kVerifyEmail, kResetPassword, kFindPassword };

// The page with its headers (200, text/html; charset=utf-8, CSP, Referrer-Policy, no-store).
http::Response LinkPageResponse(LinkPage page);

// The Content-Security-Policy the pages are served with.
std::string_view LinkPagePolicy();

}  // namespace rocketmart::members
