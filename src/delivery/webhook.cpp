// Webhooks: a notification POSTed as JSON with libcurl.

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "delivery/curl_easy.hpp"
#include "delivery/text.hpp"
#include "escalon/channels.hpp"
#include "escalon/version.hpp"

namespace escalon {
namespace {

// How much of a refusing server's answer goes into the error (and so into the journal).
constexpr std::size_t answer_bytes = 200;

bool equal_nocase(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  });
}

// RFC 9110 token characters: what a header name may be made of.
bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

// The idempotency key as a header value: bytes outside visible ASCII, and '%', written %XX.
// Keys are ASCII in practice ("<case id>/<seq>"), so this is the key itself; a case id with
// other bytes still gives one header line that maps back to one key.
std::string header_value(std::string_view key) {
  std::string out;
  for (const char ch : key) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F || c == '%') out += fmt::format("%{:02X}", c);
    else out += ch;
  }
  return out;
}

// libcurl hands the answer over in pieces; the first answer_bytes are kept, the rest read and
// dropped (refusing it would turn a clear status into a transport error).
std::size_t keep_answer(char* data, std::size_t size, std::size_t count, void* user) {
  auto& answer = *static_cast<std::string*>(user);
  const std::size_t n = size * count;
  if (answer.size() < answer_bytes) answer.append(data, std::min(n, answer_bytes - answer.size()));
  return n;
}

class WebhookChannel final : public Channel {
 public:
  explicit WebhookChannel(WebhookOptions options) : o_(std::move(options)) {
    const std::string_view url = o_.url;
    if (!equal_nocase(url.substr(0, 7), "http://") && !equal_nocase(url.substr(0, 8), "https://"))
      throw Error(fmt::format("webhook channel: the url '{}' must be http://... or https://...",
                              detail::one_line(detail::redact_url(o_.url))));
    if (o_.timeout <= std::chrono::milliseconds::zero())
      throw Error("webhook channel: the timeout must be positive (libcurl would read 0 as no timeout)");
    for (const auto& [name, value] : o_.headers) check_header(name, value);
  }

  void deliver(const Notification& n, std::int32_t /*attempt*/) override {
    const std::string body = notification_to_json(n);
    std::string answer;
    const long status = post(body, n.key, answer);
    if (status >= 200 && status <= 299) return;
    const std::string text = fmt::format("webhook {} answered {}{}", detail::redact_url(o_.url), status,
                                         answer.empty() ? "" : ": " + detail::one_line(detail::utf8_prefix(answer, answer_bytes)));
    // Timeouts, throttling and server trouble pass; any other answer will be the same next time.
    if (status == 408 || status == 429 || (status >= 500 && status <= 599)) throw Error(text);
    throw PermanentDeliveryError(text);
  }

 private:
  static void check_header(const std::string& name, const std::string& value) {
    if (!is_token(name))
      throw Error(fmt::format("webhook channel: '{}' is not a header name", detail::one_line(name)));
    for (const std::string_view own : {"Content-Type", "Content-Length", "Idempotency-Key", "Expect"})
      if (equal_nocase(name, own)) throw Error(fmt::format("webhook channel: the channel sets the header {} itself", own));
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
      throw Error(fmt::format("webhook channel: the value of header {} holds a line end or NUL", name));
  }

  // One POST; the HTTP status, or Error when no answer came (retried by the engine).
  long post(const std::string& body, std::string_view key, std::string& answer) {
    const auto curl = pool_.take();
    curl->reset("http,https", o_.timeout);
    CURL* h = curl->handle();
    detail::CurlList headers;
    detail::append(headers, "Content-Type: application/json");
    if (!key.empty()) detail::append(headers, "Idempotency-Key: " + header_value(key));
    // Without this, curl waits up to a second for "100 Continue" before sending a larger body.
    detail::append(headers, "Expect:");
    for (const auto& [name, value] : o_.headers) detail::append(headers, name + ": " + value);
    const std::string agent = fmt::format("escalon/{}", version());
    detail::check(curl_easy_setopt(h, CURLOPT_URL, o_.url.c_str()), "CURLOPT_URL");
    detail::check(curl_easy_setopt(h, CURLOPT_POST, 1L), "CURLOPT_POST");
    detail::check(curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str()), "CURLOPT_POSTFIELDS");
    detail::check(curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size())),
                  "CURLOPT_POSTFIELDSIZE_LARGE");
    detail::check(curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get()), "CURLOPT_HTTPHEADER");
    detail::check(curl_easy_setopt(h, CURLOPT_USERAGENT, agent.c_str()), "CURLOPT_USERAGENT");
    detail::check(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &keep_answer), "CURLOPT_WRITEFUNCTION");
    detail::check(curl_easy_setopt(h, CURLOPT_WRITEDATA, &answer), "CURLOPT_WRITEDATA");
    const CURLcode code = curl->perform();
    if (code != CURLE_OK)
      throw Error(fmt::format("webhook {} failed: {}", detail::redact_url(o_.url), detail::one_line(curl->error_text(code))));
    return curl->response_code();
  }

  WebhookOptions o_;
  detail::CurlPool pool_;
};

}  // namespace

std::shared_ptr<Channel> webhook_channel(WebhookOptions options) {
  return std::make_shared<WebhookChannel>(std::move(options));
}

}  // namespace escalon
