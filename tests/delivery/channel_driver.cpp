// Sends notifications through mail_channel or webhook_channel, for tests/delivery/test_channels.py.
//
//   channel_driver mail --url URL --from ADDRESS [--directory FILE] [--username U --password P]
//                       [--require-tls] [--timeout-ms N]
//   channel_driver webhook --url URL [--header "Name: value"]... [--timeout-ms N]
//
// Reads one notification_to_json() line per notification from stdin, delivers each (attempt 1,
// 2, ... in input order) and prints one JSON line per notification:
//   {"key": ..., "outcome": "ok" | "error" | "permanent", "message": ..., "ms": elapsed}
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

#include "escalon/channels.hpp"

namespace {

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "channel_driver: " << why << "\n"
            << "usage: channel_driver mail --url URL --from ADDRESS [--directory FILE] [--username U --password P]\n"
            << "                           [--require-tls] [--timeout-ms N]\n"
            << "       channel_driver webhook --url URL [--header 'Name: value']... [--timeout-ms N]\n";
  std::exit(2);
}

struct Args {
  std::string kind;
  escalon::MailOptions mail;
  escalon::WebhookOptions webhook;
};

Args parse(int argc, char** argv) {
  if (argc < 2) usage("name the channel: mail or webhook");
  Args a;
  a.kind = argv[1];
  if (a.kind != "mail" && a.kind != "webhook") usage("unknown channel '" + a.kind + "'");
  for (int i = 2; i < argc; ++i) {
    const std::string opt = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(opt + " needs a value");
      return argv[++i];
    };
    if (opt == "--url") a.mail.url = a.webhook.url = value();
    else if (opt == "--from") a.mail.from = value();
    else if (opt == "--directory") a.mail.directory = escalon::Directory::from_yaml(value());
    else if (opt == "--username") a.mail.username = value();
    else if (opt == "--password") a.mail.password = value();
    else if (opt == "--require-tls") a.mail.require_tls = true;
    else if (opt == "--timeout-ms") a.mail.timeout = a.webhook.timeout = std::chrono::milliseconds{std::stol(value())};
    else if (opt == "--header") {
      const std::string h = value();
      const auto colon = h.find(": ");
      if (colon == std::string::npos) usage("--header takes 'Name: value'");
      a.webhook.headers.emplace_back(h.substr(0, colon), h.substr(colon + 2));
    } else {
      usage("unknown option " + opt);
    }
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args args = parse(argc, argv);
    const auto channel = args.kind == "mail" ? escalon::mail_channel(args.mail) : escalon::webhook_channel(args.webhook);
    std::string line;
    std::int32_t attempt = 0;
    while (std::getline(std::cin, line)) {
      if (line.empty()) continue;
      const auto n = escalon::notification_from_json(line);
      nlohmann::json out{{"key", n.key}, {"outcome", "ok"}, {"message", ""}};
      const auto start = std::chrono::steady_clock::now();
      try {
        channel->deliver(n, ++attempt);
      } catch (const escalon::PermanentDeliveryError& e) {
        out["outcome"] = "permanent";
        out["message"] = e.what();
      } catch (const escalon::Error& e) {
        out["outcome"] = "error";
        out["message"] = e.what();
      }
      out["ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
      std::cout << out.dump() << std::endl;
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "channel_driver: " << e.what() << "\n";
    return 1;
  }
}
