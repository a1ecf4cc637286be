#include "common/versions.h"

#include <openssl/crypto.h>
#include <sqlite3.h>

// Set by src/CMakeLists.txt from cmake/PdDeps.cmake (PD_OPENSSL_DEBIAN_VERSION: the source package
// of the bundled OpenSSL on Windows, the libssl-dev headers natively; PD_SQLITE_DEBIAN_VERSION:
// the source package of the amalgamation).
#ifndef PD_VERSION
#define PD_VERSION "unknown"
#endif
#ifndef PD_OPENSSL_DEBIAN_VERSION
#define PD_OPENSSL_DEBIAN_VERSION ""
#endif
#ifndef PD_SQLITE_DEBIAN_VERSION
#define PD_SQLITE_DEBIAN_VERSION ""
#endif

namespace pd {

const char* version() noexcept
{
    return PD_VERSION;
}

std::string dependency_versions()
{
    auto debian = [](const char* v) { return *v ? std::string(" (Debian ") + v + ")" : std::string(); };
    return std::string(OpenSSL_version(OPENSSL_VERSION)) + debian(PD_OPENSSL_DEBIAN_VERSION) + ", SQLite " +
           sqlite3_libversion() + debian(PD_SQLITE_DEBIAN_VERSION);
}

} // namespace pd
