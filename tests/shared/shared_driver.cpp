// One engine process of the multi-process test (tests/shared/run_sigkill.py): drives ladder
// cases on a shared store until it is killed or told to stop.
//
//   shared_driver DB FLOW PROC PROCS CASES CLOCK_FILE ACK_FILE SEED   run until CLOCK_FILE reads 0
//   shared_driver DB FLOW finish CLOCK_FILE                            fire everything due, exit
//
// The clock is the 8-byte count of milliseconds since 1970 in CLOCK_FILE, written by the test:
// every process reads the same time, so a day of deadlines passes in seconds. Case k is started
// with the key "case-k" by process k % PROCS when it boots, or by another process that needs
// it first (keyed starts are idempotent across
// processes). Each acknowledged `note` event (the call returned) is appended to ACK_FILE as its
// tag; the check finds every tag in the journal exactly once.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <escalon/escalon.hpp>
#include <random>
#include <string>
#include <vector>

using namespace escalon;

namespace {

class FileClock final : public Clock {
 public:
  explicit FileClock(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY)) {
    if (fd_ < 0) throw Error("cannot open the clock file " + path);
  }
  ~FileClock() override { ::close(fd_); }
  FileClock(const FileClock&) = delete;
  FileClock& operator=(const FileClock&) = delete;
  [[nodiscard]] std::int64_t raw() const {
    std::int64_t ms = 0;
    if (::pread(fd_, &ms, sizeof ms, 0) != static_cast<ssize_t>(sizeof ms)) return 0;
    return ms;
  }
  [[nodiscard]] TimePoint now() const override { return TimePoint(std::chrono::milliseconds(raw())); }

 private:
  int fd_;
};

void append(int fd, const std::string& line) {
  if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) std::_Exit(3);
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc == 5 && std::string(argv[3]) == "finish") {
    FileClock clock(argv[4]);
    Engine engine({.clock = &clock, .store = open_store(argv[1])});
    engine.load({argv[2]});
    std::size_t fired = 0;
    while (const std::size_t n = engine.run_due()) fired += n;
    std::printf("finish: %zu points fired\n", fired);
    return 0;
  }
  if (argc != 9) {
    std::fprintf(stderr, "usage: shared_driver DB FLOW PROC PROCS CASES CLOCK_FILE ACK_FILE SEED | DB FLOW finish CLOCK_FILE\n");
    return 2;
  }
  const std::string proc = argv[3];
  const int procs = std::stoi(argv[4]);
  const int cases = std::stoi(argv[5]);
  FileClock clock(argv[6]);
  const int acks = ::open(argv[7], O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (acks < 0) throw Error(std::string("cannot open ") + argv[7]);
  std::mt19937_64 rng(std::stoull(argv[8]));
  // Short claims: a killed process's due cases go to the others within a second.
  Engine engine({.clock = &clock, .store = open_store(argv[1]), .claim_lease = std::chrono::milliseconds(800)});
  engine.load({argv[2]});
  std::vector<std::string> ids(static_cast<std::size_t>(cases));
  const auto id_of = [&](int k) -> const std::string& {
    auto& id = ids[static_cast<std::size_t>(k)];
    if (id.empty()) id = engine.start("ladder", {{"who", "Person " + std::to_string(k)}}, {.key = "case-" + std::to_string(k)});
    return id;
  };
  for (int k = std::stoi(proc); k < cases; k += procs) (void)id_of(k);
  const std::string boot = std::to_string(std::random_device{}());
  std::uint64_t sent = 0, conflicts = 0;
  while (clock.raw() != 0) {
    for (int i = 0; i < 10; ++i) {
      const int k = static_cast<int>(rng() % static_cast<std::uint64_t>(cases));
      const std::string tag = proc + "-" + boot + "-" + std::to_string(++sent);
      try {
        engine.send(id_of(k), "note", {{"tag", tag}});
      } catch (const ConflictError&) {
        ++conflicts;  // lost every retry to other engines: not acknowledged, so not counted
        continue;
      }
      append(acks, tag + "\n");
    }
    (void)engine.run_due();
  }
  std::printf("process %s: %llu sends, %llu gave up after conflicts\n", proc.c_str(),
              static_cast<unsigned long long>(sent), static_cast<unsigned long long>(conflicts));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "shared_driver: %s\n", e.what());
  return 1;
}
