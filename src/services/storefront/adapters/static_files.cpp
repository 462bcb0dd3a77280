#include "services/storefront/adapters/static_files.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "services/storefront/domain/web.hpp"

namespace rocketmart::storefront {
namespace {

std::optional<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return std::move(buffer).str();
}

std::string Etag(std::string_view content) {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : content) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[24];
  std::snprintf(buf, sizeof buf, "\"%016llx\"", static_cast<unsigned long long>(h));
  return buf;
}

Asset LoadAsset(const std::filesystem::path& path, bool immutable) {
  Asset a;
  a.content_type = std::string(ContentTypeFor(path.filename().string()));
  a.identity = ReadFile(path).value_or("");
  a.gzip = ReadFile(path.string() + ".gz").value_or("");
  a.brotli = ReadFile(path.string() + ".br").value_or("");
  a.etag = Etag(a.identity);
  a.immutable = immutable;
  return a;
}

bool EtagMatches(std::string_view if_none_match, std::string_view etag) {
  while (!if_none_match.empty()) {
    const std::size_t comma = if_none_match.find(',');
    std::string_view tag = if_none_match.substr(0, comma);
    if_none_match = comma == std::string_view::npos ? "" : if_none_match.substr(comma + 1);
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == "*" || tag == etag) return true;
  }
  return false;
}

}  // namespace

Result<std::shared_ptr<const StaticAssets>> StaticAssets::Load(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(dir / "index.html", ec)) {
    return MakeError(Errc::kNotFound, "no storefront at " + (dir / "index.html").string() +
                                          " (built by `make build`)");
  }
  auto assets = std::make_shared<StaticAssets>();
  assets->index_ = LoadAsset(dir / "index.html", false);
  const auto folder = dir / "assets";
  if (std::filesystem::is_directory(folder, ec)) {
    for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
      if (!entry.is_regular_file()) continue;
      const std::string name = entry.path().filename().string();
      if (name.ends_with(".gz") || name.ends_with(".br") || !IsSafeAssetName(name)) continue;
      assets->assets_.emplace(name, LoadAsset(entry.path(), true));
    }
  }
  return std::shared_ptr<const StaticAssets>(std::move(assets));
}

const Asset* StaticAssets::Find(std::string_view name) const {
  auto it = assets_.find(name);
  return it == assets_.end() ? nullptr : &it->second;
}

http::Response StaticAssets::Answer(const Asset& asset, const http::Request& req) {
  const bool not_modified = EtagMatches(req.Header("If-None-Match"), asset.etag);
  http::Response res{not_modified ? http::Status::not_modified : http::Status::ok, 11};
  res.set(http::beast_http::field::cache_control,
          asset.immutable ? "public, max-age=31536000, immutable" : "no-cache");
  res.set(http::beast_http::field::etag, asset.etag);
  res.set(http::beast_http::field::vary, "Accept-Encoding");
  res.set("X-Content-Type-Options", "nosniff");
  if (asset.content_type.starts_with("text/html")) {
    res.set("Content-Security-Policy", kContentSecurityPolicy);
    res.set("Referrer-Policy", "no-referrer");
    res.set("X-Frame-Options", "DENY");
  }
  if (not_modified) return res;
  res.set(http::beast_http::field::content_type, asset.content_type);
  switch (
      ChooseEncoding(req.Header("Accept-Encoding"), !asset.gzip.empty(), !asset.brotli.empty())) {
    case Encoding::kBrotli:
      res.set(http::beast_http::field::content_encoding, "br");
      res.body() = asset.brotli;
      break;
    case Encoding::kGzip:
      res.set(http::beast_http::field::content_encoding, "gzip");
      res.body() = asset.gzip;
      break;
    case Encoding::kIdentity:
      res.body() = asset.identity;
      break;
  }
  res.prepare_payload();
  return res;
}

}  // namespace rocketmart::storefront
