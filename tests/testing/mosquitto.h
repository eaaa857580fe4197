// A real Eclipse Mosquitto broker for a test, on a free loopback port, stopped (and restartable
// on the same port) by the test. The binary comes from Debian's `mosquitto` package, which
// scripts/install-deps.sh installs; a missing broker fails the test, it never skips.
#ifndef FLEETTWIN_TESTS_TESTING_MOSQUITTO_H_
#define FLEETTWIN_TESTS_TESTING_MOSQUITTO_H_

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "testing/process.h"

namespace fleettwin::testing {

class Mosquitto {
 public:
  // Writes its config into `dir`. Call Start() and check it.
  explicit Mosquitto(const std::filesystem::path& dir) : dir_(dir), port_(FreePort()) {}
  ~Mosquitto() { Stop(); }

  static std::string Binary() {
    for (const char* path : {"/usr/sbin/mosquitto", "/usr/bin/mosquitto"}) {
      if (::access(path, X_OK) == 0) return path;
    }
    return "";
  }

  // Starts the broker; false (with `error()` saying why) if it does not accept connections.
  bool Start() {
    const std::string binary = Binary();
    if (binary.empty()) {
      error_ = "mosquitto not found: install Debian's mosquitto (scripts/install-deps.sh)";
      return false;
    }
    const std::filesystem::path config = dir_ / "mosquitto.conf";
    std::ofstream(config) << "listener " << port_ << " 127.0.0.1\n"
                          << "allow_anonymous true\n"
                          << "persistence false\n"
                          // Unlimited per-client queues: the broker holds what the agent
                          // has not taken yet instead of dropping it (flow control).
                          << "max_queued_messages 0\n"
                          << "log_dest none\n";  // Nobody reads its pipes.
    child_ = Spawn({binary, "-c", config.string()});
    if (!WaitForPort(port_, std::chrono::seconds(10))) {
      error_ = "mosquitto did not start listening on port " + std::to_string(port_);
      Stop();
      return false;
    }
    return true;
  }

  void Stop() {
    if (child_.pid <= 0) return;
    ::kill(child_.pid, SIGTERM);
    ::close(child_.out);
    ::close(child_.err);
    Wait(child_.pid);
    child_ = {};
  }

  std::string uri() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  const std::string& error() const { return error_; }

 private:
  std::filesystem::path dir_;
  int port_;
  Child child_;
  std::string error_;
};

}  // namespace fleettwin::testing

#endif  // FLEETTWIN_TESTS_TESTING_MOSQUITTO_H_
