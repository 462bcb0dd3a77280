#include "services/storefront/domain/web.hpp"

#include <algorithm>
#include <charconv>

#include "core/time_format.hpp"

namespace rocketmart::storefront {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// The q-value of one Accept-Encoding element's parameters ("q=0.5"); 1 when absent, 0 when
// malformed (a broken element refuses rather than allows).
double QValue(std::string_view params) {
  while (!params.empty()) {
    const std::size_t semi = params.find(';');
    const std::string_view param = Trim(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view{} : params.substr(semi + 1);
    if (param.size() < 2 || std::tolower(static_cast<unsigned char>(param[0])) != 'q' ||
        param[1] != '=') {
      continue;
    }
    const std::string_view v = param.substr(2);
    if (v.empty() || v.size() > 5 || (v[0] != '0' && v[0] != '1')) return 0;
    if (v.size() == 1) return v[0] == '1' ? 1 : 0;
    if (v[1] != '.') return 0;
    double q = v[0] == '1' ? 1 : 0;
    double scale = 0.1;
    for (char c : v.substr(2)) {
      if (c < '0' || c > '9') return 0;
      q += (c - '0') * scale;
      scale /= 10;
    }
    return std::min(q, 1.0);
  }
  return 1;
}

}  // namespace

Encoding ChooseEncoding(std::string_view accept_encoding, bool have_gzip, bool have_brotli) {
  double gzip = -1, brotli = -1, star = -1;
  std::string_view rest = accept_encoding;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    const std::string_view element = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    const std::size_t semi = element.find(';');
    const std::string_view coding = Trim(element.substr(0, semi));
    const double q = semi == std::string_view::npos ? 1 : QValue(element.substr(semi + 1));
    if (EqualsIgnoreCase(coding, "gzip") || EqualsIgnoreCase(coding, "x-gzip")) {
      gzip = std::max(gzip, q);
    } else if (EqualsIgnoreCase(coding, "br")) {
      brotli = std::max(brotli, q);
    } else if (coding == "*") {
      star = q;
    }
  }
  if (gzip < 0) gzip = star;
  if (brotli < 0) brotli = star;
  if (have_brotli && brotli > 0 && (brotli >= gzip || !have_gzip)) return Encoding::kBrotli;
  if (have_gzip && gzip > 0) return Encoding::kGzip;
  return Encoding::kIdentity;
}

std::string_view ContentTypeFor(std::string_view name) {
  const std::size_t dot = name.rfind('.');
  const std::string_view ext = dot == std::string_view::npos ? "" : name.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "json" || ext == "map") return "application/json";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "webp") return "image/webp";
  if (ext == "ico") return "image/x-icon";
  if (ext == "woff2") return "font/woff2";
  if (ext == "txt") return "text/plain; charset=utf-8";
  if (ext == "webmanifest") return "application/manifest+json";
  return "application/octet-stream";
}

bool IsSafeAssetName(std::string_view name) {
  if (name.empty() || name.size() > 200 || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

void AppendStockEvent(std::string& out, std::uint64_t seq, const StockFigures& f) {
  out += "id: ";
  out += std::to_string(seq);
  out += "\nevent: stock\ndata: {\"productId\":";
  out += std::to_string(f.product_id);
  out += ",\"stock\":";
  out += f.stock ? std::to_string(*f.stock) : std::string("null");
  out += ",\"state\":\"";
  out += SaleStateName(f.state);
  out += '"';
  if (f.starts_at && f.ends_at) {
    out += ",\"startsAt\":\"";
    out += FormatRfc3339(*f.starts_at);
    out += "\",\"endsAt\":\"";
    out += FormatRfc3339(*f.ends_at);
    out += '"';
  }
  out += "}\n\n";
}

Result<std::vector<std::int64_t>> ParseProductIds(std::string_view text, std::size_t max_ids) {
  std::vector<std::int64_t> ids;
  auto fail = [&] {
    return MakeError(Errc::kValidationFailed,
                     "products must be 1 to " + std::to_string(max_ids) +
                         " distinct product ids separated by commas",
                     "products");
  };
  if (text.empty()) return fail();
  while (true) {
    const std::size_t comma = text.find(',');
    const std::string_view part = text.substr(0, comma);
    std::int64_t id = 0;
    const auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), id);
    if (part.empty() || part.size() > 18 || ec != std::errc{} || ptr != part.data() + part.size() ||
        id <= 0) {
      return fail();
    }
    if (std::find(ids.begin(), ids.end(), id) != ids.end() || ids.size() == max_ids) return fail();
    ids.push_back(id);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return ids;
}

Result<std::uint64_t> ParseLastEventId(std::string_view text) {
  text = Trim(text);
  if (text.empty()) return std::uint64_t{0};
  std::uint64_t id = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc{} || ptr != text.data() + text.size() || text.size() > 20) {
    return MakeError(Errc::kValidationFailed, "Last-Event-ID must be an event id of this stream",
                     "Last-Event-ID");
  }
  return id;
}

}  // namespace rocketmart::storefront
