// Child processes of the tests' own servers (LocalRedis, LocalEtcd): start one that dies with the
// thread that started it, stop it, tell whether it still lives, and check that a server really
// dies with a test process that is killed before any destructor runs.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace rocketmart::testing {

// True while `pid` is a live process (a zombie waiting to be reaped counts as gone).
inline bool ProcessAlive(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string pid_field, comm, state;
  if (!(stat >> pid_field >> comm >> state)) return false;
  return state != "Z" && state != "X";
}

// Runs `args` (args[0] looked up in PATH) as a child that the kernel kills (SIGKILL) when the
// thread that called this ends, whatever the reason (PR_SET_PDEATHSIG). Its stdout and stderr go
// to `log_path` (appended) when one is given.
inline pid_t SpawnTiedToThisThread(std::vector<std::string> args,
                                   const std::string& log_path = {}) {
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed for " + args.at(0));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
    if (!log_path.empty()) {
      const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (log >= 0) {
        ::dup2(log, STDOUT_FILENO);
        ::dup2(log, STDERR_FILENO);
        ::close(log);
      }
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// Sends `sig` to the child `pid` and reaps it; SIGKILL when it has not exited after `grace`.
inline void StopChild(pid_t pid, int sig, std::chrono::milliseconds grace) {
  ::kill(pid, sig);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  int status = 0;
  while (::waitpid(pid, &status, sig == SIGKILL ? 0 : WNOHANG) != pid) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // poll interval
  }
}

// Forks a child that calls `start` (which starts a server and returns the server's pid and the
// directory it lives in) and then waits, and kills that child with SIGKILL (no destructor runs).
// Returns what `start` returned ({-1, ""} when the child failed); the caller checks that the
// server dies on its own, then removes the directory a crashed test process leaves behind.
inline std::pair<pid_t, std::filesystem::path> StartServerInKilledChild(
    const std::function<std::pair<pid_t, std::filesystem::path>()>& start) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  const pid_t child = ::fork();
  if (child < 0) throw std::runtime_error("fork failed");
  if (child == 0) {
    ::close(fds[0]);
    try {
      const auto [server, path] = start();
      char dir[512] = {};
      path.string().copy(dir, sizeof dir - 1);
      (void)!::write(fds[1], &server, sizeof server);
      (void)!::write(fds[1], dir, sizeof dir);
      for (;;) ::pause();  // killed here, destructors never run
    } catch (...) {
      ::_exit(3);
    }
  }
  ::close(fds[1]);
  pid_t server = -1;
  char dir[512] = {};
  const bool got = ::read(fds[0], &server, sizeof server) == sizeof server &&
                   ::read(fds[0], dir, sizeof dir) == sizeof dir;
  ::close(fds[0]);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (!got) return {-1, {}};
  return {server, std::filesystem::path(dir)};
}

}  // namespace rocketmart::testing
