// The C++ example of README.md ("Using the library"), line for line, so that it is known to
// build and run: the ctest `readme_example` checks that every line of the README's block is
// here, in order, and runs this program from the repository root.
#include <escalon/escalon.hpp>
using namespace std::chrono_literals;

#include <iostream>

int main() {
  escalon::ManualClock clock{"2026-11-23T08:00:00Z"};
  escalon::Engine engine{{.clock = &clock}};
  engine.load({"flows/"});                               // throws escalon::FlowError with every diagnostic
  engine.on_action("parts.order", [](escalon::ActionContext& a) { a.set("order_id", "PO-1"); });
  engine.on_notify([](const escalon::Notification& n) { std::clog << n.reason << ": " << n.message << '\n'; });
  auto id = engine.start("technician-visit", {{"customer", "ACME"}});
  engine.send(id, "submit", {{"product", "TV"}, {"preferred_slots", escalon::List{"2026-11-26T09:00:00Z"}}},
              {.actor = "agent-17", .channel = "phone"});
  clock.advance(30h);
  engine.run_due();                                      // deadlines and escalations, in time order
  auto queue = engine.query({.role = "dispatcher", .overdue = true});
  std::cout << engine.journal_jsonl(id);                 // the ticket's history
  // Not in the README: what the test checks the example did.
  std::cerr << "queue: " << queue.size() << " overdue case(s) for dispatchers\n";
  return queue.size() == 1 && queue[0].id == id ? 0 : 1;
}
