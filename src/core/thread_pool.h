// One persistent pool of worker threads, created once and passed explicitly to kernels.
// parallel_for(n, fn) splits [0, n) statically into one contiguous range per thread; the calling
// thread runs range 0, so a pool of size 1 runs everything inline with no synchronization.
//
// A decode step issues ~100 parallel_for calls of tens of microseconds each, so waking sleeping
// threads through the kernel each time would cost ~10% of the step: workers and the caller first
// spin on atomics for a short while (kSpinIterations) and only then block on condition variables.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tokenmill {

class ThreadPool {
 public:
  // n_threads <= 0 means "all hardware threads".
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(begin, end, thread_index) for disjoint ranges covering [0, n). Blocks until done.
  // Not reentrant: fn must not call parallel_for on the same pool; one caller at a time.
  void parallel_for(size_t n, const std::function<void(size_t, size_t, int)>& fn);

 private:
  void worker_loop(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  // Job publication: job_ and job_n_ are written before generation_ is incremented (release) and
  // read after it is observed (acquire).
  const std::function<void(size_t, size_t, int)>* job_ = nullptr;
  size_t job_n_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};  // workers still running the current job
  std::atomic<bool> stop_{false};
  // Blocking fallback after spinning.
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
};

}  // namespace tokenmill
