// Several engines on one shared store (Store::shared()): the store is the truth, calls load
// their cases from it, conflicts are applied again, due timers fire once across the engines.
// Runs on a shared MemoryStore (engines in this process) and, when ESCALON_TEST_PG names a
// database, on PostgreSQL (each engine with its own connection).

#include <atomic>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "escalon/engine.hpp"
#include "escalon/loader.hpp"
#include "escalon/store.hpp"
#include "shared_stores.hpp"
#include "support.hpp"

using namespace escalon;
using namespace std::chrono_literals;
using escalon::test::at;

namespace {

const char* counter_flow = R"(flow: counter
start: a
data:
  n: { type: int, default: 0 }
steps:
  a:
    deadline:
      within: 1h
      escalate:
        - { at: 50%, notify: lead }
        - { at: 100%, notify: boss, repeat: every 1h, max: 3 }
    on:
      note: { set: { n: n + 1 } }
      approve: { to: ok }
      decline: { to: no }
  ok: { end: true }
  no: { end: true }
)";

std::vector<FlowPtr> counter() {
  auto r = validate_text(counter_flow, "counter.yaml");
  REQUIRE(r.ok());
  return r.flows;
}

std::unique_ptr<Engine> engine_on(Handle<Store> store, const Clock& clock) {
  auto e = std::make_unique<Engine>(EngineOptions{.clock = &clock, .store = std::move(store)});
  e->add_flows(counter());
  return e;
}

// Two engines on one fresh store of `kind` and one manual clock; the store outlives them.
struct TwoEngines {
  std::shared_ptr<void> store;
  ManualClock clock{"2026-11-30T09:00:00Z"};
  std::unique_ptr<Engine> a, b;
  explicit TwoEngines(const test::SharedStoreKind& kind)
      : store(kind.open()), a(engine_on(kind.connect(), clock)), b(engine_on(kind.connect(), clock)) {}
};

std::size_t count(const std::vector<Record>& h, RecordType t) {
  return static_cast<std::size_t>(std::count_if(h.begin(), h.end(), [&](const Record& r) { return r.type == t; }));
}

}  // namespace

TEST_CASE("engines on a shared store see each other's cases and number them uniquely", "[shared]") {
  for (auto& kind : test::shared_stores()) {
    INFO(kind.name);
    TwoEngines two(kind);
    auto& a = two.a;
    auto& b = two.b;
    std::set<std::string> ids;
    for (int i = 0; i < 10; ++i) {
      ids.insert(a->start("counter"));
      ids.insert(b->start("counter"));
    }
    CHECK(ids.size() == 20);
    const std::string id = *ids.begin();
    b->send(id, "note");
    a->send(id, "note");
    CHECK(a->get(id).data.at("n") == Value(2));
    CHECK(b->get(id).data.at("n") == Value(2));
    b->send(id, "approve");
    CHECK(a->get(id).status == CaseStatus::completed);
    CHECK_THROWS_AS(a->send(id, "note"), EventError);  // closed, as the other engine left it
    CHECK(a->query({.status = CaseStatus::completed}).size() == 1);
    CHECK(b->query({.status = CaseStatus::active}).size() == 19);
    // Memory holds nothing between calls: the store is the truth.
    CHECK(a->case_count() == 0);
    CHECK(b->case_count() == 0);
    const auto h = a->history(id);
    for (std::size_t i = 1; i < h.size(); ++i) CHECK(h[i - 1].seq < h[i].seq);
  }
}

TEST_CASE("concurrent calls from two engines on one case lose no update and apply none twice", "[shared]") {
  for (auto& kind : test::shared_stores()) {
    INFO(kind.name);
    TwoEngines two(kind);
    auto& a = two.a;
    auto& b = two.b;
    const std::string id = a->start("counter");
    constexpr int per_engine = 150;
    std::atomic<int> applied{0}, gave_up{0}, other{0};
    // Both engines call back to back on one case, far harder than any two agents could: a call
    // that loses every retry throws ConflictError and stores nothing; every other call is
    // applied exactly once.
    auto hammer = [&](Engine& e) {
      for (int i = 0; i < per_engine; ++i) {
        try {
          e.send(id, "note");
          ++applied;
        } catch (const ConflictError&) {
          ++gave_up;
        } catch (const std::exception& ex) {
          if (++other == 1) WARN(ex.what());
        }
      }
    };
    std::thread ta([&] { hammer(*a); });
    std::thread tb([&] { hammer(*b); });
    ta.join();
    tb.join();
    CHECK(other == 0);
    CHECK(gave_up <= 2 * per_engine / 50);  // rare: each retry waits a random, growing pause
    CHECK(a->get(id).data.at("n") == Value(applied.load()));
    const auto h = b->history(id);
    CHECK(count(h, RecordType::event) == static_cast<std::size_t>(applied.load()));
    for (std::size_t i = 1; i < h.size(); ++i) CHECK(h[i - 1].seq < h[i].seq);
  }
}

TEST_CASE("conflicting events from two engines: one wins and the other sees its result", "[shared]") {
  for (auto& kind : test::shared_stores()) {
    INFO(kind.name);
    TwoEngines two(kind);
    auto& a = two.a;
    auto& b = two.b;
    for (int round = 0; round < 20; ++round) {
      const std::string id = a->start("counter");
      std::atomic<int> refused{0};
      auto go = [&](Engine& e, const char* event) {
        try {
          e.send(id, event);
        } catch (const EventError& err) {
          CHECK(err.code() == Refusal::closed);
          ++refused;
        }
      };
      std::thread ta([&] { go(*a, "approve"); });
      std::thread tb([&] { go(*b, "decline"); });
      ta.join();
      tb.join();
      CHECK(refused == 1);
      const auto v = a->get(id);
      CHECK(v.status == CaseStatus::completed);
      const auto h = a->history(id);
      CHECK(count(h, RecordType::completed) == 1);
      CHECK(count(h, RecordType::rejected) == 1);
    }
  }
}

TEST_CASE("deadlines on a shared store fire once when several engines run due work at once", "[shared]") {
  for (auto& kind : test::shared_stores()) {
    INFO(kind.name);
    auto opened = kind.open();
    ManualClock clock{"2026-11-30T09:00:00Z"};
    std::vector<std::unique_ptr<Engine>> engines;
    for (int i = 0; i < 3; ++i) engines.push_back(engine_on(kind.connect(), clock));
    constexpr int cases = 120;
    std::vector<std::string> ids;
    for (int i = 0; i < cases; ++i) ids.push_back(engines[static_cast<std::size_t>(i % 3)]->start("counter"));
    std::atomic<std::size_t> fired{0};
    for (int half_hour = 0; half_hour < 9; ++half_hour) {
      clock.advance(30min);
      std::vector<std::thread> threads;
      for (auto& e : engines)
        threads.emplace_back([&, ep = e.get()] {
          // Events keep arriving for the same cases while the engines fire their deadlines.
          for (int i = 0; i < 10; ++i) ep->send(ids[static_cast<std::size_t>(i * 7 % cases)], "note");
          fired += ep->run_due();
        });
      for (auto& t : threads) t.join();
    }
    // 50 %, 100 % and three repeats (at 2 h, 3 h, 4 h): five points per case, each once.
    std::map<std::tuple<std::string, std::int32_t, std::int32_t>, int> seen;
    for (const auto& id : ids)
      for (const auto& r : engines[0]->history(id))
        if (r.type == RecordType::escalated) ++seen[{id, r.level, r.repeat}];
    CHECK(seen.size() == 5 * cases);
    for (const auto& [key, n] : seen) CHECK(n == 1);
    CHECK(fired > 0);  // the others fired in the sends: a call fires its case's due points first
    CHECK_FALSE(engines[1]->next_due().has_value());
  }
}

TEST_CASE("an engine whose clock is behind another's never writes a case's records out of time order", "[shared]") {
  for (auto& kind : test::shared_stores()) {
    INFO(kind.name);
    auto opened = kind.open();
    // Two hosts whose clocks disagree by an hour (or a test clock that stopped): b's records on a
    // case a wrote must still come after a's, in time as in number.
    ManualClock ahead{"2026-11-30T10:00:00Z"};
    ManualClock behind{"2026-11-30T09:00:00Z"};
    auto a = engine_on(kind.connect(), ahead);
    auto b = engine_on(kind.connect(), behind);
    (void)b->start("counter");  // b starts first, so its time comes from its own clock (09:00)
    const std::string id = a->start("counter");
    a->send(id, "note");
    b->send(id, "note");
    const auto h = a->history(id);
    REQUIRE(h.size() >= 3);
    CHECK(h.back().at == at("2026-11-30T10:00:00Z"));
    // b's time moved with what it read, not only for that case: its next case starts at 10:00 too.
    const std::string other = b->start("counter");
    CHECK(b->get(other).started == at("2026-11-30T10:00:00Z"));
    // b fires a's deadline (50 % at 10:30) once its own clock reaches it, not before.
    behind.set(at("2026-11-30T10:20:00Z"));
    (void)b->run_due();  // b's own first case (09:00) has its points due at 09:30 and 10:00
    CHECK(count(b->history(id), RecordType::escalated) == 0);
    behind.set(at("2026-11-30T10:31:00Z"));
    (void)b->run_due();
    const auto after = b->history(id);
    CHECK(count(after, RecordType::escalated) == 1);
    CHECK(after.back().type == RecordType::escalated);
    CHECK(after.back().at == at("2026-11-30T10:30:00Z"));
    for (std::size_t i = 1; i < after.size(); ++i) {
      CHECK(after[i - 1].seq < after[i].seq);
      CHECK(after[i - 1].at <= after[i].at);
    }
  }
}

TEST_CASE("a keyed start repeated on another engine finds the first case", "[shared]") {
  for (auto& kind : test::shared_stores()) {
    INFO(kind.name);
    TwoEngines two(kind);
    auto& a = two.a;
    auto& b = two.b;
    const std::string first = a->start("counter", {}, {.key = "call-4711"});
    CHECK(b->start("counter", {}, {.key = "call-4711"}) == first);
    CHECK(a->query({}).size() == 1);
  }
}

TEST_CASE("a runner on one engine fires what another engine's call made due", "[shared]") {
  for (auto& kind : test::shared_stores()) {
    INFO(kind.name);
    auto opened = kind.open();
    SystemClock clock;
    auto a = engine_on(kind.connect(), clock);
    auto b = engine_on(kind.connect(), clock);
    b->start_runner(std::chrono::seconds(5));
    const std::string id = a->start("counter");
    a->reschedule(id, clock.now() + 200ms);
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < until && count(a->history(id), RecordType::escalated) < 2)
      std::this_thread::sleep_for(20ms);
    b->stop_runner();
    // The 50 % and 100 % points, fired by b soon after a set them (woken, not at its 5 s poll).
    CHECK(count(a->history(id), RecordType::escalated) == 2);
  }
}

TEST_CASE("a migration on one engine moves the cases other engines started", "[shared]") {
  for (auto& kind : test::shared_stores()) {
    INFO(kind.name);
    TwoEngines two(kind);
    auto& a = two.a;
    auto& b = two.b;
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) ids.push_back(a->start("counter"));
    a->send(ids[0], "approve");  // closed: stays on version 1
    std::string v2 = counter_flow;
    v2.replace(v2.find("start: a"), 8, "version: 2\nstart: a");
    auto r = validate_text(v2, "counter-v2.yaml");
    REQUIRE(r.ok());
    b->add_flows(r.flows);
    CHECK(b->migrate({.flow = "counter", .from = 1, .to = 2}) == 2);
    CHECK(a->get(ids[1]).version == 2);
    CHECK(a->get(ids[2]).version == 2);
    CHECK(a->get(ids[0]).version == 1);
    a->send(ids[1], "note");  // a has not loaded version 2: it reads it back from the store
    CHECK(b->get(ids[1]).data.at("n") == Value(1));
  }
}

TEST_CASE("a sub-flow case finished on another engine resumes its parent there", "[shared]") {
  for (auto& kind : test::shared_stores()) {
    INFO(kind.name);
    auto opened = kind.open();
    ManualClock clock{"2026-11-30T09:00:00Z"};
    const auto flows = load_flows({std::string(ESCALON_SOURCE_DIR) + "/flows"});
    Engine a({.clock = &clock, .store = kind.connect()});
    Engine b({.clock = &clock, .store = kind.connect()});
    a.add_flows(flows);
    b.add_flows(flows);
    a.on_action("parts.order", [](ActionContext& x) {
      x.set("order_id", "PO-7");
      x.set("supplier", "Elektro d.o.o.");
    });
    const std::string visit = a.start("technician-visit", {{"customer", "ACME"}});
    a.send(visit, "submit", {{"preferred_slots", List{"2026-12-01T09:00:00Z"}}, {"product", "tv"}, {"parts_needed", true}});
    const CaseView parent = b.get(visit);
    CHECK(parent.steps == std::vector<std::string>{"order-parts"});
    REQUIRE(parent.children.size() == 1);
    const std::string order = parent.children.front();
    CHECK(b.get(order).steps == std::vector<std::string>{"await-confirmation"});
    clock.advance(1h);
    b.send(order, "confirmed");  // b loads the order with its parent: the family moves together
    b.send(order, "arrived");
    CHECK(a.get(order).status == CaseStatus::completed);
    const CaseView after = a.get(visit);
    CHECK(after.steps == std::vector<std::string>{"schedule"});
    CHECK(after.data.at("parts_order") == Value("PO-7"));
    a.send(visit, "booked", {{"slot", "2026-12-01T09:00:00Z"}});
    CHECK(b.get(visit).steps == std::vector<std::string>{"visit"});
  }
}

namespace {
// Fails the first try of every notification, then takes it; shared by every engine of a test.
struct FirstTryFails final : Channel {
  std::mutex mutex;
  std::map<std::string, int> tries, delivered;
  void deliver(const Notification& n, std::int32_t) override {
    std::lock_guard lk(mutex);
    if (tries[n.key]++ == 0) throw Error("the mail server is busy");
    ++delivered[n.key];
  }
};
}  // namespace

TEST_CASE("outbox retries on a shared store are claimed by one engine and delivered once", "[shared][outbox]") {
  for (auto& kind : test::shared_stores()) {
    INFO(kind.name);
    auto opened = kind.open();
    ManualClock clock{"2026-11-30T09:00:00Z"};
    auto mail = std::make_shared<FirstTryFails>();
    std::vector<std::unique_ptr<Engine>> engines;
    for (int i = 0; i < 3; ++i) {
      engines.push_back(engine_on(kind.connect(), clock));
      engines.back()->add_channel("mail", mail);
    }
    constexpr int cases = 30;
    std::vector<std::string> ids;
    for (int i = 0; i < cases; ++i) ids.push_back(engines[static_cast<std::size_t>(i % 3)]->start("counter"));
    for (int step = 0; step < 12; ++step) {  // 30 min steps: every first try fails, retries come 30 s later
      clock.advance(step % 2 == 0 ? 30min - 1min : 1min);
      std::vector<std::thread> threads;
      for (auto& e : engines) threads.emplace_back([ep = e.get()] { ep->run_due(); });
      for (auto& t : threads) t.join();
    }
    clock.advance(1h);  // the last repeat fires and fails; the retry of the one before goes out
    for (auto& e : engines) e->run_due();
    clock.advance(1min);
    for (auto& e : engines) e->run_due();
    std::size_t escalated = 0;
    for (const auto& id : ids) {
      const auto h = engines[0]->history(id);
      std::map<std::string, int> delivered_records;
      for (const auto& r : h) {
        if (r.type == RecordType::escalated) {
          ++escalated;
          INFO(id << " " << r.seq);
          const std::string key = fmt::format("{}/{}", id, r.seq);
          CHECK(mail->delivered[key] == 1);  // exactly one engine delivered the retry
          CHECK(mail->tries[key] == 2);
        }
        if (r.type == RecordType::delivered) ++delivered_records[r.data.as_map().at("key").as_string()];
      }
      for (const auto& [key, n] : delivered_records) CHECK(n == 1);
    }
    CHECK(escalated == 5 * cases);
    CHECK(mail->delivered.size() == escalated);
    for (auto& e : engines) CHECK(e->outbox().empty());
  }
}
