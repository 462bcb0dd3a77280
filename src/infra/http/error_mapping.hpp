// The single table that maps domain outcomes (Errc) to HTTP status codes.
#pragma once

#include <boost/beast/http/status.hpp>
#include <ostream>  // Boost 1.81 beast/http/status.hpp uses std::ostream without including it

#include "core/errc.hpp"

namespace rocketmart::http {

boost::beast::http::status StatusFor(Errc code) noexcept;

}  // namespace rocketmart::http
