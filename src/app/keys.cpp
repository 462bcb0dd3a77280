#include "app/keys.hpp"

#include <filesystem>

#include "auth/secret.hpp"

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
  if (auto st = keyring.Add({config.auth.key_id, std::move(secret)}, true); !st.ok()) {
    return st.error();
  }
  return keyring;
}

}  // namespace rocketmart::app
