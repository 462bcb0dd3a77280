// libsodium adapters: argon2id password hashing on a small dedicated thread pool, and AEAD sealing
// of personal data at rest (AES-256-GCM when the CPU has AES-NI, else XChaCha20-Poly1305; see
// docs/adr/0011-members-pii-encryption.md).
//
// Thread-safety: both classes are safe to use from any thread. The hasher's pool threads run only
// argon2; a coroutine awaiting a hash resumes on its own executor (the I/O thread) afterwards, and
// a full queue answers Errc::kOverloaded at once (503), so slow hashing never blocks the I/O
// threads or grows without bound. Destroying the hasher finishes queued jobs and joins.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "services/members/ports/field_cipher.hpp"
#include "services/members/ports/password_hasher.hpp"

namespace rocketmart::members {

struct HasherOptions {
  int threads = 1;
  std::size_t max_queue = 32;
  // Defaults: libsodium's INTERACTIVE limits (t=2, m=64 MiB), above the RFC 9106 / ASVS minimum
  // (t=2, m=19 MiB). Tests may lower them to libsodium's minimum to run fast.
  unsigned long long opslimit = 2;
  std::size_t memlimit = 64u * 1024 * 1024;
};

class SodiumPasswordHasher final : public PasswordHasher {
 public:
  explicit SodiumPasswordHasher(HasherOptions options = {});
  ~SodiumPasswordHasher() override;

  boost::asio::awaitable<Result<std::string>> Hash(std::string password) override;
  boost::asio::awaitable<Result<PasswordCheck>> Verify(std::optional<std::string> hash,
                                                       std::string password) override;

  // Synchronous forms for the CLI and benchmarks (run on the calling thread).
  std::string HashNow(std::string_view password) const;
  PasswordCheck VerifyNow(const std::optional<std::string>& hash, std::string_view password) const;

 private:
  // Runs `job` on the pool; false when the queue is full.
  bool Submit(std::function<void()> job);
  void Run();

  const HasherOptions options_;
  std::string dummy_hash_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

class SodiumFieldCipher final : public FieldCipher {
 public:
  // The key is derived from `secret` (>= 32 bytes) with BLAKE2b under a fixed label.
  explicit SodiumFieldCipher(std::string_view secret);
  std::string Seal(std::string_view plaintext, std::string_view context) const override;
  std::optional<std::string> Open(std::string_view sealed, std::string_view context) const override;
  // "AES-256-GCM" or "XChaCha20-Poly1305": what Seal uses on this machine.
  const char* algorithm() const;

 private:
  unsigned char key_[32];
  bool aes_;
};

// Must be called once before any other libsodium use (idempotent, thread-safe).
void InitSodium();

}  // namespace rocketmart::members
