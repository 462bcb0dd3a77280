#include "infra/http/router.hpp"

#include <stdexcept>

namespace rocketmart::http {
namespace {

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t pos = 1;
  while (pos <= path.size()) {
    const std::size_t slash = path.find('/', pos);
    const std::size_t end = slash == std::string_view::npos ? path.size() : slash;
    out.push_back(path.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

}  // namespace

void Router::Add(Method method, std::string pattern, RouteOptions options, Handler handler) {
  if (pattern.empty() || pattern[0] != '/') throw std::invalid_argument("route must start with /");
  Node* node = &root_;
  if (pattern != "/") {
    for (std::string_view seg : Split(pattern)) {
      if (seg.empty()) throw std::invalid_argument("empty segment in " + pattern);
      if (seg.front() == '{' && seg.back() == '}') {
        std::string name(seg.substr(1, seg.size() - 2));
        if (!node->param) {
          node->param = std::make_unique<Node>();
          node->param->param_name = name;
        } else if (node->param->param_name != name) {
          throw std::invalid_argument("conflicting parameter names at " + pattern);
        }
        node = node->param.get();
      } else {
        auto& child = node->literals[std::string(seg)];
        if (!child) child = std::make_unique<Node>();
        node = child.get();
      }
    }
  }
  for (const Route* r : node->handlers) {
    if (r->method == method) throw std::invalid_argument("duplicate route " + pattern);
  }
  auto route = std::make_unique<Route>(
      Route{method, std::move(pattern), options, std::move(handler), routes_.size()});
  node->handlers.push_back(route.get());
  routes_.push_back(std::move(route));
}

const Router::Node* Router::Walk(
    const Node* node, std::string_view rest,
    std::vector<std::pair<std::string_view, std::string_view>>& params) const {
  if (rest.empty()) return node->handlers.empty() ? nullptr : node;
  // rest starts just after a '/'.
  const std::size_t slash = rest.find('/');
  const std::string_view seg = rest.substr(0, slash);
  const std::string_view tail =
      slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
  if (seg.empty()) return nullptr;
  if (slash != std::string_view::npos && tail.empty()) return nullptr;  // trailing slash
  if (auto it = node->literals.find(seg); it != node->literals.end()) {
    if (const Node* found = Walk(it->second.get(), tail, params)) return found;
  }
  if (node->param) {
    params.emplace_back(node->param->param_name, seg);
    if (const Node* found = Walk(node->param.get(), tail, params)) return found;
    params.pop_back();
  }
  return nullptr;
}

Match Router::Find(Method method, std::string_view path,
                   std::vector<std::pair<std::string_view, std::string_view>>& params) const {
  Match match;
  if (path.empty() || path[0] != '/') return match;
  const Node* node = path == "/" ? (root_.handlers.empty() ? nullptr : &root_)
                                 : Walk(&root_, path.substr(1), params);
  if (!node) return match;
  match.path_known = true;
  for (const Route* r : node->handlers) {
    if (r->method == method || (method == Method::head && r->method == Method::get)) {
      match.route = r;
      return match;
    }
  }
  for (const Route* r : node->handlers) {
    if (!match.allowed_methods.empty()) match.allowed_methods += ", ";
    match.allowed_methods += std::string(beast_http::to_string(r->method));
  }
  return match;
}

}  // namespace rocketmart::http
