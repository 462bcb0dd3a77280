#include "services/members/adapters/sodium_crypto.hpp"

#include <sodium.h>

#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>

#include "auth/random.hpp"
#include "core/thread_name.hpp"

namespace rocketmart::members {
namespace {

constexpr unsigned char kAlgAesGcm = 1;
constexpr unsigned char kAlgXChaCha = 2;
constexpr std::string_view kKeyLabel = "rocketmart/members/pii/v1";

template <class T>
struct Slot {
  std::optional<T> value;
  std::exception_ptr failure;
};

// Runs `fn` on the hasher's pool and resumes the awaiting coroutine on its own executor. Named
// initiation (not a temporary inside co_await): GCC 12 double-destroys such temporaries.
template <class T, class SubmitFn, class Fn>
boost::asio::awaitable<Result<T>> Offload(SubmitFn submit, Fn fn) {
  auto slot = std::make_shared<Slot<T>>();
  bool accepted = true;
  auto initiation = [&submit, &accepted, slot, fn = std::move(fn)](auto handler) mutable {
    auto shared_handler = std::make_shared<decltype(handler)>(std::move(handler));
    auto executor = boost::asio::prefer(boost::asio::get_associated_executor(*shared_handler),
                                        boost::asio::execution::outstanding_work.tracked);
    auto resume = [shared_handler, executor]() {
      boost::asio::post(executor, [shared_handler]() mutable { (*shared_handler)(); });
    };
    accepted = submit([slot, fn = std::move(fn), resume]() mutable {
      try {
        slot->value.emplace(fn());
      } catch (...) {
        slot->failure = std::current_exception();
      }
      resume();
    });
    if (!accepted) resume();
  };
  co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void()>(
      std::move(initiation), boost::asio::use_awaitable);
  if (!accepted)
    co_return MakeError(Errc::kOverloaded, "too many logins in progress, retry shortly");
  if (slot->failure) std::rethrow_exception(slot->failure);
  co_return std::move(*slot->value);
}

}  // namespace

void InitSodium() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

SodiumPasswordHasher::SodiumPasswordHasher(HasherOptions options) : options_(options) {
  InitSodium();
  // The dummy verified for unknown emails has the same parameters as real hashes, so it costs
  // the same; its password is random and never known.
  dummy_hash_ = HashNow(auth::RandomHex(16));
  for (int i = 0; i < std::max(1, options_.threads); ++i)
    threads_.emplace_back([this] {
      NameThisThread("argon2id");
      Run();
    });
}

SodiumPasswordHasher::~SodiumPasswordHasher() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

bool SodiumPasswordHasher::Submit(std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= options_.max_queue) return false;
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

void SodiumPasswordHasher::Run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job();
  }
}

std::string SodiumPasswordHasher::HashNow(std::string_view password) const {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), options_.opslimit,
                            options_.memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    throw std::runtime_error("argon2id: out of memory");
  }
  return out;
}

PasswordCheck SodiumPasswordHasher::VerifyNow(const std::optional<std::string>& hash,
                                              std::string_view password) const {
  const std::string& stored = hash ? *hash : dummy_hash_;
  const bool ok = crypto_pwhash_str_verify(stored.c_str(), password.data(), password.size()) == 0;
  PasswordCheck check;
  check.match = ok && hash.has_value();
  check.needs_rehash =
      check.match &&
      crypto_pwhash_str_needs_rehash(stored.c_str(), options_.opslimit, options_.memlimit) != 0;
  return check;
}

boost::asio::awaitable<Result<std::string>> SodiumPasswordHasher::Hash(std::string password) {
  auto submit = [this](std::function<void()> job) { return Submit(std::move(job)); };
  auto fn = [this, password = std::move(password)]() { return HashNow(password); };
  co_return co_await Offload<std::string>(submit, std::move(fn));
}

boost::asio::awaitable<Result<PasswordCheck>> SodiumPasswordHasher::Verify(
    std::optional<std::string> hash, std::string password) {
  auto submit = [this](std::function<void()> job) { return Submit(std::move(job)); };
  auto fn = [this, hash = std::move(hash), password = std::move(password)]() {
    return VerifyNow(hash, password);
  };
  co_return co_await Offload<PasswordCheck>(submit, std::move(fn));
}

SodiumFieldCipher::SodiumFieldCipher(std::string_view secret) {
  InitSodium();
  if (secret.size() < 32) throw std::invalid_argument("members data key must be >= 32 bytes");
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, sizeof key_);
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(kKeyLabel.data()),
                            kKeyLabel.size());
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(secret.data()),
                            secret.size());
  crypto_generichash_final(&state, key_, sizeof key_);
  aes_ = crypto_aead_aes256gcm_is_available() != 0;
}

const char* SodiumFieldCipher::algorithm() const {
  return aes_ ? "AES-256-GCM" : "XChaCha20-Poly1305";
}

std::string SodiumFieldCipher::Seal(std::string_view plaintext, std::string_view context) const {
  const auto* m = reinterpret_cast<const unsigned char*>(plaintext.data());
  const auto* ad = reinterpret_cast<const unsigned char*>(context.data());
  std::string out;
  unsigned long long clen = 0;
  if (aes_) {
    out.resize(1 + crypto_aead_aes256gcm_NPUBBYTES + plaintext.size() +
               crypto_aead_aes256gcm_ABYTES);
    auto* p = reinterpret_cast<unsigned char*>(out.data());
    p[0] = kAlgAesGcm;
    randombytes_buf(p + 1, crypto_aead_aes256gcm_NPUBBYTES);
    crypto_aead_aes256gcm_encrypt(p + 1 + crypto_aead_aes256gcm_NPUBBYTES, &clen, m,
                                  plaintext.size(), ad, context.size(), nullptr, p + 1, key_);
    out.resize(1 + crypto_aead_aes256gcm_NPUBBYTES + clen);
  } else {
    out.resize(1 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + plaintext.size() +
               crypto_aead_xchacha20poly1305_ietf_ABYTES);
    auto* p = reinterpret_cast<unsigned char*>(out.data());
    p[0] = kAlgXChaCha;
    randombytes_buf(p + 1, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(p + 1 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
                                               &clen, m, plaintext.size(), ad, context.size(),
                                               nullptr, p + 1, key_);
    out.resize(1 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + clen);
  }
  return out;
}

std::optional<std::string> SodiumFieldCipher::Open(std::string_view sealed,
                                                   std::string_view context) const {
  if (sealed.empty()) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(sealed.data());
  const auto* ad = reinterpret_cast<const unsigned char*>(context.data());
  std::string out;
  unsigned long long mlen = 0;
  if (p[0] == kAlgAesGcm) {
    constexpr std::size_t kHead = 1 + crypto_aead_aes256gcm_NPUBBYTES;
    if (!aes_ || sealed.size() < kHead + crypto_aead_aes256gcm_ABYTES) return std::nullopt;
    out.resize(sealed.size() - kHead);
    if (crypto_aead_aes256gcm_decrypt(reinterpret_cast<unsigned char*>(out.data()), &mlen, nullptr,
                                      p + kHead, sealed.size() - kHead, ad, context.size(), p + 1,
                                      key_) != 0) {
      return std::nullopt;
    }
  } else if (p[0] == kAlgXChaCha) {
    constexpr std::size_t kHead = 1 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    if (sealed.size() < kHead + crypto_aead_xchacha20poly1305_ietf_ABYTES) return std::nullopt;
    out.resize(sealed.size() - kHead);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(reinterpret_cast<unsigned char*>(out.data()),
                                                   &mlen, nullptr, p + kHead, sealed.size() - kHead,
                                                   ad, context.size(), p + 1, key_) != 0) {
      return std::nullopt;
    }
  } else {
    return std::nullopt;
  }
  out.resize(mlen);
  return out;
}

}  // namespace rocketmart::members
