#include "infra/storage/group_commit_writer.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <future>
#include <stdexcept>
#include <thread>
#include <vector>

#include "support/latch.hpp"
#include "support/temp_dir.hpp"

namespace rocketmart::storage {
namespace {

using testing::Counter;
using testing::Gate;

std::int64_t Scalar(Database& db, std::string_view sql) {
  Statement& stmt = db.Cached(sql);
  std::int64_t value = stmt.Step() ? stmt.Int64(0) : -1;
  stmt.Reset();
  return value;
}

class GroupCommitWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Database db(open_);
    db.Exec("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)");
    db.Exec("INSERT INTO counter VALUES (1, 0)");
    db.Exec("CREATE TABLE items (id INTEGER PRIMARY KEY)");
  }

  static void Increment(Database& db) {
    db.Cached("UPDATE counter SET n = n + 1 WHERE id = 1").Step();
  }
  static GroupCommitWriter::Job Insert(int id) {
    return [id](Database& db) {
      db.Cached("INSERT INTO items (id) VALUES (?1)").BindInt64(1, id).Step();
    };
  }
  // A job that holds the writer thread until `gate` opens, so later jobs pile up in the queue.
  static GroupCommitWriter::Job Blocker(Gate& entered, Gate& gate) {
    return [&entered, &gate](Database&) {
      entered.Open();
      if (!gate.Wait()) throw std::runtime_error("gate never opened");
    };
  }

  testing::TempDir dir_{"storage"};
  OpenOptions open_{.path = dir_.File("w.db")};
};

TEST_F(GroupCommitWriterTest, ConcurrentSubmittersAreGroupedIntoFewTransactions) {
  constexpr int kThreads = 8;
  constexpr int kJobsPerThread = 2500;
  constexpr int kJobs = kThreads * kJobsPerThread;
  GroupCommitWriter writer(open_);
  writer.Start();
  Counter done;
  std::atomic<int> errors{0};
  std::atomic<int> rejected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kJobsPerThread; ++i) {
        bool ok = writer.TrySubmit(&Increment, [&](std::exception_ptr e) {
          if (e) errors.fetch_add(1);
          done.Add();
        });
        if (!ok) rejected.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(rejected.load(), 0);
  ASSERT_TRUE(done.WaitFor(kJobs));
  EXPECT_EQ(errors.load(), 0);
  std::int64_t n = 0;
  writer.RunSync([&](Database& db) { n = Scalar(db, "SELECT n FROM counter WHERE id = 1"); });
  EXPECT_EQ(n, kJobs);
  EXPECT_EQ(writer.JobsCommitted(), static_cast<std::uint64_t>(kJobs) + 1);  // + the RunSync job
  EXPECT_EQ(writer.JobsFailed(), 0u);
  const std::uint64_t batches = writer.BatchesCommitted();
  EXPECT_LT(batches, static_cast<std::uint64_t>(kJobs));
  std::printf("[ group commit ] %d jobs in %llu batches: %.1f jobs/batch\n", kJobs,
              static_cast<unsigned long long>(batches), static_cast<double>(kJobs) / batches);
  EXPECT_EQ(writer.QueueDepth(), 0u);
}

TEST_F(GroupCommitWriterTest, ThrowingJobRollsBackOnlyItsOwnWrites) {
  GroupCommitWriter writer(open_);
  writer.Start();
  Gate entered, gate;
  ASSERT_TRUE(writer.TrySubmit(Blocker(entered, gate), nullptr));
  ASSERT_TRUE(entered.Wait());
  std::vector<std::exception_ptr> results(3);
  Counter done;
  auto record = [&](int i) {
    return [&, i](std::exception_ptr e) {
      results[i] = e;
      done.Add();
    };
  };
  ASSERT_TRUE(writer.TrySubmit(Insert(1), record(0)));
  ASSERT_TRUE(writer.TrySubmit(
      [](Database& db) {
        Insert(2)(db);
        throw std::invalid_argument("business rule says no");
      },
      record(1)));
  ASSERT_TRUE(writer.TrySubmit(Insert(3), record(2)));
  gate.Open();
  ASSERT_TRUE(done.WaitFor(3));

  EXPECT_EQ(results[0], nullptr);
  ASSERT_NE(results[1], nullptr);
  EXPECT_THROW(std::rethrow_exception(results[1]), std::invalid_argument);
  EXPECT_EQ(results[2], nullptr);
  EXPECT_EQ(writer.BatchesCommitted(), 2u);  // The blocker's batch, then all three together.
  EXPECT_EQ(writer.JobsFailed(), 1u);

  std::int64_t count = 0, sum = 0;
  writer.RunSync([&](Database& db) {
    count = Scalar(db, "SELECT COUNT(*) FROM items");
    sum = Scalar(db, "SELECT SUM(id) FROM items");
  });
  EXPECT_EQ(count, 2);
  EXPECT_EQ(sum, 4);
}

TEST_F(GroupCommitWriterTest, FullQueueRejectsImmediately) {
  GroupCommitWriter writer(open_, {.max_batch = 512, .max_queue = 2});
  writer.Start();
  Gate entered, gate;
  ASSERT_TRUE(writer.TrySubmit(Blocker(entered, gate), nullptr));
  ASSERT_TRUE(entered.Wait());  // The blocker left the queue; the writer thread is busy.
  Counter done;
  auto count = [&](std::exception_ptr) { done.Add(); };
  EXPECT_TRUE(writer.TrySubmit(Insert(1), count));
  EXPECT_TRUE(writer.TrySubmit(Insert(2), count));
  EXPECT_FALSE(writer.TrySubmit(Insert(3), count));
  EXPECT_EQ(writer.QueueDepth(), 2u);
  EXPECT_THROW(writer.RunSync(Insert(4)), WriterUnavailableError);
  gate.Open();
  ASSERT_TRUE(done.WaitFor(2));
  EXPECT_TRUE(writer.TrySubmit(Insert(5), count));
  ASSERT_TRUE(done.WaitFor(3));
  EXPECT_EQ(done.value(), 3);
}

TEST_F(GroupCommitWriterTest, DoneRunsOnlyOnceASeparateReaderSeesTheData) {
  Database reader(OpenOptions{.path = open_.path, .read_only = true});
  GroupCommitWriter writer(open_);
  writer.Start();
  constexpr int kJobs = 200;
  std::atomic<int> invisible{0};
  Counter done;
  for (int i = 1; i <= kJobs; ++i) {
    // Done runs on the writer thread, one at a time, so the reader is never used concurrently.
    ASSERT_TRUE(writer.TrySubmit(Insert(i), [&, i](std::exception_ptr e) {
      Statement& probe = reader.Cached("SELECT COUNT(*) FROM items WHERE id = ?1");
      probe.BindInt64(1, i);
      if (e || !probe.Step() || probe.Int64(0) != 1) invisible.fetch_add(1);
      probe.Reset();
      done.Add();
    }));
  }
  ASSERT_TRUE(done.WaitFor(kJobs));
  EXPECT_EQ(invisible.load(), 0);
}

TEST_F(GroupCommitWriterTest, StopDrainsQueuedJobs) {
  GroupCommitWriter writer(open_);
  writer.Start();
  Gate entered, gate;
  ASSERT_TRUE(writer.TrySubmit(Blocker(entered, gate), nullptr));
  ASSERT_TRUE(entered.Wait());
  Counter done;
  for (int i = 1; i <= 100; ++i) {
    ASSERT_TRUE(writer.TrySubmit(Insert(i), [&](std::exception_ptr e) {
      if (!e) done.Add();
    }));
  }
  // Stop while the jobs are still queued behind the blocker.
  auto stopped = std::async(std::launch::async, [&] { writer.Stop(); });
  gate.Open();
  stopped.get();
  EXPECT_EQ(done.value(), 100);
  EXPECT_FALSE(writer.TrySubmit(Insert(1000), nullptr));
  writer.Stop();  // Idempotent.

  Database check(open_);
  EXPECT_EQ(Scalar(check, "SELECT COUNT(*) FROM items"), 100);
}

TEST_F(GroupCommitWriterTest, StopWithoutStartStillRunsQueuedJobs) {
  GroupCommitWriter writer(open_);
  Counter done;
  for (int i = 1; i <= 10; ++i) {
    ASSERT_TRUE(writer.TrySubmit(Insert(i), [&](std::exception_ptr e) {
      if (!e) done.Add();
    }));
  }
  writer.Stop();
  EXPECT_EQ(done.value(), 10);
  EXPECT_EQ(Scalar(writer.Connection(), "SELECT COUNT(*) FROM items"), 10);
}

TEST_F(GroupCommitWriterTest, RunSyncRethrowsAndRefusesToWaitForItself) {
  GroupCommitWriter writer(open_);
  EXPECT_THROW(writer.RunSync(Insert(1)), std::logic_error);  // Not started: would hang.
  writer.Start();
  EXPECT_THROW(writer.RunSync([](Database&) { throw std::out_of_range("x"); }), std::out_of_range);
  EXPECT_THROW(writer.RunSync([](Database& db) { db.Exec("INSERT INTO nope VALUES (1)"); }),
               SqliteError);
  std::exception_ptr nested;
  writer.RunSync([&](Database&) {
    try {
      writer.RunSync(Insert(1));
    } catch (...) {
      nested = std::current_exception();
    }
  });
  ASSERT_NE(nested, nullptr);
  EXPECT_THROW(std::rethrow_exception(nested), std::logic_error);
}

TEST_F(GroupCommitWriterTest, CommitListenersRunAfterCommitUntilRemoved) {
  GroupCommitWriter writer(open_);
  writer.Start();
  Counter commits;
  auto id = writer.AddCommitListener([&] { commits.Add(); });
  writer.RunSync(Insert(1));
  EXPECT_TRUE(commits.WaitFor(1));
  writer.RemoveCommitListener(id);
  writer.RunSync(Insert(2));
  EXPECT_EQ(commits.value(), 1);
}

TEST_F(GroupCommitWriterTest, CommittedDataSurvivesReopen) {
  {
    GroupCommitWriter writer(open_);
    writer.Start();
    for (int i = 1; i <= 10; ++i) writer.RunSync(Insert(i));
    writer.Stop();
  }
  GroupCommitWriter reopened(open_);
  EXPECT_EQ(Scalar(reopened.Connection(), "SELECT COUNT(*) FROM items"), 10);
  reopened.Start();
  reopened.RunSync(Insert(11));
  std::int64_t count = 0;
  reopened.RunSync([&](Database& db) { count = Scalar(db, "SELECT COUNT(*) FROM items"); });
  EXPECT_EQ(count, 11);
}

// A transaction that cannot commit (here a deferred foreign key, which SQLite checks only at
// COMMIT) is counted and makes the writer report itself failing until a later commit succeeds.
TEST_F(GroupCommitWriterTest, AFailedCommitIsCountedAndFailingUntilTheNextCommit) {
  {
    Database db(open_);
    db.Exec("CREATE TABLE parent (id INTEGER PRIMARY KEY)");
    db.Exec(
        "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES "
        "parent (id) DEFERRABLE INITIALLY DEFERRED)");
  }
  GroupCommitWriter writer(open_);
  writer.Start();
  EXPECT_FALSE(writer.Failing());
  EXPECT_THROW(writer.RunSync([](Database& db) {
    db.Exec("INSERT INTO child (id, parent_id) VALUES (1, 42)");
  }),
               SqliteError);
  EXPECT_EQ(writer.CommitFailures(), 1u);
  EXPECT_TRUE(writer.Failing());
  // A job that only fails itself (its savepoint rolls back, the batch commits) is not a store
  // failure.
  EXPECT_THROW(writer.RunSync([](Database&) { throw std::runtime_error("business rule"); }),
               std::runtime_error);
  EXPECT_FALSE(writer.Failing());
  EXPECT_EQ(writer.CommitFailures(), 1u);
  writer.RunSync(Insert(7));
  EXPECT_FALSE(writer.Failing());
  writer.Stop();
}

}  // namespace
}  // namespace rocketmart::storage
