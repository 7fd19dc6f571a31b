// Workload W1 "ticket chart" with Boost.MSM: a compiled state machine with a counter and a
// guard, but no data model, no journal, no timers. bench/compare.sh runs it beside Escalon's
// w1_ticket as the ceiling a table-driven compiled machine reaches on this machine.
//   build/bench/w1_msm [events=100000000]
#include <boost/msm/back/state_machine.hpp>
#include <boost/msm/front/functor_row.hpp>
#include <boost/msm/front/state_machine_def.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace msm = boost::msm;
namespace mpl = boost::mpl;
using msm::front::Row;
using msm::front::none;

namespace {

struct Assign {};
struct Start {};
struct Ask {};
struct Reply {};
struct Resolve {};
struct Reopen {};
struct Close {};

struct Ticket_ : msm::front::state_machine_def<Ticket_> {
  int notes = 0;
  struct New : msm::front::state<> {};
  struct Assigned : msm::front::state<> {};
  struct InProgress : msm::front::state<> {};
  struct WaitingCustomer : msm::front::state<> {};
  struct Resolved : msm::front::state<> {};
  struct Closed : msm::front::terminate_state<> {};
  using initial_state = New;

  struct AddNote {
    template <class E, class M, class S, class T>
    void operator()(const E&, M& m, S&, T&) const { ++m.notes; }
  };
  struct HasNotes {
    template <class E, class M, class S, class T>
    bool operator()(const E&, M& m, S&, T&) const { return m.notes > 0; }
  };

  // clang-format off
  struct transition_table : mpl::vector<
    Row<New,             Assign,  Assigned,        none,    none>,
    Row<Assigned,        Start,   InProgress,      none,    none>,
    Row<InProgress,      Ask,     WaitingCustomer, none,    none>,
    Row<InProgress,      Resolve, Resolved,        none,    HasNotes>,
    Row<WaitingCustomer, Reply,   InProgress,      AddNote, none>,
    Row<Resolved,        Reopen,  InProgress,      none,    none>,
    Row<Resolved,        Close,   Closed,          none,    none>
  > {};
  // clang-format on

  template <class FSM, class Event>
  void no_transition(const Event&, FSM&, int) {}
};
using Ticket = msm::back::state_machine<Ticket_>;

std::size_t run(std::size_t n) {
  std::size_t closed = 0;
  std::size_t i = 0;
  while (i + 8 <= n) {
    Ticket t;
    t.start();
    t.process_event(Assign{});
    t.process_event(Start{});
    t.process_event(Ask{});
    t.process_event(Reply{});
    t.process_event(Resolve{});
    t.process_event(Reopen{});
    t.process_event(Resolve{});
    t.process_event(Close{});
    i += 8;
    if (t.is_flag_active<msm::TerminateFlag>() && t.notes == 1) ++closed;
  }
  return closed;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100'000'000;
  (void)run(n / 10);  // warm-up
  const auto t0 = std::chrono::steady_clock::now();
  const std::size_t closed = run(n);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (closed != n / 8) {
    std::fprintf(stderr, "w1_msm: bad result: %zu of %zu cycles closed with notes = 1\n", closed, n / 8);
    return 1;
  }
  nlohmann::json out = {{"peer", "boost-msm"},  {"version", "1.74"},   {"workload", "w1-ticket"},
                        {"events", n},          {"seconds", s},        {"events_per_s", static_cast<long long>(static_cast<double>(n) / s)},
                        {"cycles_verified", closed}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
