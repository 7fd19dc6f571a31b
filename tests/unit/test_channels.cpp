// The built-in channels without servers: the directory file, the mail a notification becomes,
// and the failures a channel reports before (or instead of) talking to a server.
// tests/delivery/test_channels.py sends through real SMTP and HTTP servers.
#include "support.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "escalon/channels.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace escalon;
namespace fs = std::filesystem;

namespace {

// A directory file with `text`, removed at the end of the test.
struct DirectoryFile {
  fs::path path;
  explicit DirectoryFile(const std::string& text)
      : path(fs::temp_directory_path() / fmt::format("escalon-directory-{}.yaml", ::getpid())) {
    std::ofstream(path, std::ios::binary) << text;
  }
  ~DirectoryFile() { fs::remove(path); }
  DirectoryFile(const DirectoryFile&) = delete;
  DirectoryFile& operator=(const DirectoryFile&) = delete;
};

// The message from_yaml throws for `text`, its file name written as "directory.yaml".
std::string directory_error(const std::string& text) {
  DirectoryFile f(text);
  try {
    (void)Directory::from_yaml(f.path.string());
  } catch (const Error& e) {
    std::string what = e.what();
    const std::string path = f.path.string();
    if (what.starts_with(path)) what = "directory.yaml" + what.substr(path.size());
    return what;
  }
  return "(no error)";
}

// An independent base64 decoder (not the library's encoder read backwards). nullopt when `s`
// is not canonical base64.
std::optional<std::string> unbase64(std::string_view s) {
  static constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  if (s.size() % 4 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < s.size(); i += 4) {
    std::uint32_t bits = 0;
    int pad = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = s[i + k];
      std::uint32_t v = 0;
      if (c == '=' && i + 4 == s.size() && k >= 2) {
        ++pad;
      } else {
        if (pad) return std::nullopt;
        const auto p = alphabet.find(c);
        if (p == std::string_view::npos) return std::nullopt;
        v = static_cast<std::uint32_t>(p);
      }
      bits = bits << 6 | v;
    }
    out += static_cast<char>(bits >> 16 & 0xFF);
    if (pad < 2) out += static_cast<char>(bits >> 8 & 0xFF);
    if (pad < 1) out += static_cast<char>(bits & 0xFF);
  }
  return out;
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

// A rendered mail taken apart: its header lines (as sent), the unfolded fields by name, and the
// decoded body.
struct Mail {
  std::vector<std::string> header_lines;
  std::multimap<std::string, std::string> fields;
  std::string body;
};

std::vector<std::string> crlf_lines(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    const auto eol = text.find("\r\n");
    REQUIRE(eol != std::string_view::npos);  // the text ends with CRLF
    const auto line = text.substr(0, eol);
    INFO(std::string(line));
    REQUIRE(line.find_first_of("\r\n") == std::string_view::npos);  // no bare CR or LF
    lines.emplace_back(line);
    text.remove_prefix(eol + 2);
  }
  return lines;
}

Mail parse_mail(const std::string& text) {
  const auto split = text.find("\r\n\r\n");
  REQUIRE(split != std::string::npos);
  Mail m;
  m.header_lines = crlf_lines(std::string_view(text).substr(0, split + 2));
  std::vector<std::string> unfolded;
  for (const auto& line : m.header_lines) {
    REQUIRE(line.size() <= 78);
    if (line.starts_with(' ') || line.starts_with('\t')) {
      REQUIRE(!unfolded.empty());
      unfolded.back() += line;
    } else {
      unfolded.push_back(line);
    }
  }
  for (const auto& f : unfolded) {
    const auto colon = f.find(':');
    INFO(f);
    REQUIRE(colon != std::string::npos);
    REQUIRE(f.substr(colon, 2) == ": ");
    m.fields.emplace(f.substr(0, colon), f.substr(colon + 2));
  }
  std::string encoded;
  for (const auto& line : crlf_lines(std::string_view(text).substr(split + 4))) {
    REQUIRE(line.size() <= 76);
    encoded += line;
  }
  auto body = unbase64(encoded);
  REQUIRE(body);
  m.body = *body;
  return m;
}

std::string field(const Mail& m, const std::string& name) {
  INFO(name);
  REQUIRE(m.fields.count(name) == 1);
  return m.fields.find(name)->second;
}

// The text of an unstructured header value: plain, or RFC 2047 B-encoded UTF-8 words that
// each stay within 75 characters and each hold whole characters.
std::string decode_words(const std::string& value) {
  if (!value.starts_with("=?")) return value;
  std::string text;
  std::size_t i = 0;
  while (i < value.size()) {
    if (value[i] == ' ') {
      ++i;
      continue;
    }
    const auto end = value.find("?=", i + 10);
    REQUIRE(end != std::string::npos);
    const std::string word = value.substr(i, end + 2 - i);
    INFO(word);
    CHECK(word.size() <= 75);
    REQUIRE(word.starts_with("=?UTF-8?B?"));
    const auto bytes = unbase64(std::string_view(word).substr(10, word.size() - 12));
    REQUIRE(bytes);
    CHECK(valid_utf8(*bytes));
    text += *bytes;
    i = end + 2;
  }
  return text;
}

Notification sample() {
  Notification n;
  n.at = test::at("2026-11-23T08:05:09Z");
  n.case_id = "c17";
  n.flow = "technician-visit";
  n.step = "dispatch";
  n.to = {"dispatch-lead"};
  n.message = "Visit not scheduled within 4h";
  n.reason = "escalation";
  n.level = 2;
  n.key = "c17/42";
  return n;
}

// A local TCP port that refuses connections: bound, never listening. Closed with the object.
struct RefusingPort {
  int fd = -1;
  int port = 0;
  RefusingPort() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
  }
  ~RefusingPort() { ::close(fd); }
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
};

}  // namespace

TEST_CASE("A directory file gives roles and users", "[channels]") {
  DirectoryFile f(R"(roles:
  dispatch-lead: [ana@example.hr, ivo@example.hr]
  parts-desk:
    - parts@example.hr
  nobody-yet: []
users:
  ana: ana@example.hr
  marko: "marko.horvat@example.hr"
)");
  const auto d = Directory::from_yaml(f.path.string());
  CHECK(d.roles.size() == 3);
  CHECK(d.roles.at("dispatch-lead") == std::vector<std::string>{"ana@example.hr", "ivo@example.hr"});
  CHECK(d.roles.at("parts-desk") == std::vector<std::string>{"parts@example.hr"});
  CHECK(d.roles.at("nobody-yet").empty());
  CHECK(d.users == std::map<std::string, std::string, std::less<>>{{"ana", "ana@example.hr"}, {"marko", "marko.horvat@example.hr"}});
}

TEST_CASE("A malformed directory file fails at the line and column of the problem", "[channels]") {
  CHECK(directory_error("- ana@example.hr\n") ==
        "directory.yaml:1:1: a directory is a map with `roles:` (role: [addresses]) and `users:` (name: address)");
  CHECK(directory_error("roles:\n  lead: ana@example.hr\n") ==
        "directory.yaml:2:9: role 'lead' must be a list of addresses, e.g. lead: [ana@example.hr]");
  CHECK(directory_error("roles:\n  lead: [ana@example.hr, ivo]\n") ==
        "directory.yaml:2:26: 'ivo' is not a mail address: it has no '@'; write e.g. ana@example.hr");
  CHECK(directory_error("users:\n  ana: ana.example.hr\n") ==
        "directory.yaml:2:8: 'ana.example.hr' is not a mail address: it has no '@'; write e.g. ana@example.hr");
  CHECK(directory_error("users:\n  ana: \"ana <ana@example.hr>\"\n") ==
        "directory.yaml:2:8: 'ana <ana@example.hr>' is not a mail address: write name@domain in ASCII, with one '@' "
        "and without spaces or any of <>()[],;:\"\\");
  CHECK(directory_error("roles:\n  lead: [[ana@example.hr]]\n") ==
        "directory.yaml:2:10: each entry of a role must be a mail address, e.g. ana@example.hr");
  CHECK(directory_error("roles: {}\nuser:\n  ana: ana@example.hr\n") ==
        "directory.yaml:2:1: unknown key 'user'; a directory has `roles:` and `users:`; did you mean 'users'?");
  CHECK(directory_error("roles:\n  - lead\n") == "directory.yaml:2:3: `roles:` must be a map of role: [addresses]");
  CHECK(directory_error("roles:\n  lead: [a@x.hr]\n  lead: [b@x.hr]\n") ==
        "directory.yaml:3:3: role 'lead' is listed twice; merge its addresses");
  CHECK(directory_error("roles: [a@x.hr\n").starts_with("directory.yaml:2:1: invalid YAML: "));
  CHECK(directory_error("").starts_with("directory.yaml:1:1: a directory is a map"));
}

TEST_CASE("A directory file that cannot be read names the file", "[channels]") {
  const auto missing = (fs::temp_directory_path() / "escalon-no-such-directory.yaml").string();
  try {
    (void)Directory::from_yaml(missing);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.where().file == missing);
    CHECK(std::string(e.what()) == missing + ": cannot read the directory: No such file or directory");
  }
}

TEST_CASE("Directory resolve keeps the order and drops duplicates and unknown names", "[channels]") {
  Directory d;
  d.roles = {{"dispatch-lead", {"ana@example.hr", "ivo@example.hr"}}, {"parts-desk", {"parts@example.hr"}}};
  d.users = {{"ana", "ana@example.hr"}, {"marko", "marko@example.hr"}};
  CHECK(d.resolve({"parts-desk", "dispatch-lead", "user:ana", "x@y.hr", "nobody", "user:ghost", "user:marko",
                   "ivo@example.hr", "marko", "x@y.hr"}) ==
        std::vector<std::string>{"parts@example.hr", "ana@example.hr", "ivo@example.hr", "x@y.hr", "marko@example.hr"});
  CHECK(d.resolve({}).empty());
  CHECK(d.resolve({"nobody", "user:", "user:nobody"}).empty());
}

TEST_CASE("A mail has the RFC 5322 headers and a base64 UTF-8 body", "[channels]") {
  const auto n = sample();
  const auto m = parse_mail(render_mail(n, "escalon@example.hr", {"ana@example.hr", "ivo@example.hr"}));
  CHECK(field(m, "Date") == "Mon, 23 Nov 2026 08:05:09 +0000");
  CHECK(field(m, "From") == "escalon@example.hr");
  CHECK(field(m, "To") == "ana@example.hr, ivo@example.hr");
  CHECK(field(m, "Subject") == "[Escalon] c17: escalation at dispatch");
  CHECK(field(m, "Message-ID") == "<c17%2F42@example.hr>");
  CHECK(field(m, "MIME-Version") == "1.0");
  CHECK(field(m, "Content-Type") == "text/plain; charset=UTF-8");
  CHECK(field(m, "Content-Transfer-Encoding") == "base64");
  CHECK(field(m, "Auto-Submitted") == "auto-generated");
  CHECK(m.fields.size() == 9);
  CHECK(m.body ==
        "Visit not scheduled within 4h\r\n\r\nCase: c17\r\nFlow: technician-visit\r\nStep: dispatch\r\n"
        "Reason: escalation\r\nLevel: 2\r\nWhen: 2026-11-23T08:05:09Z\r\nKey: c17/42\r\n");
}

TEST_CASE("The mail Date is the notification's instant in UTC", "[channels]") {
  auto n = sample();
  n.at = test::at("2024-02-29T23:59:59.999+00:00");
  CHECK(field(parse_mail(render_mail(n, "e@x.hr", {"a@x.hr"})), "Date") == "Thu, 29 Feb 2024 23:59:59 +0000");
  n.at = test::at("2027-01-01T00:30:00+01:00");
  CHECK(field(parse_mail(render_mail(n, "e@x.hr", {"a@x.hr"})), "Date") == "Thu, 31 Dec 2026 23:30:00 +0000");
}

TEST_CASE("A mail without a subject or step gets the default subject", "[channels]") {
  auto n = sample();
  n.step.clear();
  n.reason = "sla-breached";
  const auto m = parse_mail(render_mail(n, "e@x.hr", {"a@x.hr"}));
  CHECK(field(m, "Subject") == "[Escalon] c17: sla-breached");
  CHECK(m.body.find("Step:") == std::string::npos);
}

TEST_CASE("A UTF-8 subject is sent as encoded words that decode to it", "[channels]") {
  auto n = sample();
  n.subject = "Eskalacija 2. razine: kupac Đurđević čeka već 3 dana — žurno! 🚨 Ćevapi & šljive";
  const auto mail = render_mail(n, "e@x.hr", {"a@x.hr"});
  const auto m = parse_mail(mail);
  const auto subject = field(m, "Subject");
  CHECK(subject.starts_with("=?UTF-8?B?"));
  CHECK(decode_words(subject) == n.subject);
  std::size_t lines = 0;
  for (const auto& l : m.header_lines)
    if (l.starts_with("Subject:") || (lines && l.starts_with(' '))) {
      ++lines;
      CHECK(l.size() <= 76);  // RFC 2047: lines holding encoded words
    } else if (lines) {
      break;
    }
  CHECK(lines >= 3);  // the subject is long enough to need several words

  n.subject = "=?UTF-8?B?SGk=?= is ASCII";  // looks encoded: sent encoded, so it reads back as written
  CHECK(decode_words(field(parse_mail(render_mail(n, "e@x.hr", {"a@x.hr"})), "Subject")) == n.subject);
  n.subject = std::string(70, 'x') + " long ascii";  // too long for one line
  CHECK(decode_words(field(parse_mail(render_mail(n, "e@x.hr", {"a@x.hr"})), "Subject")) == n.subject);
  n.subject = "bad \xC3 byte";
  CHECK(decode_words(field(parse_mail(render_mail(n, "e@x.hr", {"a@x.hr"})), "Subject")) == "bad \xEF\xBF\xBD byte");
}

TEST_CASE("CR and LF in flow or case text cannot add a mail header", "[channels]") {
  auto n = sample();
  n.subject = "Hello\r\nBcc: evil@example.com";
  n.case_id = "c1\nX-Injected: yes";
  n.message = "line one\r\nBcc: evil2@example.com\r\n\r\nX-After-Blank: 1\n";
  for (const bool utf8 : {false, true}) {
    if (utf8) n.subject = "Čekanje\r\nBcc: evil@example.com";
    const auto mail = render_mail(n, "e@x.hr\r\nBcc: evil3@example.com", {"a@x.hr\r\nBcc: evil4@example.com"});
    const auto m = parse_mail(mail);
    CHECK(m.fields.count("Bcc") == 0);
    CHECK(m.fields.count("X-Injected") == 0);
    CHECK(m.fields.count("X-After-Blank") == 0);
    CHECK(m.fields.size() == 9);
    CHECK(decode_words(field(m, "Subject")) == (utf8 ? "Čekanje  Bcc: evil@example.com" : "Hello  Bcc: evil@example.com"));
    CHECK(m.body.starts_with("line one\r\nBcc: evil2@example.com\r\n\r\nX-After-Blank: 1\r\n\r\nCase: c1 X-Injected: yes\r\n"));
  }
}

TEST_CASE("The Message-ID is a valid id from any key", "[channels]") {
  auto n = sample();
  const auto id = [&](std::string key) {
    n.key = std::move(key);
    return field(parse_mail(render_mail(n, "e@x.hr", {"a@x.hr"})), "Message-ID");
  };
  CHECK(id("c17/42") == "<c17%2F42@x.hr>");
  CHECK(id("c17/42-2") == "<c17%2F42-2@x.hr>");
  CHECK(id("ticket.7/3") == "<ticket.7%2F3@x.hr>");
  CHECK(id(".a..b.") == "<%2Ea.%2Eb%2E@x.hr>");  // a dot-atom: no dot at the ends, none after a dot
  CHECK(id("50% <off>@x") == "<50%25%20%3Coff%3E%40x@x.hr>");
  CHECK(id("a%2F") != id("a/"));
  n.key.clear();
  CHECK(parse_mail(render_mail(n, "e@x.hr", {"a@x.hr"})).fields.count("Message-ID") == 0);
}

TEST_CASE("No line of a mail starts with a dot, whatever the message", "[channels]") {
  auto n = sample();
  n.message = ".\n..\n.hidden\r\n. end";
  const auto mail = render_mail(n, "e@x.hr", {"a@x.hr"});
  CHECK(mail.find("\r\n.") == std::string::npos);
  CHECK(parse_mail(mail).body.starts_with(".\r\n..\r\n.hidden\r\n. end\r\n\r\nCase: c17\r\n"));
}

TEST_CASE("Many recipients are folded onto lines of at most 78 characters", "[channels]") {
  std::vector<std::string> to;
  std::string joined;
  for (int i = 0; i < 12; ++i) {
    to.push_back(fmt::format("person.number.{}@example.hr", i));
    joined += (i ? ", " : "") + to.back();
  }
  const auto m = parse_mail(render_mail(sample(), "e@x.hr", to));  // parse_mail checks the lengths
  CHECK(field(m, "To") == joined);
  CHECK(field(parse_mail(render_mail(sample(), "e@x.hr", {})), "To") == "undisclosed-recipients:;");
}

TEST_CASE("A mail channel refuses a bad url, sender or timeout when it is made", "[channels]") {
  CHECK_THROWS_WITH(mail_channel({.url = "http://mail.local", .from = "e@x.hr"}),
                    "mail channel: the url 'http://mail.local' must be smtp://host[:port] or smtps://host[:port]");
  CHECK_THROWS_WITH(mail_channel({.url = "ftp://user:s3cret@mail.local", .from = "e@x.hr"}),
                    "mail channel: the url 'ftp://mail.local' must be smtp://host[:port] or smtps://host[:port]");
  CHECK_THROWS_WITH(mail_channel({.url = "smtp://mail.local", .from = "escalon"}),
                    "mail channel: `from` 'escalon' is not a mail address; write e.g. escalon@example.hr");
  CHECK_THROWS_AS(mail_channel({.url = "smtp://mail.local", .from = "e@x.hr", .timeout = std::chrono::milliseconds{0}}),
                  Error);
  CHECK_NOTHROW(mail_channel({.url = "SMTPS://mail.local:465", .from = "e@x.hr"}));
}

TEST_CASE("Mail with no address for any recipient is a permanent failure naming them", "[channels]") {
  RefusingPort port;  // were a connection tried, the failure would be an ordinary Error
  Directory d;
  d.roles = {{"dispatch-lead", {"ana@example.hr"}}, {"empty", {}}};
  auto channel = mail_channel({.url = fmt::format("smtp://127.0.0.1:{}", port.port), .from = "e@x.hr", .directory = d});
  auto n = sample();
  n.to = {"nobody", "user:ghost", "empty", "bad@address@x"};
  CHECK_THROWS_MATCHES(channel->deliver(n, 1), PermanentDeliveryError,
                       Catch::Message("no mail address for 'nobody', 'user:ghost', 'empty', 'bad@address@x'; add them "
                                      "to the directory (`roles:` or `users:`)"));
  n.to.clear();
  CHECK_THROWS_MATCHES(channel->deliver(n, 1), PermanentDeliveryError, Catch::Message("the notification names no recipients"));
}

TEST_CASE("A mail server that refuses the connection is an ordinary failure without the password", "[channels]") {
  RefusingPort port;
  Directory d;
  d.roles = {{"dispatch-lead", {"ana@example.hr"}}};
  auto channel = mail_channel({.url = fmt::format("smtp://escalon:url-secret@127.0.0.1:{}", port.port),
                               .from = "e@x.hr",
                               .directory = d,
                               .username = "escalon",
                               .password = "option-secret",
                               .timeout = std::chrono::milliseconds{3000}});
  try {
    channel->deliver(sample(), 1);
    FAIL("delivered to a closed port");
  } catch (const PermanentDeliveryError& e) {
    FAIL(std::string("permanent: ") + e.what());
  } catch (const Error& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.starts_with(fmt::format("mail via smtp://127.0.0.1:{} failed: ", port.port)));
    CHECK(what.find("secret") == std::string::npos);
  }
}

TEST_CASE("A webhook channel refuses a bad url or header when it is made", "[channels]") {
  CHECK_THROWS_WITH(webhook_channel({.url = "smtp://crm.local"}),
                    "webhook channel: the url 'smtp://crm.local' must be http://... or https://...");
  CHECK_THROWS_WITH(webhook_channel({.url = "https://crm.local", .headers = {{"X Token", "a"}}}),
                    "webhook channel: 'X Token' is not a header name");
  CHECK_THROWS_WITH(webhook_channel({.url = "https://crm.local", .headers = {{"X-Token", "a\r\nX-Evil: 1"}}}),
                    "webhook channel: the value of header X-Token holds a line end or NUL");
  CHECK_THROWS_WITH(webhook_channel({.url = "https://crm.local", .headers = {{"idempotency-key", "a"}}}),
                    "webhook channel: the channel sets the header Idempotency-Key itself");
  CHECK_NOTHROW(webhook_channel({.url = "HTTP://crm.local/hook", .headers = {{"Authorization", "Bearer abc"}}}));
}

TEST_CASE("A webhook that refuses the connection is an ordinary failure", "[channels]") {
  RefusingPort port;
  // Secrets hide in paths and queries as often as in user:password@: none reaches the message.
  auto channel = webhook_channel({.url = fmt::format("http://user:secret@127.0.0.1:{}/services/T1/secret-9?token=secret", port.port)});
  try {
    channel->deliver(sample(), 1);
    FAIL("delivered to a closed port");
  } catch (const PermanentDeliveryError& e) {
    FAIL(std::string("permanent: ") + e.what());
  } catch (const Error& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.starts_with(fmt::format("webhook http://127.0.0.1:{}/... failed: ", port.port)));
    CHECK(what.find("secret") == std::string::npos);
  }
}
