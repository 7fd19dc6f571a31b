// `escalon` command-line tool. Subcommands:
//   validate PATH...            check flows, gcc-style diagnostics (or --json), exit 1 on errors
//   graph FLOW [--format ...]   the flow as Graphviz DOT or Mermaid
//   eval 'EXPR' [--data JSON]   try one expression against sample data
//   run FLOW... --scenario S    run a scenario on a virtual clock; journal as JSON Lines
//   inspect --db FILE [CASE]    open cases of a store, or one case's history as a timeline
//   report --db FILE            KPIs from the journal (text, --json, --csv)
// Argument parsing is CLI11's; every subcommand has --help.

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include "escalon/escalon.hpp"
#include "model/json.hpp"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

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
    std::cout << out.dump(2) << '\n';
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
  if (fs::is_regular_file(target)) {
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

int cmd_eval(const std::string& text, const std::string& data_json, const std::string& now_text, const std::string& flow_path,
             bool show_type) {
  escalon::ExprEnv env;
  escalon::Map data;
  escalon::FlowPtr flow;
  std::optional<escalon::Calendar> calendar;
  json j;
  try {
    j = json::parse(data_json);
  } catch (const json::parse_error& e) {
    std::cerr << fmt::format("escalon eval: --data is not valid JSON: {}\n", e.what());
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
      // Untyped data: ISO instants are datetimes, other strings stay strings.
      escalon::Value val = escalon::detail::value_from_json(v, escalon::detail::JsonStrings::iso_datetimes);
      if (flow) {
        const auto* f = flow->find_field(k);
        if (!f) throw escalon::DataError(fmt::format("--data: flow '{}' has no data field '{}'", flow->id, k));
        val = f->type.coerce(val, k);
      } else {
        escalon::Type t;
        switch (val.kind()) {
          case escalon::Value::Kind::boolean: t = escalon::Type::of(escalon::Type::Kind::boolean); break;
          case escalon::Value::Kind::integer: t = escalon::Type::of(escalon::Type::Kind::integer); break;
          case escalon::Value::Kind::number: t = escalon::Type::of(escalon::Type::Kind::number); break;
          case escalon::Value::Kind::string: t = escalon::Type::of(escalon::Type::Kind::string); break;
          case escalon::Value::Kind::datetime: t = escalon::Type::of(escalon::Type::Kind::datetime); break;
          case escalon::Value::Kind::list: t = escalon::Type::list_of({}); break;
          case escalon::Value::Kind::map: t = escalon::Type::of(escalon::Type::Kind::map); break;
          default: break;
        }
        env.data[k] = t;
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

// --db takes a store location (sqlite:PATH, memory:) or, more often, just a SQLite file's path.
std::unique_ptr<escalon::Store> open_db(const std::string& db) {
  return escalon::open_store(db.find(':') == std::string::npos ? "sqlite:" + db : db);
}

int cmd_run(const std::vector<std::string>& paths, const std::string& scenario_path, const std::string& db, bool quiet) {
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
    out += r.to_json();
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

std::string describe(const escalon::Record& r) {
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
      what = fmt::format("{} due {}", r.target.empty() ? "deadline" : "SLA " + r.target, escalon::format_iso8601(r.due));
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
  return fmt::format("{}  {:<16} {}{}", escalon::format_iso8601(r.at), r.step, what, who);
}

int cmd_inspect(const std::string& db, const std::string& case_id) {
  std::unique_ptr<escalon::Store> store;
  try {
    store = open_db(db);
    if (!case_id.empty()) {
      const auto h = store->history(case_id);
      if (h.empty()) {
        std::cerr << fmt::format("escalon inspect: no case '{}' in {}\n", case_id, db);
        return exit_invalid;
      }
      std::cout << fmt::format("{} ({} records)\n", case_id, h.size());
      for (const auto& r : h) std::cout << "  " << describe(r) << '\n';
      return exit_ok;
    }
    const auto open = store->open_cases();
    std::cout << fmt::format("{} open case{} in {}\n", open.size(), open.size() == 1 ? "" : "s", db);
    for (const auto& c : open) {
      const auto h = store->history(c.id);
      const std::string step = h.empty() ? "" : h.back().step;
      std::cout << fmt::format("  {:<32} {:<24} {:<20} last change {}\n", c.id, c.flow, step,
                               h.empty() ? "" : escalon::format_iso8601(h.back().at));
    }
  } catch (const escalon::StoreError& e) {
    std::cerr << "escalon inspect: " << e.what() << '\n';
    return exit_invalid;
  }
  return exit_ok;
}

int cmd_report(const std::string& db, const std::string& format, const std::string& at_text) {
  std::optional<escalon::TimePoint> at;
  if (!at_text.empty()) {
    at = escalon::parse_iso8601(at_text);
    if (!at) {
      std::cerr << fmt::format("escalon report: --at '{}' is not an ISO-8601 instant\n", at_text);
      return exit_invalid;
    }
  }
  try {
    auto store = open_db(db);
    const auto r = escalon::make_report(*store, at);
    std::cout << (format == "json" ? escalon::report_json(r) : format == "csv" ? escalon::report_csv(r) : escalon::report_text(r));
  } catch (const escalon::StoreError& e) {
    std::cerr << "escalon report: " << e.what() << '\n';
    return exit_invalid;
  }
  return exit_ok;
}

int cmd_simulate(const std::vector<std::string>& paths, const std::string& model_path, std::int64_t days, std::uint64_t seed,
                 const std::string& db, const std::string& html, const std::string& start_text) {
  std::vector<escalon::FlowPtr> flows;
  std::unique_ptr<escalon::Store> store;
  escalon::SimOptions options{.days = days, .seed = seed};
  if (!start_text.empty()) {
    options.start = escalon::parse_iso8601(start_text);
    if (!options.start) {
      std::cerr << fmt::format("escalon simulate: --start '{}' is not an ISO-8601 instant\n", start_text);
      return exit_invalid;
    }
  }
  // The bar goes to a terminal only, so that logs and CI output stay clean.
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  int shown = -1;
  if (tty)
    options.progress = [&](double done) {
      const int pct = static_cast<int>(done * 100);
      if (pct == shown) return;
      shown = pct;
      const int filled = pct * 40 / 100;
      std::cerr << fmt::format("\r[{}{}] {:3}% of {} days", std::string(static_cast<std::size_t>(filled), '#'),
                               std::string(static_cast<std::size_t>(40 - filled), ' '), pct, days)
                << std::flush;
    };
  try {
    flows = escalon::load_flows(std::span<const std::string>(paths));
    const auto model = escalon::SimModel::load(model_path);
    // A simulated month is not precious: sync=normal keeps the file consistent after a crash
    // and is several times faster than an fsync per call.
    if (!db.empty()) store = open_db(db.find(':') == std::string::npos ? "sqlite:" + db + "?sync=normal" : db);
    options.store = store.get();
    const auto result = escalon::simulate(flows, model, options);
    if (tty) std::cerr << '\n';
    std::cout << result.text() << std::flush;
    if (!html.empty()) {
      std::ofstream out(html, std::ios::binary);
      out << result.html(fmt::format("Escalon simulation: {}", model.name()));
      if (!out) {
        std::cerr << fmt::format("escalon simulate: cannot write {}\n", html);
        return exit_invalid;
      }
      std::cerr << fmt::format("wrote {}\n", html);
    }
    if (!db.empty()) std::cerr << fmt::format("cases and journal in {} (escalon report --db {}; escalon inspect --db {})\n", db, db, db);
  } catch (const escalon::FlowError& e) {
    if (tty) std::cerr << '\n';
    for (const auto& d : e.diagnostics()) std::cerr << d.str() << '\n';
    return exit_invalid;
  } catch (const escalon::Error& e) {
    if (tty) std::cerr << '\n';
    std::cerr << "escalon simulate: " << e.what() << '\n';
    return exit_invalid;
  }
  return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Escalon: a workflow and rules engine for contact centers"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "escalon " + std::string(escalon::version));

  std::vector<std::string> v_paths;
  bool v_json = false, v_strict = false;
  auto* validate = app.add_subcommand("validate", "Check flow files and folders; prints file:line:col: error: message");
  validate->add_option("paths", v_paths, "Flow files or folders (folders: every *.yaml/*.yml below)")->required();
  validate->add_flag("--json", v_json, "Print a JSON report for tools");
  validate->add_flag("--strict", v_strict, "Treat warnings as errors");

  std::string g_target, g_format = "dot", g_output;
  std::vector<std::string> g_paths;
  auto* graph = app.add_subcommand("graph", "Print a flow as a graph (Graphviz DOT or Mermaid)");
  graph->add_option("flow", g_target, "A flow file, or a flow id found under --path")->required();
  graph->add_option("--path", g_paths, "Files or folders to load (default: the flow file's folder, or flows/)");
  graph->add_option("--format", g_format, "dot or mermaid")->check(CLI::IsMember({"dot", "mermaid"}));
  graph->add_option("-o,--output", g_output, "Write to this file instead of standard output");

  std::string e_expr, e_data = "{}", e_now, e_flow;
  bool e_type = false;
  auto* eval = app.add_subcommand("eval", "Evaluate one expression against sample data");
  eval->add_option("expression", e_expr, "The expression, e.g. 'priority == high && len(customer) > 0'")->required();
  eval->add_option("--data", e_data, "Case data as a JSON object (ISO-8601 strings become datetimes)");
  eval->add_option("--now", e_now, "What now() returns (ISO-8601); default: the system clock");
  eval->add_option("--flow", e_flow, "Type the data with this flow's schema and make its rules and calendar available");
  eval->add_flag("--type", e_type, "Also print the expression's static type (to standard error)");

  std::vector<std::string> r_paths;
  std::string r_scenario, r_db;
  bool r_quiet = false;
  auto* run = app.add_subcommand("run", "Run a scenario on a virtual clock; prints the journal as JSON Lines, then a summary per case (on standard error)");
  run->add_option("flows", r_paths, "Flow files or folders")->required();
  run->add_option("-s,--scenario", r_scenario, "The scenario file (docs/scenarios.md)")->required()->check(CLI::ExistingFile);
  run->add_flag("-q,--quiet", r_quiet, "Only the journal");
  run->add_option("--db", r_db, "Keep the cases in this SQLite file (default: memory); a second run continues where the first stopped");

  std::string i_db, i_case;
  auto* inspect = app.add_subcommand("inspect", "Show the open cases of a store, or one case's history as a timeline");
  inspect->add_option("--db", i_db, "The store: a SQLite file (cases.db or sqlite:cases.db)")->required();
  inspect->add_option("case", i_case, "A case id: print its history");

  std::string p_db, p_at;
  bool p_json = false, p_csv = false;
  auto* report = app.add_subcommand("report", "KPIs from a store's journal: cases, first-contact resolution, deadlines met, escalations, SLAs, time per step, work queues");
  report->add_option("--db", p_db, "The store: a SQLite file (cases.db or sqlite:cases.db)")->required();
  report->add_flag("--json", p_json, "JSON instead of a text table");
  report->add_flag("--csv", p_csv, "CSV rows metric,group,value");
  report->add_option("--at", p_at, "What 'now' is for overdue work (default: the newest record)");

  std::vector<std::string> s_paths;
  std::string s_model, s_db, s_html, s_start;
  std::int64_t s_days = 30;
  std::uint64_t s_seed = 1;
  auto* simulate = app.add_subcommand("simulate", "Run flows under a workload model on a virtual clock (docs/simulation.md); prints the KPI report");
  simulate->add_option("flows", s_paths, "Flow files or folders")->required();
  simulate->add_option("-m,--model", s_model, "The model file (arrivals, staff, step times, event probabilities)")->required()->check(CLI::ExistingFile);
  simulate->add_option("-d,--days", s_days, "How many days to simulate")->check(CLI::Range(1, 3660));
  simulate->add_option("--seed", s_seed, "Random seed: the same seed gives the same run");
  simulate->add_option("--start", s_start, "When the simulation starts (ISO-8601; default: the model's start)");
  simulate->add_option("--db", s_db, "Write the cases and journal into this SQLite file, which must be new or empty");
  simulate->add_option("--html", s_html, "Also write a self-contained HTML page with charts");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (*validate) return cmd_validate(v_paths, v_json, v_strict);
    if (*graph) return cmd_graph(g_target, g_paths, g_format, g_output);
    if (*eval) return cmd_eval(e_expr, e_data, e_now, e_flow, e_type);
    if (*run) return cmd_run(r_paths, r_scenario, r_db, r_quiet);
    if (*inspect) return cmd_inspect(i_db, i_case);
    if (*simulate) return cmd_simulate(s_paths, s_model, s_days, s_seed, s_db, s_html, s_start);
    if (*report) return cmd_report(p_db, p_json ? "json" : p_csv ? "csv" : "text", p_at);
  } catch (const std::exception& e) {
    std::cerr << "escalon: " << e.what() << '\n';
    return exit_invalid;
  }
  return exit_ok;
}
