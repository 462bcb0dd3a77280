#include "services/gateway/proxy/route_table.hpp"

namespace rocketmart::gateway {

namespace {

struct Prefix {
  std::string_view prefix;
  std::string_view service;
};

// Checked in order: the first whose prefix covers the path wins.
constexpr Prefix kTable[] = {
    {"/stock/stream", "checkout"},  // the storefront's live stock (checkout's memory)
    {"/payment", "checkout"},       //
    {"/products", "catalog"},       // (/products/{id}/stock/stream: see OwnerOf)
    {"/cart", "catalog"},           // the cart and its checkout
    {"/order", "orders"},           //
    {"/admin/orders", "orders"},    //
    {"/admin/sales", "orders"},     // the per-sale summary
    {"/admin/members", "members"},  //
    {"/member", "members"},         // signup, verification, profile, my page
    {"/auth", "members"},           // login, refresh, logout
};

bool Covers(std::string_view prefix, std::string_view path) {
  return path.starts_with(prefix) && (path.size() == prefix.size() || path[prefix.size()] == '/');
}

}  // namespace

std::optional<std::string_view> OwnerOf(std::string_view path) {
  if (Covers("/products", path) && path.ends_with("/stock/stream")) return "checkout";
  for (const Prefix& p : kTable) {
    if (Covers(p.prefix, path)) return p.service;
  }
  return std::nullopt;
}

bool EndsSessions(std::string_view method, std::string_view path) {
  if (method == "POST") {
    return path == "/auth/refresh" || path == "/auth/logout" || path == "/auth/logout-all" ||
           path == "/member/reset-password";
  }
  return method == "PUT" && path == "/member/update-password";
}

}  // namespace rocketmart::gateway
