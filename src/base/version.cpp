#include "escalon/version.hpp"

namespace escalon {

// Compiled into the library, so that it reports the library's version, not the host's headers'.
std::string_view version() noexcept { return ESCALON_VERSION_STRING; }

}  // namespace escalon
