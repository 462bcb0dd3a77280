// The crypto contracts for the libsodium adapters (argon2id, AES-256-GCM / XChaCha20-Poly1305).
#include <sodium.h>

#include "crypto_contract.hpp"
#include "services/members/adapters/sodium_crypto.hpp"

namespace rocketmart::members::contract {
namespace {

// libsodium's minimum cost (these clauses are about behaviour, not strength; the production
// parameters are pinned by MembersCrypto.DefaultHashParametersMeetTheFloorAndAreTimed).
class SodiumHasherFixture final : public HasherFixture {
 public:
  PasswordHasher& Current() override { return current_; }
  PasswordHasher& Weaker() override { return weaker_; }
  PasswordHasher& OneSlot() override { return one_slot_; }

 private:
  SodiumPasswordHasher current_{{.threads = 1,
                                 .max_queue = 32,
                                 .opslimit = crypto_pwhash_OPSLIMIT_MIN + 1,
                                 .memlimit = crypto_pwhash_MEMLIMIT_MIN}};
  SodiumPasswordHasher weaker_{{.threads = 1,
                                .max_queue = 32,
                                .opslimit = crypto_pwhash_OPSLIMIT_MIN,
                                .memlimit = crypto_pwhash_MEMLIMIT_MIN}};
  SodiumPasswordHasher one_slot_{
      {.threads = 1, .max_queue = 1, .opslimit = 2, .memlimit = 16u * 1024 * 1024}};
};

class SodiumCipherFixture final : public CipherFixture {
 public:
  const FieldCipher& Cipher() override { return cipher_; }
  const FieldCipher& OtherKey() override { return other_; }

 private:
  SodiumFieldCipher cipher_{"0123456789abcdef0123456789abcdef-contract"};
  SodiumFieldCipher other_{"fedcba9876543210fedcba9876543210-contract"};
};

std::unique_ptr<HasherFixture> MakeSodiumHasher() {
  return std::make_unique<SodiumHasherFixture>();
}
std::unique_ptr<CipherFixture> MakeSodiumCipher() {
  return std::make_unique<SodiumCipherFixture>();
}

INSTANTIATE_TEST_SUITE_P(Sodium, PasswordHasherContract, ::testing::Values(&MakeSodiumHasher));
INSTANTIATE_TEST_SUITE_P(Sodium, FieldCipherContract, ::testing::Values(&MakeSodiumCipher));

}  // namespace
}  // namespace rocketmart::members::contract
