#include "infra/http/router.hpp"

#include <cstdint>
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

bool IsJsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Empty, or `{}` with JSON whitespace around and inside.
bool IsEmptyObjectOrNothing(std::string_view body) {
  std::size_t i = 0;
  while (i < body.size() && IsJsonSpace(body[i])) ++i;
  if (i == body.size()) return body.empty();  // whitespace alone is not `{}`
  if (body[i++] != '{') return false;
  while (i < body.size() && IsJsonSpace(body[i])) ++i;
  if (i == body.size() || body[i++] != '}') return false;
  while (i < body.size() && IsJsonSpace(body[i])) ++i;
  return i == body.size();
}

}  // namespace

rocketmart::Status CheckQuery(const RouteOptions& options, std::string_view query) {
  if (options.page) return {};
  std::uint64_t seen = 0;  // bit i: options.query[i] was given
  std::string_view rest = query;
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (pair.empty()) continue;  // "a=1&&b=2", a trailing '&'
    const std::string_view name = pair.substr(0, pair.find('='));
    std::size_t i = 0;
    while (i < options.query.size() && options.query[i] != name) ++i;
    if (i == options.query.size()) {
      return MakeError(Errc::kValidationFailed, "unknown query parameter", std::string(name));
    }
    if (seen & (std::uint64_t{1} << i)) {
      return MakeError(Errc::kValidationFailed, "query parameter given more than once",
                       std::string(name));
    }
    seen |= std::uint64_t{1} << i;
  }
  return {};
}

rocketmart::Status CheckBody(const RouteOptions& options, std::string_view body) {
  if (options.body != BodyRule::kNone || IsEmptyObjectOrNothing(body)) return {};
  return MakeError(Errc::kValidationFailed, "this request takes no body: send none, or {}");
}

void Router::Add(Method method, std::string pattern, RouteOptions options, Handler handler) {
  if (pattern.empty() || pattern[0] != '/') throw std::invalid_argument("route must start with /");
  if (options.query.size() > 64) throw std::invalid_argument("too many query parameters");
  for (std::size_t i = 0; i < options.query.size(); ++i) {
    for (std::size_t j = i + 1; j < options.query.size(); ++j) {
      if (options.query[i] == options.query[j]) {
        throw std::invalid_argument("query parameter declared twice in " + pattern);
      }
    }
  }
  if (options.body == BodyRule::kByMethod) {
    const bool bodyless =
        method == Method::get || method == Method::head || method == Method::delete_;
    options.body = bodyless ? BodyRule::kNone : BodyRule::kJson;
  }
  if (options.body == BodyRule::kNone && options.max_body_bytes == 0) {
    options.max_body_bytes = kNoBodyLimit;
  }
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
      Route{method, std::move(pattern), std::move(options), std::move(handler), routes_.size()});
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
