/* mingw-w64's own <p2p.h> followed by our p2p_errors.h (this target does NOT
 * have include/ on its include path, so <p2p.h> is the toolchain's). */
#include <p2p.h>
#include "../../include/p2p_errors.h"
#ifndef __MINGW32__
#error "this TU checks mingw-w64's p2p.h"
#endif
#if !defined(PEER_E_NO_MORE) || !defined(FACILITY_P2P) || !defined(PEER_S_NO_EVENT_DATA)
#error "p2p_errors.h did not add the facility-99 codes"
#endif
typedef int headertest_mingw_p2p_then_errors_nonempty;
