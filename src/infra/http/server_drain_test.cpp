// The server's drain hook against a real http::Server on 127.0.0.1:0: what a caller keeps on the
// worker loops (a Redis connection per loop, in a service run apart) is let go on each loop's own
// thread once that loop drained, so the loops end on their own instead of at the grace period.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "infra/http/router.hpp"
#include "infra/http/server.hpp"
#include "support/loopback_server.hpp"

namespace rocketmart::http {
namespace {

namespace asio = boost::asio;

TEST(HttpServerDrain, EachLoopRunsTheDrainedHooksOnItsOwnThread) {
  ServerOptions options = testing::LoopbackServerOptions("drain");
  options.threads = 2;
  options.shutdown_grace = std::chrono::seconds(30);  // a loop the hook did not free would wait
  Router router;
  NoMemberIdentities auth;
  metrics::Registry registry;
  Server server(options, router, auth, registry);
  server.Bind();
  const auto loops = server.loop_executors();
  ASSERT_EQ(loops.size(), 2u);
  // On each loop, a wait only the hook ends (as a connection's pending read would be).
  std::vector<std::unique_ptr<asio::steady_timer>> waits;
  std::array<std::atomic<bool>, 2> ended{};
  for (std::size_t i = 0; i < loops.size(); ++i) {
    waits.push_back(std::make_unique<asio::steady_timer>(loops[i]));
    waits.back()->expires_at(asio::steady_timer::time_point::max());
    waits.back()->async_wait([&ended, i](const boost::system::error_code&) { ended[i] = true; });
  }
  std::atomic<int> hooks{0};
  std::atomic<int> off_loop{0};
  server.OnLoopDrained([&] {
    ++hooks;
    bool on_a_loop = false;
    for (std::size_t i = 0; i < loops.size(); ++i) {
      if (!loops[i].running_in_this_thread()) continue;
      on_a_loop = true;
      waits[i]->cancel();
    }
    if (!on_a_loop) ++off_loop;
  });
  std::thread run([&] { server.Run(); });
  server.Shutdown();
  run.join();
  EXPECT_EQ(hooks.load(), 2) << "once per loop";
  EXPECT_EQ(off_loop.load(), 0) << "each on its loop's thread";
  // Ended by the hooks while the loops ran (a loop stopped by the grace period runs no handler).
  EXPECT_TRUE(ended[0].load());
  EXPECT_TRUE(ended[1].load());
  waits.clear();  // before the server's loops go
}

}  // namespace
}  // namespace rocketmart::http
