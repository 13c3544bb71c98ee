// A small persistent thread pool. Kernel calls are small and frequent (a few hundred microseconds), so
// threads are created once and wait for work: they spin briefly (a call usually follows a call) and then
// sleep on a condition variable, so an idle process costs no CPU.
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "lgrpo.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpu_relax() { _mm_pause(); }
#else
static inline void cpu_relax() {}
#endif

namespace lg {
namespace {

// Spin iterations before a waiting thread sleeps (~10-30 us of pause instructions).
const int kSpinIterations = 4000;

// One parallel_for call; lives on the caller's stack.
struct Job {
  const std::function<void(int)>* fn;
  int ntasks;
  std::atomic<int> next{0};  // next task index to claim
  std::atomic<int> done{0};  // tasks finished
  std::mutex error_mu;
  std::exception_ptr error;  // the first exception a task threw, rethrown by the caller
};

struct Pool {
  std::vector<std::thread> workers;
  std::mutex mu;                 // guards the sleep/wake handshake and `stop`
  std::condition_variable wake;  // workers sleep here between jobs
  std::atomic<uint64_t> generation{0};
  std::atomic<Job*> current{nullptr};
  // Workers that may hold a pointer to `current`: the caller waits for 0 before its Job goes out of scope.
  // A sleeping worker is not counted, so a call never waits for a thread to wake up.
  std::atomic<int> users{0};
  bool stop = false;

  static void run_tasks(Job& j) {
    for (;;) {
      int i = j.next.fetch_add(1);
      if (i >= j.ntasks) break;
      try {
        (*j.fn)(i);
      } catch (...) {
        std::lock_guard<std::mutex> lk(j.error_mu);
        if (!j.error) j.error = std::current_exception();
      }
      j.done.fetch_add(1, std::memory_order_release);
    }
  }

  void worker_main();

  void start(int nworkers) {
    for (int i = 0; i < nworkers; i++) workers.emplace_back([this] { worker_main(); });
  }

  void shutdown() {
    {
      std::lock_guard<std::mutex> lk(mu);
      stop = true;
    }
    wake.notify_all();
    for (auto& t : workers) t.join();
    workers.clear();
    stop = false;
  }
};

// Held by a running parallel_for and by set_num_threads, so that a worker_threads isolate resizing the
// pool (the addon is one shared library per process) never pulls it from under another's call.
std::mutex g_pool_mu;
Pool* g_pool = nullptr;
std::atomic<int> g_threads{0};
thread_local bool t_inside = false;  // nested parallel_for runs serially

void Pool::worker_main() {
  t_inside = true;
  uint64_t seen = 0;
  for (;;) {
    uint64_t g = generation.load(std::memory_order_acquire);
    for (int s = 0; g == seen && s < kSpinIterations; s++) {
      cpu_relax();
      g = generation.load(std::memory_order_acquire);
    }
    if (g == seen) {
      std::unique_lock<std::mutex> lk(mu);
      wake.wait(lk, [&] { return stop || generation.load(std::memory_order_acquire) != seen; });
      if (stop) return;
      g = generation.load(std::memory_order_acquire);
    }
    seen = g;
    users.fetch_add(1);  // seq_cst with the caller's `current = nullptr; wait users == 0`
    Job* j = current.load();
    if (j != nullptr) run_tasks(*j);
    users.fetch_sub(1);
  }
}

int default_threads() {
  if (const char* s = std::getenv("LAMBDA_GRPO_THREADS")) {
    int n = std::atoi(s);
    if (n >= 1) return n;
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : (int)hc;
}

// With g_pool_mu held.
void resize_locked(int n) {
  if (n < 1) n = 1;
  if (n > 256) n = 256;
  if (g_pool != nullptr) {
    g_pool->shutdown();
    delete g_pool;
    g_pool = nullptr;
  }
  if (n > 1) {
    g_pool = new Pool();
    g_pool->start(n - 1);
  }
  g_threads.store(n);
}

void init_locked() {
  if (g_threads.load() == 0) resize_locked(default_threads());
}

void run_serially(int ntasks, const std::function<void(int)>& fn) {
  for (int i = 0; i < ntasks; i++) fn(i);
}

}  // namespace

int num_threads() {
  int n = g_threads.load();
  if (n != 0) return n;
  std::lock_guard<std::mutex> lk(g_pool_mu);
  init_locked();
  return g_threads.load();
}

void set_num_threads(int n) {
  std::lock_guard<std::mutex> lk(g_pool_mu);
  resize_locked(n);
}

void parallel_for(int ntasks, const std::function<void(int)>& fn) {
  if (ntasks <= 0) return;
  if (ntasks == 1 || t_inside) return run_serially(ntasks, fn);
  std::unique_lock<std::mutex> lk(g_pool_mu, std::try_to_lock);
  if (!lk.owns_lock()) return run_serially(ntasks, fn);  // another JS thread has the pool: run here
  init_locked();
  if (g_pool == nullptr) return run_serially(ntasks, fn);
  Pool& p = *g_pool;
  Job job;
  job.fn = &fn;
  job.ntasks = ntasks;
  p.current.store(&job);
  {
    std::lock_guard<std::mutex> wl(p.mu);
    p.generation.fetch_add(1, std::memory_order_acq_rel);
  }
  p.wake.notify_all();
  t_inside = true;
  Pool::run_tasks(job);
  t_inside = false;
  // Tasks still running on workers: spin briefly, then yield (a descheduled worker needs this core).
  for (int s = 0; job.done.load(std::memory_order_acquire) != ntasks; s++) {
    if (s < kSpinIterations) cpu_relax();
    else std::this_thread::yield();
  }
  p.current.store(nullptr);
  while (p.users.load() != 0) cpu_relax();
  if (job.error) std::rethrow_exception(job.error);
}

}  // namespace lg
