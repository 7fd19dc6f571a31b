// The built-in channels without servers: the directory file.
#include "support.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>

#include "escalon/channels.hpp"

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
