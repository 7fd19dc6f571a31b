#pragma once
// The identity of a flow version: a hash over the flow file's text and the texts of its includes,
// in order. See Flow::content_hash and Flow::legacy_hash.

#include <span>
#include <string>
#include <string_view>

namespace escalon::detail {

/// "sha256:" and 64 lowercase hex digits: SHA-256 over the parts, each as its byte length
/// (8 bytes, little-endian) followed by its bytes, so that moving text from the file into an
/// include (or between includes) changes the hash.
[[nodiscard]] std::string content_hash(std::span<const std::string_view> parts);

/// What Escalon wrote before SHA-256: FNV-1a 64 over the parts run together, as 16 lowercase hex
/// digits. Kept so that stores and case snapshots written by older versions still match.
[[nodiscard]] std::string legacy_content_hash(std::span<const std::string_view> parts);

}  // namespace escalon::detail
