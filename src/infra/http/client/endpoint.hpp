// The endpoints of one peer service, as discovery (etcd) or configuration knows them. The client
// balances over the current set; whoever knows the set feeds it through EndpointSet::Update.
// Kept free of any client or discovery type so either side can depend on it alone.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rocketmart::http::client {

struct Endpoint {
  std::string id;    // stable per instance (discovery's key); health and pool follow the id
  std::string host;  // an IP literal or a name (resolved at connect)
  std::uint16_t port = 0;

  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

class EndpointSet {
 public:
  virtual ~EndpointSet() = default;
  // Replaces the set; thread-safe, callable at any time, also while calls are in flight. An
  // endpoint whose id stays keeps its health and its idle connections; one that goes is no
  // longer picked, its idle connections are closed and the calls it is serving finish normally.
  // An id given again with another host or port is a new endpoint.
  virtual void Update(std::vector<Endpoint> endpoints) = 0;
};

}  // namespace rocketmart::http::client
