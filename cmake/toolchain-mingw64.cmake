# Cross toolchain: x86_64-w64-mingw32 with the posix thread model (std::thread, std::mutex),
# as packaged by Debian 12 (g++-mingw-w64-x86-64-posix). Test executables run under Wine
# through tools/wine/run.sh (CMAKE_CROSSCOMPILING_EMULATOR).
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(PD_MINGW_TRIPLE x86_64-w64-mingw32)

set(CMAKE_C_COMPILER   ${PD_MINGW_TRIPLE}-gcc-posix)
set(CMAKE_CXX_COMPILER ${PD_MINGW_TRIPLE}-g++-posix)
set(CMAKE_RC_COMPILER  ${PD_MINGW_TRIPLE}-windres)

# Never search the host's /usr/include or /usr/lib: only the mingw sysroot (plus explicit paths).
set(CMAKE_FIND_ROOT_PATH /usr/${PD_MINGW_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
# BOTH: consumers find an installed OpenPeerDist through CMAKE_PREFIX_PATH.
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

get_filename_component(_pd_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set(CMAKE_CROSSCOMPILING_EMULATOR "${_pd_root}/tools/wine/run.sh")
