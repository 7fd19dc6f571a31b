// The outbox (docs/delivery.md): notifications written with their unit, delivered after the
// commit in order per case and channel, retried with backoff, dead-lettered, redelivered on
// demand, and delivered again after a crash under the same key.

#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>

#include "escalon/engine.hpp"
#include "escalon/store.hpp"
#include "support.hpp"

using namespace escalon;
using namespace std::chrono_literals;
using escalon::test::at;
using escalon::test::compile;

namespace {

// Two rungs 30 min apart, so one case raises notifications one after the other.
const char* ladder_flow = R"(flow: ladder
start: wait
steps:
  wait:
    role: desk
    deadline:
      within: 2h
      escalate:
        - { at: 25%, notify: lead, message: "first" }
        - { at: 50%, notify: boss, message: "second" }
    on: { done: closed }
  closed: { end: true }
)";

// A channel the test drives: it fails while `down` is set, and keeps what it was given.
struct Recorder final : Channel {
  bool down = false;
  bool permanent = false;
  std::vector<std::pair<Notification, std::int32_t>> got;  // delivered, with the attempt
  int tries = 0;
  void deliver(const Notification& n, std::int32_t attempt) override {
    ++tries;
    if (permanent) throw PermanentDeliveryError("no address for role 'lead'");
    if (down) throw Error("connection refused");
    got.emplace_back(n, attempt);
  }
  std::vector<std::string> messages() const {
    std::vector<std::string> out;
    for (const auto& [n, a] : got) out.push_back(n.message);
    return out;
  }
};

std::vector<Record> of_type(const std::vector<Record>& h, RecordType t) {
  std::vector<Record> out;
  for (const auto& r : h)
    if (r.type == t) out.push_back(r);
  return out;
}

std::string key_of(const Record& r) { return r.data.as_map().at("key").as_string(); }

}  // namespace

TEST_CASE("a notification reaches its channel after the commit with a key naming its record", "[outbox]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  MemoryStore store;
  Engine engine({.clock = &clock, .store = &store});
  engine.add_flows(compile(ladder_flow));
  auto mail = std::make_shared<Recorder>();
  engine.add_channel("mail", mail);
  std::vector<Notification> heard;
  engine.on_notify([&](const Notification& n) { heard.push_back(n); });
  const auto id = engine.start("ladder");
  clock.advance(31min);
  engine.run_due();

  REQUIRE(mail->got.size() == 1);
  REQUIRE(heard.size() == 1);
  const Notification& n = mail->got[0].first;
  CHECK(mail->got[0].second == 1);
  CHECK(n.message == "first");
  CHECK(heard[0].key == n.key);
  const auto h = engine.history(id);
  const auto escalated = of_type(h, RecordType::escalated);
  REQUIRE(escalated.size() == 1);
  CHECK(n.key == fmt::format("{}/{}", id, escalated[0].seq));
  const auto delivered = of_type(h, RecordType::delivered);
  REQUIRE(delivered.size() == 2);  // one per channel, channels by name
  CHECK(delivered[0].target == "host");
  CHECK(delivered[1].target == "mail");
  CHECK(delivered[1].event == "escalation");
  CHECK(delivered[1].repeat == 1);
  CHECK(key_of(delivered[1]) == n.key);
  CHECK(delivered[1].seq > escalated[0].seq);
  CHECK(engine.outbox().empty());
  CHECK(store.history(id).size() == h.size());  // what the journal says is stored
}

TEST_CASE("a channel that fails is retried with growing pauses and keeps its case's order", "[outbox]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock, .store = std::make_unique<MemoryStore>()});
  engine.add_flows(compile(ladder_flow));
  auto mail = std::make_shared<Recorder>();
  auto hook = std::make_shared<Recorder>();
  engine.add_channel("mail", mail);
  engine.add_channel("hook", hook);
  const auto id = engine.start("ladder");
  mail->down = true;
  clock.advance(30min);
  engine.run_due();  // "first": mail fails, the webhook takes it
  CHECK(mail->tries == 1);
  CHECK(hook->messages() == std::vector<std::string>{"first"});
  auto failed = of_type(engine.history(id), RecordType::delivery_failed);
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].target == "mail");
  CHECK(failed[0].message == "connection refused");
  CHECK(failed[0].due == clock.now() + 30s);
  CHECK(engine.next_due() == clock.now() + 30s);

  clock.advance(30s);
  engine.run_due();  // second attempt fails: the pause doubles
  CHECK(mail->tries == 2);
  failed = of_type(engine.history(id), RecordType::delivery_failed);
  REQUIRE(failed.size() == 2);
  CHECK(failed[1].repeat == 2);
  CHECK(failed[1].due == clock.now() + 60s);

  // "second" is raised while "first" waits for its retry: the mail queue holds it back.
  mail->down = false;
  clock.advance(29min + 30s);
  engine.run_due();
  CHECK(hook->messages() == std::vector<std::string>{"first", "second"});
  CHECK(mail->messages() == std::vector<std::string>{"first", "second"});
  CHECK(mail->got[0].second == 3);  // attempt 3
  CHECK(mail->got[1].second == 1);
  CHECK(engine.outbox().empty());
}

TEST_CASE("after max_attempts an entry is dead-lettered; redeliver puts it back", "[outbox]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock, .store = std::make_unique<MemoryStore>(),
                 .delivery = {.max_attempts = 3, .first_retry = 1min, .max_retry = 2min}});
  engine.add_flows(compile(ladder_flow));
  auto mail = std::make_shared<Recorder>();
  engine.add_channel("mail", mail);
  const auto id = engine.start("ladder");
  mail->down = true;
  clock.advance(30min);
  engine.run_due();
  clock.advance(1min);
  engine.run_due();
  clock.advance(2min);  // capped at max_retry
  engine.run_due();
  CHECK(mail->tries == 3);
  const auto failed = of_type(engine.history(id), RecordType::delivery_failed);
  REQUIRE(failed.size() == 3);
  CHECK(failed[2].data.as_map().at("dead").as_bool());
  CHECK(failed[2].message == "dead letter after 3 attempts: connection refused");
  auto box = engine.outbox();
  REQUIRE(box.size() == 1);
  CHECK(box[0].dead);
  CHECK(box[0].attempts == 3);
  CHECK(box[0].error == "connection refused");
  const std::string dead_key = box[0].key;
  clock.advance(10h);
  engine.run_due();  // "second" falls due and fails on its own; the dead letter is not tried again
  box = engine.outbox();
  REQUIRE(box.size() == 2);
  CHECK(box[0].key == dead_key);
  CHECK(box[0].attempts == 3);
  CHECK(box[1].attempts >= 1);
  CHECK_FALSE(box[1].dead);

  mail->down = false;
  CHECK(engine.redeliver("no-such-key") == 0);
  CHECK(engine.redeliver(box[0].key, "other-channel") == 0);
  CHECK(engine.redeliver(box[0].key) == 1);
  CHECK(engine.outbox().at(0).dead == false);
  engine.run_due();
  REQUIRE(mail->got.size() >= 1);
  CHECK(mail->got[0].first.key == dead_key);
  CHECK(mail->got[0].second == 1);  // attempts count from 1 again
  CHECK(mail->got[0].first.message == "first");
}

TEST_CASE("a permanent failure is dead-lettered at once and does not block later notifications", "[outbox]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock});
  engine.add_flows(compile(ladder_flow));
  auto mail = std::make_shared<Recorder>();
  engine.add_channel("mail", mail);
  const auto id = engine.start("ladder");
  mail->permanent = true;
  clock.advance(30min);
  engine.run_due();
  const auto failed = of_type(engine.history(id), RecordType::delivery_failed);
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].message == "dead letter: no address for role 'lead'");
  CHECK(engine.outbox().at(0).dead);
  mail->permanent = false;
  clock.advance(30min);
  engine.run_due();
  CHECK(mail->messages() == std::vector<std::string>{"second"});
}

TEST_CASE("after a restart every entry not delivered is delivered again under the same key", "[outbox]") {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("escalon-outbox-{}", ::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string db = "sqlite:" + (dir / "cases.db").string();
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::string id, first_key;
  auto mail = std::make_shared<Recorder>();

  SECTION("a channel that was down") {
    {
      Engine engine({.clock = &clock, .store = open_store(db)});
      engine.add_flows(compile(ladder_flow));
      engine.add_channel("mail", mail);
      id = engine.start("ladder");
      mail->down = true;
      clock.advance(30min);
      engine.run_due();
      REQUIRE(engine.outbox().size() == 1);
      first_key = engine.outbox()[0].key;
    }
    mail->down = false;
    clock.advance(1min);
    Engine engine({.clock = &clock, .store = open_store(db)});
    engine.add_flows(compile(ladder_flow));
    engine.add_channel("mail", mail);
    engine.recover();
    REQUIRE(mail->got.size() == 1);
    CHECK(mail->got[0].first.key == first_key);
    CHECK(mail->got[0].second == 2);  // the try before the restart counts
    CHECK(engine.outbox().empty());
  }

  SECTION("a crash between the delivery and the commit of its outcome") {
    {
      auto inner = open_store(db);
      test::ForwardingStore store(*inner);
      Engine engine({.clock = &clock, .store = &store});
      engine.add_flows(compile(ladder_flow));
      engine.add_channel("mail", mail);
      id = engine.start("ladder");
      store.before_commit = [](const StoreBatch& b) {
        if (!b.delivered.empty()) throw StoreError("the disk went away");
      };
      clock.advance(30min);
      CHECK_THROWS_AS(engine.run_due(), StoreError);  // the escalation committed, its outcome did not
      REQUIRE(mail->got.size() == 1);
      first_key = mail->got[0].first.key;
    }
    Engine engine({.clock = &clock, .store = open_store(db)});
    engine.add_flows(compile(ladder_flow));
    engine.add_channel("mail", mail);
    engine.recover();
    REQUIRE(mail->got.size() == 2);  // at least once: the duplicate carries the same key
    CHECK(mail->got[1].first.key == first_key);
    CHECK(of_type(engine.history(id), RecordType::delivered).size() == 1);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("an entry whose channel is not registered waits in the outbox", "[outbox]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  MemoryStore store;
  auto mail = std::make_shared<Recorder>();
  {
    Engine engine({.clock = &clock, .store = &store});
    engine.add_flows(compile(ladder_flow));
    engine.add_channel("pager", std::make_shared<Recorder>());
    engine.add_channel("mail", mail);
    mail->down = true;
    (void)engine.start("ladder");
    clock.advance(30min);
    engine.run_due();
  }
  Engine engine({.clock = &clock, .store = &store});
  engine.add_flows(compile(ladder_flow));
  engine.add_channel("pager", std::make_shared<Recorder>());
  CHECK(engine.outbox().size() == 1);  // before recovery: read from the store
  engine.recover();
  const auto box = engine.outbox();
  REQUIRE(box.size() == 1);
  CHECK(box[0].channel == "mail");
  CHECK(box[0].attempts == 1);
  clock.advance(1h);
  CHECK(engine.run_due() >= 1);
  CHECK(engine.outbox().size() == 1);  // still there, untried
  engine.add_channel("mail", mail);
  mail->down = false;
  engine.run_due();
  // The waiting one; "second" was raised while no mail channel was registered: pager only.
  CHECK(mail->messages() == std::vector<std::string>{"first"});
  CHECK(engine.outbox().empty());
}

TEST_CASE("the runner thread retries deliveries on time", "[outbox]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock});
  engine.add_flows(compile(ladder_flow));
  auto mail = std::make_shared<Recorder>();
  std::atomic<bool> down{true};
  std::atomic<int> delivered{0};
  engine.on_notify([&](const Notification&) {
    if (down) throw Error("down");
    ++delivered;
  });
  (void)engine.start("ladder");
  engine.start_runner(5ms);
  clock.advance(30min);
  // Wait for the failed try to be recorded, not just for the entry: the retry is timed from the
  // end of that try, so advancing the clock before it is recorded would move the retry too.
  const auto tried = [&] {
    const auto o = engine.outbox();
    return o.size() == 1 && o[0].attempts == 1;
  };
  for (int i = 0; i < 2000 && !tried(); ++i) std::this_thread::sleep_for(5ms);
  REQUIRE(tried());
  CHECK(engine.outbox()[0].next_attempt == clock.now() + 30s);
  down = false;
  clock.advance(30s);
  for (int i = 0; i < 2000 && delivered == 0; ++i) std::this_thread::sleep_for(5ms);
  engine.stop_runner();
  CHECK(delivered == 1);
  CHECK(engine.outbox().empty());
}

TEST_CASE("an action handler sees a key that a repeat of the same call shares", "[outbox]") {
  const char* flow = R"(flow: parts
start: order
steps:
  order: { call: parts.order, next: done }
  done: { end: true }
)";
  ManualClock clock{"2026-11-23T08:00:00Z"};
  std::vector<std::string> keys;
  const auto run = [&] {
    Engine engine({.clock = &clock});
    engine.add_flows(compile(flow));
    engine.on_action("parts.order", [&](ActionContext& a) { keys.push_back(a.key()); });
    return engine.start("parts", {}, {.id = "p-1"});
  };
  run();
  run();  // the same call again from the same state (as after a crash before its commit)
  REQUIRE(keys.size() == 2);
  CHECK(keys[0] == keys[1]);
  CHECK(keys[0] == "p-1/1/order/step:parts.order/1");
}

namespace {
const char* templated_flow = R"yaml(flow: visit
data:
  customer: { type: string, required: true }
  slots: { type: int, default: 2 }
start: wait
steps:
  wait:
    role: desk
    deadline:
      within: 2h
      escalate:
        - at: 50%
          notify: lead
          subject: "Visit for {customer} overdue (level {level})"
          message: "Case {case.id} waits in {step} until {due}; {slots * 2} slots, {{literal}}"
    on_enter:
      - { notify: [desk], subject: "New visit: {customer}", message: "{customer} needs a visit" }
    on: { done: closed }
  closed: { end: true }
)yaml";
}  // namespace

TEST_CASE("subjects and messages are filled in from the case when the notification is raised", "[outbox][templates]") {
  ManualClock clock{"2026-11-23T08:00:00Z"};
  Engine engine({.clock = &clock});
  engine.add_flows(compile(templated_flow));
  std::vector<Notification> heard;
  engine.on_notify([&](const Notification& n) { heard.push_back(n); });
  const auto id = engine.start("visit", {{"customer", "ACME d.o.o."}}, {.id = "v-1"});
  clock.advance(1h);
  engine.run_due();
  REQUIRE(heard.size() == 2);
  CHECK(heard[0].reason == "on_enter");
  CHECK(heard[0].subject == "New visit: ACME d.o.o.");
  CHECK(heard[0].message == "ACME d.o.o. needs a visit");
  CHECK(heard[1].subject == "Visit for ACME d.o.o. overdue (level 1)");
  CHECK(heard[1].message == "Case v-1 waits in wait until 2026-11-23T10:00:00Z; 4 slots, {literal}");
  const auto escalated = of_type(engine.history(id), RecordType::escalated);
  REQUIRE(escalated.size() == 1);
  CHECK(escalated[0].message == heard[1].message);  // the journal says what was sent
}

TEST_CASE("a placeholder that does not fit the flow is an error at its place in the file", "[outbox][templates]") {
  const auto diagnostics = [](const std::string& message) {
    std::string yaml = templated_flow;
    const std::string from = "message: \"{customer} needs a visit\"";
    yaml.replace(yaml.find(from), from.size(), "message: \"" + message + "\"");
    std::string out;
    for (const auto& d : validate_text(yaml, "visit.yaml", ".").diagnostics) out += d.str() + "\n";
    return out;
  };
  CHECK(diagnostics("{customer} needs a visit").empty());
  // Line 17, at the name inside the placeholder (the hook is a flow-style map on one line).
  CHECK_THAT(diagnostics("{custmer} needs a visit"),
             Catch::StartsWith("visit.yaml:17:72: error: in the placeholder {custmer} of `message`: unknown name 'custmer'"));
  CHECK_THAT(diagnostics("{customer * 2}"), Catch::Contains("in the placeholder {customer * 2} of `message`"));
  CHECK_THAT(diagnostics("unclosed {customer"), Catch::Contains("a '{' without its '}'; write {{ for a brace"));
  CHECK_THAT(diagnostics("stray } here"), Catch::Contains("a '}' without its '{'; write }} for a brace"));
}
