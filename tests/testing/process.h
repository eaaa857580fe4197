// Child processes for tests: spawn a binary with its stdout and stderr on pipes, read them,
// wait for it; and a free loopback TCP port for servers that need a fixed one.
#ifndef FLEETTWIN_TESTS_TESTING_PROCESS_H_
#define FLEETTWIN_TESTS_TESTING_PROCESS_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <string>
#include <utility>
#include <vector>

namespace fleettwin::testing {

struct Child {
  pid_t pid = -1;
  int out = -1;  // Its stdout.
  int err = -1;  // Its stderr.
};

// Starts `args[0]` (a path) with `args`; returns pid -1 if fork failed.
inline Child Spawn(const std::vector<std::string>& args) {
  int out[2], err[2];
  if (::pipe(out) != 0 || ::pipe(err) != 0) return {};
  Child c;
  c.pid = ::fork();
  if (c.pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::close(out[0]);
    ::close(err[0]);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::_Exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  c.out = out[0];
  c.err = err[0];
  return c;
}

// Reads `fd` to its end and closes it.
inline std::string ReadAll(int fd) {
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<size_t>(n));
  ::close(fd);
  return text;
}

// Reads `fd` until `pattern` matches what was read or `timeout` passes; returns what was read.
inline std::string ReadUntil(int fd, const std::regex& pattern, std::chrono::milliseconds timeout) {
  std::string text;
  std::smatch m;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!std::regex_search(text, m, pattern) && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) > 0) {
      char buffer[512];
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n <= 0) break;
      text.append(buffer, static_cast<size_t>(n));
    }
  }
  return text;
}

// The exit code, or -1 if it did not exit normally (a signal, a crash).
inline int Wait(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Runs a tool to completion; returns {exit code, stdout}.
inline std::pair<int, std::string> RunTool(const std::vector<std::string>& args) {
  Child c = Spawn(args);
  std::string out = ReadAll(c.out);
  ReadAll(c.err);
  return {Wait(c.pid), out};
}

// A loopback TCP port that was free a moment ago (the kernel's choice for port 0).
inline int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// True once something accepts TCP connections on 127.0.0.1:`port`.
inline bool WaitForPort(int port, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    const bool up = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (up) return true;
    ::usleep(20 * 1000);
  }
  return false;
}

}  // namespace fleettwin::testing

#endif  // FLEETTWIN_TESTS_TESTING_PROCESS_H_
