// The storefront's built files (web/, bundled by `make build` into <build>/web), loaded into
// memory once at start and served from there: no file I/O per request.
//
// Layout of the folder: index.html (the single page, answered for every page route) and
// assets/ (content-hashed names from the bundler, each with precompressed .gz and .br siblings).
// Hashed assets are cached for a year (immutable); index.html is revalidated every time
// (no-cache + ETag), so a new build reaches browsers on their next page load.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "infra/http/types.hpp"

namespace rocketmart::storefront {

struct Asset {
  std::string content_type;
  std::string identity;
  std::string gzip;    // empty: none
  std::string brotli;  // empty: none
  std::string etag;    // quoted
  bool immutable = false;
};

// The Content-Security-Policy of every storefront page: own origin only (no CDN, no inline
// script), images also from https: and data: (product pictures).
inline constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

class StaticAssets {
 public:
  // Reads <dir>/index.html and <dir>/assets/*. NOT_FOUND (with the path) when index.html is
  // missing: the storefront was not built.
  static Result<std::shared_ptr<const StaticAssets>> Load(const std::filesystem::path& dir);

  const Asset* Find(std::string_view name) const;  // a file of assets/
  const Asset& index() const { return index_; }
  std::size_t size() const { return assets_.size(); }

  // The answer for `asset` to `req`: 304 when If-None-Match matches, else 200 with the best
  // encoding Accept-Encoding allows, caching and security headers.
  static http::Response Answer(const Asset& asset, const http::Request& req);

 private:
  Asset index_;
  std::map<std::string, Asset, std::less<>> assets_;
};

}  // namespace rocketmart::storefront
