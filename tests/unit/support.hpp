#pragma once
// Catch2 printers, so a failed CHECK shows values instead of {?}.
#include <catch2/catch.hpp>

#include <functional>

#include "escalon/loader.hpp"
#include "escalon/store.hpp"
#include "escalon/time.hpp"
#include "escalon/value.hpp"

namespace escalon::test {
/// An instant from ISO-8601 text; fails the test when the text is not one.
inline TimePoint at(const char* iso) {
  auto t = parse_iso8601(iso);
  REQUIRE(t);
  return *t;
}

/// A store that hands every call to another store; `before_commit` can fail or slow a commit.
class ForwardingStore : public Store {
 public:
  explicit ForwardingStore(Store& inner) : inner_(inner) {}
  std::function<void(const StoreBatch&)> before_commit;
  void commit(const StoreBatch& b) override {
    if (before_commit) before_commit(b);
    inner_.commit(b);
  }
  std::vector<StoredCase> open_cases() override { return inner_.open_cases(); }
  std::vector<Record> history(std::string_view id) override { return inner_.history(id); }
  std::optional<StoredCase> find_case(std::string_view id) override { return inner_.find_case(id); }
  void for_each_case(std::optional<bool> open, const std::function<void(const StoredCase&)>& f) override {
    inner_.for_each_case(open, f);
  }
  std::uint64_t last_seq() override { return inner_.last_seq(); }
  TimePoint last_time() override { return inner_.last_time(); }
  std::map<std::string, std::string> meta() override { return inner_.meta(); }
  std::vector<StoredFlow> flows() override { return inner_.flows(); }
  std::vector<std::string> due_cases(TimePoint upto, std::size_t limit) override { return inner_.due_cases(upto, limit); }
  void for_each_record(const std::function<void(const Record&)>& f) override { inner_.for_each_record(f); }
  bool shared() const override { return inner_.shared(); }
  std::uint64_t next_case_number(std::string_view flow) override { return inner_.next_case_number(flow); }
  void take_seqs(std::span<std::uint64_t> out) override { inner_.take_seqs(out); }
  std::vector<std::string> claim_due(TimePoint upto, std::size_t limit, std::string_view owner,
                                     std::chrono::milliseconds lease) override {
    return inner_.claim_due(upto, limit, owner, lease);
  }
  void release_claims(std::span<const std::string> ids, std::string_view owner) override {
    inner_.release_claims(ids, owner);
  }
  bool wait_for_work(TimePoint before, std::chrono::milliseconds timeout) override {
    return inner_.wait_for_work(before, timeout);
  }
  std::optional<TimePoint> earliest_due() override { return inner_.earliest_due(); }
  std::optional<StartKey> find_start_key(std::string_view key) override { return inner_.find_start_key(key); }
  void for_each_start_key(const std::function<void(const StartKey&)>& f) override { inner_.for_each_start_key(f); }
  void for_each_outbox(const std::function<void(const OutboxEntry&)>& f) override { inner_.for_each_outbox(f); }
  void for_each_stored_record(const std::function<void(const StoredRecord&)>& f) override { inner_.for_each_stored_record(f); }
  void scrub() override { inner_.scrub(); }
  std::vector<OutboxEntry> claim_outbox(TimePoint upto, std::size_t limit, std::string_view owner,
                                        std::chrono::milliseconds lease) override {
    return inner_.claim_outbox(upto, limit, owner, lease);
  }

 private:
  Store& inner_;
};

/// A store that lost its flow versions (an older schema's, say): stored cases cannot be rebuilt.
class NoFlowsStore final : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  std::vector<StoredFlow> flows() override { return {}; }
};

/// The flows of a YAML text; fails the test, with every diagnostic, when it does not load.
inline std::vector<FlowPtr> compile(const std::string& yaml, const char* file = "test.yaml") {
  auto r = validate_text(yaml, file, ".");
  std::string diags;
  for (const auto& d : r.diagnostics) diags += d.str() + "\n";
  INFO(diags);
  REQUIRE(r.ok());
  return r.flows;
}
}  // namespace escalon::test

namespace Catch {
template <>
struct StringMaker<escalon::Value> {
  static std::string convert(const escalon::Value& v) { return v.to_json(); }
};
template <>
struct StringMaker<escalon::TimePoint> {
  static std::string convert(const escalon::TimePoint& t) { return escalon::format_iso8601(t); }
};
}  // namespace Catch
