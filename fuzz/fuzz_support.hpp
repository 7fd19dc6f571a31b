#pragma once
// Shared by the fuzz targets: what counts as a finding, and scratch files for the readers that
// only take a path.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <typeinfo>

namespace fuzz {

inline std::string_view text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// An exception the entry point does not promise is a finding: abort so libFuzzer keeps the input.
[[noreturn]] inline void finding(const char* where, const std::exception& e) {
  std::fprintf(stderr, "FINDING in %s: unexpected %s: %s\n", where, typeid(e).name(), e.what());
  std::abort();
}

// One scratch folder per process (fork/jobs modes run several), removed at exit.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    auto base = std::filesystem::exists("/dev/shm") ? std::filesystem::path("/dev/shm") : std::filesystem::temp_directory_path();
    auto d = base / ("escalon-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return d;
  }();
  return dir;
}

inline std::string write_scratch(const std::string& name, std::string_view bytes) {
  auto path = scratch_dir() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path.string();
}

inline std::string source_path(std::string_view rel) { return std::string(ESCALON_SOURCE_DIR) + "/" + std::string(rel); }

}  // namespace fuzz
