// The versions of the third-party code built into this binary, for logs and --version output.
#pragma once

#include <string>

namespace pd {

// OpenPeerDist's own version (CMake's project version), e.g. "0.1.0".
const char* version() noexcept;

// One line naming the OpenSSL and SQLite in use and the Debian versions they were built from, e.g.
// "OpenSSL 3.0.22 1 Oct 2025 (Debian 3.0.22-1~deb12u2), SQLite 3.40.1 (Debian 3.40.1-2+deb12u2)".
// OpenSSL's text is OpenSSL_version(OPENSSL_VERSION) (in the DLLs the static copy they carry; in
// the native build the libcrypto loaded at run time) and SQLite's is sqlite3_libversion().
std::string dependency_versions();

} // namespace pd
