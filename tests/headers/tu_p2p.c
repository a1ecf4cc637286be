/* Self-containment: include/p2p.h is the only include. */
#include <p2p.h>
typedef int headertest_p2p_nonempty;
