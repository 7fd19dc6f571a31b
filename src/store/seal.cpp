// Sealed personal values and the journal's hash chain, on libsodium (the only code that sees
// sodium.h). Why this design: docs/security.md, "Erasure" and "Tamper-evident journal".

#include "store/seal.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <fmt/format.h>

#include "escalon/error.hpp"
#include "base/json.hpp"

namespace escalon::detail {
namespace {

constexpr std::size_t key_bytes = crypto_aead_xchacha20poly1305_ietf_KEYBYTES;
constexpr std::size_t nonce_bytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t mac_bytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr std::size_t hash_bytes = 32;
constexpr const char* sealed_key = "$sealed";

void init_sodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) throw Error("libsodium could not initialise (no source of randomness?)");
}

// The 32 key bytes of a secret; nothing for an empty or malformed one (then nothing opens).
std::optional<std::array<unsigned char, key_bytes>> key_of(std::string_view secret) {
  std::array<unsigned char, key_bytes> key{};
  std::size_t len = 0;
  if (secret.size() != 2 * key_bytes ||
      sodium_hex2bin(key.data(), key.size(), secret.data(), secret.size(), nullptr, &len, nullptr) != 0 || len != key_bytes)
    return std::nullopt;
  return key;
}

std::string to_hex(const unsigned char* p, std::size_t n) {
  std::string out(2 * n + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), p, n);
  out.pop_back();
  return out;
}

}  // namespace

std::string new_case_secret() {
  init_sodium();
  std::array<unsigned char, key_bytes> key{};
  crypto_aead_xchacha20poly1305_ietf_keygen(key.data());
  std::string hex = to_hex(key.data(), key.size());
  sodium_memzero(key.data(), key.size());
  return hex;
}

bool valid_secret(std::string_view secret) { return key_of(secret).has_value(); }

bool is_sealed(const Value& v) {
  if (v.kind() != Value::Kind::map) return false;
  const auto& m = v.as_map();
  return m.size() == 1 && m.begin()->first == sealed_key && m.begin()->second.kind() == Value::Kind::string;
}

Value seal_value(const Value& v, std::string_view secret) {
  if (v.is_null() || is_sealed(v)) return v;
  init_sodium();
  auto key = key_of(secret);
  if (!key) return erased_value();
  const std::string plain = value_to_json(v).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  std::string box(nonce_bytes + plain.size() + mac_bytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(box.data());
  randombytes_buf(out, nonce_bytes);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out + nonce_bytes, &clen, reinterpret_cast<const unsigned char*>(plain.data()),
                                             plain.size(), nullptr, 0, nullptr, out, key->data());
  sodium_memzero(key->data(), key->size());
  const std::size_t b64_len = sodium_base64_ENCODED_LEN(box.size(), sodium_base64_VARIANT_ORIGINAL);
  std::string b64(b64_len, '\0');
  sodium_bin2base64(b64.data(), b64.size(), out, box.size(), sodium_base64_VARIANT_ORIGINAL);
  b64.resize(b64_len - 1);  // the terminating NUL
  Map m;
  m.emplace(sealed_key, Value(std::move(b64)));
  return Value(std::move(m));
}

std::optional<Value> open_value(const Value& v, std::string_view secret) {
  if (!is_sealed(v)) return v;
  init_sodium();
  auto key = key_of(secret);
  if (!key) return std::nullopt;
  const std::string& b64 = v.as_map().begin()->second.as_string();
  std::string box(b64.size(), '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(box.data()), box.size(), b64.data(), b64.size(), nullptr, &len,
                        nullptr, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      len < nonce_bytes + mac_bytes)
    return std::nullopt;
  const auto* in = reinterpret_cast<const unsigned char*>(box.data());
  std::string plain(len - nonce_bytes - mac_bytes, '\0');
  unsigned long long plen = 0;
  const int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(reinterpret_cast<unsigned char*>(plain.data()), &plen, nullptr,
                                                           in + nonce_bytes, len - nonce_bytes, nullptr, 0, in, key->data());
  sodium_memzero(key->data(), key->size());
  if (rc != 0) return std::nullopt;
  try {
    return value_from_json(parse_json(plain, "a sealed value"));
  } catch (const Error&) {
    return std::nullopt;
  }
}

const Value& erased_value() {
  static const Value erased{std::string("[erased]")};
  return erased;
}

void for_each_personal(Record& r, const std::function<void(Value&)>& f) {
  if (r.personal.empty()) return;
  const auto is_personal = [&](std::string_view name) {
    return std::find(r.personal.begin(), r.personal.end(), name) != r.personal.end();
  };
  if (r.type == RecordType::data_changed && is_personal(r.target)) {
    f(r.old_value);
    f(r.new_value);
  }
  if (r.data.kind() == Value::Kind::map) {
    Map m = r.data.as_map();
    for (auto& [k, v] : m)
      if (is_personal(k)) f(v);
    r.data = Value(std::move(m));
  }
}

Record sealed_record(const Record& r, std::string_view secret) {
  Record out = r;
  for_each_personal(out, [&](Value& v) {
    if (!v.is_null()) v = secret.empty() ? erased_value() : seal_value(v, secret);
  });
  return out;
}

void open_record(Record& r, std::string_view secret) {
  for_each_personal(r, [&](Value& v) {
    if (is_sealed(v)) v = open_value(v, secret).value_or(erased_value());
  });
}

std::string erased_record_json(std::string_view json) {
  Record r = Record::from_json(json);
  for_each_personal(r, [](Value& v) {
    if (!v.is_null()) v = erased_value();
  });
  return r.to_json();
}

std::string digest_hex(std::string_view text) {
  init_sodium();
  std::array<unsigned char, hash_bytes> h{};
  crypto_generichash(h.data(), h.size(), reinterpret_cast<const unsigned char*>(text.data()), text.size(), nullptr, 0);
  return to_hex(h.data(), h.size());
}

std::string chain_link(std::string_view prev_link, std::uint64_t prev_seq, std::string_view digest) {
  return digest_hex(fmt::format("{}:{}:{}", prev_link, prev_seq, digest));
}

}  // namespace escalon::detail

namespace escalon::detail {

std::map<std::string_view, std::string_view> batch_secrets(const StoreBatch& b) {
  std::map<std::string_view, std::string_view> out;
  for (const auto& c : b.cases) out[c.id] = c.secret;
  return out;
}

SealedBatch seal_batch(const StoreBatch& b, const std::function<ChainTip(const std::string& case_id)>& tip) {
  SealedBatch out;
  out.records.reserve(b.records.size());
  const auto secrets = batch_secrets(b);
  std::map<std::string, ChainTip, std::less<>> tips;
  for (const auto& r : b.records) {
    auto it = tips.find(r.case_id);
    if (it == tips.end()) it = tips.emplace(r.case_id, tip(r.case_id)).first;
    StoredRecord s{.seq = r.seq, .case_id = r.case_id, .at = r.at, .type = std::string(record_type_name(r.type))};
    if (r.personal.empty()) {
      s.json = r.to_json();
    } else {
      // A record of a case not in the batch has no secret here: its values are dropped, never
      // stored in the clear (the engine always writes the case with its records).
      auto sec = secrets.find(r.case_id);
      s.json = sealed_record(r, sec == secrets.end() ? std::string_view{} : sec->second).to_json();
    }
    s.digest = digest_hex(s.json);
    s.prev = it->second.seq;
    s.link = chain_link(it->second.link, s.prev, s.digest);
    it->second = {s.link, s.seq};
    out.records.push_back(std::move(s));
  }
  for (auto& [id, t] : tips) out.heads.emplace(id, std::move(t.link));
  return out;
}

}  // namespace escalon::detail
