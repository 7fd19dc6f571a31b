// A small host as a contact center would write one, built against the installed package
// (tests/install builds and runs it twice on one store):
//
//   - the engine owns its SQLite store and refuses to run while a flow calls an action that
//     has no handler (require_handlers);
//   - it recovers what an earlier run left open, then starts the runner on the system clock;
//   - four desk threads take complaints at the same time: open, assign, work, resolve; about
//     one call in ten is a desk's mistake (an event the step does not take, a form field
//     missing, a case id mistyped), which the engine refuses with a code the desk branches on;
//   - at the end it prints what it did, and what is still open for the next run.
//
// usage: consumer FLOWS_DIR STORE_FILE [CASES_PER_DESK]
#include <escalon/escalon.hpp>

#include <atomic>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Desk {
  std::map<std::string, int> refused;  // by refusal code
  int opened = 0, resolved = 0;
};

// One desk: each complaint goes new -> assigned -> in-progress -> resolved -> closed (the
// customer confirms); every fourth stays
// open (waiting for the customer) for a later run to find.
void work(escalon::Engine& engine, int desk, int cases, Desk& out) {
  const auto attempt = [&](auto&& call) {
    try {
      call();
      return true;
    } catch (const escalon::EventError& e) {  // a refused call: the case is unchanged
      ++out.refused[std::string(escalon::refusal_name(e.code()))];
      return false;
    }
  };
  for (int i = 0; i < cases; ++i) {
    const std::string agent = "agent-" + std::to_string(desk);
    const auto id = engine.start("complaint", {{"customer", "C" + std::to_string(desk * 1000 + i)},
                                               {"summary", "invoice charged twice"}, {"category", "billing"}},
                                 {.actor = agent, .channel = "phone"});
    ++out.opened;
    const escalon::EventOptions who{.actor = agent, .channel = "phone"};
    if (i % 10 == 3) attempt([&] { engine.send(id, "resolve", {}, who); });         // not_handled: not assigned yet
    if (i % 10 == 5) attempt([&] { engine.send(id, "assign", {}, who); });          // bad_data: the form wants `agent`
    if (i % 10 == 7) attempt([&] { engine.send(id + "x", "assign", {}, who); });    // unknown_case: a typo
    engine.send(id, "assign", {{"agent", agent}}, who);
    engine.send(id, "start", {}, who);
    if (i % 4 == 3) {
      engine.send(id, "ask-customer", {}, who);
      continue;
    }
    if (attempt([&] { engine.send(id, "resolve", {{"resolution", "refunded"}}, who); })) {
      engine.send(id, "customer-confirmed", {}, {.actor = "customer", .channel = "email"});
      ++out.resolved;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: consumer FLOWS_DIR STORE_FILE [CASES_PER_DESK]\n";
    return 2;
  }
  const int cases = argc > 3 ? std::stoi(argv[3]) : 20;
  try {
    escalon::Engine engine{{.store = escalon::open_store(std::string("sqlite:") + argv[2] + "?sync=normal"),
                            .require_handlers = true}};
    engine.load({argv[1]});
    for (const auto& f : engine.flows()) std::cout << f->id << " v" << f->version << ": " << f->steps.size() << " steps\n";
    engine.on_action("parts.order", [](escalon::ActionContext& a) {
      a.set("order_id", "PO-" + a.case_id());
      a.set("supplier", "ACME Parts");
    });
    engine.on_action("experts.find_available", [](escalon::ActionContext& a) { a.set("expert", "expert-1"); });
    // The built-in sql action (docs/sql.md) of flows/warranty-check.yaml. This host takes no
    // warranty calls, so it configures no CRM: a case that got there would fail its lookup and
    // go to a person (the flow's on_error). A real host adds its CRM: dbs->add_sqlite("crm", path).
    engine.on_action("sql", escalon::sql_action(std::make_shared<escalon::SqlConnections>()));
    std::atomic<int> notes{0};
    engine.on_notify([&](const escalon::Notification&) { ++notes; });

    std::cout << "recovered " << engine.recover() << " open cases\n";
    engine.start_runner();  // deadlines and escalations on the system clock, on its own thread

    std::vector<Desk> desks(4);
    std::vector<std::thread> threads;
    for (int d = 0; d < 4; ++d) threads.emplace_back([&, d] { work(engine, d, cases, desks[static_cast<std::size_t>(d)]); });
    for (auto& t : threads) t.join();
    engine.stop_runner();

    Desk total;
    for (const auto& d : desks) {
      total.opened += d.opened;
      total.resolved += d.resolved;
      for (const auto& [code, n] : d.refused) total.refused[code] += n;
    }
    std::cout << "opened " << total.opened << ", resolved " << total.resolved << "\nrefused:";
    for (const auto& [code, n] : total.refused) std::cout << ' ' << code << '=' << n;
    std::cout << "\nopen now " << engine.query({.flow = "complaint"}).size() << "\n";
  } catch (const escalon::FlowError& e) {
    for (const auto& d : e.diagnostics()) std::cerr << d.str() << '\n';
    return 1;
  } catch (const escalon::Error& e) {  // a store that cannot be opened or written, a missing handler
    std::cerr << "consumer: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
