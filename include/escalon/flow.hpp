#pragma once
/// @file flow.hpp
/// The flow model: what a YAML flow file means once loaded and checked. A Flow is immutable
/// and shared (`std::shared_ptr<const Flow>`); every element remembers where it was written so
/// that later errors can point at the file. The format is documented in docs/flow-format.md.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "escalon/calendar_spec.hpp"  // WorkInterval, CalendarSpec
#include "escalon/error.hpp"
#include "escalon/expr.hpp"
#include "escalon/rule_table.hpp"
#include "escalon/time.hpp"
#include "escalon/value.hpp"

namespace escalon {

/// A data field of a flow, or a field of a step's `form:`.
struct DataField {
  std::string name;
  Type type;
  bool required = false;
  std::optional<Value> default_value;
  std::string description;
  /// Personal data (a name, phone number, address, serial number): shown as "***" in
  /// journal_jsonl(), the CLI's output and notifications' default text unless personal data is
  /// asked for with the permission to read it (docs/security.md).
  bool pii = false;
  SourceLocation where;
};

/// `field: expression` inside `set:`, `with:`, `input:` or `output:`.
struct Assignment {
  std::string field;
  Expression value;
  SourceLocation where;
};

/// A notification's `subject:` or `message:` with {placeholders} (docs/flow-format.md, "Message
/// templates"). A placeholder is an expression over the case, type-checked at load
/// (`{customer}`, `{case.id}`, `{days_between(created, now())}`), or one of `{step}` (the
/// current step), `{due}` (the due time of the deadline that escalates) and `{level}` (the
/// escalation level) when no data field has that name. `{{` and `}}` are literal braces.
struct MessageTemplate {
  enum class Slot : std::uint8_t { text, expr, step, due, level };
  struct Part {
    Slot slot = Slot::text;
    std::string text;  ///< Slot::text: the literal text
    Expression expr;   ///< Slot::expr
    bool personal = false;  ///< Slot::expr naming a `pii:` field: "***" in the journal's copy
  };
  std::vector<Part> parts;
  [[nodiscard]] bool empty() const noexcept { return parts.empty(); }
  [[nodiscard]] bool personal() const noexcept {
    for (const auto& p : parts)
      if (p.personal) return true;
    return false;
  }
};

/// One rung of an escalation ladder.
struct Escalation {
  enum class Anchor : std::uint8_t { share, after };
  Anchor anchor = Anchor::share;
  double share = 1.0;                  ///< anchor == share: 0.8 for `at: 80%`
  DurationSpec offset;                 ///< anchor == after: this long after the due time
  std::vector<std::string> notify;     ///< roles, or people as `user:NAME`
  std::string message;                 ///< as written
  MessageTemplate body, subject;       ///< `message:` and `subject:` with their placeholders
  std::string reassign;                ///< role or `user:NAME`; empty = keep
  std::vector<Assignment> set;
  std::string priority;                ///< shorthand for set: { priority: ... }
  std::string emit;                    ///< event sent to the case
  std::string go_to;                   ///< step the case moves to
  std::int32_t go_to_index = -1;
  std::optional<DurationSpec> repeat;  ///< `repeat: every D`
  std::optional<std::int32_t> max;     ///< repeat at most this many times
  SourceLocation where;
};

/// What a change of calendar or flow version does to a running deadline.
enum class ReschedulePolicy : std::uint8_t {
  keep,       ///< keep the due time already computed
  recompute,  ///< compute again from the start with the new calendar/flow
  carry,      ///< keep the business time still remaining, measured on the new calendar
};

/// Catch-up when rungs of a repeating escalation fell due while the engine was down.
enum class CatchUp : std::uint8_t { all, latest };

struct Deadline {
  std::optional<DurationSpec> within;  ///< relative length, or
  Expression at;                       ///< an absolute datetime expression
  std::string calendar;                ///< empty: the flow's default calendar
  std::vector<Escalation> escalate;
  std::string expire;                  ///< step to move to when due
  std::int32_t expire_index = -1;
  ReschedulePolicy on_change = ReschedulePolicy::keep;
  CatchUp catch_up = CatchUp::all;
  SourceLocation where;
};

/// A case-level clock (customer SLA), or a team clock (OLA) when `role` is set.
struct Sla {
  std::string name;
  DurationSpec within;
  std::string calendar;
  std::vector<std::string> pause_in;   ///< steps where the clock stops
  std::vector<std::string> stop_in;    ///< steps where the target is met (default: end steps)
  /// A step or stage: the clock starts when the case first enters it (a stage: any of its
  /// steps), not when the case starts. Empty: at the case's start.
  std::string start_in;
  std::string role;                    ///< OLA: counts only while the case is in steps of this role
  std::optional<double> warn_at;       ///< share, e.g. 0.75
  /// Who hears the `sla-warning` and `sla-breached` notifications (roles or `user:NAME`);
  /// empty: the role of the step the case is in when it fires.
  std::vector<std::string> notify;
  std::vector<Escalation> escalate;
  SourceLocation where;
};

struct Transition {
  std::string event;                   ///< empty for decision branches
  std::string target;                  ///< empty: stay in the step (an internal transition)
  std::int32_t target_index = -1;
  Expression when;
  std::vector<Assignment> set;
  /// Said to the caller when this transition's `when` is false and no other transition for the
  /// event applies ("consent to data processing is required"); empty: a generic message.
  std::string reason;
  /// Who may send the event into this transition: roles or `user:NAME`. Empty: whoever holds
  /// the step's `role:` (anyone when the step has none). Checked only for calls that carry
  /// roles (EventOptions::roles).
  std::vector<std::string> allow;
  SourceLocation where;
};

/// An `on_enter` / `on_exit` entry.
struct Hook {
  enum class Kind : std::uint8_t { call, set, notify };
  Kind kind = Kind::call;
  std::string action;                  ///< call: host action name
  std::vector<Assignment> with;        ///< call: inputs; set: assignments
  std::vector<std::string> notify;     ///< notify: roles or `user:NAME`
  std::string message;                 ///< as written
  MessageTemplate body, subject;       ///< `message:` and `subject:` with their placeholders
  SourceLocation where;
};

struct RetryPolicy {
  std::int32_t attempts = 3;           ///< total attempts before an incident
  Duration backoff = std::chrono::seconds{30};
  double factor = 2.0;
  Duration max_backoff = std::chrono::hours{1};
};

enum class StepKind : std::uint8_t { task, action, decision, wait, subflow, parallel, join, end };
[[nodiscard]] std::string_view step_kind_name(StepKind k) noexcept;

enum class JoinMode : std::uint8_t { all, any, n_of_m };

struct Step {
  std::string name;
  StepKind kind = StepKind::task;
  std::string title;
  std::string role;
  Expression assign;                   ///< who gets the work (role or `user:NAME`)
  std::string guide;
  std::vector<DataField> form;         ///< fields the completing event must carry
  /// The events that must carry the form (`form_for:`); empty: every event of the step's own
  /// `on:`. Events of the step's stage never do: cancelling needs no form.
  std::vector<std::string> form_for;
  std::vector<Transition> on;          ///< events handled here, in order
  std::optional<Deadline> deadline;
  std::vector<Hook> on_enter, on_exit;
  // action
  std::string call;
  std::vector<Assignment> with;
  RetryPolicy retry;
  std::string on_error;                ///< step after the last failed attempt (else: incident)
  std::int32_t on_error_index = -1;
  // decision
  std::vector<Transition> branches;
  std::string rule;                    ///< decision by rule table: its `to` output names the step
  // wait
  std::optional<DurationSpec> wait_for;
  Expression wait_until;
  // sub-flow
  std::string subflow;
  /// The version of `subflow` that `input:` and `output:` were compiled against (the newest one
  /// loaded with this flow); the runtime starts that version, so the mappings fit the child.
  std::int64_t subflow_version = 0;
  std::vector<Assignment> input, output;
  std::string on_failure;
  std::int32_t on_failure_index = -1;
  // parallel
  std::vector<std::string> parallel;   ///< first step of each branch
  std::vector<std::int32_t> parallel_index;
  std::string join;                    ///< parallel: the join step its branches meet at
  std::int32_t join_index = -1;
  // join
  JoinMode join_mode = JoinMode::all;
  std::int32_t join_n = 0;
  // action, wait, sub-flow, join: where to go next
  std::string next;
  std::int32_t next_index = -1;
  // end
  std::string outcome;
  /// The stage the step belongs to (an index into Flow::stages), or -1.
  std::int32_t stage = -1;
  /// The case ends as failed: a parent's sub-flow step takes its `on_failure` path.
  bool fail = false;
  SourceLocation where;
};

/// A named group of steps (`stages:`). Its transitions apply in every one of its steps that does
/// not handle the same event itself; its deadline runs from entering the first of its steps
/// until the case moves to a step outside it. Stages do not nest: a step is in at most one.
struct Stage {
  std::string name;
  std::string title;
  std::string description;
  std::vector<std::string> steps;
  std::vector<std::int32_t> step_index;
  std::vector<Transition> on;
  std::optional<Deadline> deadline;    ///< `within:` only (an `at:` expression belongs to a step)
  SourceLocation where;
};

struct Flow {
  std::string id;
  std::int64_t version = 1;
  std::string title;
  std::string description;
  std::string calendar;                ///< default calendar name
  std::map<std::string, CalendarSpec, std::less<>> calendars;
  std::vector<DataField> data;
  bool has_pii = false;                ///< some data field is `pii: true`
  /// `retention:`: how long a closed case keeps its personal data before Engine::apply_retention
  /// erases it (zero: EngineOptions::retention decides).
  Duration retention{0};
  std::vector<std::string> roles;      ///< declared roles (empty: not declared, not checked)
  std::vector<Sla> slas;
  std::string start;
  std::int32_t start_index = -1;
  std::vector<Step> steps;
  std::vector<Stage> stages;
  std::vector<RuleTable> rules;
  std::vector<std::string> includes;   ///< resolved paths of included files
  std::string file;
  /// The version's identity: "sha256:" and 64 lowercase hex digits of SHA-256 over the flow
  /// file's text and then each included file's text, in `include:` order, each part as its byte
  /// length (8 bytes, little-endian) followed by its bytes. Paths do not count, only texts.
  std::string content_hash;
  /// What Escalon wrote as the content hash before SHA-256: FNV-1a 64 over the same texts run
  /// together, as 16 lowercase hex digits. Stores and case snapshots may still hold it.
  std::string legacy_hash;
  std::string source;                  ///< the flow file's text (stores keep it with the version)
  SourceLocation where;

  /// Whether a hash stored with this flow's id and version (a store, a case snapshot) names
  /// this content: `content_hash` for a "sha256:" value; `legacy_hash` for a value without that
  /// prefix, written by an older Escalon. Compare stored hashes with this, not with ==.
  [[nodiscard]] bool matches_hash(std::string_view stored) const noexcept;

  [[nodiscard]] const Step* find_step(std::string_view name) const noexcept;
  [[nodiscard]] std::int32_t step_index(std::string_view name) const noexcept;
  [[nodiscard]] const DataField* find_field(std::string_view name) const noexcept;
  [[nodiscard]] const Stage* find_stage(std::string_view name) const noexcept;
  /// The stage of step `step_index`, or nullptr.
  [[nodiscard]] const Stage* stage_of(std::int32_t step_index) const noexcept;
  [[nodiscard]] const RuleTable* find_rule(std::string_view name) const noexcept;
};

using FlowPtr = std::shared_ptr<const Flow>;

}  // namespace escalon
