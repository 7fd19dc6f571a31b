#include "loader/content_hash.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <memory>
#include "escalon/error.hpp"

namespace escalon::detail {

std::string content_hash(std::span<const std::string_view> parts) {
  const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  bool ok = ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1;
  for (const auto part : parts) {
    std::array<unsigned char, 8> length{};
    auto n = static_cast<std::uint64_t>(part.size());
    for (auto& byte : length) {
      byte = static_cast<unsigned char>(n & 0xffu);
      n >>= 8;
    }
    ok = ok && EVP_DigestUpdate(ctx.get(), length.data(), length.size()) == 1 &&
         EVP_DigestUpdate(ctx.get(), part.data(), part.size()) == 1;
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  ok = ok && EVP_DigestFinal_ex(ctx.get(), digest.data(), &size) == 1 && size == 32;
  if (!ok) throw Error("SHA-256 is not available from OpenSSL's libcrypto");
  std::string out = "sha256:";
  out.reserve(7 + 64);
  for (unsigned int i = 0; i < size; ++i) out += fmt::format("{:02x}", digest[i]);
  return out;
}

std::string legacy_content_hash(std::span<const std::string_view> parts) {
  std::uint64_t h = 1469598103934665603ull;
  for (const auto part : parts)
    for (const unsigned char c : part) {
      h ^= c;
      h *= 1099511628211ull;
    }
  return fmt::format("{:016x}", h);
}

}  // namespace escalon::detail
