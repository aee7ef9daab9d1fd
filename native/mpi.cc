// electra_mpi: the optional second addon, built only where Open MPI's mpicc is (binding.gyp), loaded only under
// mpirun (src/core/mpi.ts). The main addon never links libmpi.
//
// Every MPI call on a collective runs on ONE communication thread, fed by a FIFO queue: the JavaScript thread
// enqueues in-place reductions and broadcasts (so a bucket of gradients can be reduced while the backward pass
// computes the next one) and waits for them with a bound. Before it waits, every rank "arrives": rank 0 sends a
// sequence number to every other rank and each other rank sends it to rank 0, on a communicator of its own.
// When a wait runs past the bound, the arrivals that never came name the rank that is dead or hung (it never
// reached this wait); the message goes to stderr and MPI_Abort ends the whole job (mpirun kills every rank).
#include <mpi.h>
#include <napi.h>

#include <algorithm>
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

// the responder thread (see respond())
std::thread g_responder;
std::condition_variable g_responder_cv;
bool g_responder_stop = false;
void respond();

// the step named in messages; the number of this rank's arrivals (rank 0 hears every rank's, the others rank 0's)
int64_t g_step = -1, g_seq = 0;

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
    if (g_provided == MPI_THREAD_MULTIPLE) g_responder = std::thread(respond);
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

const int ARRIVE_TAG = 7, PING_TAG = 8, PONG_TAG = 9;

// one wait's arrival messages (they stay until complete: a peer may be slow to send or to take them)
struct Arrival {
  long long out = 0;
  std::vector<long long> in;
  std::vector<MPI_Request> recv, send;
  std::vector<int> from;  // the rank of each receive
};
std::deque<Arrival> g_arrivals;

bool done_all(std::vector<MPI_Request>& r) {
  int flag = 1;
  if (!r.empty()) MPI_Testall((int)r.size(), r.data(), &flag, MPI_STATUSES_IGNORE);
  return flag != 0;
}

// setStep(step): the training step the next waits belong to (for the messages)
Napi::Value SetStep(const Napi::CallbackInfo& info) {
  g_step = info[0].As<Napi::Number>().Int64Value();
  return info.Env().Undefined();
}

// announces that this rank reached the next wait (see the file comment); needs MPI_THREAD_MULTIPLE, as the
// communication thread may be inside a collective. Never blocks: earlier arrivals are dropped once complete.
void arrive() {
  if (g_provided != MPI_THREAD_MULTIPLE) return;
  while (!g_arrivals.empty() && done_all(g_arrivals.front().recv) && done_all(g_arrivals.front().send)) g_arrivals.pop_front();
  g_arrivals.emplace_back();
  Arrival& a = g_arrivals.back();
  int peers = g_rank == 0 ? g_size - 1 : 1;
  a.out = ++g_seq;
  a.in.assign(peers, -1);
  a.recv.resize(peers);
  a.send.resize(peers);
  for (int i = 0; i < peers; i++) {
    int peer = g_rank == 0 ? i + 1 : 0;
    a.from.push_back(peer);
    MPI_Irecv(&a.in[i], 1, MPI_LONG_LONG, peer, ARRIVE_TAG, g_hb, &a.recv[i]);
    MPI_Isend(&a.out, 1, MPI_LONG_LONG, peer, ARRIVE_TAG, g_hb, &a.send[i]);
  }
}

// the ranks whose arrival at the current wait has not come (MPI delivers a peer's arrivals in order)
std::vector<int> not_arrived() {
  std::vector<int> out;
  if (g_arrivals.empty()) return out;
  Arrival& a = g_arrivals.back();
  for (size_t i = 0; i < a.recv.size(); i++) {
    int flag = 0;
    MPI_Test(&a.recv[i], &flag, MPI_STATUS_IGNORE);
    if (!flag) out.push_back(a.from[i]);
  }
  return out;
}

// The responder: a thread that answers pings (10 checks a second), so that a stalled rank can tell a frozen
// peer (stopped, or its whole process stuck: no answer) from one that runs but never came to the wait.

void respond() {
  long long ping = 0, pong = 1;
  MPI_Request r;
  MPI_Irecv(&ping, 1, MPI_LONG_LONG, MPI_ANY_SOURCE, PING_TAG, g_hb, &r);
  std::vector<MPI_Request> sent;
  for (;;) {
    {
      std::unique_lock<std::mutex> lk(g_mu);
      g_responder_cv.wait_for(lk, std::chrono::milliseconds(100), [] { return g_responder_stop; });
      if (g_responder_stop) break;
    }
    int flag = 0;
    MPI_Status st;
    MPI_Test(&r, &flag, &st);
    if (!flag) continue;
    sent.emplace_back();
    MPI_Isend(&pong, 1, MPI_LONG_LONG, st.MPI_SOURCE, PONG_TAG, g_hb, &sent.back());
    MPI_Irecv(&ping, 1, MPI_LONG_LONG, MPI_ANY_SOURCE, PING_TAG, g_hb, &r);
  }
  MPI_Cancel(&r);
  MPI_Wait(&r, MPI_STATUS_IGNORE);
  if (!sent.empty()) MPI_Waitall((int)sent.size(), sent.data(), MPI_STATUSES_IGNORE);
}

// the ranks that do not answer a ping within `seconds`
std::vector<int> frozen(double seconds) {
  std::vector<int> peers;
  for (int i = 0; i < g_size; i++)
    if (i != g_rank) peers.push_back(i);
  static long long ping = 0;  // static: a send may outlive this call (the job is ending)
  static std::vector<long long> pong;
  pong.assign(peers.size(), 0);
  std::vector<MPI_Request> recv(peers.size()), send(peers.size());
  for (size_t i = 0; i < peers.size(); i++) {
    MPI_Irecv(&pong[i], 1, MPI_LONG_LONG, peers[i], PONG_TAG, g_hb, &recv[i]);
    MPI_Isend(&ping, 1, MPI_LONG_LONG, peers[i], PING_TAG, g_hb, &send[i]);
  }
  std::vector<int> answered(peers.size(), 0);
  auto t0 = Clock::now();
  while (std::chrono::duration<double>(Clock::now() - t0).count() < seconds) {
    bool all = true;
    for (size_t i = 0; i < peers.size(); i++) {
      if (!answered[i]) MPI_Test(&recv[i], &answered[i], MPI_STATUS_IGNORE);
      all = all && answered[i];
    }
    if (all) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::vector<int> out;
  for (size_t i = 0; i < peers.size(); i++)
    if (!answered[i]) out.push_back(peers[i]);
  return out;
}

std::string list(const std::vector<int>& r) {
  std::string s = r.size() == 1 ? "rank " : "ranks ";
  for (size_t i = 0; i < r.size(); i++) s += (i ? ", " : "") + std::to_string(r[i]);
  return s;
}

[[noreturn]] void stalled(const std::string& op, double waited, const std::vector<int>& frozen_ranks, const std::vector<int>& absent, bool known) {
  char secs[32];
  snprintf(secs, sizeof secs, "%.0f", waited);
  std::string msg = "electra: rank " + std::to_string(g_rank) + ": " + op + " waited " + secs + " s: ";
  std::vector<std::string> why;
  std::vector<int> away;  // ranks that answer but never came to this wait
  for (int r : absent)
    if (std::find(frozen_ranks.begin(), frozen_ranks.end(), r) == frozen_ranks.end()) away.push_back(r);
  if (!frozen_ranks.empty()) why.push_back(list(frozen_ranks) + " does not answer (stopped or frozen)");
  if (!away.empty()) why.push_back(list(away) + " did not reach it (hung or still busy elsewhere)");
  if (!known) why.push_back("another rank is dead or hung");
  if (why.empty()) why.push_back(g_rank == 0 ? "every rank reached it and answers, but it did not complete (network?)"
                                             : "rank 0 reached it; another rank did not (see rank 0's message)");
  for (size_t i = 0; i < why.size(); i++) msg += (i ? "; " : "") + why[i];
  msg += "; ending the job (MPI_Abort)\n";
  fputs(msg.c_str(), stderr);
  fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 3);
  _exit(3);
}

// wait(timeoutSeconds, what, arrive): blocks until every queued operation is done; past the bound (0: none) the
// job ends. arrive: announce this wait to the other ranks first (training steps; not set-up broadcasts)
Napi::Value Wait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  need_started(env);
  double timeout = info.Length() > 0 ? info[0].As<Napi::Number>().DoubleValue() : 0;
  std::string what = info.Length() > 1 ? std::string(info[1].As<Napi::String>()) : "all-reduce";
  // every rank arrives at the same waits (the flag is the caller's, never a setting that could differ)
  if (info.Length() > 2 && info[2].ToBoolean()) arrive();
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
    bool known = g_provided == MPI_THREAD_MULTIPLE;
    std::vector<int> absent = known ? not_arrived() : std::vector<int>();
    std::vector<int> still = known ? frozen(2.0) : std::vector<int>();
    std::string op = "the " + what + (g_step >= 0 ? " of step " + std::to_string(g_step) : "");
    // only rank 0 hears every rank's arrival: another rank that finds nobody to blame gives it time to name one
    if (g_rank != 0 && known && absent.empty() && still.empty() && !extended) {
      extended = true;
      limit = waited + std::max(5.0, timeout / 2);
      lk.lock();
      continue;
    }
    stalled(op, waited, still, absent, known);
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
    g_responder_stop = true;
  }
  g_work.notify_all();
  g_responder_cv.notify_all();
  if (g_thread.joinable()) g_thread.join();
  if (g_responder.joinable()) g_responder.join();
}

// finalize(): the normal end of every rank (collective: each rank must call it)
Napi::Value Finalize(const Napi::CallbackInfo& info) {
  if (g_started && !g_finalized) {
    stop_thread();
    for (auto& a : g_arrivals) {
      MPI_Waitall((int)a.recv.size(), a.recv.data(), MPI_STATUSES_IGNORE);
      MPI_Waitall((int)a.send.size(), a.send.data(), MPI_STATUSES_IGNORE);
    }
    g_arrivals.clear();
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
  exports.Set("setStep", Napi::Function::New(env, SetStep));
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
