#include "infra/storage/write_probe.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace rocketmart::storage {

void WriteProbeRow(Database& db) {
  db.Exec(
      "CREATE TABLE IF NOT EXISTS storage_write_probe ("
      "id INTEGER PRIMARY KEY CHECK (id = 1), probes INTEGER NOT NULL)");
  db.Exec(
      "INSERT INTO storage_write_probe (id, probes) VALUES (1, 1) "
      "ON CONFLICT (id) DO UPDATE SET probes = probes + 1");
}

void ProbeWrite(Database& db) {
  db.Exec("BEGIN IMMEDIATE");
  try {
    WriteProbeRow(db);
    db.Exec("COMMIT");
  } catch (...) {
    if (db.InTransaction()) {
      try {
        db.Exec("ROLLBACK");
      } catch (...) {
        // The original failure is the one worth reporting.
      }
    }
    throw;
  }
}

std::string ProbeWritableDirectory(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return "cannot create " + dir.string() + ": " + ec.message();
  const std::filesystem::path probe = dir / ".write-probe";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot write in " + dir.string() + ": " + std::strerror(errno);
  const ssize_t n = ::write(fd, "probe\n", 6);
  const int write_errno = errno;
  ::close(fd);
  ::unlink(probe.c_str());
  if (n != 6) {
    return "cannot write in " + dir.string() + ": " +
           (n < 0 ? std::strerror(write_errno) : "short write");
  }
  return {};
}

}  // namespace rocketmart::storage
