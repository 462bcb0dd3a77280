// An exclusive advisory lock on a file (flock(2)), held for the life of the FileLock object.
//
// The kernel releases the lock when its last descriptor closes, including when the process is
// killed, so a crash never leaves a stale lock behind. Locks belong to an open file description:
// two FileLocks on one path conflict even inside one process. The descriptor is close-on-exec.
//
// Used to make one process the owner of something shared through the file system: a data
// directory (for a server's lifetime) or a port (while it is being bound).
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace rocketmart::lock {

class FileLock {
 public:
  // Takes the lock without waiting; nullopt when another holder has it. The file is created
  // (mode 0644) if missing. Throws std::system_error when the file cannot be opened.
  static std::optional<FileLock> TryAcquire(const std::filesystem::path& path);
  // Retries TryAcquire until `timeout` has passed.
  static std::optional<FileLock> Acquire(const std::filesystem::path& path,
                                         std::chrono::milliseconds timeout);
  // The note the current holder left with SetNote (e.g. "pid 4242"), read without locking; ""
  // when there is none or the file cannot be read.
  static std::string ReadNote(const std::filesystem::path& path);

  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

  // Replaces the file's contents with `note` (who holds it), for ReadNote in other processes.
  // Best effort: a failure to write leaves the lock held and the note empty.
  void SetNote(std::string_view note) noexcept;

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace rocketmart::lock
