// Maps (method, path) to a route. Paths are segment patterns: "/products/{id}/like". A literal
// segment wins over a parameter ("/products/wishlist" beats "/products/{id}"). Built once at
// start-up, then read-only and safe to share between threads.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "infra/http/types.hpp"

namespace rocketmart::http {

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
  // Throws std::invalid_argument on a malformed pattern or a duplicate (method, pattern).
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
