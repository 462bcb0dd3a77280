// Which service owns a route when the services run apart (issue 15): the gateway's routing table,
// in one place. By path prefix, whole segments only ("/order" owns /order and /order/7, not
// /orders); the live stock streams belong to checkout (they read its memory) although their
// paths start like the catalog's. A path no service owns is the gateway's own: /health,
// /openapi.json, /time and the storefront's pages and assets.
#pragma once

#include <optional>
#include <string_view>

namespace rocketmart::gateway {

// "members", "catalog", "checkout" or "orders"; nullopt for the gateway's own routes. `path` is a
// route pattern ("/products/{id}") or a concrete path ("/products/7"). Pure; thread-safe.
std::optional<std::string_view> OwnerOf(std::string_view path);

// True for the routes whose answer may come after members denied access tokens (logout,
// logout-all, a refresh token's reuse, a password change or reset): the gateway that relays the
// answer first catches its deny-list replica up (RevokedTokens::CatchUp), so the client is refused
// at once on the next request, not a moment later. `method` upper case, `path` a route pattern.
bool EndsSessions(std::string_view method, std::string_view path);

}  // namespace rocketmart::gateway
