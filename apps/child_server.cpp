#include "child_server.h"

#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "core/error.h"

extern char** environ;

namespace tokenmill::cli {

ChildServer::ChildServer(const std::vector<std::string>& serve_args, double start_timeout_s) {
  char path[] = "/tmp/tokenmill-child-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) throw Error("cannot create a log file for the child server");
  log_path_ = path;
  std::vector<std::string> args = {"tokenmill", "serve", "--host", "127.0.0.1", "--port", "0"};
  args.insert(args.end(), serve_args.begin(), serve_args.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fd, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  const int rc = posix_spawn(&pid_, "/proc/self/exe", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fd);
  if (rc != 0) {
    pid_ = -1;
    throw Error("cannot start tokenmill serve: " + std::string(strerror(rc)));
  }
  const std::regex listening(R"(listening on http://127\.0\.0\.1:(\d+))");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(start_timeout_s);
  for (;;) {
    std::ifstream in(log_path_);
    const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::smatch m;
    if (port_ == 0 && std::regex_search(log, m, listening)) port_ = std::stoi(m[1]);
    if (port_ != 0 && log.find("; ready") != std::string::npos) break;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw Error("tokenmill serve exited before it was ready:\n" + log_tail());
    }
    if (std::chrono::steady_clock::now() > deadline) {
      stop();
      throw Error("tokenmill serve was not ready within the timeout:\n" + log_tail());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  url_ = "http://127.0.0.1:" + std::to_string(port_);
}

ChildServer::~ChildServer() {
  stop();
  if (!log_path_.empty()) unlink(log_path_.c_str());
}

int ChildServer::stop() {
  if (pid_ <= 0) return status_;
  kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) != pid_) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  pid_ = -1;
  status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return status_;
}

std::string ChildServer::get(const std::string& path) const {
  httplib::Client client("127.0.0.1", port_);
  client.set_read_timeout(30, 0);
  auto res = client.Get(path);
  if (!res || res->status != 200) throw Error("GET " + url_ + path + " failed");
  return res->body;
}

std::string ChildServer::log_tail() const {
  std::ifstream in(log_path_);
  const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return log.size() > 2000 ? log.substr(log.size() - 2000) : log;
}

}  // namespace tokenmill::cli
