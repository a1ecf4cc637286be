/* Self-containment: include/peerdist.h is the only include. */
#include <peerdist.h>
typedef int headertest_peerdist_nonempty;
