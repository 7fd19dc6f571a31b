#include "delivery/curl_easy.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "escalon/error.hpp"

namespace escalon::detail {
namespace {

// curl_global_init is not thread-safe in every libcurl, and curl_easy_init would call it
// implicitly from whichever thread gets there first: so it runs once, here, under the
// function-static guard. It is never undone: channels may live until exit.
void global_init() {
  static const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (code != CURLE_OK) throw Error(fmt::format("libcurl did not start: {}", curl_easy_strerror(code)));
}

}  // namespace

void append(CurlList& list, const std::string& item) {
  curl_slist* longer = curl_slist_append(list.get(), item.c_str());
  if (!longer) throw Error("libcurl: out of memory for a header or recipient list");
  // On success curl_slist_append returns the same head (or a new one for an empty list).
  (void)list.release();
  list.reset(longer);
}

std::string redact_url(std::string_view url) {
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  const auto host = scheme + 3;
  const auto end = std::min(url.find_first_of("/?#", host), url.size());
  const auto at = url.substr(host, end - host).rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  return std::string(url.substr(0, host)) + std::string(url.substr(host + at + 1));
}

void check(CURLcode code, const char* what) {
  if (code != CURLE_OK) throw Error(fmt::format("libcurl: {}: {}", what, curl_easy_strerror(code)));
}

CurlEasy::CurlEasy() {
  global_init();
  handle_.reset(curl_easy_init());
  if (!handle_) throw Error("libcurl: curl_easy_init failed");
}

void CurlEasy::reset(const char* protocols, std::chrono::milliseconds timeout) {
  CURL* h = handle_.get();
  curl_easy_reset(h);
  error_.fill('\0');
  check(curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L), "CURLOPT_NOSIGNAL");
  check(curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_.data()), "CURLOPT_ERRORBUFFER");
  check(curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protocols), "CURLOPT_PROTOCOLS_STR");
  check(curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, protocols), "CURLOPT_REDIR_PROTOCOLS_STR");
  const long ms = static_cast<long>(timeout.count());
  check(curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms), "CURLOPT_CONNECTTIMEOUT_MS");
  check(curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms), "CURLOPT_TIMEOUT_MS");
}

CURLcode CurlEasy::perform() {
  error_.fill('\0');
  return curl_easy_perform(handle_.get());
}

std::string CurlEasy::error_text(CURLcode code) const {
  if (error_[0] != '\0') return std::string(error_.data());
  return curl_easy_strerror(code);
}

long CurlEasy::response_code() const {
  long code = 0;
  if (curl_easy_getinfo(handle_.get(), CURLINFO_RESPONSE_CODE, &code) != CURLE_OK) return 0;
  return code;
}

}  // namespace escalon::detail
