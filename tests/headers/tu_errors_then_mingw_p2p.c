/* Our p2p_errors.h first, then mingw-w64's <p2p.h>: the FACILITY_WIN32 codes
 * that both define must be identical redefinitions (no diagnostic).
 * p2p_errors.h includes <windows.h>; mingw's p2p.h then includes winsock2.h,
 * so windows.h must be lean here (else mingw's winsock2.h #warns - a mingw
 * rule that applies to any windows.h-before-p2p.h program). */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include "../../include/p2p_errors.h"
#include <p2p.h>
typedef int headertest_errors_then_mingw_p2p_nonempty;
