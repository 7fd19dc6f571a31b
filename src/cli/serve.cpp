// `escalon serve`: an engine on the system clock with the built-in channels, for operating a
// store without writing a host. See serve.hpp.

#include "cli/serve.hpp"

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <iostream>
#include <memory>

#include "cli/db.hpp"
#include "escalon/engine.hpp"
#include "escalon/error.hpp"

namespace escalon::cli {

namespace {

// A usage error in CLI11's form ("message", then "Run with --help..."), exit status 2: the
// status the usual Unix tools give a wrong option, so scripts can tell it from a store error.
[[noreturn]] void usage_error(const std::string& message) { throw CLI::ValidationError(message, 2); }

bool has_scheme(const std::string& url, std::initializer_list<const char*> schemes) {
  for (const char* s : schemes)
    if (url.rfind(s, 0) == 0 && url.size() > std::strlen(s)) return true;
  return false;
}

// "webhook", "webhook-2", ...: a channel's name is its outbox entries' key, so it must stay the
// same from one start to the next (the same options in the same order give the same names).
std::string channel_name(const char* base, std::size_t index) {
  return index == 0 ? std::string(base) : fmt::format("{}-{}", base, index + 1);
}

// The channels the options ask for, registered under their names; returns "mail (url), ...".
std::string add_channels(Engine& engine, const ServeArgs& a) {
  std::vector<std::string> shown;
  for (std::size_t i = 0; i < a.mail_urls.size(); ++i) {
    engine.add_channel(channel_name("mail", i),
                       mail_channel({.url = a.mail_urls[i], .from = a.from, .directory = a.directory}));
    shown.push_back(fmt::format("{} ({})", channel_name("mail", i), a.mail_urls[i]));
  }
  for (std::size_t i = 0; i < a.webhook_urls.size(); ++i) {
    engine.add_channel(channel_name("webhook", i), webhook_channel({.url = a.webhook_urls[i]}));
    shown.push_back(fmt::format("{} ({})", channel_name("webhook", i), a.webhook_urls[i]));
  }
  // Without a channel notifications get no outbox entry at all: say so rather than "none".
  return shown.empty() ? std::string("none (notifications are journaled, not delivered)")
                       : fmt::format("{}", fmt::join(shown, ", "));
}

std::string flow_list(const Engine& engine) {
  std::vector<std::string> names;
  for (const auto& f : engine.flows()) names.push_back(fmt::format("{} v{}", f->id, f->version));
  return fmt::format("{}", fmt::join(names, ", "));
}

// Waits for `work` (recover(), stop_runner()) while taking SIGTERM and SIGINT. Both can take
// long: recover() delivers the backlog and the runner a batch of every due queue, one entry
// after the other, so a slow or hanging channel holds them. The first signal is kept in
// `signal` (serve stops once the work is done); a second one ends the process at once. That
// loses nothing committed: what a channel took without its `delivered` commit is delivered
// again on the next start, as after a SIGKILL.
void wait_taking_signals(std::future<void>& work, const sigset_t& stop_signals, int& signal, const char* what) {
  const timespec tick{0, 50'000'000};
  bool told = false;
  for (int waited = 0; work.wait_for(std::chrono::seconds{0}) != std::future_status::ready; ++waited) {
    siginfo_t info{};
    if (sigtimedwait(&stop_signals, &info, &tick) > 0) {
      if (signal != 0) {
        std::cerr << fmt::format(
            "escalon serve: second signal: exiting without waiting for {} (deliveries in progress "
            "are delivered again on the next start)\n",
            what);
        std::_Exit(128 + info.si_signo);
      }
      signal = info.si_signo;
    }
    if (signal != 0 && !told && waited >= 20) {  // a second: say why nothing seems to happen
      std::cerr << fmt::format("escalon serve: waiting for {}; a second SIGTERM or SIGINT exits at once\n", what);
      told = true;
    }
  }
  work.get();  // what it threw
}

}  // namespace

void ServeArgs::add(CLI::App& app) {
  cmd = app.add_subcommand("serve",
                           "Run a store until SIGTERM or SIGINT: deadlines and escalations fire on the system clock, "
                           "notifications go out by mail and webhooks (docs/delivery.md)");
  cmd->add_option("--db", db, db_help)->required();
  cmd->add_option("--flows", flows, "Flow files or folders")->required();
  cmd->add_option("--notify", mail_urls,
                  "Mail notifications through this SMTP server (smtp://host:port or smtps://...); "
                  "needs --from and --directory. Channel \"mail\" (then \"mail-2\", ...)");
  cmd->add_option("--from", from, "The sender address of the mail");
  cmd->add_option("--directory", directory_path, "The YAML file of addresses for roles and users (docs/channels.md)");
  cmd->add_option("--webhook", webhook_urls,
                  "POST notifications to this URL (http:// or https://); channel \"webhook\", then "
                  "\"webhook-2\", ... for more");
  cmd->add_option("--max-attempts", max_attempts, "Tries per notification before it is dead-lettered")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--first-retry", first_retry,
                  "Seconds before the first retry of a failed delivery (doubles after each)")
      ->check(CLI::Range(0.001, 86400.0));
  cmd->callback([this] { check(); });
}

void ServeArgs::check() {
  for (const auto& url : mail_urls)
    if (!has_scheme(url, {"smtp://", "smtps://"}))
      usage_error(fmt::format("--notify: '{}' is not an smtp:// or smtps:// URL", url));
  for (const auto& url : webhook_urls)
    if (!has_scheme(url, {"http://", "https://"}))
      usage_error(fmt::format("--webhook: '{}' is not an http:// or https:// URL", url));
  if (mail_urls.empty()) {
    if (!from.empty() || !directory_path.empty())
      usage_error("--from and --directory are for mail: give --notify smtp://HOST:PORT too");
    return;
  }
  if (from.empty() || from.find('@') == std::string::npos)
    usage_error("--notify needs --from ADDRESS (the sender of the mail, with an '@')");
  if (directory_path.empty())
    usage_error("--notify needs --directory FILE (the addresses of the roles the flows notify)");
  try {
    directory = Directory::from_yaml(directory_path);
  } catch (const Error& e) {
    usage_error(fmt::format("--directory: {}", e.what()));
  }
}

int ServeArgs::run() const {
  // Blocked before the engine starts any thread (the runner, libcurl's): every thread inherits
  // the mask, so SIGTERM and SIGINT wait for sigwait() below instead of ending the process in
  // the middle of a commit, and no signal handler has to do anything.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // A mail or webhook server that closes its TLS connection mid-write must fail that delivery,
  // not end the process: libcurl leaves SIGPIPE alone with CURLOPT_NOSIGNAL.
  ::signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<Engine> engine;
  int signal = 0;
  try {
    // No clock: the engine's default, the system clock.
    EngineOptions options{.store = open_db(db), .delivery = {.max_attempts = max_attempts}};
    options.delivery.first_retry = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(first_retry));
    engine = std::make_unique<Engine>(std::move(options));
    engine->load(std::span<const std::string>(flows));
    const std::string channels = add_channels(*engine, *this);
    std::size_t recovered = 0;
    auto starting = std::async(std::launch::async, [&] {
      recovered = engine->recover();
      engine->start_runner();
    });
    wait_taking_signals(starting, stop_signals, signal, "the recovery of the store");
    std::cerr << fmt::format(
        "escalon serve: store {}, flows {}, channels {}; {} open cases, {} notifications in the outbox; "
        "running until SIGTERM or SIGINT\n",
        db, flow_list(*engine), channels, recovered, engine->outbox().size());
  } catch (const FlowError& e) {
    for (const auto& d : e.diagnostics()) std::cerr << d.str() << '\n';
    return 1;
  } catch (const Error& e) {  // StoreError and the rest: the store cannot be run
    std::cerr << "escalon serve: " << e.what() << '\n';
    return 1;
  }
  // Wakes every second to see whether the store failed: the runner stops then, and a serve
  // that went on idling would look alive to its supervisor while firing nothing.
  std::string failure;
  const timespec check_every{1, 0};
  while (signal == 0 && (failure = engine->store_failure()).empty()) {
    siginfo_t info{};
    if (sigtimedwait(&stop_signals, &info, &check_every) > 0) signal = info.si_signo;
  }
  if (!failure.empty()) {
    std::cerr << fmt::format("escalon serve: the store failed, stopping: {}\n", failure);
    engine.reset();
    return 1;
  }
  auto stopping = std::async(std::launch::async, [&] { engine->stop_runner(); });
  wait_taking_signals(stopping, stop_signals, signal, "the deliveries in progress");
  const std::size_t waiting = engine->outbox().size();
  engine.reset();  // closes the store
  std::cerr << fmt::format("escalon serve: stopped on {}; {} notifications left in the outbox of {}\n",
                           signal == SIGINT ? "SIGINT" : "SIGTERM", waiting, db);
  return 0;
}

}  // namespace escalon::cli
