// The flows in flows/ driven through real cases: every step is entered and every escalation
// level (of step deadlines and of SLAs) fires at least once, checked against the flow model so
// that a step or level added later without a test fails here. Times are worked out by hand in
// the comments; all three offices are UTC+1 in November and December.

#include <fmt/format.h>

#include <map>
#include <set>

#include "escalon/engine.hpp"
#include "escalon/loader.hpp"
#include "escalon/report.hpp"
#include "support.hpp"

using namespace escalon;
using namespace std::chrono_literals;
using escalon::test::at;

namespace {

const std::vector<FlowPtr>& all_flows() {
  static const auto flows = load_flows({std::string(ESCALON_SOURCE_DIR) + "/flows"});
  return flows;
}

// An engine on a manual clock that keeps every record and notification.
struct Desk {
  ManualClock clock{"2026-11-23T08:00:00Z"};  // Monday 09:00 local
  std::vector<Record> records;
  std::vector<Notification> notes;
  MemoryStore store;
  Engine engine{{.clock = &clock, .journal_sink = [this](const Record& r) { records.push_back(r); }, .store = &store}};

  Desk() {
    engine.add_flows(all_flows());
    engine.on_notify([this](const Notification& n) { notes.push_back(n); });
  }
  void until(const char* iso) { until(at(iso)); }
  void until(TimePoint t) {
    clock.set(t);
    engine.run_due();
  }
  void pass(Duration d) {
    clock.advance(d);
    engine.run_due();
  }
  [[nodiscard]] std::string step(const std::string& id) const { return engine.get(id).steps.at(0); }
  [[nodiscard]] std::vector<TimePoint> escalations(const std::string& id, const std::string& step, int level) const {
    std::vector<TimePoint> out;
    for (const auto& r : records)
      if (r.case_id == id && r.type == RecordType::escalated && r.step == step && r.level == level &&
          r.message.rfind("SLA '", 0) != 0 && r.message.rfind("stage '", 0) != 0)
        out.push_back(r.at);
    return out;
  }
  // Firings of level `level` of a stage's or an SLA's ladder (`kind` "stage" or "SLA").
  [[nodiscard]] std::vector<TimePoint> ladder(const std::string& id, const std::string& kind, const std::string& name,
                                              int level) const {
    std::vector<TimePoint> out;
    for (const auto& r : records)
      if (r.case_id == id && r.type == RecordType::escalated && r.level == level &&
          r.message.rfind(fmt::format("{} '{}'", kind, name), 0) == 0)
        out.push_back(r.at);
    return out;
  }

  // Every step of `flow` entered, every ladder level fired, by the cases of that flow.
  void require_coverage(const std::string& flow_id) const {
    const Flow* flow = nullptr;
    for (const auto& f : all_flows())
      if (f->id == flow_id) flow = f.get();
    REQUIRE(flow);
    std::map<std::string, std::string> flow_of;
    std::set<std::string> entered, fired;
    for (const auto& r : records) {
      if (r.type == RecordType::started) flow_of[r.case_id] = r.target;
      if (flow_of[r.case_id] != flow_id) continue;
      if (r.type == RecordType::entered) entered.insert(r.step);
      if (r.type == RecordType::escalated) {
        if (r.message.rfind("SLA '", 0) == 0)
          fired.insert(fmt::format("sla {} L{}", r.message.substr(5, r.message.find('\'', 5) - 5), r.level));
        else if (r.message.rfind("stage '", 0) == 0)
          fired.insert(fmt::format("stage {} L{}", r.message.substr(7, r.message.find('\'', 7) - 7), r.level));
        else
          fired.insert(fmt::format("{} L{}", r.step, r.level));
      }
    }
    for (const auto& s : flow->steps) {
      INFO("flow " << flow_id << ", step " << s.name);
      CHECK(entered.count(s.name));
      if (s.deadline)
        for (std::size_t l = 1; l <= s.deadline->escalate.size(); ++l) CHECK(fired.count(fmt::format("{} L{}", s.name, l)));
    }
    for (const auto& st : flow->stages)
      for (std::size_t l = 1; st.deadline && l <= st.deadline->escalate.size(); ++l) {
        INFO("flow " << flow_id << ", stage " << st.name);
        CHECK(fired.count(fmt::format("stage {} L{}", st.name, l)));
      }
    for (const auto& sla : flow->slas)
      for (std::size_t l = 1; l <= sla.escalate.size(); ++l) {
        INFO("flow " << flow_id << ", SLA " << sla.name);
        CHECK(fired.count(fmt::format("sla {} L{}", sla.name, l)));
      }
  }
};

std::size_t notes_to(const std::vector<Notification>& notes, const std::string& who, const std::string& case_id = {}) {
  return static_cast<std::size_t>(std::count_if(notes.begin(), notes.end(), [&](const Notification& n) {
    return (case_id.empty() || n.case_id == case_id) && std::find(n.to.begin(), n.to.end(), who) != n.to.end();
  }));
}

}  // namespace

TEST_CASE("technician-visit and its spare-parts sub-flow: every step and ladder level", "[flows][technician-visit]") {
  Desk d;
  bool erp_up = true;
  int orders = 0;
  d.engine.on_action("parts.order", [&](ActionContext& a) {
    if (!erp_up) throw std::runtime_error("ordering service unavailable");
    a.set("order_id", fmt::format("PO-{}", ++orders));
    a.set("supplier", "Elektro d.o.o.");
  });

  // A: parts through the sub-flow, late supplier, late parts, late dispatch, late visit.
  const auto a = d.engine.start("technician-visit", {{"customer", "ACME"}}, {.channel = "phone"});
  d.pass(5min);
  d.engine.send(a, "submit", {{"preferred_slots", List{"2026-12-01T09:00:00Z"}}, {"product", "washer"}, {"parts_needed", true}});
  const auto pa = d.engine.get(a).children.at(0);
  CHECK(pa == a + "/order-parts");
  CHECK(d.step(pa) == "await-confirmation");
  CHECK(d.engine.get(pa).data.at("item") == Value("washer"));
  CHECK(d.engine.get(pa).data.at("case_ref") == Value(a));
  // Supplier confirmation: 1 business day from Mon 09:05 local = Tue 09:05 local (08:05Z);
  // level 2 four business hours later, Tue 13:05 local.
  d.until("2026-11-24T13:00:00Z");
  CHECK(d.escalations(pa, "await-confirmation", 1) == std::vector{at("2026-11-24T08:05:00Z")});
  CHECK(d.escalations(pa, "await-confirmation", 2) == std::vector{at("2026-11-24T12:05:00Z")});
  CHECK(d.engine.get(pa).assignee == "purchasing");
  // The parent's own ladder on order-parts: 80% and 100% of 1 business day.
  CHECK(d.escalations(a, "order-parts", 1) == std::vector{at("2026-11-23T14:29:00Z")});
  CHECK(d.escalations(a, "order-parts", 2) == std::vector{at("2026-11-24T08:05:00Z")});
  CHECK(d.engine.get(a).assignee == "parts-lead");
  d.engine.send(pa, "confirmed", {{"eta", "2026-11-26T08:00:00Z"}});  // Thursday
  CHECK(d.step(pa) == "in-transit");
  // Overdue parts: +1 business day Fri 09:00 local, +2 Mon 09:00 local; it arrives Monday noon.
  d.until("2026-11-30T11:00:00Z");
  CHECK(d.escalations(pa, "in-transit", 1) == std::vector{at("2026-11-27T08:00:00Z")});
  CHECK(d.escalations(pa, "in-transit", 2) == std::vector{at("2026-11-30T08:00:00Z")});
  CHECK(d.engine.get(pa).priority == "urgent");
  d.engine.send(pa, "arrived");
  CHECK(d.engine.get(pa).outcome == "received");
  auto va = d.engine.get(a);
  CHECK(va.steps.at(0) == "schedule");
  CHECK(va.data.at("parts_order") == Value("PO-1"));
  // Dispatch: 4 business hours from Mon 12:00 local = Mon 16:00 local; then every business
  // hour (Tue 09:00 to 12:00 local), at most 4 repeats.
  d.until("2026-12-01T14:00:00Z");
  CHECK(d.escalations(a, "schedule", 1).size() == 5);
  CHECK(d.escalations(a, "schedule", 1).front() == at("2026-11-30T15:00:00Z"));
  CHECK(d.escalations(a, "schedule", 1).back() == at("2026-12-01T11:00:00Z"));
  d.engine.send(a, "booked", {{"slot", "2026-12-02T09:00:00Z"}});
  d.until("2026-12-02T12:30:00Z");  // the visit is due at slot + 2h; its level fires 1h later
  CHECK(d.escalations(a, "visit", 1) == std::vector{at("2026-12-02T12:00:00Z")});
  d.engine.send(a, "fixed");
  va = d.engine.get(a);
  CHECK(va.status == CaseStatus::completed);
  CHECK(va.outcome == "resolved");
  CHECK(va.slas.at(0).state == SlaView::State::breached);
  CHECK(notes_to(d.notes, "supervisor", a) == 1);  // the SLA ladder

  // B: the ordering service is down, the part is ordered by hand, the supplier rejects it; an
  // alternative part is ordered and arrives 3 business days late, which fails the order again.
  erp_up = false;
  d.until("2026-12-07T08:00:00Z");  // Monday
  const auto b = d.engine.start("technician-visit", {{"customer", "Bistro Mala"}, {"priority", "high"}});
  d.engine.send(b, "submit", {{"preferred_slots", List{"2026-12-09T09:00:00Z"}}, {"product", "oven"}, {"parts_needed", true}});
  const auto pb = d.engine.get(b).children.at(0);
  d.pass(15min);  // attempt 2 after 5 minutes, attempt 3 after 10 more (the backoff doubles)
  CHECK(d.step(pb) == "order-by-hand");
  // Order by hand: 4 business hours from Mon 09:15 local.
  d.until("2026-12-07T12:30:00Z");
  CHECK(d.escalations(pb, "order-by-hand", 1) == std::vector{at("2026-12-07T12:15:00Z")});
  CHECK(notes_to(d.notes, "purchasing", pb) == 1);
  d.engine.send(pb, "ordered", {{"order_id", "PO-by-phone-7"}});
  d.engine.send(pb, "rejected");
  CHECK(d.engine.get(pb).outcome == "not-delivered");
  auto vb = d.engine.get(b);
  CHECK(vb.steps.at(0) == "parts-failed");
  erp_up = true;
  d.engine.send(b, "alternative-found", {{"product", "oven (compatible part)"}});
  const auto pb2 = d.engine.get(b).children.at(1);
  CHECK(pb2 == b + "/order-parts-2");
  d.engine.send(pb2, "confirmed", {{"eta", "2026-12-08T08:00:00Z"}});
  // 3 business days after Tue 09:00 local is Fri 09:00 local: the third level fails the order.
  d.until("2026-12-11T09:00:00Z");
  CHECK(d.escalations(pb2, "in-transit", 3) == std::vector{at("2026-12-11T08:00:00Z")});
  CHECK(d.engine.get(pb2).data.at("reason") == Value("the part is 3 business days late"));
  CHECK(d.step(b) == "parts-failed");
  d.engine.send(b, "give-up");
  CHECK(d.engine.get(b).outcome == "no-parts");

  // C: no parts; the customer cannot be reached and never calls back.
  const auto c = d.engine.start("technician-visit", {{"customer", "Novak"}});
  d.engine.send(c, "submit", {{"preferred_slots", List{"2026-12-15T09:00:00Z"}}, {"product", "tv"}});
  CHECK(d.step(c) == "schedule");
  d.engine.send(c, "customer-unreachable");
  d.pass(3 * 24h);
  CHECK(d.engine.get(c).outcome == "no-reply");

  d.require_coverage("technician-visit");
  d.require_coverage("spare-parts-order");
}

TEST_CASE("back-office-handover: rule-table routing, alarms, questions back, first-contact resolution", "[flows][handover]") {
  Desk d;
  // A: solved on the call.
  const auto a = d.engine.start("back-office-handover", {{"customer", "Kovacs"}}, {.channel = "phone"});
  d.engine.send(a, "solved", {{"request", "PIN reset"}});
  CHECK(d.engine.get(a).outcome == "first-contact");
  CHECK(d.engine.get(a).data.at("first_contact") == Value(true));

  // B: urgent TV repair goes to tv-experts with 1 hour to respond.
  const auto b = d.engine.start("back-office-handover",
                                {{"customer", "Szabo"}, {"product", "tv"}, {"category", "repair"}, {"priority", "urgent"}});
  d.engine.send(b, "hand-over", {{"request", "No picture after the update"}});
  auto vb = d.engine.get(b);
  CHECK(vb.assignee == "tv-experts");
  CHECK(vb.data.at("response_within") == Value(Duration{1h}));
  CHECK(vb.deadlines.at(0).due == at("2026-11-23T09:00:00Z"));
  // 50% at 30 minutes, 100% at 1 hour, then the lead takes over 1 hour later and the
  // supervisor hears of it every hour, 3 more times.
  d.until("2026-11-23T14:00:00Z");
  CHECK(d.escalations(b, "back-office", 1) == std::vector{at("2026-11-23T08:30:00Z")});
  CHECK(d.escalations(b, "back-office", 2) == std::vector{at("2026-11-23T09:00:00Z")});
  CHECK(d.escalations(b, "back-office", 3) ==
        std::vector{at("2026-11-23T10:00:00Z"), at("2026-11-23T11:00:00Z"), at("2026-11-23T12:00:00Z"), at("2026-11-23T13:00:00Z")});
  vb = d.engine.get(b);
  CHECK(vb.assignee == "back-office-lead");
  CHECK(vb.priority == "high");
  d.engine.send(b, "need-info", {{"question", "Which set-top box model?"}});
  CHECK(d.engine.get(b).assignee == "front-office");
  // 4 business hours from Mon 15:00 local (Budapest closes at 16:30 Mon-Thu): Tue 10:30 local.
  d.until("2026-11-24T10:00:00Z");
  CHECK(d.escalations(b, "ask-front-office", 1) == std::vector{at("2026-11-24T09:30:00Z")});
  d.engine.send(b, "info-provided", {{"info", "SMT-7"}});
  vb = d.engine.get(b);
  CHECK(vb.assignee == "tv-experts");  // the team again, with a new response time
  CHECK(vb.deadlines.at(0).due == at("2026-11-24T11:00:00Z"));
  d.engine.send(b, "answered", {{"answer", "Reset the box; a fix ships Friday"}});
  // The customer is told late: inform-customer's level after 1 business day, and the 3-day SLA.
  d.until("2026-11-27T12:00:00Z");
  // 1 business day from Tue 11:00 local.
  CHECK(d.escalations(b, "inform-customer", 1) == std::vector{at("2026-11-25T10:00:00Z")});
  d.engine.send(b, "customer-informed");
  vb = d.engine.get(b);
  CHECK(vb.outcome == "resolved");
  REQUIRE(vb.slas.at(0).name == "resolution");
  CHECK(vb.slas.at(0).state == SlaView::State::breached);

  // C: billing goes to billing with 8 hours.
  const auto c = d.engine.start("back-office-handover", {{"customer", "Toth"}, {"category", "billing"}});
  d.engine.send(c, "hand-over", {{"request", "Double charge"}});
  CHECK(d.engine.get(c).assignee == "billing");
  CHECK(d.engine.get(c).data.at("response_within") == Value(Duration{8h}));

  const auto r = make_report(d.store);
  CHECK(r.fcr_completed == 2);
  CHECK(r.fcr == 1);  // only the case the front office solved itself
  d.require_coverage("back-office-handover");
}

TEST_CASE("expert-consult: next expert after 20 seconds, then a scheduled callback", "[flows][expert]") {
  Desk d;
  std::vector<std::string> on_duty = {"anna", "ben", "cleo"};
  bool presence_up = true;
  std::vector<List> excluded;
  d.engine.on_action("experts.find_available", [&](ActionContext& a) {
    if (!presence_up) throw std::runtime_error("presence service timeout");
    const auto& tried = a.inputs().at("exclude").as_list();
    excluded.push_back(tried);
    for (const auto& e : on_duty)
      if (std::find(tried.begin(), tried.end(), Value(e)) == tried.end()) return a.set("expert", e);
  });

  // A: anna does not answer, ben declines, cleo takes the call; the notes travel along.
  const auto a = d.engine.start("expert-consult", {{"customer", "Wisniewski"}, {"question", "Router drops Wi-Fi"}});
  CHECK(d.engine.get(a).assignee == "user:anna");
  d.pass(20s);
  CHECK(d.engine.get(a).assignee == "user:ben");
  d.engine.send(a, "declined");
  auto va = d.engine.get(a);
  CHECK(va.assignee == "user:cleo");
  CHECK(va.data.at("tried") == Value(List{"anna", "ben"}));
  CHECK(excluded.back() == List{"anna", "ben"});
  d.engine.send(a, "accepted");
  d.engine.send(a, "note", {{"text", "Firmware 2.1"}});
  d.pass(16min);
  CHECK(d.escalations(a, "in-consult", 1) == std::vector{at("2026-11-23T08:15:20Z")});
  d.engine.send(a, "resolved");
  CHECK(d.engine.get(a).outcome == "resolved");
  CHECK(d.engine.get(a).data.at("notes") == Value("Firmware 2.1\n"));

  // B: nobody answers in time, three times: a callback is scheduled late, the expert calls
  // late and the customer does not pick up; a second callback, and the customer calls first.
  const auto b = d.engine.start("expert-consult", {{"customer", "Nowak"}, {"topic", "billing"}});
  for (int i = 0; i < 3; ++i) d.pass(20s);
  CHECK(d.step(b) == "schedule-callback");
  CHECK(d.engine.get(b).data.at("tried") == Value(List{"anna", "ben", "cleo"}));
  d.pass(2h);  // one business hour to schedule it
  CHECK(d.escalations(b, "schedule-callback", 1).size() == 1);
  d.engine.send(b, "scheduled", {{"callback_at", "2026-11-24T10:00:00Z"}});
  CHECK(d.step(b) == "callback-due");
  d.until("2026-11-24T11:45:00Z");
  CHECK(d.step(b) == "call-back");
  CHECK(d.escalations(b, "call-back", 1) == std::vector{at("2026-11-24T10:30:00Z")});
  CHECK(d.escalations(b, "call-back", 2) == std::vector{at("2026-11-24T11:30:00Z")});
  CHECK(d.engine.get(b).assignee == "supervisor");
  d.engine.send(b, "no-answer");
  d.engine.send(b, "scheduled", {{"callback_at", "2026-11-25T10:00:00Z"}});
  d.engine.send(b, "customer-called");
  d.engine.send(b, "resolved");
  CHECK(d.engine.get(b).outcome == "resolved");

  // C: the presence service is down: straight to a callback.
  presence_up = false;
  const auto c = d.engine.start("expert-consult", {{"customer", "Zielinski"}});
  d.pass(5s);
  CHECK(d.step(c) == "schedule-callback");
  d.require_coverage("expert-consult");
}

TEST_CASE("complaint: lifecycle with reopen, first-response and resolution SLAs", "[flows][complaint]") {
  Desk d;
  // A: nobody assigns it for half a day; the agent starts late; it waits for the customer,
  // resolution runs over 150%; resolved, reopened, resolved again and closed after 7 days.
  const auto a = d.engine.start("complaint", {{"customer", "Horvat"}, {"category", "billing"}}, {.channel = "email"});
  d.until("2026-11-23T13:00:00Z");  // 14:00 local
  CHECK(d.escalations(a, "new", 1) == std::vector{at("2026-11-23T09:00:00Z")});
  CHECK(notes_to(d.notes, "complaints-lead", a) == 2);  // not assigned; first response late (12:00Z)
  d.engine.send(a, "assign", {{"agent", "marko"}});
  CHECK(d.engine.get(a).assignee == "user:marko");
  d.until("2026-11-24T08:00:00Z");  // 2 business hours from Mon 14:00 local: Mon 16:00 local
  CHECK(d.escalations(a, "assigned", 1) == std::vector{at("2026-11-23T14:00:00Z")});
  CHECK(d.escalations(a, "assigned", 2) == std::vector{at("2026-11-23T15:00:00Z")});
  CHECK(d.engine.get(a).assignee == "complaints-lead");
  d.engine.send(a, "start");
  CHECK(d.engine.get(a).slas.at(0).state == SlaView::State::breached);  // first-response
  d.until("2026-11-27T08:00:00Z");  // 3 business days after Tue 09:00 local: Fri 09:00
  CHECK(d.escalations(a, "in-progress", 1) == std::vector{at("2026-11-27T08:00:00Z")});
  d.engine.send(a, "ask-customer");
  d.until("2026-12-02T08:00:00Z");  // half of 10 days
  CHECK(d.escalations(a, "waiting-customer", 1) == std::vector{at("2026-12-02T08:00:00Z")});
  d.engine.send(a, "customer-replied");
  // Resolution: 5 business days from Mon 09:00 local, paused Fri 09:00 -> Wed 09:00: 4 days
  // used by Friday, 1 left -> Thu 09:00 local; 150% = 60 business hours, 28 left on Wednesday
  // 09:00: Wed 7 + Thu 8 + Fri 8 + Mon 5 -> Mon 7 Dec 13:00 local.
  d.until("2026-12-08T13:00:00Z");
  std::vector<TimePoint> sla_levels;
  for (const auto& r : d.records)
    if (r.case_id == a && r.type == RecordType::escalated && r.message.rfind("SLA 'resolution'", 0) == 0) sla_levels.push_back(r.at);
  CHECK(sla_levels == std::vector{at("2026-12-03T08:00:00Z"), at("2026-12-07T12:00:00Z")});
  CHECK(d.engine.get(a).priority == "urgent");
  d.engine.send(a, "resolve", {{"resolution", "Refund of 12 EUR"}});
  d.pass(2 * 24h);
  d.engine.send(a, "reopen");
  CHECK(d.step(a) == "in-progress");
  CHECK(d.engine.get(a).data.at("reopened") == Value(1));
  d.engine.send(a, "resolve", {{"resolution", "Refund of 24 EUR"}});
  d.pass(7 * 24h);
  CHECK(d.engine.get(a).outcome == "resolved");

  // B: the customer never replies.
  const auto b = d.engine.start("complaint", {{"customer", "Babic"}});
  d.engine.send(b, "assign", {{"agent", "iva"}});
  d.engine.send(b, "start");
  CHECK(d.engine.get(b).slas.at(0).state == SlaView::State::met);
  d.engine.send(b, "ask-customer");
  d.pass(10 * 24h);
  CHECK(d.engine.get(b).outcome == "no-reply");
  // C: reopening after the 7 days is refused: the complaint is closed.
  const auto c = d.engine.start("complaint", {{"customer", "Kralj"}});
  d.engine.send(c, "assign", {{"agent", "iva"}});
  d.engine.send(c, "start");
  d.engine.send(c, "resolve");
  d.engine.send(c, "customer-confirmed");
  CHECK_THROWS_AS(d.engine.send(c, "reopen"), EventError);
  d.require_coverage("complaint");
}

TEST_CASE("callback-campaign: business-hours retries and every outcome", "[flows][campaign]") {
  Desk d;
  // A: no answer four times; retries 3 business hours apart stay inside 09:00-17:00 local.
  const auto a = d.engine.start("callback-campaign", {{"lead", "Jan Kowalski"}, {"phone", "+48 600 000 001"}});
  std::vector<TimePoint> calls;
  for (int i = 0; i < 4; ++i) {
    REQUIRE(d.step(a) == "call-lead");
    calls.push_back(d.clock.now());
    d.engine.send(a, "no-answer");
    if (d.step(a) == "retry-later") d.until(*d.engine.next_due());  // the wait is the only timer
  }
  // Mon 09:00, 12:00, 15:00 local; Tue 10:00 local (2 hours Monday, 1 hour Tuesday).
  CHECK(calls == std::vector{at("2026-11-23T08:00:00Z"), at("2026-11-23T11:00:00Z"), at("2026-11-23T14:00:00Z"),
                             at("2026-11-24T09:00:00Z")});
  CHECK(d.engine.get(a).outcome == "unreachable");
  CHECK(d.engine.get(a).data.at("attempts") == Value(4));

  // B: nobody calls the lead for 4 business hours: the lead is told, then takes it over.
  const auto b = d.engine.start("callback-campaign", {{"lead", "Anna Lis"}, {"source", "missed-call"}});
  d.pass(5h);
  CHECK(d.escalations(b, "call-lead", 1) == std::vector{at("2026-11-24T11:00:00Z")});
  CHECK(d.escalations(b, "call-lead", 2) == std::vector{at("2026-11-24T13:00:00Z")});
  CHECK(d.engine.get(b).assignee == "campaign-lead");
  d.engine.send(b, "interested", {{"notes", "Wants the 1 Gbit offer"}});
  CHECK(d.engine.get(b).outcome == "interested");

  // C-F: the other outcomes, one of them after the lead called back during a retry wait.
  for (const char* outcome : {"not-interested", "wrong-number", "do-not-call"}) {
    const auto id = d.engine.start("callback-campaign", {{"lead", std::string("Lead ") + outcome}});
    d.engine.send(id, outcome);
    CHECK(d.engine.get(id).outcome == outcome);
  }
  const auto f = d.engine.start("callback-campaign", {{"lead", "Piotr Nowak"}});
  d.engine.send(f, "no-answer");
  d.engine.send(f, "lead-called-back");
  d.engine.send(f, "not-interested");
  CHECK(d.engine.get(f).data.at("attempts") == Value(1));
  d.require_coverage("callback-campaign");
}

// Budapest is UTC+1 in November to January; it works Mon-Thu 08:00-16:30 and Fri 08:00-14:00,
// and 24-26 December and 1 January are holidays.
TEST_CASE("warranty-repair: stages, a courier ladder over Christmas, a repair SLA paused for parts", "[flows][warranty]") {
  Desk d;
  const Map in_warranty{{"device", "phone"}, {"serial", "SN-1"}, {"purchase_date", "2025-06-01"}};
  const Map out_of_warranty{{"device", "tablet"}, {"serial", "SN-2"}, {"purchase_date", "2023-01-10"}};

  // E (from Mon 23 Nov 09:00 local): booked but never collected. The stage deadline runs through
  // intake, book-courier and pickup: 10 business days = 80 working hours, to Mon 7 Dec 09:00 local;
  // its level at 30% (24 working hours) is Wed 25 Nov 16:00 local.
  const auto e = d.engine.start("warranty-repair", {{"customer", "Nagy"}}, {.channel = "phone"});
  // Submitting before consent is refused with the flow's reason; the form is not asked of consent-given.
  try {
    d.engine.send(e, "submit", in_warranty);
    FAIL("submit without consent was accepted");
  } catch (const EventError& err) {
    CHECK(err.code() == Refusal::guard_refused);
    CHECK(err.reason() == "consent to data processing is required: ask the customer and send consent-given");
  }
  d.engine.send(e, "consent-given");
  CHECK_THROWS_AS(d.engine.send(e, "submit", {{"device", "phone"}}), EventError);  // serial and date missing
  d.engine.send(e, "submit", in_warranty);
  CHECK(d.step(e) == "book-courier");  // bought 2025-06-01: 540 days ago, in warranty
  d.engine.send(e, "courier-booked", {{"slot", "2026-11-24T09:00:00Z"}});
  CHECK(d.step(e) == "pickup");

  // B (Mon 23 Nov 09:10 local): out of warranty, the quote's reminder at 50% of 5 business days
  // (20 of 40 working hours: Wed 25 Nov 12:10 local), then declined.
  d.until("2026-11-23T08:10:00Z");
  const auto b = d.engine.start("warranty-repair", {{"customer", "Kiss"}, {"consent", true}});
  d.engine.send(b, "submit", out_of_warranty);
  CHECK(d.step(b) == "quote");  // bought 2023-01-10: more than 730 days ago
  d.until("2026-11-25T12:00:00Z");
  CHECK(d.escalations(b, "quote", 1) == std::vector{at("2026-11-25T11:10:00Z")});
  d.engine.send(b, "quote-declined");
  CHECK(d.engine.get(b).outcome == "quote-declined");

  // C (Wed 25 Nov 13:00 local): its quote expires after 5 business days, Wed 2 Dec 13:00 local.
  const auto c = d.engine.start("warranty-repair", {{"customer", "Szabo"}, {"consent", true}});
  d.engine.send(c, "submit", out_of_warranty);

  // E: pickup due at the slot + 4h (13:00Z), its level 1 hour later; the stage's level.
  d.until("2026-11-26T00:00:00Z");
  CHECK(d.escalations(e, "pickup", 1) == std::vector{at("2026-11-24T14:00:00Z")});
  CHECK(d.ladder(e, "stage", "before-repair", 1) == std::vector{at("2026-11-25T15:00:00Z")});

  // F: the customer cancels while the courier is being booked: the stage's transition.
  const auto f = d.engine.start("warranty-repair", {{"customer", "Balogh"}, {"consent", true}});
  d.engine.send(f, "submit", in_warranty);
  d.engine.send(f, "customer-cancelled");
  CHECK(d.engine.get(f).outcome == "cancelled");

  d.until("2026-12-02T11:59:59Z");
  CHECK(d.step(c) == "quote");
  d.until("2026-12-02T12:00:00Z");
  CHECK(d.engine.get(c).outcome == "quote-expired");

  // E again: 10 business days after it started, the stage deadline moves it to not-collected.
  d.until("2026-12-07T07:59:59Z");
  CHECK(d.step(e) == "pickup");
  d.until("2026-12-07T08:00:00Z");
  CHECK(d.engine.get(e).outcome == "not-collected");

  // A (Wed 23 Dec 10:00 local): the courier ladder sleeps through Christmas. 1 business day is
  // Mon 28 Dec 10:00 local (8.5 working hours); 50% is Wed 14:15 local; after 4 business hours,
  // Mon 14:00 local, and one repeat 4 working hours later, Tue 29 Dec 09:30 local.
  d.until("2026-12-23T09:00:00Z");
  const auto a = d.engine.start("warranty-repair", {{"customer", "Horvath"}, {"consent", true}});
  d.engine.send(a, "submit", in_warranty);
  d.until("2026-12-29T09:00:00Z");
  CHECK(d.escalations(a, "book-courier", 1) == std::vector{at("2026-12-23T13:15:00Z")});
  CHECK(d.escalations(a, "book-courier", 2) == std::vector{at("2026-12-28T09:00:00Z")});
  CHECK(d.escalations(a, "book-courier", 3) == std::vector{at("2026-12-28T13:00:00Z"), at("2026-12-29T08:30:00Z")});
  auto va = d.engine.get(a);
  CHECK(va.assignee == "courier-lead");
  CHECK(va.priority == "high");
  d.engine.send(a, "courier-booked", {{"slot", "2026-12-30T09:00:00Z"}});
  d.until("2026-12-30T14:30:00Z");
  d.engine.send(a, "picked-up");  // the workshop has it: Wed 30 Dec 15:30 local, the repair SLA starts
  va = d.engine.get(a);
  REQUIRE(va.slas.at(0).name == "repair");
  CHECK(va.slas.at(0).state == SlaView::State::running);
  // 3 business days: Tue 5 Jan 15:30 local (1 January is a holiday).
  CHECK(va.slas.at(0).due == at("2027-01-05T14:30:00Z"));
  d.until("2026-12-31T08:00:00Z");
  d.engine.send(a, "needs-parts");  // 2 working hours used: Wed 15:30-16:30, Thu 08:00-09:00
  CHECK(d.engine.get(a).slas.at(0).state == SlaView::State::paused);
  d.until("2027-01-04T07:00:00Z");
  d.engine.send(a, "parts-arrived");  // Mon 08:00 local: 23.5 working hours left, due Wed 6 Jan 14:30 local
  std::vector<TimePoint> resumed;
  for (const auto& r : d.records)
    if (r.case_id == a && r.type == RecordType::resumed) resumed.push_back(r.due);
  CHECK(resumed == std::vector{at("2027-01-06T13:30:00Z")});
  // The warning at 75% (19h07m30s of 25.5 working hours) goes to the workshop lead; the breach
  // level to the supervisor.
  d.until("2027-01-06T14:00:00Z");
  std::vector<TimePoint> warned;
  for (const auto& n : d.notes)
    if (n.case_id == a && n.reason == "sla-warning") {
      warned.push_back(n.at);
      CHECK(n.to == std::vector<std::string>{"workshop-lead"});
    }
  CHECK(warned == std::vector{at("2027-01-06T07:07:30Z")});
  CHECK(d.ladder(a, "SLA", "repair", 1) == std::vector{at("2027-01-06T13:30:00Z")});
  d.engine.send(a, "repaired");
  d.engine.send(a, "delivered");
  CHECK(d.engine.get(a).outcome == "repaired");

  // D: diagnosed without parts, repaired in time: the SLA is met.
  const auto dd = d.engine.start("warranty-repair", {{"customer", "Farkas"}, {"consent", true}});
  d.engine.send(dd, "submit", out_of_warranty);
  d.engine.send(dd, "quote-accepted", {{"amount", 24000}});
  d.engine.send(dd, "courier-booked", {{"slot", "2027-01-07T09:00:00Z"}});
  d.engine.send(dd, "picked-up");
  d.engine.send(dd, "diagnosed");
  d.engine.send(dd, "repaired");
  CHECK(d.engine.get(dd).slas.at(0).state == SlaView::State::met);
  CHECK(d.engine.get(dd).data.at("quote_amount") == Value(24000.0));
  d.require_coverage("warranty-repair");
}
