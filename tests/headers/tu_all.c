/* All three public headers together, in both orders (guards must hold). */
#include <p2p_errors.h>
#include <peerdist.h>
#include <p2p.h>
#include <peerdist.h>
#include <p2p_errors.h>
#include <p2p.h>
typedef int headertest_all_nonempty;
