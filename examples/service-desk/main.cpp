// A service desk that embeds Escalon the way a real host does: it registers the actions the
// flows call (a spare-parts ordering service with latency and failures, an expert presence
// board), delivers notifications to the console and as RFC 5322 mails into a spool folder
// (what a mail transfer agent would pick up), drives a morning of cases through the API, and
// prints each role's work queue.
//
//   service_desk FLOWS_DIR SPOOL_DIR
//
// The clock is a ManualClock, so the "morning" takes milliseconds and the output is the same
// on every run.

#include <escalon/escalon.hpp>
#include <fmt/format.h>

#include <date/date.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <stdexcept>
#include <thread>

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// The parts supplier's ordering service: every call takes a little real time, and every second
// call times out, which the flow's retry policy absorbs.
class PartsService {
 public:
  void order(escalon::ActionContext& a) {
    std::this_thread::sleep_for(2ms);  // a network round trip, for real
    if (++calls_ % 2 == 0) throw std::runtime_error(fmt::format("parts service timed out (call {})", calls_));
    a.set("order_id", fmt::format("PO-{}", 4000 + ++orders_));
    a.set("supplier", "Elektro d.o.o.");
  }
  [[nodiscard]] int calls() const { return calls_; }

 private:
  int calls_ = 0, orders_ = 0;
};

// Who is on the expert line and free. The flow passes the experts it already tried.
class ExpertBoard {
 public:
  std::map<std::string, bool> free = {{"anna", true}, {"ben", false}, {"cleo", true}};
  void find(escalon::ActionContext& a) {
    std::set<std::string> tried;
    if (auto it = a.inputs().find("exclude"); it != a.inputs().end() && !it->second.is_null())
      for (const auto& v : it->second.as_list()) tried.insert(v.as_string());
    for (const auto& [name, available] : free)
      if (available && !tried.count(name)) return a.set("expert", name);
    // Nobody: leave `expert` unset; the flow schedules a callback.
  }
};

// Notifications as mails in a spool folder, one file per message (RFC 5322: CRLF line ends,
// Date in the RFC's format, a unique Message-ID).
class MailSpool {
 public:
  explicit MailSpool(fs::path dir) : dir_(std::move(dir)) { fs::create_directories(dir_); }
  void deliver(const escalon::Notification& n) {
    ++count_;
    std::string to;
    // A breach without a ladder names nobody: the desk's supervisor hears of it.
    for (const auto& who : n.to.empty() ? std::vector<std::string>{"supervisor"} : n.to) to += fmt::format("{}{}", to.empty() ? "" : ", ", address(who));
    const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(n.at);
    const std::string subject = fmt::format("[{}] {}: {}", n.case_id, n.reason, n.message);
    std::string mail;
    auto header = [&](std::string_view name, std::string_view value) { mail += fmt::format("{}: {}\r\n", name, value); };
    header("From", "Escalon <escalon@service-desk.example>");
    header("To", to);
    header("Date", date::format("%a, %d %b %Y %H:%M:%S +0000", secs));
    header("Subject", subject);
    header("Message-ID", fmt::format("<{}.{}@service-desk.example>", secs.time_since_epoch().count(), count_));
    header("MIME-Version", "1.0");
    header("Content-Type", "text/plain; charset=utf-8");
    mail += "\r\n";
    mail += fmt::format("Case {} ({}), step {}.\r\n{}\r\nReason: {}, level {}{}.\r\n", n.case_id, n.flow, n.step, n.message, n.reason,
                        n.level, n.repeat ? fmt::format(", repeat {}", n.repeat) : "");
    std::ofstream(dir_ / fmt::format("{:04}.eml", count_), std::ios::binary) << mail;
  }
  [[nodiscard]] int count() const { return count_; }

 private:
  static std::string address(const std::string& who) {
    const std::string local = who.rfind("user:", 0) == 0 ? who.substr(5) : who;
    return fmt::format("{}@service-desk.example", local);
  }
  fs::path dir_;
  int count_ = 0;
};

void print_queues(escalon::Engine& engine) {
  std::map<std::string, std::vector<escalon::CaseView>> by_assignee;
  for (auto& c : engine.query({})) by_assignee[c.assignee.empty() ? "(automatic)" : c.assignee].push_back(std::move(c));
  std::cout << "\nWork queues\n";
  for (const auto& [who, cases] : by_assignee) {
    std::cout << fmt::format("  {} ({})\n", who, cases.size());
    for (const auto& c : cases)
      std::cout << fmt::format("    {:<34} {:<20} {:<7}{}{}\n", c.id, c.steps.empty() ? "" : c.steps[0], c.priority,
                               c.overdue() ? " OVERDUE" : "", c.level() ? fmt::format(" level {}", c.level()) : "");
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: service_desk FLOWS_DIR SPOOL_DIR\n";
    return 2;
  }
  try {
    escalon::ManualClock clock{"2026-11-30T07:00:00Z"};  // Monday 08:00 in Zagreb and Warsaw
    escalon::MemoryStore store;
    escalon::Engine engine{{.clock = &clock, .store = &store}};
    engine.load({argv[1]});

    PartsService parts;
    ExpertBoard experts;
    MailSpool spool{argv[2]};
    engine.on_action("parts.order", [&](escalon::ActionContext& a) { parts.order(a); });
    engine.on_action("experts.find_available", [&](escalon::ActionContext& a) { experts.find(a); });
    engine.on_notify([&](const escalon::Notification& n) {
      std::cout << fmt::format("{}  notify {:<28} {} ({} L{})\n", escalon::format_iso8601(n.at),
                               n.to.empty() ? std::string("(supervisor)") : fmt::format("{}", fmt::join(n.to, ",")), n.message,
                               n.reason, n.level);
      spool.deliver(n);
    });
    auto at = [&](const char* iso) {
      clock.set(*escalon::parse_iso8601(iso));
      engine.run_due();
    };

    // 08:05 A customer calls: the washer leaks; the agent takes the preferred slots and sees a
    // part is needed. The sub-flow orders it (the service's first call succeeds).
    at("2026-11-30T07:05:00Z");
    const auto visit = engine.start("technician-visit", {{"customer", "ACME d.o.o."}}, {.actor = "agent-7", .channel = "phone"});
    engine.send(visit, "submit",
                {{"product", "washer"}, {"fault", "leaks"}, {"parts_needed", true},
                 {"preferred_slots", escalon::List{"2026-12-02T08:00:00Z", "2026-12-03T12:00:00Z"}}},
                {.actor = "agent-7", .channel = "phone"});
    const auto order = engine.get(visit).children.at(0);

    // 08:20 A second visit needs a part too: the ordering service's second call times out and
    // is retried 5 minutes later.
    at("2026-11-30T07:20:00Z");
    const auto visit2 = engine.start("technician-visit", {{"customer", "Bistro Mala"}, {"priority", "high"}}, {.channel = "email"});
    engine.send(visit2, "submit", {{"product", "oven"}, {"parts_needed", true}, {"preferred_slots", escalon::List{"2026-12-01T09:00:00Z"}}});
    at("2026-11-30T07:30:00Z");

    // 08:40 A billing question goes to the back office (the rule table picks billing).
    const auto handover = engine.start("back-office-handover", {{"customer", "Kovacs Kft"}, {"category", "billing"}}, {.channel = "phone"});
    engine.send(handover, "hand-over", {{"request", "charged twice in November"}}, {.actor = "agent-3"});

    // 09:00 An agent pulls in an expert: anna is free and answers.
    at("2026-11-30T08:00:00Z");
    const auto consult = engine.start("expert-consult", {{"customer", "Nowak"}, {"topic", "internet"}, {"question", "router drops Wi-Fi"}});
    engine.send(consult, "accepted", {}, {.actor = "anna"});
    engine.send(consult, "resolved", {}, {.actor = "anna"});
    // A second consult: anna is busy now, cleo does not pick up in 20 seconds, nobody else is
    // free: the case becomes a callback.
    experts.free["anna"] = false;
    const auto consult2 = engine.start("expert-consult", {{"customer", "Zielinski"}, {"topic", "tv"}});
    clock.advance(21s);
    engine.run_due();

    // 09:30 A complaint by email, assigned to marko, who does not start on it.
    at("2026-11-30T08:30:00Z");
    const auto complaint = engine.start("complaint", {{"customer", "Horvat"}, {"summary", "technician late twice"}}, {.channel = "email"});
    engine.send(complaint, "assign", {{"agent", "marko"}}, {.actor = "desk-1"});

    // The supplier confirms the first order; the afternoon passes; nobody books the second
    // visit's slot and the complaint waits, so the ladders fire.
    engine.send(order, "confirmed", {{"eta", "2026-12-01T09:00:00Z"}}, {.actor = "supplier"});
    at("2026-11-30T16:00:00Z");

    print_queues(engine);
    const auto report = escalon::make_report(store, clock.now());
    std::cout << fmt::format("\nParts service: {} calls. Mails in the spool: {}.\n", parts.calls(), spool.count());
    std::cout << fmt::format("Cases opened {}, completed {}, escalations {}; consult 2 is at '{}'.\n", report.opened, report.completed,
                             report.escalations.empty() ? 0 : report.escalations.begin()->second, engine.get(consult2).steps.at(0));
    (void)handover;
    (void)complaint;
    (void)visit2;
  } catch (const escalon::FlowError& e) {
    for (const auto& d : e.diagnostics()) std::cerr << d.str() << '\n';
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "service_desk: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
