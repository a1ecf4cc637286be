/* Same with a lean <windows.h> (the project's default). */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <p2p.h>
#include <peerdist.h>
typedef int headertest_lean_windows_first_nonempty;
