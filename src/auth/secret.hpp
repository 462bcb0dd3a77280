// The JWT signing secret kept in a file, created on first start.
//
// A fresh data directory works with zero setup (the secret is generated and persisted, so tokens
// survive restarts), while operators can point `auth.secret_file` elsewhere or pass the secret by
// environment instead. Thread-safe in the sense that concurrent first starts cannot clobber each
// other: creation is O_EXCL, and the loser reads the winner's file.
// Usage: auto secret = LoadOrCreateSecret(data_dir / "secrets" / "jwt.key");
#pragma once

#include <filesystem>
#include <string>

#include "core/result.hpp"

namespace rocketmart::auth {

// Reads `file` (trailing CR/LF trimmed; must hold >= 32 bytes), or, if it does not exist, creates
// it (parent directories too) with mode 0600 holding 32 random bytes hex-encoded. Errors:
// kValidationFailed for a too-short secret, kInternal for I/O failures; messages name the file.
Result<std::string> LoadOrCreateSecret(const std::filesystem::path& file);

}  // namespace rocketmart::auth
