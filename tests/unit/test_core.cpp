// The engine core: units of work with many threads and re-entrant handlers, the exception
// boundary (nothing inside one case stops the process), and closed cases leaving memory.

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "escalon/engine.hpp"
#include "escalon/loader.hpp"
#include "support.hpp"

using namespace escalon;
using namespace std::chrono_literals;

namespace {

std::vector<FlowPtr> compile(const std::string& yaml) { return test::compile(yaml, "core.yaml"); }

// Every call produces a recognisable unit: a start ends with the case in `ready`, a `close`
// ends with `completed`. The handler is slow, and every fifth one starts another case itself.
const char* slow_flow = R"(flow: slow
data:
  n: { type: int, default: 0 }
  result: string
start: work
steps:
  work:
    call: slow.work
    next: ready
  ready:
    role: agent
    on: { close: closed }
  closed:
    end: true
)";

// Records of one store transaction, by case.
using Batch = std::map<std::string, std::vector<Record>>;

bool has(const std::vector<Record>& rs, RecordType t, std::string_view step = {}) {
  return std::any_of(rs.begin(), rs.end(), [&](const Record& r) { return r.type == t && (step.empty() || r.step == step); });
}

}  // namespace

TEST_CASE("every store transaction holds whole units: threads, slow and re-entrant handlers, group commit",
          "[core][unit]") {
  const bool group = GENERATE(false, true);
  CAPTURE(group);
  MemoryStore inner;
  test::ForwardingStore store(inner);
  std::mutex batches_mutex;
  std::vector<Batch> batches;
  store.before_commit = [&](const StoreBatch& b) {
    Batch batch;
    for (const auto& r : b.records) batch[r.case_id].push_back(r);
    std::lock_guard lk(batches_mutex);
    batches.push_back(std::move(batch));
  };
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock, .store = &store, .group_commit = group});
  engine.add_flows(compile(slow_flow));
  std::atomic<int> nested{0};
  engine.on_action("slow.work", [&](ActionContext& a) {
    std::this_thread::sleep_for(std::chrono::microseconds(300));
    if (a.data().at("n").as_int() % 5 == 0) {
      a.set("result", engine.start("slow", {{"n", 1}}));  // joins this unit: committed with it
      ++nested;
    }
  });
  constexpr int threads = 4, per_thread = 12;
  std::vector<std::thread> pool;
  // Catch2's assertions are not thread-safe: the threads count, the test checks.
  std::atomic<int> failures{0}, not_ready{0};
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      try {
        for (int i = 0; i < per_thread; ++i) {
          const auto id = engine.start("slow", {{"n", t * per_thread + i}});
          if (engine.get(id).steps.at(0) != "ready") ++not_ready;  // the whole start, handler included, is done
          engine.send(id, "close");
        }
      } catch (const std::exception&) {
        ++failures;
      }
    });
  for (auto& th : pool) th.join();
  REQUIRE(failures == 0);
  CHECK(not_ready == 0);
  CHECK(nested > 0);
  // A case's `started` and its arrival in `ready` were written by one call: one transaction.
  // So were a `close` event and the completion. Nothing of a call is split across commits.
  std::set<std::string> started;
  for (const auto& batch : batches)
    for (const auto& [id, rs] : batch) {
      INFO(id);
      if (has(rs, RecordType::started)) {
        started.insert(id);
        CHECK(has(rs, RecordType::entered, "ready"));
        CHECK(has(rs, RecordType::entered, "work"));
      }
      if (has(rs, RecordType::event)) CHECK(has(rs, RecordType::completed));
      if (has(rs, RecordType::entered, "ready")) CHECK(has(rs, RecordType::started));
    }
  CHECK(started.size() == static_cast<std::size_t>(threads * per_thread + nested));
  // A nested start joined the unit of the handler that made it.
  for (const auto& batch : batches)
    for (const auto& [id, rs] : batch)
      for (const auto& r : rs)
        if (r.type == RecordType::data_changed && r.target == "result") {
          const std::string child = r.new_value.as_string();
          INFO(id << " started " << child);
          CHECK(batch.count(child) == 1);
        }
}

TEST_CASE("a call to a case held by another thread's handler waits for that unit", "[core][unit]") {
  MemoryStore store;
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock, .store = &store});
  engine.add_flows(compile(slow_flow));
  std::atomic<bool> in_handler{false}, release{false};
  engine.on_action("slow.work", [&](ActionContext& a) {
    if (a.data().at("n").as_int() != 7) return;
    in_handler = true;
    while (!release) std::this_thread::sleep_for(1ms);
    a.set("result", "from the handler");
  });
  const auto other = engine.start("slow", {{"n", 1}});
  std::string id;
  std::thread starter([&] { id = engine.start("slow", {{"n", 7}}, {.id = "held"}); });
  while (!in_handler) std::this_thread::sleep_for(1ms);
  // Other cases are not held: calls to them go ahead while the handler runs.
  engine.send(other, "close");
  CHECK(engine.get(other).status == CaseStatus::completed);
  std::atomic<bool> cancelled{false};
  std::thread canceller([&] {
    engine.cancel("held", "customer hung up");
    cancelled = true;
  });
  std::this_thread::sleep_for(30ms);
  CHECK_FALSE(cancelled);  // waits for the unit that holds the case
  release = true;
  starter.join();
  canceller.join();
  CHECK(cancelled);
  const auto h = engine.history("held");
  // The handler's result was applied before the cancel: one order, no result dropped.
  const auto result = std::find_if(h.begin(), h.end(), [](const Record& r) { return r.type == RecordType::data_changed; });
  const auto cancel = std::find_if(h.begin(), h.end(), [](const Record& r) { return r.type == RecordType::cancelled; });
  REQUIRE(result != h.end());
  REQUIRE(cancel != h.end());
  CHECK(result < cancel);
}

namespace {
const char* fragile_flow = R"(flow: fragile
data:
  zero: { type: int, default: 0 }
  x: number
start: triage
steps:
  triage:
    role: agent
    deadline:
      within: 1h
      expire: later
    on_exit:
      - { set: { x: "10 / zero" } }
    on: { next: later }
  later:
    role: agent
    deadline:
      within: 1h
      escalate:
        - { at: 50%, notify: lead, set: { x: "1 / zero" } }
    on: { done: closed }
  closed:
    end: true
)";

// A flow whose deadline only notifies: it keeps running next to a failing one.
const char* steady_flow = R"(flow: steady
start: wait
steps:
  wait:
    role: agent
    deadline:
      within: 30m
      escalate:
        - { at: 100%, notify: lead }
    on: { done: closed }
  closed:
    end: true
)";

CaseView wait_for(Engine& engine, const std::string& id, CaseStatus status) {
  for (int i = 0; i < 2000 && engine.get(id).status != status; ++i) std::this_thread::sleep_for(5ms);
  return engine.get(id);
}
}  // namespace

TEST_CASE("a failure inside one case makes an incident of it, on every path, and nothing else stops",
          "[core][boundary]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  MemoryStore store;
  std::vector<FlowPtr> flows = compile(fragile_flow);
  for (auto& f : compile(steady_flow)) flows.push_back(f);

  SECTION("an on_exit hook of a step left by an expiring deadline, fired by the runner thread") {
    Engine engine({.clock = &clock, .store = &store});
    engine.add_flows(flows);
    std::atomic<int> escalations{0};
    engine.on_notify([&](const Notification& n) {
      if (n.reason == "escalation") ++escalations;
    });
    const auto bad = engine.start("fragile");
    const auto good = engine.start("steady");
    engine.start_runner(5ms);
    clock.advance(2h);
    const auto c = wait_for(engine, bad, CaseStatus::incident);
    CHECK(c.status == CaseStatus::incident);
    CHECK(c.incident == "leaving step 'triage': in '10 / zero': division by zero");
    CHECK(c.steps.at(0) == "triage");  // stays where it failed
    for (int i = 0; i < 2000 && escalations == 0; ++i) std::this_thread::sleep_for(5ms);
    CHECK(escalations == 1);  // the other case's escalation still fired
    engine.stop_runner();
    CHECK(engine.get(good).deadlines.at(0).level == 1);
    engine.send(good, "done");  // the engine still takes calls
    CHECK(engine.get(good).status == CaseStatus::completed);
  }

  SECTION("the same hook through run_due()") {
    Engine engine({.clock = &clock, .store = &store});
    engine.add_flows(flows);
    const auto bad = engine.start("fragile");
    clock.advance(2h);
    CHECK(engine.run_due() >= 1);
    CHECK(engine.get(bad).incident == "leaving step 'triage': in '10 / zero': division by zero");
  }

  SECTION("an escalation's `set` fired by the runner") {
    Engine engine({.clock = &clock, .store = &store});
    engine.add_flows(flows);
    const auto bad = engine.start("fragile");
    // Leave triage by an event whose on_exit fails: the case is in an incident at once.
    CHECK_NOTHROW(engine.send(bad, "next"));
    CHECK(engine.get(bad).status == CaseStatus::incident);
    engine.resolve(bad, {{"zero", 1}}, "later");  // fix the data, move on by hand
    engine.update(bad, {{"zero", 0}});
    engine.start_runner(5ms);
    clock.advance(40min);
    const auto c = wait_for(engine, bad, CaseStatus::incident);
    CHECK(c.incident == "escalation level 1: in '1 / zero': division by zero");
    engine.stop_runner();
  }

  SECTION("a listener that throws: recorded on the case, which carries on") {
    Engine engine({.clock = &clock, .store = &store});
    engine.add_flows(flows);
    engine.on_notify([](const Notification&) { throw std::runtime_error("mail server down"); });
    const auto good = engine.start("steady");
    clock.advance(31min);
    CHECK(engine.run_due() == 2);  // the level and the due time
    const auto h = engine.history(good);
    const auto failed = std::find_if(h.begin(), h.end(), [](const Record& r) { return r.type == RecordType::delivery_failed; });
    REQUIRE(failed != h.end());
    CHECK(failed->target == "host");
    CHECK(failed->event == "escalation");
    CHECK(failed->message == "mail server down");
    CHECK(failed->due == clock.now() + 30s);  // tried again then (DeliveryOptions::first_retry)
    CHECK(engine.get(good).status == CaseStatus::active);
    engine.send(good, "done");
    CHECK(engine.get(good).status == CaseStatus::completed);
  }
}

TEST_CASE("a journal sink or a listener that calls the engine the wrong way gets an error, not a hang", "[core][boundary]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  SECTION("journal_sink") {
    Engine* self = nullptr;
    std::string error;
    Engine engine({.clock = &clock, .journal_sink = [&](const Record& r) {
                     if (r.type != RecordType::started || !error.empty()) return;
                     try {
                       (void)self->start("steady");
                     } catch (const Error& e) {
                       error = e.what();
                     }
                   }});
    self = &engine;
    engine.add_flows(compile(steady_flow));
    (void)engine.start("steady");
    CHECK(error.find("journal_sink called the engine") != std::string::npos);
  }
  SECTION("stop_runner() from a listener on the runner thread") {
    Engine engine({.clock = &clock});
    engine.add_flows(compile(steady_flow));
    std::atomic<bool> stopped{false};
    engine.on_notify([&](const Notification&) {
      engine.stop_runner();
      stopped = true;
    });
    (void)engine.start("steady");
    engine.start_runner(5ms);
    clock.advance(1h);
    for (int i = 0; i < 2000 && !stopped; ++i) std::this_thread::sleep_for(5ms);
    CHECK(stopped);
    engine.start_runner(5ms);  // joins the stopped thread and starts again
    engine.stop_runner();
  }
}

TEST_CASE("with a store, closed cases leave memory and every read answers from the store, before and after a restart",
          "[core][memory]") {
  MemoryStore store;
  ManualClock clock{"2026-11-23T08:00:00Z"};
  const auto flows = compile(steady_flow);
  std::vector<std::string> ids;
  const auto check_reads = [&](Engine& engine) {
    CHECK(engine.case_count() == 1);  // only the open case is in memory
    const auto done = engine.get(ids[0]);
    CHECK(done.status == CaseStatus::completed);
    CHECK(done.steps.at(0) == "closed");
    CHECK(engine.get(ids[1]).status == CaseStatus::cancelled);
    CHECK(engine.get(ids[2]).status == CaseStatus::active);
    const auto h = engine.history(ids[0]);
    REQUIRE_FALSE(h.empty());
    CHECK(h.front().type == RecordType::started);
    CHECK(has(h, RecordType::completed));
    CHECK(engine.journal_jsonl(ids[0]).find(R"("type":"completed")") != std::string::npos);
    CHECK(engine.journal_jsonl().find(ids[1]) != std::string::npos);
    CHECK(engine.query({.status = CaseStatus::completed}).size() == 1);
    CHECK(engine.query({.status = std::nullopt}).size() == 3);
    CHECK(engine.query({}).size() == 1);
    // A call to a closed case is refused the same way as before it left memory.
    CHECK_THROWS_WITH(engine.send(ids[0], "done"), "case 'steady-1' is completed; it takes no events");
    CHECK(engine.history(ids[0]).back().type == RecordType::rejected);
    CHECK_THROWS_AS(engine.start("steady", {}, {.id = ids[0]}), EventError);
    CHECK_THROWS_AS(engine.get("nobody"), CaseError);
    CHECK_THROWS_AS(engine.history("nobody"), CaseError);
    CHECK_THROWS_WITH(engine.send("nobody", "done"), "unknown case 'nobody'");
    CHECK_THROWS_AS(engine.history("nobody"), CaseError);  // the refused call left no history
  };
  {
    Engine engine({.clock = &clock, .store = &store});
    engine.add_flows(flows);
    for (int i = 0; i < 3; ++i) ids.push_back(engine.start("steady"));
    engine.send(ids[0], "done");
    engine.cancel(ids[1], "duplicate");
    check_reads(engine);
  }
  Engine engine({.clock = &clock, .store = &store});
  engine.add_flows(flows);
  CHECK(engine.recover() == 1);
  check_reads(engine);
  // Automatic numbers skip ids that closed cases used.
  CHECK(engine.start("steady") == "steady-4");
}

namespace {
const char* child_v1 = R"(flow: part
version: 1
data:
  item: string
  order_id: string
start: ordering
steps:
  ordering:
    role: parts-desk
    form: { order_id: { type: string, required: true } }
    on: { ordered: done }
  done:
    end: true
)";
// Version 2 has other fields in another order: `order_id` is the third slot, not the second.
const char* child_v2 = R"(flow: part
version: 2
data:
  part: string
  note: string
  order_id: string
start: ordering
steps:
  ordering:
    role: parts-desk
    form: { order_id: { type: string, required: true } }
    on: { ordered: done }
  done:
    end: true
)";
const char* parent_flow = R"(flow: repair
data:
  product: string
  ref: string
start: parts
steps:
  parts:
    subflow:
      flow: part
      input: { item: product }
      output: { ref: order_id }
    next: fixed
  fixed:
    end: true
)";
}  // namespace

TEST_CASE("a sub-flow step starts the child version its mappings were compiled against", "[core][subflow]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock});
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("escalon-pin-{}", ::getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "part.yaml") << child_v1;
  std::ofstream(dir / "repair.yaml") << parent_flow;
  engine.load({(dir / "repair.yaml").string()});  // finds part.yaml next to it
  std::filesystem::remove_all(dir);
  FlowPtr parent_model;
  for (const auto& f : engine.flows())
    if (f->id == "repair") parent_model = f;
  REQUIRE(parent_model);
  CHECK(parent_model->find_step("parts")->subflow_version == 1);
  engine.add_flows(compile(child_v2));  // a newer child arrives later: the parent was not built for it

  const auto id = engine.start("repair", {{"product", "tv"}});
  const auto parent = engine.get(id);
  REQUIRE(parent.status == CaseStatus::active);
  REQUIRE(parent.children.size() == 1);
  const auto child = engine.get(parent.children[0]);
  CHECK(child.version == 1);
  CHECK(child.data.at("item") == Value("tv"));

  SECTION("the child completes on its version") {
    engine.send(child.id, "ordered", {{"order_id", "PO-7"}});
    CHECK(engine.get(id).data.at("ref") == Value("PO-7"));
    CHECK(engine.get(id).status == CaseStatus::completed);
  }
  SECTION("a child migrated to another version is read by field name") {
    CHECK(engine.migrate({.flow = "part", .to = 2}) == 1);
    CHECK(engine.get(child.id).version == 2);
    engine.update(child.id, {{"note", "urgent"}});
    engine.send(child.id, "ordered", {{"order_id", "PO-8"}});
    CHECK(engine.get(id).data.at("ref") == Value("PO-8"));
    CHECK(engine.get(id).status == CaseStatus::completed);
  }
}

namespace {
// Writes what an Escalon from before SHA-256 wrote: the FNV-1a hash, in the flow versions and in
// every case snapshot.
class LegacyWriter : public test::ForwardingStore {
 public:
  LegacyWriter(Store& inner, const Flow& f) : ForwardingStore(inner), inner_(inner), flow_(f) {}
  void commit(const StoreBatch& b) override {
    std::vector<StoredFlow> flows(b.flows.begin(), b.flows.end());
    for (auto& f : flows) f.hash = flow_.legacy_hash;
    std::vector<StoredCase> cases(b.cases.begin(), b.cases.end());
    for (auto& c : cases)
      for (auto at = c.state.find(flow_.content_hash); at != std::string::npos; at = c.state.find(flow_.content_hash))
        c.state.replace(at, flow_.content_hash.size(), flow_.legacy_hash);
    inner_.commit(StoreBatch{b.records, cases, b.meta, flows});
  }

 private:
  Store& inner_;
  const Flow& flow_;
};
}  // namespace

TEST_CASE("stores written with the FNV-1a content hash keep working", "[core][hash]") {
  const auto flows = compile(steady_flow);
  REQUIRE(flows[0]->content_hash.rfind("sha256:", 0) == 0);
  REQUIRE(flows[0]->legacy_hash.size() == 16);
  MemoryStore store;
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::string id;
  {
    LegacyWriter old(store, *flows[0]);
    Engine engine({.clock = &clock, .store = &old});
    engine.add_flows(flows);
    id = engine.start("steady");
  }
  REQUIRE(store.flows().at(0).hash == flows[0]->legacy_hash);
  REQUIRE(store.find_case(id)->state.find(flows[0]->legacy_hash) != std::string::npos);
  Engine engine({.clock = &clock, .store = &store});
  engine.add_flows(flows);  // the same content under its old hash: no conflict
  CHECK(engine.recover() == 1);
  engine.send(id, "done");
  CHECK(engine.get(id).status == CaseStatus::completed);
  // New versions are stored with the algorithm's name.
  auto v2 = compile(std::string(steady_flow).replace(0, 13, "flow: steady\nversion: 2\n"));
  engine.add_flows(v2);
  bool tagged = false;
  for (const auto& f : store.flows())
    if (f.version == 2) tagged = f.hash == v2[0]->content_hash && f.hash.rfind("sha256:", 0) == 0;
  CHECK(tagged);
  // Other content under the stored legacy hash is still refused.
  Engine changed({.clock = &clock, .store = &store});
  auto other = compile(std::string(steady_flow) + "# changed\n");
  CHECK_THROWS_AS(changed.add_flows(other), FlowError);
}

TEST_CASE("an SLA warning notifies the SLA's `notify:` list, or the role of the step the case is in", "[core][sla]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock});
  engine.add_flows(compile(R"(flow: watched
sla:
  answer: { within: 2h, warn_at: 50%, notify: [team-lead, "user:ana"] }
  fix: { within: 4h, warn_at: 75% }
start: open
steps:
  open:
    role: agent
    on: { done: closed }
  closed:
    end: true
)"));
  std::vector<Notification> notes;
  engine.on_notify([&](const Notification& n) { notes.push_back(n); });
  const auto id = engine.start("watched");
  clock.advance(3h);
  (void)engine.run_due();
  std::erase_if(notes, [](const Notification& n) { return n.reason != "sla-warning"; });
  REQUIRE(notes.size() == 2);
  CHECK(notes[0].at == test::at("2026-11-23T09:00:00Z"));
  CHECK(notes[0].to == std::vector<std::string>{"team-lead", "user:ana"});
  CHECK(notes[0].message == "SLA 'answer' is at 50% of its time");
  CHECK(notes[0].case_id == id);
  CHECK(notes[1].at == test::at("2026-11-23T11:00:00Z"));
  CHECK(notes[1].to == std::vector<std::string>{"agent"});
  // The breach is told to the same list.
  notes.clear();
  const auto late = engine.start("watched");
  clock.advance(5h);
  (void)engine.run_due();
  std::erase_if(notes, [&](const Notification& n) { return n.reason != "sla-breached" || n.case_id != late; });
  REQUIRE(notes.size() == 2);
  CHECK(notes[0].message == "SLA 'answer' breached");
  CHECK(notes[0].to == std::vector<std::string>{"team-lead", "user:ana"});
  CHECK(notes[1].message == "SLA 'fix' breached");
  CHECK(notes[1].to == std::vector<std::string>{"agent"});
}

TEST_CASE("a handler's own call into the engine happens at the handler's time, also in a catch-up",
          "[core][timers]") {
  // One run_due() catches up three hours. The first point due (09:00) moves `poke` into a step
  // whose handler sends `note` to `watched`; watched's own point (10:00) is still due in the
  // same round. The note is sent at 09:00, before that point, as it would have been had the
  // host called run_due() every minute: the journal does not depend on how often it polls.
  auto flows = compile(R"(flow: poke
data: { target: string }
start: sleep
steps:
  sleep: { wait: { for: 1h }, next: act }
  act: { call: poke.other, next: done }
  done: { end: true }
)");
  const auto more = compile(R"(flow: watched
data: { n: { type: int, default: 0 } }
start: open
steps:
  open:
    role: agent
    deadline: { within: 2h, escalate: [ { at: 100%, notify: lead } ] }
    on:
      note: { set: { n: n + 1 } }
      close: { to: closed }
  closed: { end: true }
)");
  flows.insert(flows.end(), more.begin(), more.end());
  std::vector<std::vector<Record>> journals;
  for (const bool stored : {false, true})
    for (const bool catch_up : {true, false}) {
      INFO((stored ? "with a store" : "in memory") << (catch_up ? ", one run_due()" : ", run_due() every minute"));
      MemoryStore store;
      ManualClock clock{"2026-11-23T08:00:00Z"};
      Engine engine({.clock = &clock, .store = stored ? &store : nullptr});
      engine.add_flows(flows);
      engine.on_action("poke.other", [&](ActionContext& a) { engine.send(a.data().at("target").as_string(), "note"); });
      const auto watched = engine.start("watched");
      (void)engine.start("poke", {{"target", watched}});
      for (int minute = 0; minute < 180; minute += catch_up ? 180 : 1) {
        clock.advance(catch_up ? 3h : 1min);
        (void)engine.run_due();
      }
      const auto h = engine.history(watched);
      const auto note = std::find_if(h.begin(), h.end(), [](const Record& r) { return r.type == RecordType::event; });
      const auto level = std::find_if(h.begin(), h.end(), [](const Record& r) { return r.type == RecordType::escalated; });
      REQUIRE(note != h.end());
      REQUIRE(level != h.end());
      CHECK(note->at == test::at("2026-11-23T09:00:00Z"));
      CHECK(note < level);
      CHECK(level->at == test::at("2026-11-23T10:00:00Z"));
      for (std::size_t i = 1; i < h.size(); ++i) CHECK(h[i - 1].at <= h[i].at);
      std::vector<Record> all;
      for (const auto& c : engine.query({.status = std::nullopt}))
        for (auto r : engine.history(c.id)) all.push_back(std::move(r));
      journals.push_back(std::move(all));
    }
  // Same records, same times, whichever way the host polled.
  for (std::size_t j = 1; j < journals.size(); ++j) {
    REQUIRE(journals[j].size() == journals[0].size());
    for (std::size_t i = 0; i < journals[0].size(); ++i) {
      CHECK(journals[j][i].type == journals[0][i].type);
      CHECK(journals[j][i].at == journals[0][i].at);
    }
  }
}
