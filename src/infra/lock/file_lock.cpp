#include "infra/lock/file_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <thread>

namespace rocketmart::lock {

std::optional<FileLock> FileLock::TryAcquire(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 && (errno == EACCES || errno == EROFS)) {
    // A lock file another user created (or on a read-only mount): flock works on a read-only
    // descriptor too, only the note cannot be written.
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  if (fd < 0) throw std::system_error(errno, std::generic_category(), path.string());
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(fd);
    if (error == EWOULDBLOCK) return std::nullopt;
    throw std::system_error(error, std::generic_category(), "flock " + path.string());
  }
  return FileLock(fd);
}

std::optional<FileLock> FileLock::Acquire(const std::filesystem::path& path,
                                          std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto lock = TryAcquire(path)) return lock;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    // The holders this waits for keep the lock for milliseconds (binding a port).
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string FileLock::ReadNote(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char buf[256];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n <= 0) return {};
  std::string note(buf, static_cast<std::size_t>(n));
  while (!note.empty() && (note.back() == '\n' || note.back() == '\r')) note.pop_back();
  return note;
}

FileLock::FileLock(FileLock&& other) noexcept : fd_(other.fd_) {
  other.fd_ = -1;
}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // Closing the descriptor releases the lock.
}

void FileLock::SetNote(std::string_view note) noexcept {
  if (fd_ < 0 || ::ftruncate(fd_, 0) != 0) return;
  std::string text(note);
  text += '\n';
  [[maybe_unused]] const ssize_t n = ::pwrite(fd_, text.data(), text.size(), 0);
}

}  // namespace rocketmart::lock
