// The host's directory of mail addresses (roles and users), read from YAML. A small reader of
// its own: the flow loader's YAML helpers live in a higher layer, and this file has two keys.

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "base/suggest.hpp"
#include "delivery/text.hpp"
#include "escalon/channels.hpp"

namespace escalon {
namespace {

constexpr std::string_view address_example = "ana@example.hr";

class DirectoryReader {
 public:
  explicit DirectoryReader(std::string path) : path_(std::move(path)) {}

  Directory read(const YAML::Node& root) const {
    if (!root.IsMap())
      fail(root, "a directory is a map with `roles:` (role: [addresses]) and `users:` (name: address)");
    static constexpr std::array<std::string_view, 2> known{"roles", "users"};
    Directory d;
    std::set<std::string, std::less<>> seen;
    for (const auto& entry : root) {
      const std::string k = key(entry.first, "a top-level key");
      if (!seen.insert(k).second) fail(entry.first, fmt::format("`{}:` is written twice; merge the two", k));
      if (k == "roles") read_roles(entry.second, d);
      else if (k == "users") read_users(entry.second, d);
      else fail(entry.first, fmt::format("unknown key '{}'; a directory has `roles:` and `users:`{}", detail::one_line(k),
                                         detail::did_you_mean(k, known)));
    }
    return d;
  }

 private:
  SourceLocation where(const YAML::Node& n) const {
    const auto m = n.Mark();
    if (m.is_null()) return {path_, 1, 1};
    return {path_, static_cast<std::uint32_t>(m.line + 1), static_cast<std::uint32_t>(m.column + 1)};
  }

  [[noreturn]] void fail(const YAML::Node& n, const std::string& message) const { throw Error(message, where(n)); }

  std::string key(const YAML::Node& k, std::string_view what) const {
    if (!k.IsScalar()) fail(k, fmt::format("{} must be a name", what));
    return k.Scalar();
  }

  std::string address(const YAML::Node& n, std::string_view what) const {
    if (!n.IsScalar()) fail(n, fmt::format("{} must be a mail address, e.g. {}", what, address_example));
    const std::string& a = n.Scalar();
    if (a.find('@') == std::string::npos)
      fail(n, fmt::format("'{}' is not a mail address: it has no '@'; write e.g. {}", detail::one_line(a), address_example));
    if (!detail::is_mail_address(a))
      fail(n, fmt::format("'{}' is not a mail address: write name@domain in ASCII, with one '@' and without spaces or "
                          "any of <>()[],;:\"\\",
                          detail::one_line(a)));
    return a;
  }

  void read_roles(const YAML::Node& n, Directory& d) const {
    if (!n.IsMap()) fail(n, "`roles:` must be a map of role: [addresses]");
    for (const auto& entry : n) {
      const std::string role = key(entry.first, "a role");
      if (d.roles.count(role))
        fail(entry.first, fmt::format("role '{}' is listed twice; merge its addresses", detail::one_line(role)));
      if (!entry.second.IsSequence())
        fail(entry.second, fmt::format("role '{}' must be a list of addresses, e.g. {}: [{}]", detail::one_line(role),
                                       detail::one_line(role), address_example));
      std::vector<std::string> addresses;
      for (const auto& a : entry.second) addresses.push_back(address(a, "each entry of a role"));
      d.roles.emplace(role, std::move(addresses));
    }
  }

  void read_users(const YAML::Node& n, Directory& d) const {
    if (!n.IsMap()) fail(n, "`users:` must be a map of name: address");
    for (const auto& entry : n) {
      const std::string user = key(entry.first, "a user");
      if (d.users.count(user)) fail(entry.first, fmt::format("user '{}' is listed twice", detail::one_line(user)));
      d.users.emplace(user, address(entry.second, fmt::format("user '{}'", detail::one_line(user))));
    }
  }

  std::string path_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot read the directory: {}", std::strerror(errno)), {path, 0, 0});
  std::ostringstream text;
  text << in.rdbuf();
  return std::move(text).str();
}

}  // namespace

Directory Directory::from_yaml(const std::string& path) {
  const std::string text = read_file(path);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw Error(fmt::format("invalid YAML: {}", e.msg),
                {path, static_cast<std::uint32_t>(e.mark.line + 1), static_cast<std::uint32_t>(e.mark.column + 1)});
  } catch (const YAML::Exception& e) {
    throw Error(fmt::format("invalid YAML: {}", e.msg), {path, 0, 0});
  }
  return DirectoryReader(path).read(root);
}

std::vector<std::string> Directory::resolve(const std::vector<std::string>& to) const {
  std::vector<std::string> out;
  std::set<std::string, std::less<>> seen;
  const auto add = [&](const std::string& a) {
    if (seen.insert(a).second) out.push_back(a);
  };
  for (const auto& name : to) {
    if (name.find('@') != std::string::npos) {
      add(name);
    } else if (name.starts_with("user:")) {
      if (auto u = users.find(std::string_view(name).substr(5)); u != users.end()) add(u->second);
    } else if (auto r = roles.find(name); r != roles.end()) {
      for (const auto& a : r->second) add(a);
    }
  }
  return out;
}

}  // namespace escalon
