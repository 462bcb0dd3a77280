// The one temporary directory of the tests: created empty and private (mkdtemp, mode 0700) under
// $TMPDIR or /tmp as rocketmart-<prefix>-XXXXXX, removed with everything in it when the object
// dies. Movable (the moved-from object owns nothing), not copyable; owned by one test.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace rocketmart::testing {

class TempDir {
 public:
  // `prefix` names the directory after its user, so a leftover says who left it.
  explicit TempDir(std::string_view prefix = "test") {
    std::string pattern =
        (std::filesystem::temp_directory_path() / ("rocketmart-" + std::string(prefix) + "-XXXXXX"))
            .string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed for " + pattern);
    }
    path_ = pattern;
  }
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // The path of `name` inside the directory (nothing is created).
  std::string File(std::string_view name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace rocketmart::testing
