// Maps (method, path) to a route. Paths are segment patterns: "/products/{id}/like". A literal
// segment wins over a parameter ("/products/wishlist" beats "/products/{id}"). Built once at
// start-up, then read-only and safe to share between threads.
//
// The route rules every route follows, checked by the server before a handler runs (so handlers
// never repeat them): CheckQuery (only declared query parameters, each once) and CheckBody
// (body-less routes take an empty body or `{}`, nothing else).
#pragma once

#include <array>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "infra/http/types.hpp"

namespace rocketmart::http {

// The body limit of a kNone route that sets none: room for `{}` and any sane whitespace.
inline constexpr std::size_t kNoBodyLimit = 1024;

// OK when every parameter of `query` (the text after '?') is declared by `options` and none is
// repeated; otherwise kValidationFailed naming the parameter (details.field). No allocation.
rocketmart::Status CheckQuery(const RouteOptions& options, std::string_view query);
// OK when the route takes a JSON body, or takes none and `body` is empty or `{}` with JSON
// whitespace around or inside; otherwise kValidationFailed.
rocketmart::Status CheckBody(const RouteOptions& options, std::string_view body);

struct Route {
  Method method;
  std::string pattern;
  RouteOptions options;
  Handler handler;
  std::size_t index = 0;  // dense id for per-route metrics
};

struct Match {
  const Route* route = nullptr;
  bool path_known = false;      // some route has this path, perhaps with another method
  std::string allowed_methods;  // for 405 answers
};

class Router {
 public:
  // Throws std::invalid_argument on a malformed pattern, a duplicate (method, pattern), a query
  // parameter declared twice or more than 64 of them. Resolves BodyRule::kByMethod.
  void Add(Method method, std::string pattern, RouteOptions options, Handler handler);
  Match Find(Method method, std::string_view path,
             std::vector<std::pair<std::string_view, std::string_view>>& params) const;
  const std::vector<std::unique_ptr<Route>>& routes() const { return routes_; }

 private:
  struct Node {
    std::map<std::string, std::unique_ptr<Node>, std::less<>> literals;
    std::unique_ptr<Node> param;
    std::string param_name;
    std::vector<const Route*> handlers;  // one per method
  };
  const Node* Walk(const Node* node, std::string_view path,
                   std::vector<std::pair<std::string_view, std::string_view>>& params) const;

  Node root_;
  std::vector<std::unique_ptr<Route>> routes_;
};

}  // namespace rocketmart::http
