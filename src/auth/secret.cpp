#include "auth/secret.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <system_error>

#include "auth/jwt.hpp"
#include "auth/random.hpp"

namespace rocketmart::auth {
namespace {

Error IoError(const std::filesystem::path& file, std::string_view what, int err) {
  return MakeError(Errc::kInternal, std::string(what) + " " + file.string() + ": " +
                                        std::generic_category().message(err));
}

Result<std::string> ReadSecret(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return IoError(file, "cannot read secret file", errno);
  std::string secret((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return IoError(file, "cannot read secret file", errno);
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.size() < kMinSecretBytes) {
    return MakeError(Errc::kValidationFailed,
                     "secret file " + file.string() + " holds fewer than 32 bytes");
  }
  return secret;
}

}  // namespace

Result<std::string> LoadOrCreateSecret(const std::filesystem::path& file) {
  std::error_code ec;
  if (std::filesystem::exists(file, ec)) return ReadSecret(file);

  if (file.has_parent_path()) {
    std::filesystem::create_directories(file.parent_path(), ec);
    if (ec) return IoError(file.parent_path(), "cannot create directory", ec.value());
  }
  // O_EXCL: if another process created the file in the meantime, use theirs rather than overwrite
  // a secret that may already have signed tokens. Mode 0600 from the start, never chmod later.
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return ReadSecret(file);
    return IoError(file, "cannot create secret file", errno);
  }
  const std::string secret = RandomHex(32);
  const std::string contents = secret + "\n";
  std::size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(file.c_str());
      return IoError(file, "cannot write secret file", err);
    }
    written += static_cast<std::size_t>(n);
  }
  // The secret must survive a crash: a lost key silently logs every member out.
  int err = ::fsync(fd) == 0 ? 0 : errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    ::unlink(file.c_str());
    return IoError(file, "cannot persist secret file", err);
  }
  return secret;
}

}  // namespace rocketmart::auth
