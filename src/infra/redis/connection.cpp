#include "infra/redis/connection.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>

namespace rocketmart::redis {
namespace {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

Reply Copy(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(Copy(r->element[i]));
      break;
    default:
      out.type = Reply::Type::kNil;
  }
  return out;
}

// Ready without waiting? (Asio's epoll reactor is edge-triggered and an async_wait does not look
// before it waits, so readiness that came before the wait was armed is checked here.)
bool Ready(int fd, short events) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (events | POLLERR | POLLHUP)) != 0;
}

Error Unavailable(const std::string& what) {
  return MakeError(Errc::kUnavailable, "redis: " + what);
}

}  // namespace

struct Connection::Pending {
  std::unique_ptr<Completion> completion;
  SteadyClock::time_point deadline{};
  Millis timeout{0};
  bool done = false;
};

// hiredis's event hooks on an Asio stream_descriptor. Hooks only set flags and arm waits (they run
// inside hiredis); the handlers call back into hiredis through the connection.
class Connection::Watcher : public std::enable_shared_from_this<Watcher> {
 public:
  Watcher(Connection& conn, redisAsyncContext* ac)
      : conn_(conn), ac_(ac), fd_(ac->c.fd), sd_(conn.executor_, ac->c.fd) {}

  redisAsyncContext* ac() const { return ac_; }
  bool want_write() const { return want_write_; }

  void Attach() {
    ac_->ev.data = this;
    ac_->ev.addRead = [](void* p) { static_cast<Watcher*>(p)->AddRead(); };
    ac_->ev.delRead = [](void* p) { static_cast<Watcher*>(p)->want_read_ = false; };
    ac_->ev.addWrite = [](void* p) { static_cast<Watcher*>(p)->AddWrite(); };
    ac_->ev.delWrite = [](void* p) { static_cast<Watcher*>(p)->want_write_ = false; };
    ac_->ev.cleanup = [](void* p) { static_cast<Watcher*>(p)->Cleanup(); };
  }

  void AddRead() {
    want_read_ = true;
    ArmRead();
  }
  // Writes are flushed once per turn of the loop: every command issued in that turn leaves in one
  // write (pipelining), and the connect completes on the first flush after it finished.
  void AddWrite() {
    want_write_ = true;
    if (flush_posted_ || ac_ == nullptr) return;
    flush_posted_ = true;
    asio::post(conn_.executor_, [self = shared_from_this()] {
      self->flush_posted_ = false;
      self->OnWritable();
    });
  }

  void ArmRead() {
    if (ac_ == nullptr || !want_read_) return;
    if (!read_armed_) {
      read_armed_ = true;
      sd_.async_wait(asio::posix::descriptor_base::wait_read,
                     [self = shared_from_this()](boost::system::error_code ec) {
                       self->read_armed_ = false;
                       if (!ec) self->OnReadable();
                     });
    }
    if (!read_posted_ && Ready(fd_, POLLIN)) {
      read_posted_ = true;
      asio::post(conn_.executor_, [self = shared_from_this()] {
        self->read_posted_ = false;
        self->OnReadable();
      });
    }
  }

  void ArmWrite() {
    if (ac_ == nullptr || !want_write_) return;
    if (!write_armed_) {
      write_armed_ = true;
      sd_.async_wait(asio::posix::descriptor_base::wait_write,
                     [self = shared_from_this()](boost::system::error_code ec) {
                       self->write_armed_ = false;
                       if (!ec) self->OnWritable();
                     });
    }
    if (Ready(fd_, POLLOUT)) AddWrite();
  }

  void OnReadable() {
    if (ac_ == nullptr || !want_read_) return;
    conn_.HandleRead(*this);
    ArmRead();
  }
  void OnWritable() {
    if (ac_ == nullptr || !want_write_) return;
    conn_.HandleWrite(*this);
    ArmWrite();  // still something to write (a full socket buffer), or still connecting
  }

 private:
  void Cleanup() {
    // hiredis frees the context (and closes the socket) right after this: stop watching it.
    ac_ = nullptr;
    want_read_ = want_write_ = false;
    boost::system::error_code ignored;
    sd_.cancel(ignored);
    (void)sd_.release();
  }

  Connection& conn_;
  redisAsyncContext* ac_;
  const int fd_;
  asio::posix::stream_descriptor sd_;
  bool want_read_ = false;
  bool want_write_ = false;
  bool read_armed_ = false;
  bool write_armed_ = false;
  bool read_posted_ = false;
  bool flush_posted_ = false;
};

std::shared_ptr<Connection> Connection::Create(Executor executor, Endpoint endpoint,
                                               ClientOptions options, std::string name) {
  return std::shared_ptr<Connection>(
      new Connection(executor, std::move(endpoint), options, std::move(name)));
}

Connection::Connection(Executor executor, Endpoint endpoint, ClientOptions options,
                       std::string name)
    : executor_(executor),
      endpoint_(std::move(endpoint)),
      options_(options),
      name_(std::move(name)),
      deadline_timer_(executor),
      reconnect_timer_(executor),
      connect_timer_(executor) {}

Connection::~Connection() {
  // Only reached when no handler holds the connection: its loop is gone or Close() ran.
  if (ac_ != nullptr) {
    redisAsyncContext* ac = ac_;
    ac_ = nullptr;
    ac->data = nullptr;
    redisAsyncFree(ac);
  }
  for (auto& [pending, result] : ready_) pending->completion.reset();
}

void Connection::Subscribe(std::string channel, std::function<void(std::string)> on_message,
                           std::function<void()> on_subscribed) {
  subscribe_channel_ = std::move(channel);
  on_message_ = std::move(on_message);
  on_subscribed_ = std::move(on_subscribed);
}

void Connection::Start() {
  asio::dispatch(executor_, [self = shared_from_this()] {
    if (self->state_ == State::kIdle) self->Connect();
  });
}

void Connection::Close() {
  asio::dispatch(executor_, [self = shared_from_this()] {
    if (self->state_ == State::kClosed) return;
    self->state_ = State::kClosed;
    self->reconnect_timer_.cancel();
    self->connect_timer_.cancel();
    self->deadline_timer_.cancel();
    if (self->ac_ != nullptr) {
      redisAsyncContext* ac = self->ac_;
      self->ac_ = nullptr;
      ++self->in_hiredis_;
      redisAsyncFree(ac);  // calls every pending callback with no reply
      --self->in_hiredis_;
    }
    self->connected_.store(false);
    for (auto& p : self->inflight_) self->Finish(p, Unavailable("connection closed"));
    self->inflight_.clear();
    self->Drain();
  });
}

void Connection::Submit(std::unique_ptr<Completion> completion, std::vector<std::string> args,
                        std::optional<Millis> timeout) {
  auto pending = std::make_shared<Pending>();
  pending->completion = std::move(completion);
  pending->timeout = timeout.value_or(options_.command_timeout);
  if (executor_.running_in_this_thread()) {
    Send(std::move(pending), args);
    return;
  }
  asio::post(executor_,
             [self = shared_from_this(), pending = std::move(pending),
              args = std::move(args)]() mutable { self->Send(std::move(pending), args); });
}

void Connection::Send(std::shared_ptr<Pending> pending, const std::vector<std::string>& args) {
  if ((state_ != State::kConnected && state_ != State::kConnecting) || ac_ == nullptr ||
      args.empty()) {
    // Completed from the loop, never inside the caller's initiation.
    const bool closed = state_ == State::kClosed;
    asio::post(executor_, [self = shared_from_this(), pending, closed] {
      self->Finish(pending, Unavailable(closed ? "connection closed" : "not connected"));
      self->Drain();
    });
    return;
  }
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* holder = new std::shared_ptr<Pending>(pending);
  ++in_hiredis_;
  const int rc =
      on_message_ ? REDIS_ERR
                  : redisAsyncCommandArgv(ac_, &Connection::OnReply, holder,
                                          static_cast<int>(argv.size()), argv.data(), lens.data());
  --in_hiredis_;
  if (rc != REDIS_OK) {
    delete holder;
    Finish(pending, Unavailable(on_message_ ? "a subscriber connection takes no command"
                                            : "the command could not be queued"));
    Drain();
    return;
  }
  pending->deadline = SteadyClock::now() + pending->timeout;
  inflight_.push_back(std::move(pending));
  if (!deadline_armed_ || inflight_.back()->deadline < *deadline_armed_) ArmDeadline();
  Drain();
}

void Connection::Finish(const std::shared_ptr<Pending>& pending, ReplyResult result) {
  if (pending->done) return;
  pending->done = true;
  if (in_hiredis_ > 0) {
    // Inside a hiredis callback: a resumed caller could issue a command into the context hiredis
    // is working on (or freeing). Completed by Drain() once hiredis returned.
    ready_.emplace_back(pending, std::move(result));
    return;
  }
  if (pending->completion) pending->completion->Complete(std::move(result));
}

void Connection::Drain() {
  if (in_hiredis_ > 0) return;
  while (!ready_.empty()) {
    auto batch = std::move(ready_);
    ready_.clear();
    for (auto& [pending, result] : batch) {
      if (pending->completion) pending->completion->Complete(std::move(result));
    }
  }
  while (!inflight_.empty() && inflight_.front()->done) inflight_.pop_front();
}

void Connection::Connect() {
  if (state_ == State::kClosed) return;
  state_ = State::kConnecting;
  redisAsyncContext* ac = endpoint_.unix_path.empty()
                              ? redisAsyncConnect(endpoint_.host.c_str(), endpoint_.port)
                              : redisAsyncConnectUnix(endpoint_.unix_path.c_str());
  if (ac == nullptr || ac->err) {
    spdlog::warn("redis {}: cannot connect to {}: {}", name_, endpoint_.ToString(),
                 ac ? ac->errstr : "out of memory");
    if (ac != nullptr) redisAsyncFree(ac);
    state_ = State::kBackingOff;
    ScheduleReconnect();
    return;
  }
  ac_ = ac;
  ac->data = this;
  watcher_ = std::make_shared<Watcher>(*this, ac);
  watcher_->Attach();
  redisAsyncSetConnectCallback(ac, &Connection::OnConnect);
  redisAsyncSetDisconnectCallback(ac, &Connection::OnDisconnect);
  // Log in and pick the database before anything else leaves: queued first, answered first.
  if (!endpoint_.password.empty()) {
    const char* argv[] = {"AUTH", endpoint_.password.c_str()};
    const std::size_t lens[] = {4, endpoint_.password.size()};
    redisAsyncCommandArgv(ac, &Connection::OnSetupReply, nullptr, 2, argv, lens);
  }
  if (endpoint_.db != 0) {
    const std::string db = std::to_string(endpoint_.db);
    const char* argv[] = {"SELECT", db.c_str()};
    const std::size_t lens[] = {6, db.size()};
    redisAsyncCommandArgv(ac, &Connection::OnSetupReply, nullptr, 2, argv, lens);
  }
  watcher_->AddWrite();  // the connect completes on the first writable event
  connect_timer_.expires_after(options_.connect_timeout);
  connect_timer_.async_wait([self = shared_from_this(), ac](boost::system::error_code ec) {
    if (!ec && self->ac_ == ac && self->state_ == State::kConnecting) {
      self->Reset("connect timed out");
    }
  });
}

void Connection::OnConnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<Connection*>(ac->data);
  if (self == nullptr || self->ac_ != ac) return;
  self->connect_timer_.cancel();
  if (status != REDIS_OK) {
    // hiredis frees the context after this callback (no disconnect callback follows).
    spdlog::warn("redis {}: cannot connect to {}: {}", self->name_, self->endpoint_.ToString(),
                 ac->errstr);
    self->ac_ = nullptr;
    self->state_ = State::kBackingOff;
    self->connected_.store(false);
    asio::post(self->executor_, [s = self->shared_from_this()] { s->ScheduleReconnect(); });
    return;
  }
  self->state_ = State::kConnected;
  self->backoff_ = Millis{0};
  self->connected_.store(true);
  self->connects_.fetch_add(1);
  if (self->on_message_) {
    asio::post(self->executor_, [s = self->shared_from_this()] { s->IssueSubscribe(); });
  }
}

void Connection::OnSetupReply(redisAsyncContext* ac, void* reply, void*) {
  auto* self = static_cast<Connection*>(ac->data);
  if (self == nullptr || reply == nullptr) return;  // closed or lost: the reconnect sends it again
  const auto* r = static_cast<redisReply*>(reply);
  if (r->type == REDIS_REPLY_ERROR) {
    // The commands behind it answer the server's error (NOAUTH, ...), which their callers report.
    spdlog::error("redis {}: {} refused AUTH or SELECT: {}", self->name_,
                  self->endpoint_.ToString(), std::string(r->str, r->len));
  }
}

void Connection::OnDisconnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<Connection*>(ac->data);
  if (self == nullptr || self->ac_ != ac) return;  // a reset or close we started
  self->ac_ = nullptr;
  self->connected_.store(false);
  if (self->state_ == State::kClosed) return;
  spdlog::warn("redis {}: connection to {} lost{}", self->name_, self->endpoint_.ToString(),
               status == REDIS_OK ? "" : std::string(": ") + ac->errstr);
  self->state_ = State::kBackingOff;
  asio::post(self->executor_, [s = self->shared_from_this()] { s->ScheduleReconnect(); });
}

void Connection::OnReply(redisAsyncContext* ac, void* reply, void* privdata) {
  std::unique_ptr<std::shared_ptr<Pending>> holder(
      static_cast<std::shared_ptr<Pending>*>(privdata));
  auto* self = static_cast<Connection*>(ac->data);
  const std::shared_ptr<Pending>& pending = *holder;
  if (self == nullptr) {
    pending->done = true;  // the connection is being destroyed: nobody waits any more
    return;
  }
  if (reply == nullptr) {
    self->Finish(pending, Unavailable("connection lost before the answer"));
  } else {
    self->Finish(pending, Copy(static_cast<redisReply*>(reply)));
  }
}

void Connection::IssueSubscribe() {
  if (state_ != State::kConnected || ac_ == nullptr) return;
  const char* argv[] = {"SUBSCRIBE", subscribe_channel_.c_str()};
  const std::size_t lens[] = {9, subscribe_channel_.size()};
  ++in_hiredis_;
  redisAsyncCommandArgv(ac_, &Connection::OnSubscriptionReply, this, 2, argv, lens);
  --in_hiredis_;
  Drain();
}

void Connection::OnSubscriptionReply(redisAsyncContext* ac, void* reply, void* privdata) {
  auto* self = static_cast<Connection*>(privdata);
  if (reply == nullptr || ac->data == nullptr) return;  // disconnected: reconnect resubscribes
  const Reply r = Copy(static_cast<redisReply*>(reply));
  if (r.type != Reply::Type::kArray || r.elements.size() < 3) return;
  const std::string& kind = r.elements[0].str;
  if (kind == "subscribe") {
    asio::post(self->executor_, [s = self->shared_from_this()] {
      if (s->on_subscribed_) s->on_subscribed_();
    });
  } else if (kind == "message") {
    asio::post(self->executor_, [s = self->shared_from_this(), payload = r.elements[2].str] {
      if (s->on_message_) s->on_message_(payload);
    });
  }
}

void Connection::HandleRead(Watcher& watcher) {
  ++in_hiredis_;
  redisAsyncHandleRead(watcher.ac());
  --in_hiredis_;
  Drain();
}

void Connection::HandleWrite(Watcher& watcher) {
  ++in_hiredis_;
  redisAsyncHandleWrite(watcher.ac());
  --in_hiredis_;
  Drain();
}

void Connection::ScheduleReconnect() {
  if (state_ == State::kClosed || state_ == State::kConnecting || state_ == State::kConnected) {
    return;
  }
  state_ = State::kBackingOff;
  // The first try right away (a server restart is usually quick), then doubling.
  const Millis delay = backoff_;
  backoff_ = backoff_.count() == 0 ? options_.reconnect_initial
                                   : std::min(options_.reconnect_max, backoff_ * 2);
  reconnect_timer_.expires_after(delay);
  reconnect_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec && self->state_ == State::kBackingOff) self->Connect();
  });
}

void Connection::Reset(const char* why) {
  if (ac_ == nullptr || state_ == State::kClosed) return;
  spdlog::warn("redis {}: resetting the connection to {}: {}", name_, endpoint_.ToString(), why);
  redisAsyncContext* ac = ac_;
  ac_ = nullptr;  // OnDisconnect ignores this context: the reconnect is ours to schedule
  connected_.store(false);
  state_ = State::kBackingOff;
  ++in_hiredis_;
  redisAsyncFree(ac);
  --in_hiredis_;
  for (auto& p : inflight_) Finish(p, Unavailable("connection reset"));
  Drain();
  ScheduleReconnect();
}

void Connection::ArmDeadline() {
  std::optional<SteadyClock::time_point> earliest;
  for (const auto& p : inflight_) {
    if (!p->done && (!earliest || p->deadline < *earliest)) earliest = p->deadline;
  }
  deadline_armed_ = earliest;
  if (!earliest) return;
  deadline_timer_.expires_at(*earliest);
  deadline_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->OnDeadline();
  });
}

void Connection::OnDeadline() {
  deadline_armed_.reset();
  const auto now = SteadyClock::now();
  bool expired = false;
  for (auto& p : inflight_) {
    if (!p->done && p->deadline <= now) {
      Finish(p, MakeError(Errc::kTimeout,
                          "redis: no answer within " + std::to_string(p->timeout.count()) + " ms"));
      expired = true;
    }
  }
  Drain();
  // Redis answers in order: whatever is behind a stuck command is stuck too.
  if (expired) Reset("a command timed out");
  ArmDeadline();
}

}  // namespace rocketmart::redis
