/* Self-containment: include/p2p_errors.h is the only include. */
#include <p2p_errors.h>
typedef int headertest_p2p_errors_nonempty;
