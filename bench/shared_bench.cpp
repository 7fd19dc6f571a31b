// Several engine processes on one store: durable events/s and timer firings/s.
//
//   shared_bench events DB PROCS EVENTS     PROCS processes each send EVENTS/PROCS `note`
//                                           events to cases of their own (distinct cases)
//   shared_bench timers DB PROCS RUNGS      RUNGS/4 cases with a ladder of 4 rungs, all due;
//                                           then PROCS processes run_due() at once
//
// DB is any store location; with sqlite: only PROCS = 1 works (one writer per file). Each
// process is a fork() before any engine exists, with its own Engine and connection; the
// parent times from "go" to the last child's exit. Prints one line: mode, store, processes,
// count, seconds, rate. bench/run_shared.sh runs the table in bench/README.md.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <escalon/escalon.hpp>
#include <string>
#include <vector>

using namespace escalon;

namespace {

const char* flow = R"(flow: bench
start: waiting
data:
  n: { type: int, default: 0 }
steps:
  waiting:
    deadline:
      within: 1h
      escalate:
        - { at: 25%, notify: agent }
        - { at: 50%, notify: lead }
        - { at: 75%, notify: lead }
        - { at: 100%, notify: supervisor }
    on:
      note: { set: { n: n + 1 } }
      close: { to: closed }
  closed: { end: true }
)";

std::unique_ptr<Engine> engine_on(const std::string& db, const Clock& clock) {
  auto e = std::make_unique<Engine>(EngineOptions{.clock = &clock, .keep_journal = false, .store = open_store(db)});
  auto r = validate_text(flow, "bench.yaml");
  if (!r.ok()) throw Error("bench flow does not load");
  e->add_flows(r.flows);
  return e;
}

// Runs `work(i, ready)` in `procs` forked children; `ready()` blocks until every child is set
// up. Returns the seconds from then until the last child exited.
template <class F>
double in_children(int procs, F&& work) {
  int go[2], set_up[2];
  if (pipe(go) != 0 || pipe(set_up) != 0) throw Error("pipe");
  std::vector<pid_t> kids;
  for (int i = 0; i < procs; ++i) {
    const pid_t pid = fork();
    if (pid == 0) {
      close(go[1]);
      close(set_up[0]);
      const auto ready = [&] {
        char c = 'r';
        if (write(set_up[1], &c, 1) != 1 || read(go[0], &c, 1) != 1) _exit(3);
      };
      try {
        work(i, ready);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child %d: %s\n", i, e.what());
        _exit(1);
      }
      _exit(0);
    }
    kids.push_back(pid);
  }
  close(go[0]);
  close(set_up[1]);
  // Set-up (connections, flows, the cases an events child sends to) is not timed.
  for (int i = 0; i < procs; ++i) {
    char c;
    if (read(set_up[0], &c, 1) != 1) throw Error("a child failed while setting up");
  }
  const auto t0 = std::chrono::steady_clock::now();
  if (write(go[1], std::string(static_cast<std::size_t>(procs), 'g').data(), static_cast<std::size_t>(procs)) != procs)
    throw Error("write");
  close(go[1]);
  for (pid_t k : kids) {
    int st = 0;
    waitpid(k, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) throw Error("a child failed");
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc != 5) {
    std::fprintf(stderr, "usage: shared_bench events|timers DB PROCS COUNT\n");
    return 2;
  }
  const std::string mode = argv[1], db = argv[2];
  const int procs = std::stoi(argv[3]);
  const int count = std::stoi(argv[4]);
  ManualClock clock{"2026-12-01T08:00:00Z"};
  double secs = 0;
  if (mode == "events") {
    const int per = count / procs;
    secs = in_children(procs, [&](int i, auto ready) {
      auto e = engine_on(db, clock);
      std::vector<std::string> ids;
      for (int k = 0; k < std::max(1, per / 10); ++k)
        ids.push_back(e->start("bench", {}, {.id = "b" + std::to_string(i) + "-" + std::to_string(k)}));
      ready();
      for (int j = 0; j < per; ++j) e->send(ids[static_cast<std::size_t>(j) % ids.size()], "note");
    });
  } else if (mode == "timers") {
    {
      auto e = engine_on(db, clock);
      for (int k = 0; k < count / 4; ++k) (void)e->start("bench");
    }
    clock.advance(std::chrono::hours(2));
    secs = in_children(procs, [&](int, auto ready) {
      auto e = engine_on(db, clock);
      ready();
      (void)e->run_due();
    });
  } else {
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 2;
  }
  std::printf("%s %s procs=%d count=%d seconds=%.3f rate=%.0f/s\n", mode.c_str(), db.substr(0, db.find(':')).c_str(), procs,
              count, secs, count / secs);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "shared_bench: %s\n", e.what());
  return 1;
}
