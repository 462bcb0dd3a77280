// Where the JWT signing key comes from: auth.secret (env or _file), else auth.secret_file, else a
// key generated once into <data_dir>/secrets/jwt.key, so the embedded default needs no setup and
// `rocketmart token` signs with the same key the server verifies with.
#pragma once

#include "auth/jwt.hpp"
#include "core/result.hpp"
#include "infra/config/config.hpp"

namespace rocketmart::app {

Result<auth::Keyring> BuildKeyring(const config::Config& config);

// Services run apart (issue 15): the members' token key every process shares. The same sources,
// but never a key generated for this process: auth.secret, else an existing auth.secret_file;
// otherwise an error saying what to configure (two instances with keys of their own would refuse
// each other's tokens).
Result<auth::Keyring> BuildSharedKeyring(const config::Config& config);

// The keys of the gateway's internal identity (auth.internal_secret signs, and
// auth.internal_accepted_secret is accepted during a rotation; auth::InternalKeyring): an error
// when the first is unset or either equals auth.secret (the members' token key must never sign
// internal identities).
Result<auth::Keyring> BuildInternalKeyring(const config::Config& config);

}  // namespace rocketmart::app
