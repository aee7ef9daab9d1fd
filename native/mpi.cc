// electra_mpi: the optional second addon, built only where Open MPI's mpicc is (binding.gyp), loaded only under
// mpirun (src/core/mpi.ts). The main addon never links libmpi.
//
// Every MPI call on a collective runs on ONE communication thread, fed by a FIFO queue: the JavaScript thread
// enqueues in-place reductions and broadcasts (so a bucket of gradients can be reduced while the backward pass
// computes the next one) and waits for them with a bound. Before the collectives of a training step every rank
// "arrives": rank 0 sends the step number to every other rank and each other rank sends it to rank 0, on a
// communicator of its own. When a wait runs past the bound, the arrivals that never came name the rank that is
// dead or hung; the message goes to stderr and MPI_Abort ends the whole job (mpirun kills every rank).
#include <mpi.h>
#include <napi.h>

#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

enum class Kind { Allreduce, Bcast, Barrier };

struct Job {
  Kind kind;
  void* buf;
  int64_t count;
  MPI_Datatype type;
  int root;
};

using Clock = std::chrono::steady_clock;

int g_rank = -1, g_size = 0, g_provided = 0;
bool g_started = false, g_finalized = false;
MPI_Comm g_comm = MPI_COMM_NULL;  // collectives (the communication thread)
MPI_Comm g_hb = MPI_COMM_NULL;    // arrivals

std::thread g_thread;
std::mutex g_mu;
std::condition_variable g_work, g_done;
std::deque<Job> g_queue;
int64_t g_enqueued = 0, g_finished = 0;
bool g_stop = false;
std::string g_error;
double g_busy = 0;  // seconds the communication thread spent inside MPI collectives

// arrivals of the current step: rank 0 receives from every other rank, the others from rank 0
int64_t g_step = -1;
std::vector<long long> g_in, g_out;
std::vector<MPI_Request> g_reqs;  // receives first, then sends
std::vector<int> g_from;          // the rank each receive comes from

std::string mpi_error(int code) {
  char s[MPI_MAX_ERROR_STRING];
  int n = 0;
  MPI_Error_string(code, s, &n);
  return std::string(s, n);
}

int run(const Job& j) {
  int es = 0;
  MPI_Type_size(j.type, &es);
  char* p = static_cast<char*>(j.buf);
  if (j.kind == Kind::Barrier) return MPI_Barrier(g_comm);
  // MPI counts are int: pieces of at most 2^30 elements, in order
  for (int64_t off = 0; off < j.count || (off == 0 && j.count == 0); off += (int64_t)1 << 30) {
    int n = (int)std::min<int64_t>(j.count - off, (int64_t)1 << 30);
    int rc = j.kind == Kind::Allreduce ? MPI_Allreduce(MPI_IN_PLACE, p + off * es, n, j.type, MPI_SUM, g_comm)
                                       : MPI_Bcast(p + off * es, n, j.type, j.root, g_comm);
    if (rc != MPI_SUCCESS) return rc;
    if (j.count == 0) break;
  }
  return MPI_SUCCESS;
}

void loop() {
  for (;;) {
    Job j;
    {
      std::unique_lock<std::mutex> lk(g_mu);
      g_work.wait(lk, [] { return g_stop || !g_queue.empty(); });
      if (g_queue.empty()) return;
      j = g_queue.front();
    }
    auto t0 = Clock::now();
    int rc = run(j);
    double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    {
      std::lock_guard<std::mutex> lk(g_mu);
      g_queue.pop_front();
      g_busy += dt;
      if (rc != MPI_SUCCESS && g_error.empty()) g_error = mpi_error(rc);
      g_finished++;
    }
    g_done.notify_all();
  }
}

[[noreturn]] void throw_type(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, "electra_mpi: " + msg); }

void need_started(Napi::Env env) {
  if (!g_started || g_finalized) throw Napi::Error::New(env, "electra_mpi: MPI is not started (init() first) or already finalized");
}

// init() -> { rank, size, threadLevel }
Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!g_started) {
    int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &g_provided);
    if (rc != MPI_SUCCESS) throw Napi::Error::New(env, "electra_mpi: MPI_Init_thread failed: " + mpi_error(rc));
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    MPI_Comm_dup(MPI_COMM_WORLD, &g_comm);
    MPI_Comm_dup(MPI_COMM_WORLD, &g_hb);
    // errors come back as codes (turned into JS exceptions) instead of aborting inside the library
    MPI_Comm_set_errhandler(g_comm, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(g_hb, MPI_ERRORS_RETURN);
    g_started = true;
    g_thread = std::thread(loop);
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("rank", g_rank);
  o.Set("size", g_size);
  o.Set("threadLevel", g_provided == MPI_THREAD_MULTIPLE ? "multiple" : g_provided == MPI_THREAD_SERIALIZED ? "serialized"
                                                                      : g_provided == MPI_THREAD_FUNNELED     ? "funneled"
                                                                                                              : "single");
  char name[MPI_MAX_PROCESSOR_NAME];
  int n = 0;
  MPI_Get_processor_name(name, &n);
  o.Set("host", std::string(name, n));
  return o;
}

void enqueue(const Job& j) {
  {
    std::lock_guard<std::mutex> lk(g_mu);
    g_queue.push_back(j);
    g_enqueued++;
  }
  g_work.notify_one();
}

// start(kind, typedArray, root?): queues an in-place sum over all ranks ("allreduce") or rank root's values to
// every rank ("bcast"); the array must stay alive and untouched until wait() returns
Napi::Value Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  need_started(env);
  std::string kind = info[0].As<Napi::String>();
  if (kind == "barrier") {
    enqueue({Kind::Barrier, nullptr, 0, MPI_BYTE, 0});
    return env.Undefined();
  }
  if (!info[1].IsTypedArray()) throw_type(env, "start: expected a typed array");
  auto a = info[1].As<Napi::TypedArray>();
  MPI_Datatype t;
  switch (a.TypedArrayType()) {
    case napi_float32_array: t = MPI_FLOAT; break;
    case napi_float64_array: t = MPI_DOUBLE; break;
    case napi_int32_array: t = MPI_INT; break;
    case napi_uint8_array: t = MPI_BYTE; break;
    default: throw_type(env, "start: expected a Float32Array, Float64Array, Int32Array or Uint8Array");
  }
  void* p = static_cast<char*>(a.ArrayBuffer().Data()) + a.ByteOffset();
  int64_t n = (int64_t)a.ElementLength();
  if (kind == "allreduce") {
    if (t == MPI_BYTE) throw_type(env, "start: allreduce sums numbers, not bytes");
    enqueue({Kind::Allreduce, p, n, t, 0});
  } else if (kind == "bcast") {
    int root = info.Length() > 2 ? info[2].As<Napi::Number>().Int32Value() : 0;
    if (root < 0 || root >= g_size) throw_type(env, "start: root out of range");
    enqueue({Kind::Bcast, p, n, t, root});
  } else {
    throw_type(env, "start: kind must be allreduce, bcast or barrier");
  }
  return env.Undefined();
}

// completes the previous step's arrivals (they have all been sent: that step's collectives finished)
void finish_arrivals() {
  if (!g_reqs.empty()) MPI_Waitall((int)g_reqs.size(), g_reqs.data(), MPI_STATUSES_IGNORE);
  g_reqs.clear();
  g_from.clear();
}

const int ARRIVE_TAG = 7;

// arrive(step): announces that this rank reached the collectives of `step` (see the file comment)
Napi::Value Arrive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  need_started(env);
  int64_t step = info[0].As<Napi::Number>().Int64Value();
  {
    // without MPI_THREAD_MULTIPLE this thread may call MPI only while the communication thread is idle
    std::unique_lock<std::mutex> lk(g_mu);
    g_done.wait(lk, [] { return g_finished == g_enqueued; });
  }
  finish_arrivals();
  g_step = step;
  int peers = g_rank == 0 ? g_size - 1 : 1;
  g_in.assign(peers, -1);
  g_out.assign(1, step);
  for (int i = 0; i < peers; i++) {
    int from = g_rank == 0 ? i + 1 : 0;
    g_reqs.emplace_back();
    g_from.push_back(from);
    MPI_Irecv(&g_in[i], 1, MPI_LONG_LONG, from, ARRIVE_TAG, g_hb, &g_reqs.back());
  }
  for (int i = 0; i < peers; i++) {
    g_reqs.emplace_back();
    MPI_Isend(g_out.data(), 1, MPI_LONG_LONG, g_rank == 0 ? i + 1 : 0, ARRIVE_TAG, g_hb, &g_reqs.back());
  }
  return env.Undefined();
}

// the ranks whose arrival for the current step has not come (needs MPI_THREAD_MULTIPLE: the communication
// thread is inside a collective); empty when unknown
std::vector<int> missing(bool* known) {
  std::vector<int> out;
  *known = g_provided == MPI_THREAD_MULTIPLE && g_step >= 0;
  if (!*known) return out;
  for (size_t i = 0; i < g_from.size(); i++) {
    int flag = 0;
    MPI_Test(&g_reqs[i], &flag, MPI_STATUS_IGNORE);
    if (!flag) out.push_back(g_from[i]);
  }
  return out;
}

std::string list(const std::vector<int>& r) {
  std::string s = r.size() == 1 ? "rank " : "ranks ";
  for (size_t i = 0; i < r.size(); i++) s += (i ? ", " : "") + std::to_string(r[i]);
  return s;
}

[[noreturn]] void stalled(const std::string& what, double waited) {
  bool known = false;
  std::vector<int> miss = missing(&known);
  char secs[32];
  snprintf(secs, sizeof secs, "%.0f", waited);
  std::string at = g_step >= 0 ? " of step " + std::to_string(g_step) : "";
  std::string msg = "electra: rank " + std::to_string(g_rank) + ": the " + what + at + " waited " + secs + " s: ";
  if (!known) msg += "another rank is dead or hung";
  else if (!miss.empty()) msg += list(miss) + " did not reach step " + std::to_string(g_step) + " (dead or hung)";
  else if (g_rank == 0) msg += "every rank reached step " + std::to_string(g_step) + " but the reduction did not complete (network?)";
  else msg += "rank 0 reached step " + std::to_string(g_step) + "; another rank did not (see rank 0's message)";
  msg += "; ending the job (MPI_Abort)\n";
  fputs(msg.c_str(), stderr);
  fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 3);
  _exit(3);
}

// wait(timeoutSeconds, what): blocks until every queued operation is done; past the bound (0: none) the job ends
Napi::Value Wait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  need_started(env);
  double timeout = info.Length() > 0 ? info[0].As<Napi::Number>().DoubleValue() : 0;
  std::string what = info.Length() > 1 ? std::string(info[1].As<Napi::String>()) : "all-reduce";
  auto t0 = Clock::now();
  double limit = timeout;
  bool extended = false;
  std::unique_lock<std::mutex> lk(g_mu);
  while (g_finished < g_enqueued) {
    g_done.wait_for(lk, std::chrono::milliseconds(100));
    if (g_finished == g_enqueued || timeout <= 0) continue;
    double waited = std::chrono::duration<double>(Clock::now() - t0).count();
    if (waited < limit) continue;
    lk.unlock();
    bool known = false;
    std::vector<int> miss = missing(&known);
    // rank 0 names the missing rank: another rank that heard from rank 0 gives it time to do so
    if (g_rank != 0 && known && miss.empty() && !extended) {
      extended = true;
      limit += std::max(5.0, timeout / 2);
      lk.lock();
      continue;
    }
    stalled(what, waited);
  }
  if (!g_error.empty()) {
    std::string e = g_error;
    g_error.clear();
    throw Napi::Error::New(env, "electra_mpi: rank " + std::to_string(g_rank) + ": " + what + " failed: " + e);
  }
  return env.Undefined();
}

// busySeconds(): time the communication thread has spent in collectives so far
Napi::Value Busy(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lk(g_mu);
  return Napi::Number::New(info.Env(), g_busy);
}

void stop_thread() {
  {
    std::lock_guard<std::mutex> lk(g_mu);
    g_stop = true;
  }
  g_work.notify_all();
  if (g_thread.joinable()) g_thread.join();
}

// finalize(): the normal end of every rank (collective: each rank must call it)
Napi::Value Finalize(const Napi::CallbackInfo& info) {
  if (g_started && !g_finalized) {
    stop_thread();
    finish_arrivals();
    MPI_Comm_free(&g_hb);
    MPI_Comm_free(&g_comm);
    MPI_Finalize();
    g_finalized = true;
  }
  return info.Env().Undefined();
}

// abort(code, message?): ends every rank of the job now (a failure on this rank alone)
Napi::Value Abort(const Napi::CallbackInfo& info) {
  int code = info.Length() > 0 ? info[0].As<Napi::Number>().Int32Value() : 1;
  if (info.Length() > 1) {
    std::string m = info[1].As<Napi::String>();
    fputs(m.c_str(), stderr);
    fflush(stderr);
  }
  if (g_started && !g_finalized) MPI_Abort(MPI_COMM_WORLD, code);
  _exit(code);
}

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  exports.Set("init", Napi::Function::New(env, Init));
  exports.Set("start", Napi::Function::New(env, Start));
  exports.Set("arrive", Napi::Function::New(env, Arrive));
  exports.Set("wait", Napi::Function::New(env, Wait));
  exports.Set("busySeconds", Napi::Function::New(env, Busy));
  exports.Set("finalize", Napi::Function::New(env, Finalize));
  exports.Set("abort", Napi::Function::New(env, Abort));
  int major = 0, minor = 0;
  MPI_Get_version(&major, &minor);
  char lib[MPI_MAX_LIBRARY_VERSION_STRING];
  int n = 0;
  MPI_Get_library_version(lib, &n);
  exports.Set("library", std::string(lib, n));
  return exports;
}

}  // namespace

NODE_API_MODULE(electra_mpi, InitModule)
