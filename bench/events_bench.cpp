// events_bench: event delivery through Redis Streams (issue 14's benchmark line), the production
// path end to end: a producer's SQLite outbox (storage.synchronous = full, the server's default)
// relayed by the real RedisStreamsEventBus (the options the server uses) to a consumer group,
// whose subscriber applies each batch as an effect in the consumer's own SQLite transaction
// (ClaimEvent + one row per event, as every service's effects do).
//
// A pacer submits one outbox append per event to the producer's group-commit writer at --rate
// events/s. Latency per event = from its outbox commit (the writer's Done callback, after COMMIT)
// to its effect (the consumer's transaction committed: after its RunSync returned), both on one
// steady clock. Printed: publish rate, delivered events/s, p50/p90/p99/max latency (the first
// --warmup events excluded: the group is being created), then the correctness check: every event
// applied exactly once (the consumer's table: rows = events, distinct = rows), none lost, and the
// redeliveries seen. The last line is RESULT {json}. Exit 1 when a check fails.
//
//   events_bench --redis-url redis://127.0.0.1:6379 --rate 10000 --events 100000
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "infra/events/redis_streams/redis_streams_event_bus.hpp"
#include "infra/events/redis_streams/sqlite_stores.hpp"
#include "infra/events/sqlite_outbox/outbox.hpp"
#include "infra/redis/reply.hpp"
#include "infra/storage/group_commit_writer.hpp"
#include "infra/storage/migrations.hpp"
#include "infra/storage/read_connections.hpp"

namespace rocketmart::bench {
namespace {

using Steady = std::chrono::steady_clock;
namespace rs = events::redis_streams;

constexpr const char* kTopic = "bench";
constexpr storage::Migration kEffects{1, "effects",
                                      "CREATE TABLE effects (n INTEGER NOT NULL, at TEXT)"};

struct Options {
  std::string redis_url;
  std::string dir;         // empty: a temp dir, removed at the end
  std::string key_prefix;  // empty: "events-bench-<pid>-<unix time>:" (a fresh stream each run)
  double rate = 10000;
  std::int64_t events = 100000;
  std::int64_t warmup = 1000;
  double settle_s = 60;
};

std::int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Steady::now().time_since_epoch())
      .count();
}

struct Db {
  explicit Db(const std::filesystem::path& path)
      : writer(storage::OpenOptions{.path = path.string()}),
        readers(storage::OpenOptions{.path = path.string()}) {}
  storage::GroupCommitWriter writer;
  storage::ReadConnections readers;
};

// What the run recorded per event (index = the payload): commit and effect instants, handings.
struct Record {
  explicit Record(std::size_t n) : commit_ns(n), effect_ns(n), handed(n) {}
  std::vector<std::atomic<std::int64_t>> commit_ns;
  std::vector<std::atomic<std::int64_t>> effect_ns;
  std::vector<std::atomic<int>> handed;
  std::atomic<std::int64_t> commit_failures{0};
  std::atomic<std::int64_t> applied{0};
  std::atomic<std::int64_t> foreign{0};  // payloads that are not ours (should stay 0)
};

// The consumer's effect: one transaction per batch, each event claimed and recorded unless it
// was (a redelivery), then the effect instant of each newly applied event.
class Effect final : public events::EventSubscriber {
 public:
  Effect(Db& db, const Clock& clock, Record& record) : db_(db), clock_(clock), record_(record) {}
  std::string_view Name() const override { return "bench-effect"; }
  void Handle(std::span<const events::Event> batch) override {
    std::vector<std::size_t> fresh;
    fresh.reserve(batch.size());
    db_.writer.RunSync([&](storage::Database& db) {
      fresh.clear();  // a retried job starts again
      for (const events::Event& e : batch) {
        if (!events::sqlite_outbox::ClaimEvent(db, Name(), e.id, clock_.Now())) continue;
        db.Cached("INSERT INTO effects (n) VALUES (?1)").BindInt64(1, std::stoll(e.payload)).Step();
        fresh.push_back(static_cast<std::size_t>(std::stoll(e.payload)));
      }
    });
    const std::int64_t now = NowNs();
    for (const events::Event& e : batch) {
      const auto n = static_cast<std::size_t>(std::stoll(e.payload));
      if (n >= record_.handed.size()) {
        record_.foreign.fetch_add(1);
        continue;
      }
      record_.handed[n].fetch_add(1, std::memory_order_relaxed);
    }
    for (std::size_t n : fresh) {
      if (n < record_.effect_ns.size()) record_.effect_ns[n].store(now, std::memory_order_relaxed);
    }
    record_.applied.fetch_add(static_cast<std::int64_t>(fresh.size()));
  }

 private:
  Db& db_;
  const Clock& clock_;
  Record& record_;
};

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto i = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

int Main(const Options& o) {
  auto endpoint = redis::ParseEndpoint(o.redis_url);
  if (!endpoint.ok()) {
    std::fprintf(stderr, "--redis-url: %s\n", endpoint.error().message.c_str());
    return 2;
  }
  std::filesystem::path dir = o.dir;
  bool remove_dir = false;
  if (dir.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "events-bench.XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::perror("mkdtemp");
      return 2;
    }
    dir = tmpl;
    remove_dir = true;
  }
  std::filesystem::create_directories(dir);
  const auto n_events = static_cast<std::size_t>(std::max<std::int64_t>(1, o.events));
  const std::size_t warmup = std::min<std::size_t>(static_cast<std::size_t>(o.warmup), n_events);
  SystemClock clock;
  Record record(n_events);
  int rc = 0;
  {
    Db producer(dir / "producer.db");
    Db consumer(dir / "consumer.db");
    storage::Migrate(producer.writer.Connection(), std::span<const storage::Migration>{});
    storage::Migrate(consumer.writer.Connection(), std::vector<storage::Migration>{kEffects});
    producer.writer.Start();
    consumer.writer.Start();
    rs::SqliteOutboxSource outbox("producer", producer.writer, producer.readers);
    rs::SqliteConsumerStore store("consumer", consumer.writer, consumer.readers);
    // The server's bus options (src/app: defaults, its prefix and instance name).
    rs::RedisStreamsEventBusOptions options;
    options.key_prefix = !o.key_prefix.empty() ? o.key_prefix
                                               : "events-bench-" + std::to_string(::getpid()) +
                                                     "-" + std::to_string(std::time(nullptr)) + ":";
    options.instance = "events-bench";
    rs::RedisStreamsEventBus bus(*endpoint, clock, options);
    bus.AddProducer(outbox);
    bus.AddConsumer(store);
    Effect effect(consumer, clock, record);
    bus.Subscribe(
        events::Subscription{"producer", {kTopic}, "consumer", events::Delivery::kEffect, &effect});
    bus.Start();

    std::printf(
        "events_bench: %zu events at %.0f/s (first %zu warm-up), SQLite outbox and "
        "effects (synchronous=full), Redis %s, dir %s\n",
        n_events, o.rate, warmup, o.redis_url.c_str(), dir.c_str());
    std::fflush(stdout);

    // The pacer: event i is due at start + i / rate; each tick submits every event due.
    std::int64_t backpressure = 0;
    const auto start = Steady::now();
    std::size_t next = 0;
    while (next < n_events) {
      const double elapsed = std::chrono::duration<double>(Steady::now() - start).count();
      const auto due = std::min(n_events, static_cast<std::size_t>(elapsed * o.rate) + 1);
      for (; next < due; ++next) {
        const std::size_t i = next;
        auto job = [i, &clock](storage::Database& db) {
          events::sqlite_outbox::Append(db, kTopic, std::to_string(i), clock.Now());
        };
        auto done = [i, &record](std::exception_ptr ep) {
          if (ep) {
            record.commit_failures.fetch_add(1);
          } else {
            record.commit_ns[i].store(NowNs(), std::memory_order_relaxed);
          }
        };
        while (!producer.writer.TrySubmit(job, done)) {  // queue full: the writer is behind
          ++backpressure;
          std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
      }
      std::this_thread::sleep_for(std::chrono::microseconds(500));  // tick
    }
    const double publish_s = std::chrono::duration<double>(Steady::now() - start).count();

    // Wait until every event was applied (or the settle time passed).
    const auto settle_by = Steady::now() + std::chrono::duration_cast<Steady::duration>(
                                               std::chrono::duration<double>(o.settle_s));
    while (record.applied.load() < static_cast<std::int64_t>(n_events) &&
           Steady::now() < settle_by) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    // A moment more for a late duplicate to show, then stop.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    bus.Stop();
    producer.writer.Stop();
    consumer.writer.Stop();

    // Figures.
    std::vector<double> lat_ms;
    lat_ms.reserve(n_events);
    std::int64_t first_commit = INT64_MAX, last_commit = 0, last_effect = 0, lost = 0,
                 redelivered = 0, uncommitted = 0;
    for (std::size_t i = 0; i < n_events; ++i) {
      const std::int64_t c = record.commit_ns[i].load();
      const std::int64_t e = record.effect_ns[i].load();
      if (c == 0) ++uncommitted;
      if (e == 0) ++lost;
      redelivered += std::max(0, record.handed[i].load() - 1);
      if (c != 0) {
        first_commit = std::min(first_commit, c);
        last_commit = std::max(last_commit, c);
      }
      last_effect = std::max(last_effect, e);
      if (c != 0 && e != 0 && i >= warmup) {
        lat_ms.push_back(static_cast<double>(std::max<std::int64_t>(0, e - c)) / 1e6);
      }
    }
    std::sort(lat_ms.begin(), lat_ms.end());
    double sum = 0;
    for (double v : lat_ms) sum += v;
    const double avg = lat_ms.empty() ? 0 : sum / static_cast<double>(lat_ms.size());
    const double p50 = Percentile(lat_ms, 0.50), p90 = Percentile(lat_ms, 0.90),
                 p99 = Percentile(lat_ms, 0.99), max = lat_ms.empty() ? 0 : lat_ms.back();
    const double commit_span_s =
        last_commit > first_commit ? static_cast<double>(last_commit - first_commit) / 1e9 : 0;
    const double deliver_span_s =
        last_effect > first_commit ? static_cast<double>(last_effect - first_commit) / 1e9 : 0;
    const double publish_rate =
        commit_span_s > 0 ? static_cast<double>(n_events - 1) / commit_span_s : 0;
    const std::int64_t applied = record.applied.load();
    const double events_per_s =
        deliver_span_s > 0 ? static_cast<double>(applied) / deliver_span_s : 0;

    // The consumer's own table: every event once.
    std::int64_t rows = 0, distinct = 0, in_range = 0;
    {
      storage::Statement s = consumer.readers.ForThisThread().Prepare(
          "SELECT count(*), count(DISTINCT n), sum(n >= 0 AND n < ?1) FROM effects");
      s.BindInt64(1, static_cast<std::int64_t>(n_events));
      s.Step();
      rows = s.Int64(0);
      distinct = s.Int64(1);
      in_range = s.Int64(2);
    }
    const auto n = static_cast<std::int64_t>(n_events);
    struct Check {
      const char* name;
      bool ok;
    };
    const Check checks[] = {
        {"every outbox append committed", uncommitted == 0 && record.commit_failures == 0},
        {"effects = events (none lost)", rows == n && lost == 0},
        {"each event applied once (distinct = rows)", distinct == rows && in_range == rows},
        {"no foreign events", record.foreign == 0},
    };
    bool all_ok = true;

    std::printf(
        "\n== events_bench: Redis Streams delivery, outbox commit -> effect committed ==\n");
    std::printf("%-34s %12.1f s (pacer), backpressure waits %lld\n", "publishing took", publish_s,
                static_cast<long long>(backpressure));
    std::printf("%-34s %12.0f\n", "target events/s", o.rate);
    std::printf("%-34s %12.0f\n", "committed to the outbox, events/s", publish_rate);
    std::printf("%-34s %12.0f\n", "delivered (effects), events/s", events_per_s);
    std::printf("%-22s %8s %8s %8s %8s %8s\n", "latency (ms)", "avg", "p50", "p90", "p99", "max");
    std::printf("%-22s %8.2f %8.2f %8.2f %8.2f %8.2f\n", "  commit -> effect", avg, p50, p90, p99,
                max);
    std::printf("events=%lld applied=%lld rows=%lld distinct=%lld lost=%lld redelivered=%lld\n",
                static_cast<long long>(n), static_cast<long long>(applied),
                static_cast<long long>(rows), static_cast<long long>(distinct),
                static_cast<long long>(lost), static_cast<long long>(redelivered));
    for (const Check& c : checks) {
      std::printf("  [%s] %s\n", c.ok ? " ok " : "FAIL", c.name);
      all_ok = all_ok && c.ok;
    }
    boost::json::object j{{"events", n},
                          {"rate_target", o.rate},
                          {"publish_rate", publish_rate},
                          {"events_per_s", events_per_s},
                          {"lat_avg_ms", avg},
                          {"lat_p50_ms", p50},
                          {"lat_p90_ms", p90},
                          {"lat_p99_ms", p99},
                          {"lat_max_ms", max},
                          {"applied", applied},
                          {"rows", rows},
                          {"distinct", distinct},
                          {"lost", lost},
                          {"redelivered", redelivered},
                          {"backpressure", backpressure},
                          {"checks_ok", all_ok}};
    std::printf("RESULT %s\n", boost::json::serialize(j).c_str());
    rc = all_ok ? 0 : 1;
  }
  if (remove_dir) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return rc;
}

}  // namespace
}  // namespace rocketmart::bench

int main(int argc, char** argv) {
  rocketmart::bench::Options o;
  CLI::App cli{"events_bench: event delivery latency and rate through Redis Streams"};
  cli.add_option("--redis-url", o.redis_url, "redis://127.0.0.1:PORT or unix:///path")->required();
  cli.add_option("--dir", o.dir, "Where the two SQLite databases go (default: a temp dir)");
  cli.add_option("--key-prefix", o.key_prefix,
                 "Before every Redis key of the run (default: a fresh one per run)");
  cli.add_option("--rate", o.rate, "Target events/s appended to the outbox")
      ->check(CLI::Range(1.0, 1e7));
  cli.add_option("--events", o.events, "Events in the run")->check(CLI::Range(1, 100000000));
  cli.add_option("--warmup", o.warmup, "First events left out of the latency figures");
  cli.add_option("--settle", o.settle_s, "Max seconds to wait for every effect afterwards");
  CLI11_PARSE(cli, argc, argv);
  return rocketmart::bench::Main(o);
}
