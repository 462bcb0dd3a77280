// The gateway's forwarding of a request to the service that owns it (issue 15, docs/cluster.md).
// The gateway's server has already applied its limits (header and body bytes, timeouts), given
// the request its id and trace, and verified the member's access token (JwtAuthenticator, with
// the deny-list). A forwarded request carries:
//   - X-Rocketmart-Identity: the internal identity of the verified member (none for an anonymous
//     request), signed with auth.internal_secret; the only identity a service accepts;
//   - X-Forwarded-For: the client as the gateway derived it (server.trusted_proxies), replacing any
//     the client sent;
//   - X-Request-Id, traceparent and X-Request-Deadline-Ms (the time left of the request's
//   deadline);
//   - the client's other end-to-end headers and body as they came.
// Never forwarded: Authorization, Cookie-free identity claims a client may try
// (X-Rocketmart-Identity, X-User-Id, X-Member-Id, X-Forwarded-*, Forwarded, X-Real-IP), hop-by-hop
// headers.
//
// Ordinary answers: the service's head is read first. A body declared at most 64 KiB long (every
// JSON answer of the API) is read whole and answered in one write, as fast as before; a longer
// one, or one of unknown length, is streamed (ADR 0046): the head goes to the client at once and
// the body follows chunk by chunk as the service sends it, one 16 KiB piece in memory, on the
// pooled connection (back to the pool when the body ended, closed when it was abandoned). A
// service failing mid-body cuts the client's connection (never a well-formed truncated answer)
// and counts against that instance. The client's keep-alive connection stays open after a
// streamed answer that ended well.
// The live stock streams (text/event-stream) are passed through chunk by chunk on a connection
// of their own.
// An answer a service marks as everyone's for a while (checkout's sold-out answer to a purchase
// without an Idempotency-Key) is repeated here to the same request, without the round trip, for
// at most that long (SharedAnswers, docs/adr/0048); the mark never reaches a client.
// No instance available: 503 UNAVAILABLE with Retry-After at once (the ejection cool-down when
// every instance is ejected). Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "auth/jwt.hpp"
#include "core/clock.hpp"
#include "infra/http/client/client.hpp"
#include "infra/http/router.hpp"
#include "services/gateway/ports/purchase_keys.hpp"
#include "services/gateway/ports/token_denylist.hpp"
#include "services/gateway/proxy/shared_answers.hpp"

namespace rocketmart::gateway {

struct ProxyTarget {
  std::string service;
  http::client::Client& client;  // ordinary calls: balancing, retries, ejection
  // The instances known now (streams pick one themselves, round robin).
  std::function<std::vector<http::client::Endpoint>()> instances;
  // A member's requests all go to one instance while it is available (docs/adr/0045), so what
  // they wrote there (a like, a basket line) is in what they read next: the service keeps
  // per-instance views that other instances learn of by events.
  bool member_affinity = false;
  // Answers the service marked as everyone's for a while, given here without the round trip
  // (docs/adr/0048); null: every request is forwarded.
  std::unique_ptr<SharedAnswers> shared_answers;
  // With shared_answers: requests with an Idempotency-Key are answered from it too, each once this
  // says checkout has nothing for its key (docs/adr/0049); null: they are all forwarded.
  PurchaseKeys* purchase_keys = nullptr;
  std::atomic<std::uint64_t> next_stream{0};
};

// A handler that forwards to `target` (which must outlive it); `stream`: the route answers a
// Server-Sent Events stream. `catch_up` (a route that EndsSessions): the answer is held until
// that deny-list replica caught up (at most kDenylistCatchUp), so a logout relayed here is
// enforced here from the next request on.
http::Handler ForwardTo(ProxyTarget& target, const auth::Keyring& internal_keys, const Clock& clock,
                        bool stream, const RevokedTokens* catch_up = nullptr);

// The deny-list's propagation bound (issue 14): how long a session-ending answer waits at most.
inline constexpr std::chrono::milliseconds kDenylistCatchUp{1000};

// True for a header the gateway never passes on to a service (see above). Case-insensitive.
bool IsStrippedRequestHeader(std::string_view name);

}  // namespace rocketmart::gateway
