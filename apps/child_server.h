// A `tokenmill serve` child process on 127.0.0.1 with a port the kernel picks (for `bench
// ablate`): started from this executable, read until ready, stopped with SIGTERM.
#pragma once
#include <string>
#include <sys/types.h>
#include <vector>

namespace tokenmill::cli {

class ChildServer {
 public:
  // `serve_args` follow `tokenmill serve` (model, flags); --host/--port are added. Throws Error
  // with the end of the child's log when it exits or is not ready within start_timeout_s.
  ChildServer(const std::vector<std::string>& serve_args, double start_timeout_s = 120);
  ~ChildServer();
  ChildServer(const ChildServer&) = delete;
  ChildServer& operator=(const ChildServer&) = delete;

  const std::string& url() const { return url_; }
  // Body of GET path; throws Error on a failed request.
  std::string get(const std::string& path) const;
  // SIGTERM, then waits (SIGKILL after 20 s); returns the exit status. Idempotent.
  int stop();

 private:
  std::string log_tail() const;
  pid_t pid_ = -1;
  std::string log_path_;
  std::string url_;
  int port_ = 0;
  int status_ = 0;
};

}  // namespace tokenmill::cli
