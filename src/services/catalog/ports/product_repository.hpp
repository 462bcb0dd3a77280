// Port: durable storage of products. Implemented by adapters/sqlite_product_repository; the
// promises are checked, through this interface only, by
// tests/contract/catalog/product_repository_contract.hpp. Writes are coroutines that complete only
// after the change (and its event) committed; several instances may share one store (their writes
// serialize in it). The catalog serves reads from memory: the start-up load, and Find for a product
// an instance has not heard of yet (another instance created it a moment ago).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/result.hpp"
#include "services/catalog/domain/product.hpp"

namespace rocketmart::catalog {

class ProductRepository {
 public:
  virtual ~ProductRepository() = default;
  // Assigns the id; emits product.created with the initial stock.
  virtual boost::asio::awaitable<Result<Product>> Insert(Product product) = 0;
  // Applies the changes to the stored product (read-modify-write in one transaction, so concurrent
  // updates never lose each other); emits product.updated. kNotFound for unknown/retired ids.
  virtual boost::asio::awaitable<Result<Product>> Update(std::int64_t id, ProductChanges changes,
                                                         TimePoint now) = 0;
  // Marks the product retired (it stays in history: orders refer to it); emits product.retired.
  virtual boost::asio::awaitable<Result<Product>> Retire(std::int64_t id, TimePoint now) = 0;
  // Every product ever stored, retired ones included, by id. Start-up only: synchronous by design,
  // called once before serving.
  virtual std::vector<Product> LoadAll() = 0;
  // The stored product (retired ones included), nullopt for an id never stored.
  virtual boost::asio::awaitable<Result<std::optional<Product>>> Find(std::int64_t id) = 0;
};

}  // namespace rocketmart::catalog
