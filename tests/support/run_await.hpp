// Runs a coroutine to completion on a private io_context and returns its value. For tests of
// coroutine-based services without a server.
#pragma once

#include <filesystem>
#include <random>
#include <string>

#include "infra/async/run.hpp"

namespace rocketmart::testing {

template <class T>
T RunAwait(boost::asio::awaitable<T> task) {
  return async::RunToCompletion(std::move(task));
}

// A temporary directory removed when the object dies.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("rocketmart-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace rocketmart::testing
