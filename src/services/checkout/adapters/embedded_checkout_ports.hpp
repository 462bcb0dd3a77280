// Checkout's ports as the embedded deployment binds them: the SQLite stores over checkout.db and
// this process's in-memory admission and in-flight gate; the provider and the catalog's directory
// come from outside. Used by the composition root and by tests that need a real checkout.
#pragma once

#include "services/checkout/adapters/in_memory_admission.hpp"
#include "services/checkout/adapters/in_memory_idempotency_gate.hpp"
#include "services/checkout/adapters/sqlite_checkout_stores.hpp"
#include "services/checkout/checkout_service.hpp"

namespace rocketmart::checkout {

struct EmbeddedCheckoutPorts {
  EmbeddedCheckoutPorts(storage::GroupCommitWriter& writer, storage::ReadConnections& readers)
      : stores(writer, readers) {}

  CheckoutPorts With(PaymentProvider& provider, ProductDirectory& catalog) {
    return CheckoutPorts{.stock = stores.stock,
                         .sales = stores.sales,
                         .holds = stores.holds,
                         .refunds = stores.refunds,
                         .idempotency = stores.idempotency,
                         .admission = admission,
                         .gate = gate,
                         .provider = provider,
                         .catalog = catalog};
  }

  SqliteCheckoutStores stores;
  InMemoryAdmission admission;
  InMemoryIdempotencyGate gate;
};

}  // namespace rocketmart::checkout
