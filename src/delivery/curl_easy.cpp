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

// Scheme, host and port only: webhook secrets live in paths and queries
// (hooks.example/services/T/B/SECRET, ?token=) as often as in user:password@.
std::string redact_url(std::string_view url) {
  const std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), &curl_url_cleanup);
  if (!u || curl_url_set(u.get(), CURLUPART_URL, std::string(url).c_str(), 0) != CURLUE_OK) return "(a URL curl cannot read)";
  const auto part = [&u](CURLUPart which) {
    char* value = nullptr;
    std::string out;
    if (curl_url_get(u.get(), which, &value, 0) == CURLUE_OK && value) out = value;
    curl_free(value);
    return out;
  };
  std::string out = part(CURLUPART_SCHEME) + "://" + part(CURLUPART_HOST);
  if (const auto port = part(CURLUPART_PORT); !port.empty()) out += ":" + port;
  if (part(CURLUPART_PATH).size() > 1 || !part(CURLUPART_QUERY).empty()) out += "/...";
  return out;
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

CurlPool::Lease CurlPool::take() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto handle = std::move(idle_.back());
      idle_.pop_back();
      return {*this, std::move(handle)};
    }
  }
  return {*this, std::make_unique<CurlEasy>()};
}

void CurlPool::give_back(std::unique_ptr<CurlEasy> handle) noexcept {
  if (!handle) return;
  try {
    std::lock_guard lock(mutex_);
    if (idle_.size() < 8) idle_.push_back(std::move(handle));  // more only while a burst lasts
  } catch (...) {  // out of memory for the vector: the handle is freed, the next delivery makes one
  }
}

}  // namespace escalon::detail
