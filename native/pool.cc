// A small persistent thread pool. Kernel calls are small and frequent (a few hundred microseconds), so
// threads are created once and wait for work: they spin briefly (a call usually follows a call) and then
// sleep on a condition variable, so an idle process costs no CPU.
#include <atomic>
#include <condition_variable>
#include <cstdlib>
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
  std::mutex call_mu;  // one parallel_for at a time (worker_threads may call in concurrently)

  static void run_tasks(Job& j) {
    for (;;) {
      int i = j.next.fetch_add(1);
      if (i >= j.ntasks) break;
      (*j.fn)(i);
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

Pool* g_pool = nullptr;
int g_threads = 0;
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

void ensure_pool() {
  if (g_threads == 0) set_num_threads(default_threads());
}

}  // namespace

int num_threads() {
  ensure_pool();
  return g_threads;
}

void set_num_threads(int n) {
  if (n < 1) n = 1;
  if (n > 256) n = 256;
  if (g_pool != nullptr) {
    std::lock_guard<std::mutex> call(g_pool->call_mu);
    g_pool->shutdown();
    delete g_pool;
    g_pool = nullptr;
  }
  g_threads = n;
  if (n > 1) {
    g_pool = new Pool();
    g_pool->start(n - 1);
  }
}

void parallel_for(int ntasks, const std::function<void(int)>& fn) {
  ensure_pool();
  if (ntasks <= 0) return;
  if (ntasks == 1 || g_pool == nullptr || t_inside) {
    for (int i = 0; i < ntasks; i++) fn(i);
    return;
  }
  Pool& p = *g_pool;
  std::unique_lock<std::mutex> call(p.call_mu, std::try_to_lock);
  if (!call.owns_lock()) {  // another JS thread is using the pool: run here
    for (int i = 0; i < ntasks; i++) fn(i);
    return;
  }
  Job job;
  job.fn = &fn;
  job.ntasks = ntasks;
  p.current.store(&job);
  {
    std::lock_guard<std::mutex> lk(p.mu);
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
}

}  // namespace lg
