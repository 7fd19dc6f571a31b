// `escalon` command-line tool. Subcommands:
//   validate PATH...            check flows, gcc-style diagnostics (or --json), exit 1 on errors
//   graph FLOW [--format ...]   the flow as Graphviz DOT or Mermaid
//   eval 'EXPR' [--data JSON]   try one expression against sample data
//   run FLOW... --scenario S    run a scenario on a virtual clock; journal as JSON Lines
//   inspect --db FILE [CASE]    open cases of a store, or one case's history as a timeline
//   report --db FILE            KPIs from the journal (text, --json, --csv)
//   store copy FROM TO          a whole store into an empty one (SQLite <-> PostgreSQL)
//   outbox --db FILE            notifications not delivered yet; --retry KEY puts a dead letter back
//   serve --db FILE --flows ... run a store: timers fire on the system clock, channels deliver, until SIGTERM
//   erase, purge, verify        personal data erased by case or by retention; the hash chains checked
// Argument parsing is CLI11's; every subcommand has --help.

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include "escalon/escalon.hpp"
#include "base/json.hpp"
#include "calendar/local_time.hpp"
#include "cli/db.hpp"
#include "cli/outbox.hpp"
#include "cli/privacy.hpp"
#include "cli/serve.hpp"
#include "cli/simulate.hpp"
#include "cli/store_copy.hpp"
#include "cli/zones.hpp"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using escalon::cli::open_db;
using escalon::cli::open_db_to_read;

namespace {

constexpr int exit_ok = 0;
constexpr int exit_invalid = 1;

json diagnostic_json(const escalon::Diagnostic& d) {
  return {{"file", d.where.file},
          {"line", d.where.line},
          {"column", d.where.column},
          {"severity", d.severity == escalon::Severity::error ? "error" : "warning"},
          {"message", d.message}};
}

int cmd_validate(const std::vector<std::string>& paths, bool as_json, bool strict) {
  escalon::LoadOptions opts;
  opts.strict = strict;
  const auto r = escalon::validate(std::span<const std::string>(paths), opts);
  const bool ok = r.ok(strict);
  if (as_json) {
    json out;
    out["ok"] = ok;
    out["files"] = r.files;
    out["flows"] = json::array();
    for (const auto& f : r.flows)
      out["flows"].push_back({{"id", f->id}, {"version", f->version}, {"file", f->file}, {"hash", f->content_hash}});
    out["errors"] = r.error_count();
    out["warnings"] = r.warning_count();
    out["diagnostics"] = json::array();
    for (const auto& d : r.diagnostics) out["diagnostics"].push_back(diagnostic_json(d));
    // A file name need not be UTF-8; JSON must be: such bytes print as U+FFFD.
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
  } else {
    for (const auto& d : r.diagnostics) {
      auto dd = d;
      if (strict) dd.severity = escalon::Severity::error;
      std::cout << dd.str() << '\n';
    }
    std::cerr << fmt::format("{} file{}, {} valid flow{}: {} error{}, {} warning{}\n", r.files.size(),
                             r.files.size() == 1 ? "" : "s", r.flows.size(), r.flows.size() == 1 ? "" : "s",
                             r.error_count(), r.error_count() == 1 ? "" : "s", r.warning_count(),
                             r.warning_count() == 1 ? "" : "s");
  }
  return ok ? exit_ok : exit_invalid;
}

int cmd_graph(const std::string& target, std::vector<std::string> paths, const std::string& format, const std::string& output) {
  std::string file, id;
  // A path the loader reads and reports on (a symlink loop, a FIFO, an unreadable file) rather than
  // a flow id; std::error_code: a loop made is_regular_file throw past every handler.
  std::error_code ec, dir_ec;
  const auto type = fs::symlink_status(target, ec).type();
  const bool named_file = target.ends_with(".yaml") || target.ends_with(".yml");
  if ((!ec && type != fs::file_type::not_found && !fs::is_directory(target, dir_ec)) || named_file) {
    file = fs::path(target).lexically_normal().string();
    if (paths.empty()) paths.push_back(fs::path(file).parent_path().empty() ? "." : fs::path(file).parent_path().string());
    paths.push_back(file);
  } else {
    id = target;
    if (paths.empty()) paths.emplace_back("flows");
  }
  const auto r = escalon::validate(std::span<const std::string>(paths));
  escalon::FlowPtr flow;
  for (const auto& f : r.flows)
    if ((!file.empty() && f->file == file) || (!id.empty() && f->id == id))
      if (!flow || f->version > flow->version) flow = f;
  if (!flow) {
    bool printed = false;
    for (const auto& d : r.diagnostics)
      if (d.severity == escalon::Severity::error && (file.empty() || d.where.file == file)) {
        std::cerr << d.str() << '\n';
        printed = true;
      }
    if (!printed) std::cerr << fmt::format("escalon graph: no valid flow '{}' found in {}\n", target, fmt::join(paths, ", "));
    return exit_invalid;
  }
  const std::string text = escalon::render_graph(*flow, format == "mermaid" ? escalon::GraphFormat::mermaid : escalon::GraphFormat::dot);
  if (output.empty() || output == "-") {
    std::cout << text;
  } else {
    std::ofstream out(output);
    out << text;
    if (!out) {
      std::cerr << fmt::format("escalon graph: cannot write {}\n", output);
      return exit_invalid;
    }
  }
  return exit_ok;
}

// The type `escalon eval` gives a --data value when no flow declares it.
escalon::Type untyped_data_type(const escalon::Value& val) {
  escalon::Type t;
  switch (val.kind()) {
    case escalon::Value::Kind::boolean: t = escalon::Type::of(escalon::Type::Kind::boolean); break;
    case escalon::Value::Kind::integer: t = escalon::Type::of(escalon::Type::Kind::integer); break;
    case escalon::Value::Kind::number: t = escalon::Type::of(escalon::Type::Kind::number); break;
    case escalon::Value::Kind::string: t = escalon::Type::of(escalon::Type::Kind::string); break;
    case escalon::Value::Kind::datetime: t = escalon::Type::of(escalon::Type::Kind::datetime); break;
    case escalon::Value::Kind::date: t = escalon::Type::of(escalon::Type::Kind::date); break;
    case escalon::Value::Kind::list: t = escalon::Type::list_of({}); break;
    case escalon::Value::Kind::map: t = escalon::Type::of(escalon::Type::Kind::map); break;
    default: break;
  }
  return t;
}

int cmd_eval(const std::string& text, const std::string& data_json, const std::string& now_text, const std::string& flow_path,
             bool show_type) {
  escalon::ExprEnv env;
  escalon::Map data;
  escalon::FlowPtr flow;
  std::optional<escalon::Calendar> calendar;
  json j;
  try {
    j = escalon::detail::parse_json(data_json, "--data");
  } catch (const escalon::DataError& e) {
    std::cerr << fmt::format("escalon eval: {}\n", e.what());
    return exit_invalid;
  }
  if (!j.is_object()) {
    std::cerr << "escalon eval: --data must be a JSON object, e.g. '{\"priority\": \"high\"}'\n";
    return exit_invalid;
  }
  if (!flow_path.empty()) {
    try {
      auto flows = escalon::load_flows({flow_path});
      if (flows.empty()) throw escalon::Error("no flow in " + flow_path);
      flow = flows.front();
    } catch (const escalon::FlowError& e) {
      for (const auto& d : e.diagnostics()) std::cerr << d.str() << '\n';
      return exit_invalid;
    }
    for (const auto& f : flow->data) env.data[f.name] = f.type;
    env.rules = &flow->rules;
    if (!flow->calendar.empty()) calendar.emplace(flow->calendars.at(flow->calendar));
  }
  try {
    for (const auto& [k, v] : j.items()) {
      // Untyped data: ISO instants are datetimes, ISO days (2025-06-01) dates, other strings strings.
      escalon::Value val = escalon::detail::value_from_json(v, escalon::detail::JsonStrings::iso_datetimes);
      if (flow) {
        const auto* f = flow->find_field(k);
        if (!f) throw escalon::DataError(fmt::format("--data: flow '{}' has no data field '{}'", flow->id, k));
        val = f->type.coerce(val, k);
      } else {
        env.data[k] = untyped_data_type(val);
      }
      data.emplace(k, std::move(val));
    }
  } catch (const escalon::DataError& e) {
    std::cerr << fmt::format("escalon eval: {}\n", e.what());
    return exit_invalid;
  }
  escalon::TimePoint now = std::chrono::time_point_cast<escalon::Duration>(std::chrono::system_clock::now());
  if (!now_text.empty()) {
    auto t = escalon::parse_iso8601(now_text);
    if (!t) {
      std::cerr << fmt::format("escalon eval: --now '{}' is not an ISO-8601 instant such as 2026-11-23T08:00:00Z\n", now_text);
      return exit_invalid;
    }
    now = *t;
  }
  try {
    auto e = escalon::compile_expression(text, env);
    escalon::EvalContext ctx;
    ctx.data = &data;
    ctx.now = now;
    ctx.rules = flow ? &flow->rules : nullptr;
    ctx.calendar = calendar ? &*calendar : nullptr;
    const auto v = e.evaluate(ctx);
    std::cout << v.to_json() << '\n';
    if (show_type) std::cerr << "type: " << e.type().str() << '\n';
    return exit_ok;
  } catch (const escalon::ExprError& e) {
    std::cerr << fmt::format("<expr>:1:{}: error: {}\n  {}\n  {}^\n", e.offset() + 1, e.message(), text, std::string(e.offset(), ' '));
  } catch (const escalon::Error& e) {
    std::cerr << fmt::format("error: {}\n", e.what());
  }
  return exit_invalid;
}

int cmd_run(const std::vector<std::string>& paths, const std::string& scenario_path, const std::string& db, bool quiet,
            bool personal) {
  std::vector<escalon::FlowPtr> flows;
  escalon::Scenario sc;
  std::unique_ptr<escalon::Store> store;
  escalon::ScenarioResult result;
  try {
    flows = escalon::load_flows(std::span<const std::string>(paths));
    sc = escalon::load_scenario(scenario_path);
    if (!db.empty()) store = open_db(db);
    result = escalon::run_scenario(sc, flows, store.get());
  } catch (const escalon::FlowError& e) {
    for (const auto& d : e.diagnostics()) std::cerr << d.str() << '\n';
    return exit_invalid;
  } catch (const escalon::StoreError& e) {
    std::cerr << "escalon run: " << e.what() << '\n';
    return exit_invalid;
  }
  std::string out;
  for (const auto& r : result.journal) {
    out += personal ? r.to_json() : r.redacted().to_json();
    out += '\n';
  }
  std::cout << out << std::flush;
  if (quiet) return exit_ok;
  for (const auto& msg : result.skipped) std::cerr << "skipped: " << msg << '\n';
  for (const auto& msg : result.refused) std::cerr << "refused: " << msg << '\n';
  for (const auto& c : result.cases) {
    std::string slas;
    for (const auto& [name, state] : c.slas) slas += fmt::format(", SLA {} {}", name, state);
    std::cerr << fmt::format("{}: {}, {} at {}{}{}{}, {} records{}\n", c.id, c.flow, c.status, c.step,
                             c.outcome.empty() ? "" : " (" + c.outcome + ")",
                             c.incident.empty() ? "" : " [" + c.incident + "]",
                             c.level ? fmt::format(", escalation level {}", c.level) : "", c.records, slas);
  }
  return exit_ok;
}

// One record of a timeline, its times in `zone` ("" for UTC).
std::string describe(const escalon::Record& r, const std::string& zone) {
  using escalon::RecordType;
  std::string what;
  switch (r.type) {
    case RecordType::started: what = fmt::format("started ({})", r.message); break;
    case RecordType::entered: what = fmt::format("entered {}", r.step); break;
    case RecordType::left: what = fmt::format("left {}", r.step); break;
    case RecordType::event: what = fmt::format("event {}", r.event); break;
    case RecordType::rejected: what = fmt::format("rejected {}: {}", r.event, r.message); break;
    case RecordType::data_changed:
      what = fmt::format("{}: {} -> {}", r.target, r.old_value.to_display(), r.new_value.to_display());
      break;
    case RecordType::assigned: what = fmt::format("assigned to {}", r.target); break;
    case RecordType::deadline_set:
      what = fmt::format("{} due {}",
                         r.target.empty()                 ? std::string("deadline")
                         : r.target.starts_with("stage:") ? fmt::format("stage {} deadline", r.target.substr(6))
                                                          : "SLA " + r.target,
                         escalon::detail::format_local(r.due, zone));
      break;
    case RecordType::resumed:
      what = fmt::format("SLA {} resumed, due {}", r.target, escalon::detail::format_local(r.due, zone));
      break;
    case RecordType::escalated:
      what = fmt::format("escalation level {}{}{}", r.level, r.repeat ? fmt::format(" (repeat {})", r.repeat) : "",
                         r.target.empty() ? "" : ", notified " + r.target);
      break;
    default:
      what = std::string(escalon::record_type_name(r.type));
      if (!r.target.empty()) what += " " + r.target;
      if (!r.message.empty()) what += ": " + r.message;
  }
  std::string who;
  if (!r.actor.empty()) who += " by " + r.actor;
  if (!r.channel.empty()) who += " via " + r.channel;
  return fmt::format("{}  {:<16} {}{}", escalon::detail::format_local(r.at, zone), r.step, what, who);
}

// "Europe/Zagreb" or "UTC", for headers.
std::string zone_name(const std::string& zone) { return zone.empty() ? "UTC" : zone; }

int cmd_inspect(const std::string& db, const std::string& case_id, const std::optional<std::string>& tz, bool personal) {
  std::unique_ptr<escalon::Store> store;
  try {
    store = open_db_to_read(db);
    escalon::cli::FlowZones zones(*store);
    if (!case_id.empty()) {
      const auto h = store->history(case_id);
      if (h.empty()) {
        std::cerr << fmt::format("escalon inspect: no case '{}' in {}\n", case_id, db);
        return exit_invalid;
      }
      const std::string zone = tz ? *tz : zones.of_case(h);
      std::cout << fmt::format("{} ({} records), times in {}\n", case_id, h.size(), zone_name(zone));
      for (const auto& r : h) std::cout << "  " << describe(personal ? r : r.redacted(), zone) << '\n';
      return exit_ok;
    }
    // Each line's time carries its offset (its case's flow calendar, or --tz).
    const auto open = store->open_cases();
    std::cout << fmt::format("{} open case{} in {}\n", open.size(), open.size() == 1 ? "" : "s", db);
    for (const auto& c : open) {
      const auto h = store->history(c.id);
      const std::string step = h.empty() ? "" : h.back().step;
      std::cout << fmt::format("  {:<32} {:<24} {:<20} last change {}\n", c.id, c.flow, step,
                               h.empty() ? "" : escalon::detail::format_local(h.back().at, tz ? *tz : zones.of_case(h)));
    }
    std::cout << escalon::cli::outbox_summary(*store, db);
  } catch (const escalon::StoreError& e) {
    std::cerr << "escalon inspect: " << e.what() << '\n';
    return exit_invalid;
  }
  return exit_ok;
}

int cmd_report(const std::string& db, const std::string& format, const std::string& at_text, const std::optional<std::string>& tz) {
  std::optional<escalon::TimePoint> at;
  if (!at_text.empty()) {
    at = escalon::parse_iso8601(at_text);
    if (!at) {
      std::cerr << fmt::format("escalon report: --at '{}' is not an ISO-8601 instant\n", at_text);
      return exit_invalid;
    }
  }
  try {
    auto store = open_db_to_read(db);
    const auto r = escalon::make_report(*store, at);
    // Text in the zone of the flows' calendar (or --tz); JSON and CSV stay in UTC.
    const escalon::ReportTextOptions text{.zone = tz ? *tz : r.zone};
    if (!tz && r.zones.size() > 1 && format == "text")
      std::cerr << fmt::format("escalon report: times in UTC: the cases' flows have calendars in {} zones ({}); --tz picks one\n",
                               r.zones.size(), fmt::join(r.zones, ", "));
    std::cout << (format == "json" ? escalon::report_json(r) : format == "csv" ? escalon::report_csv(r) : escalon::report_text(r, text));
  } catch (const escalon::StoreError& e) {
    std::cerr << "escalon report: " << e.what() << '\n';
    return exit_invalid;
  }
  return exit_ok;
}


int cmd_store_copy(const std::string& from, const std::string& to) {
  try {
    auto source = open_db_to_read(from);
    auto target = open_db(to);
    const auto n = escalon::cli::copy_store(*source, *target, to);
    std::cerr << fmt::format("copied {} flow versions, {} cases, {} records, {} counters and {} start keys from {} to {}\n", n.flows,
                             n.cases, n.records, n.meta, n.start_keys, from, to);
  } catch (const escalon::StoreError& e) {
    std::cerr << "escalon store copy: " << e.what() << '\n';
    return exit_invalid;
  }
  return exit_ok;
}

// One struct per subcommand: its arguments, how CLI11 fills them, and the command they run.

struct ValidateArgs {
  std::vector<std::string> paths;
  bool as_json = false, strict = false;
  CLI::App* cmd = nullptr;
  void add(CLI::App& app) {
    cmd = app.add_subcommand("validate", "Check flow files and folders; prints file:line:col: error: message");
    cmd->add_option("paths", paths, "Flow files or folders (folders: every *.yaml/*.yml below)")->required();
    cmd->add_flag("--json", as_json, "Print a JSON report for tools");
    cmd->add_flag("--strict", strict, "Treat warnings as errors");
  }
  int run() const { return cmd_validate(paths, as_json, strict); }
};

struct GraphArgs {
  std::string target, format = "dot", output;
  std::vector<std::string> paths;
  CLI::App* cmd = nullptr;
  void add(CLI::App& app) {
    cmd = app.add_subcommand(
        "graph", "Print a flow as a graph (Graphviz DOT or Mermaid): steps, guards, rule rows' conditions, deadlines, ladders, SLA notes");
    cmd->add_option("flow", target, "A flow file, or a flow id found under --path")->required();
    cmd->add_option("--path", paths, "Files or folders to load (default: the flow file's folder, or flows/)");
    cmd->add_option("--format", format, "dot or mermaid")->check(CLI::IsMember({"dot", "mermaid"}));
    cmd->add_option("-o,--output", output, "Write to this file instead of standard output");
  }
  int run() const { return cmd_graph(target, paths, format, output); }
};

struct EvalArgs {
  std::string expr, data = "{}", now, flow;
  bool type = false;
  CLI::App* cmd = nullptr;
  void add(CLI::App& app) {
    cmd = app.add_subcommand("eval", "Evaluate one expression against sample data");
    cmd->add_option("expression", expr, "The expression, e.g. 'priority == high && len(customer) > 0'")->required();
    cmd->add_option("--data", data, "Case data as a JSON object (ISO-8601 strings become datetimes)");
    cmd->add_option("--now", now, "What now() returns (ISO-8601); default: the system clock");
    cmd->add_option("--flow", flow, "Type the data with this flow's schema and make its rules and calendar available");
    cmd->add_flag("--type", type, "Also print the expression's static type (to standard error)");
  }
  int run() const { return cmd_eval(expr, data, now, flow, type); }

  // CLI11 takes an argument that starts with '-' (other than a plain number) for an option, so
  // `eval '-(1 + 2)'` only said "expression is required". True when it printed the way out.
  bool explain_leading_minus(const CLI::ParseError& e, int argc, char** argv) const {
    if (!*cmd || !expr.empty() || !dynamic_cast<const CLI::RequiredError*>(&e)) return false;
    for (int i = 2; i < argc; ++i) {
      const std::string_view a = argv[i];
      if (a == "--") return false;
      if (a == "--data" || a == "--now" || a == "--flow") ++i;  // skip the option's value
      // "--bogus" is a mistyped option, not an expression.
      if (a.size() < 2 || a[0] != '-' || a[1] == '-' || a == "-h" || cmd->get_option_no_throw(std::string(a)) != nullptr) continue;
      std::cerr << fmt::format("escalon eval: '{}' is read as an option; an expression that starts with '-' goes after `--`: "
                               "escalon eval -- '{}'\n",
                               a, a);
      return true;
    }
    return false;
  }
};

struct RunArgs {
  std::vector<std::string> paths;
  std::string scenario, db;
  bool quiet = false, personal = false;
  CLI::App* cmd = nullptr;
  void add(CLI::App& app) {
    cmd = app.add_subcommand("run", "Run a scenario on a virtual clock; prints the journal as JSON Lines, then a summary per case with each "
                                    "SLA's state (on standard error)");
    cmd->add_option("flows", paths, "Flow files or folders")->required();
    cmd->add_option("-s,--scenario", scenario, "The scenario file (docs/scenarios.md)")->required()->check(CLI::ExistingFile);
    cmd->add_flag("-q,--quiet", quiet, "Only the journal");
    cmd->add_flag("--personal", personal, "Show the values of personal-data fields (`pii: true`) instead of \"***\"");
    cmd->add_option("--db", db, "Keep the cases in this SQLite file or postgresql://... store (default: memory); a second run continues where the first stopped");
  }
  int run() const { return cmd_run(paths, scenario, db, quiet, personal); }
};

// --tz: an IANA zone the tz database has, or UTC; a typo gets the closest name.
void add_tz_option(CLI::App& cmd, std::optional<std::string>& tz, const char* what) {
  const CLI::Validator zone(
      [](std::string& s) {
        try {
          escalon::detail::check_zone(s);
          return std::string();
        } catch (const escalon::Error& e) {
          return std::string(e.message());
        }
      },
      "ZONE");
  cmd.add_option("--tz", tz, what)->check(zone);
}

struct InspectArgs {
  std::string db, case_id;
  std::optional<std::string> tz;
  bool personal = false;
  CLI::App* cmd = nullptr;
  void add(CLI::App& app) {
    cmd = app.add_subcommand("inspect", "Show the open cases of a store, or one case's history as a timeline");
    cmd->add_option("--db", db, escalon::cli::db_help)->required();
    cmd->add_option("case", case_id, "A case id: print its history");
    add_tz_option(*cmd, tz,
                  "Show times in this IANA zone (Europe/Zagreb) or UTC; default: the zone of the case's flow calendar (UTC "
                  "when it has none)");
    cmd->add_flag("--personal", personal, "Show the values of personal-data fields (`pii: true`) instead of \"***\"");
  }
  int run() const { return cmd_inspect(db, case_id, tz, personal); }
};

struct ReportArgs {
  std::string db, at;
  std::optional<std::string> tz;
  bool as_json = false, as_csv = false;
  CLI::App* cmd = nullptr;
  void add(CLI::App& app) {
    cmd = app.add_subcommand("report", "KPIs from a store's journal: cases, first-contact resolution, deadlines met, escalations, SLAs, "
                                       "time per step, work queues (each defined in docs/flow-format.md, \"KPI definitions\")");
    cmd->add_option("--db", db, escalon::cli::db_help)->required();
    cmd->add_flag("--json", as_json, "JSON instead of a text table (times in UTC)");
    cmd->add_flag("--csv", as_csv, "CSV rows metric,group,value");
    cmd->add_option("--at", at, "What 'now' is for overdue work (ISO-8601 with Z or an offset; default: the newest record)");
    add_tz_option(*cmd, tz,
                  "Show the text report's times in this IANA zone (Europe/Zagreb) or UTC; default: the zone the flows' calendars "
                  "share (UTC when they have none or differ). JSON stays in UTC");
  }
  int run() const { return cmd_report(db, as_json ? "json" : as_csv ? "csv" : "text", at, tz); }
};


struct OutboxArgs {
  std::string db, retry, channel;
  CLI::App* cmd = nullptr;
  void add(CLI::App& app) {
    cmd = app.add_subcommand("outbox", "Notifications a store has not delivered yet, and dead letters (docs/delivery.md)");
    cmd->add_option("--db", db, escalon::cli::db_help)->required();
    cmd->add_option("--retry", retry, "Put the dead letter with this key back: the next engine on the store delivers it");
    cmd->add_option("--channel", channel, "With --retry: only the entry of this channel");
  }
  int run() const {
    try {
      const auto [out, ok] = retry.empty() ? std::pair{escalon::cli::list_outbox(*open_db_to_read(db)), true}
                                           : escalon::cli::retry_outbox(*open_db(db), db, retry, channel);
      (ok ? std::cout : std::cerr) << out;
      return ok ? exit_ok : exit_invalid;
    } catch (const escalon::StoreError& e) {
      std::cerr << "escalon outbox: " << e.what() << '\n';
      return exit_invalid;
    }
  }
};

struct StoreArgs {
  std::string from, to;
  CLI::App* cmd = nullptr;
  CLI::App* copy = nullptr;
  void add(CLI::App& app) {
    cmd = app.add_subcommand("store", "Work on stores as a whole");
    cmd->require_subcommand(1);
    copy = cmd->add_subcommand("copy", "Copy every flow version, case, record, counter and start key of a store into a new, empty one, "
                                       "in one transaction (SQLite to PostgreSQL and back)");
    copy->add_option("from", from, "The store to read: a SQLite file (cases.db, sqlite:cases.db) or postgresql://...")->required();
    copy->add_option("to", to, "The store to write, which must be empty: a new SQLite file or postgresql://...")->required();
  }
  int run() const { return cmd_store_copy(from, to); }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Escalon: a workflow and rules engine for contact centers"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "escalon " + std::string(escalon::version()));
  ValidateArgs validate;
  GraphArgs graph;
  EvalArgs eval;
  RunArgs run;
  InspectArgs inspect;
  ReportArgs report;
  escalon::cli::SimulateArgs simulate;
  StoreArgs store;
  OutboxArgs outbox;
  escalon::cli::ServeArgs serve;
  escalon::cli::PrivacyArgs privacy;
  validate.add(app);
  graph.add(app);
  eval.add(app);
  run.add(app);
  inspect.add(app);
  report.add(app);
  simulate.add(app);
  store.add(app);
  outbox.add(app);
  serve.add(app);
  privacy.add(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (eval.explain_leading_minus(e, argc, argv)) return e.get_exit_code();
    return app.exit(e);
  }
  try {
    if (*validate.cmd) return validate.run();
    if (*graph.cmd) return graph.run();
    if (*eval.cmd) return eval.run();
    if (*run.cmd) return run.run();
    if (*inspect.cmd) return inspect.run();
    if (*simulate.cmd) return simulate.run();
    if (*report.cmd) return report.run();
    if (*store.cmd) return store.run();
    if (*outbox.cmd) return outbox.run();
    if (*serve.cmd) return serve.run();
    if (privacy.chosen()) return privacy.run();
  } catch (const std::exception& e) {
    std::cerr << "escalon: " << e.what() << '\n';
    return exit_invalid;
  }
  return exit_ok;
}
