/* A program that includes a full (not lean) <windows.h> before our headers.
 * With mingw-w64 a full windows.h pulls in the old winsock.h; our p2p.h must
 * still bring in winsock2.h/ws2tcpip.h without a diagnostic. */
#undef WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <peerdist.h>
#include <p2p.h>
#include <p2p_errors.h>
typedef int headertest_windows_first_nonempty;
