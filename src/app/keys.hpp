// Where the JWT signing key comes from: auth.secret (env or _file), else auth.secret_file, else a
// key generated once into <data_dir>/secrets/jwt.key, so the embedded default needs no setup and
// `rocketmart token` signs with the same key the server verifies with.
#pragma once

#include "auth/jwt.hpp"
#include "core/result.hpp"
#include "infra/config/config.hpp"

namespace rocketmart::app {

Result<auth::Keyring> BuildKeyring(const config::Config& config);

}  // namespace rocketmart::app
