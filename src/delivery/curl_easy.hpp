#pragma once
// libcurl for the mail and webhook channels: an owned easy handle, owned header lists, and the
// options every transfer sets. Private to the delivery layer: public headers never include curl.

#include <curl/curl.h>

#include <array>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace escalon::detail {

struct CurlListFree {
  void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};
/// A curl_slist (SMTP recipients, HTTP headers), freed with the list.
using CurlList = std::unique_ptr<curl_slist, CurlListFree>;

/// Appends a copy of `item`; throws Error when curl cannot allocate it.
void append(CurlList& list, const std::string& item);

/// `scheme://host[:port]`, with "/..." when the URL has more: messages name the server and end
/// up in the journal and in logs, so a password or token written into the URL must not.
[[nodiscard]] std::string redact_url(std::string_view url);

/// Throws Error("<what>: <curl's text>") unless `code` is CURLE_OK. For curl_easy_setopt: an
/// option this libcurl lacks must fail the channel, not be skipped silently.
void check(CURLcode code, const char* what);

/// One easy handle; not thread-safe: one transfer at a time (see CurlPool).
class CurlEasy {
 public:
  CurlEasy();
  CurlEasy(const CurlEasy&) = delete;
  CurlEasy& operator=(const CurlEasy&) = delete;

  /// Forgets the previous transfer's options and sets those every transfer wants: no signals
  /// (the engine is multi-threaded), the error buffer, only `protocols` (a redirect or a URL
  /// cannot reach file:// or others), and `timeout` for connecting and for the whole transfer.
  void reset(const char* protocols, std::chrono::milliseconds timeout);
  /// Runs the transfer set up on handle(); returns curl's code.
  CURLcode perform();
  /// Why the last transfer failed: the error buffer, else curl_easy_strerror(code).
  [[nodiscard]] std::string error_text(CURLcode code) const;
  /// The last response code (HTTP status, SMTP reply), 0 when there was none.
  [[nodiscard]] long response_code() const;
  [[nodiscard]] CURL* handle() const noexcept { return handle_.get(); }

 private:
  struct Cleanup {
    void operator()(CURL* c) const noexcept { curl_easy_cleanup(c); }
  };
  std::unique_ptr<CURL, Cleanup> handle_;
  std::array<char, CURL_ERROR_SIZE> error_{};
};

/// Idle handles of one channel. Each delivery takes one, so queues of different cases go out
/// at once (a slow server delays only its own transfers), and a returned handle keeps its
/// connection cache, so a busy channel does not reconnect for every notification.
class CurlPool {
 public:
  class Lease {
   public:
    Lease(CurlPool& pool, std::unique_ptr<CurlEasy> handle) : pool_(pool), handle_(std::move(handle)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { pool_.give_back(std::move(handle_)); }
    CurlEasy* operator->() const noexcept { return handle_.get(); }

   private:
    CurlPool& pool_;
    std::unique_ptr<CurlEasy> handle_;
  };
  [[nodiscard]] Lease take();

 private:
  void give_back(std::unique_ptr<CurlEasy> handle) noexcept;
  std::mutex mutex_;
  std::vector<std::unique_ptr<CurlEasy>> idle_;
};

}  // namespace escalon::detail
