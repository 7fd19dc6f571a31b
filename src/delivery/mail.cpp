// Mail: a notification rendered as an RFC 5322 message and sent over SMTP with libcurl.

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <mutex>

#include "delivery/curl_easy.hpp"
#include "delivery/text.hpp"
#include "escalon/channels.hpp"

namespace escalon {
namespace {

// Lines of a header that holds encoded words may be 76 characters long (RFC 2047, 2); the
// first carries "Subject: " (9), each word "=?UTF-8?B?" and "?=" (12): 55 characters of
// base64, so 39 bytes of text per word. Every word is then at most 64 characters.
constexpr std::size_t word_bytes = 39;
// 57 bytes make one 76-character line of base64, the longest MIME allows (RFC 2045, 6.8).
constexpr std::size_t body_line_bytes = 57;

// OpenSSL's encoder, not one of our own: the project links libcrypto already.
std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// "Mon, 23 Nov 2026 08:00:00 +0000" (RFC 5322, 3.3), in UTC.
std::string mail_date(TimePoint t) {
  using namespace std::chrono;
  static constexpr std::array<std::string_view, 7> weekdays{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::array<std::string_view, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{floor<seconds>(t - day)};
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000", weekdays[weekday{day}.c_encoding()],
                     static_cast<unsigned>(ymd.day()), months[static_cast<unsigned>(ymd.month()) - 1],
                     static_cast<int>(ymd.year()), hms.hours().count(), hms.minutes().count(), hms.seconds().count());
}

bool plain_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7E; });
}

// The Subject header. Text from flows and cases is made one line first, so CR or LF in it
// cannot start a header of its own. Plain ASCII that fits one line goes as it is; anything
// else as RFC 2047 encoded words, each holding whole UTF-8 characters, one per line.
std::string subject_header(std::string_view text) {
  const std::string s = detail::one_line(text);
  // "=?" could be read as the start of an encoded word.
  if (plain_ascii(s) && s.find("=?") == std::string::npos && s.size() <= 78 - 9) return "Subject: " + s;
  std::string out = "Subject:";
  for (std::size_t i = 0; i < s.size();) {
    std::size_t end = i;
    while (end < s.size()) {
      const auto c = static_cast<unsigned char>(s[end]);
      const std::size_t len = c < 0x80 ? 1 : detail::utf8_sequence(s, end);  // one_line left it valid
      if (end + len - i > word_bytes) break;
      end += len;
    }
    out += i == 0 ? " " : "\r\n ";
    out += "=?UTF-8?B?" + base64(s.substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

// "To: a@x, b@y", folded before a line passes 78 characters (RFC 5322, 2.1.1).
std::string address_header(std::string_view name, const std::vector<std::string>& addresses) {
  if (addresses.empty()) return fmt::format("{}: undisclosed-recipients:;", name);
  std::string out = fmt::format("{}:", name);
  std::size_t line = out.size();
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    const std::string a = detail::one_line(addresses[i]) + (i + 1 < addresses.size() ? "," : "");
    if (i > 0 && line + 1 + a.size() > 78) {
      out += "\r\n";
      line = 0;
    }
    out += ' ' + a;
    line += 1 + a.size();
  }
  return out;
}

// `<KEY@DOMAIN-OF-FROM>`: the key with every byte outside [A-Za-z0-9._-] written %XX, and a dot that
// would start or end the id or follow another dot too, so the id is a dot-atom (RFC 5322,
// 3.6.4). '%' itself is encoded: two keys never give one id.
std::string message_id(std::string_view key, std::string_view from) {
  std::string id = "<";
  for (std::size_t i = 0; i < key.size(); ++i) {
    const char c = key[i];
    const bool word = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    const bool dot = c == '.' && i > 0 && i + 1 < key.size() && key[i - 1] != '.';
    if (word || dot) id += c;
    else id += fmt::format("%{:02X}", static_cast<unsigned char>(c));
  }
  // The sender's domain: ids of different senders never meet, as RFC 5322 3.6.4 asks.
  return id + "@" + std::string(from.substr(from.rfind('@') + 1)) + ">";
}

// The text: the message (its line ends made CRLF), then what a reader needs to find the case.
std::string body_text(const Notification& n) {
  std::string text;
  std::string_view rest = n.message;
  while (!rest.empty()) {
    const auto eol = rest.find_first_of("\r\n");
    text += detail::one_line(rest.substr(0, eol)) + "\r\n";
    if (eol == std::string_view::npos) break;
    rest.remove_prefix(eol + (rest.substr(eol, 2) == "\r\n" ? 2 : 1));
  }
  text += "\r\n";
  const auto field = [&](std::string_view name, std::string_view value) {
    text += fmt::format("{}: {}\r\n", name, detail::one_line(value));
  };
  field("Case", n.case_id);
  field("Flow", n.flow);
  if (!n.step.empty()) field("Step", n.step);
  field("Reason", n.reason);
  field("Level", std::to_string(n.level));
  if (n.repeat) field("Repeat", std::to_string(n.repeat));
  field("When", format_iso8601(n.at));
  field("Key", n.key);
  return text;
}

std::string default_subject(const Notification& n) {
  if (n.step.empty()) return fmt::format("[Escalon] {}: {}", n.case_id, n.reason);
  return fmt::format("[Escalon] {}: {} at {}", n.case_id, n.reason, n.step);
}

}  // namespace

std::string render_mail(const Notification& n, std::string_view from, const std::vector<std::string>& recipients) {
  std::string mail;
  const auto header = [&](std::string_view line) { mail.append(line).append("\r\n"); };
  header("Date: " + mail_date(n.at));
  header("From: " + detail::one_line(from));
  header(address_header("To", recipients));
  header(subject_header(n.subject.empty() ? default_subject(n) : n.subject));
  if (!n.key.empty()) header("Message-ID: " + message_id(n.key, detail::one_line(from)));
  // RFC 3834: out-of-office robots must not answer a machine.
  header("Auto-Submitted: auto-generated");
  header("MIME-Version: 1.0");
  header("Content-Type: text/plain; charset=UTF-8");
  // Base64, not 8bit (servers without 8BITMIME refuse it) nor quoted-printable: no body line
  // can begin with '.', so SMTP dot-stuffing (libcurl's) never has to touch it.
  header("Content-Transfer-Encoding: base64");
  mail += "\r\n";
  const std::string text = body_text(n);
  for (std::size_t i = 0; i < text.size(); i += body_line_bytes)
    mail += base64(std::string_view(text).substr(i, body_line_bytes)) + "\r\n";
  return mail;
}

namespace {

// libcurl pulls the message through this (CURLOPT_READFUNCTION).
std::size_t read_mail(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto& rest = *static_cast<std::string_view*>(user);
  const std::size_t n = std::min(size * count, rest.size());
  std::memcpy(buffer, rest.data(), n);
  rest.remove_prefix(n);
  return n;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), s.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
         });
}

class MailChannel final : public Channel {
 public:
  explicit MailChannel(MailOptions options) : o_(std::move(options)) {
    if (!starts_with_nocase(o_.url, "smtp://") && !starts_with_nocase(o_.url, "smtps://"))
      throw Error(fmt::format("mail channel: the url '{}' must be smtp://host[:port] or smtps://host[:port]",
                              detail::one_line(detail::redact_url(o_.url))));
    if (!detail::is_mail_address(o_.from))
      throw Error(fmt::format("mail channel: `from` '{}' is not a mail address; write e.g. escalon@example.hr",
                              detail::one_line(o_.from)));
    if (o_.timeout <= std::chrono::milliseconds::zero())
      throw Error("mail channel: the timeout must be positive (libcurl would read 0 as no timeout)");
  }

  void deliver(const Notification& n, std::int32_t /*attempt*/) override {
    const auto recipients = addresses(n);
    const std::string mail = render_mail(n, o_.from, recipients);
    send(mail, recipients);
  }

 private:
  // The addresses of n.to that an SMTP command may carry. Names with none are left out; when
  // none is left, trying again cannot help until the directory changes.
  std::vector<std::string> addresses(const Notification& n) const {
    auto found = o_.directory.resolve(n.to);
    std::erase_if(found, [](const std::string& a) { return !detail::is_mail_address(a); });
    if (!found.empty()) return found;
    if (n.to.empty()) throw PermanentDeliveryError("the notification names no recipients");
    std::string names;
    for (const auto& name : n.to) names += fmt::format("{}'{}'", names.empty() ? "" : ", ", detail::one_line(name));
    throw PermanentDeliveryError(
        fmt::format("no mail address for {}; add them to the directory (`roles:` or `users:`)", names));
  }

  void send(const std::string& mail, const std::vector<std::string>& recipients) {
    const auto curl = pool_.take();
    curl->reset("smtp,smtps", o_.timeout);
    CURL* h = curl->handle();
    detail::CurlList rcpt;
    for (const auto& a : recipients) detail::append(rcpt, "<" + a + ">");
    std::string_view rest = mail;
    const std::string sender = "<" + o_.from + ">";
    detail::check(curl_easy_setopt(h, CURLOPT_URL, o_.url.c_str()), "CURLOPT_URL");
    detail::check(curl_easy_setopt(h, CURLOPT_MAIL_FROM, sender.c_str()), "CURLOPT_MAIL_FROM");
    detail::check(curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt.get()), "CURLOPT_MAIL_RCPT");
    detail::check(curl_easy_setopt(h, CURLOPT_READFUNCTION, &read_mail), "CURLOPT_READFUNCTION");
    detail::check(curl_easy_setopt(h, CURLOPT_READDATA, &rest), "CURLOPT_READDATA");
    detail::check(curl_easy_setopt(h, CURLOPT_UPLOAD, 1L), "CURLOPT_UPLOAD");
    // STARTTLS whenever the server offers it (a mail and a password are not sent in clear text
    // to a server that could encrypt); insisted on with require_tls.
    detail::check(curl_easy_setopt(h, CURLOPT_USE_SSL, static_cast<long>(o_.require_tls ? CURLUSESSL_ALL : CURLUSESSL_TRY)),
                  "CURLOPT_USE_SSL");
    // One refused recipient (a person who left) must not stop the mail to the rest of a role;
    // curl still fails when every recipient is refused.
#if LIBCURL_VERSION_NUM >= 0x080200
    detail::check(curl_easy_setopt(h, CURLOPT_MAIL_RCPT_ALLOWFAILS, 1L), "CURLOPT_MAIL_RCPT_ALLOWFAILS");
#else
    detail::check(curl_easy_setopt(h, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L), "CURLOPT_MAIL_RCPT_ALLLOWFAILS");
#endif
    if (!o_.username.empty()) {
      detail::check(curl_easy_setopt(h, CURLOPT_USERNAME, o_.username.c_str()), "CURLOPT_USERNAME");
      detail::check(curl_easy_setopt(h, CURLOPT_PASSWORD, o_.password.c_str()), "CURLOPT_PASSWORD");
    }
    const CURLcode code = curl->perform();
    if (code == CURLE_OK) return;
    const long reply = curl->response_code();
    throw Error(fmt::format("mail via {} failed: {}{}", detail::redact_url(o_.url), detail::one_line(curl->error_text(code)),
                            reply ? fmt::format(" (server reply {})", reply) : std::string()));
  }

  MailOptions o_;
  detail::CurlPool pool_;
};

}  // namespace

std::shared_ptr<Channel> mail_channel(MailOptions options) { return std::make_shared<MailChannel>(std::move(options)); }

}  // namespace escalon
