#include "app/keys.hpp"

#include <filesystem>

#include "auth/internal_identity.hpp"
#include "auth/secret.hpp"
#include "core/time_format.hpp"

namespace rocketmart::app {

Result<auth::Keyring> BuildKeyring(const config::Config& config) {
  std::string secret = config.auth.secret;
  if (secret.empty()) {
    const std::filesystem::path file =
        config.auth.secret_file.empty()
            ? std::filesystem::path(config.storage.data_dir) / "secrets" / "jwt.key"
            : std::filesystem::path(config.auth.secret_file);
    auto loaded = auth::LoadOrCreateSecret(file);
    if (!loaded.ok()) return loaded.error();
    secret = std::move(*loaded);
  }
  auth::Keyring keyring;
  if (!config.auth.previous_key_id.empty()) {
    // Rotation (battery G2, docs/operations.md): the retiring key verifies until its grace ends.
    if (config.auth.previous_secret == secret) {
      return MakeError(Errc::kValidationFailed,
                       "auth.previous_secret is the current signing key: a rotation needs a new "
                       "auth.secret (or secret file)");
    }
    const auto until = ParseRfc3339(config.auth.previous_key_until);
    if (!until) {
      return MakeError(Errc::kValidationFailed,
                       "auth.previous_key_until must be an RFC 3339 instant");
    }
    if (auto st =
            keyring.Add({config.auth.previous_key_id, config.auth.previous_secret, *until}, false);
        !st.ok()) {
      return st.error();
    }
  }
  if (auto st = keyring.Add({config.auth.key_id, std::move(secret)}, true); !st.ok()) {
    return st.error();
  }
  return keyring;
}

Result<auth::Keyring> BuildSharedKeyring(const config::Config& config) {
  if (config.auth.secret.empty()) {
    std::error_code ec;
    if (config.auth.secret_file.empty()) {
      return MakeError(
          Errc::kValidationFailed,
          "services run apart share one token key: set auth.secret "
          "(ROCKETMART_AUTH_SECRET or ROCKETMART_AUTH_SECRET_FILE) or auth.secret_file "
          "to the same key for every process");
    }
    if (!std::filesystem::is_regular_file(config.auth.secret_file, ec)) {
      return MakeError(Errc::kValidationFailed,
                       "auth.secret_file " + config.auth.secret_file +
                           " does not exist: services run apart never generate a key of their own");
    }
  }
  return BuildKeyring(config);
}

Result<auth::Keyring> BuildInternalKeyring(const config::Config& config) {
  if (config.auth.internal_secret.empty()) {
    return MakeError(
        Errc::kValidationFailed,
        "services run apart need auth.internal_secret (ROCKETMART_AUTH_INTERNAL_SECRET "
        "or ROCKETMART_AUTH_INTERNAL_SECRET_FILE): the key the gateway signs each "
        "request's identity with, the same for every process");
  }
  if (config.auth.internal_secret == config.auth.secret) {
    return MakeError(Errc::kValidationFailed, "auth.internal_secret must differ from auth.secret");
  }
  if (config.auth.internal_accepted_secret == config.auth.secret) {
    return MakeError(Errc::kValidationFailed,
                     "auth.internal_accepted_secret must differ from auth.secret");
  }
  auto keyring =
      auth::InternalKeyring(config.auth.internal_secret, config.auth.internal_accepted_secret);
  if (!keyring.ok()) {
    return MakeError(Errc::kValidationFailed,
                     "auth.internal_accepted_secret: " + keyring.error().message);
  }
  return keyring;
}

}  // namespace rocketmart::app
