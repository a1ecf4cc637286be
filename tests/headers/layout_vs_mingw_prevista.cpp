// The same layout comparison for a pre-Vista target: both headers must drop
// the same Vista-only fields (and the PNRP / collaboration sections).
#undef _WIN32_WINNT
#undef WINVER
#undef NTDDI_VERSION
#define _WIN32_WINNT 0x0502
#define WINVER 0x0502
#define NTDDI_VERSION 0x05020000
#include "layout_vs_mingw.cpp"
#ifndef NO_P2P_PNRP
#error "pre-Vista build must not declare PNRP"
#endif
