# cmake --install of the windows configuration:
#   bin/     peerdist.dll p2p.dll
#   lib/     libpeerdist.a libp2p.a (import libraries), peerdist.def p2p.def
#            (MSVC: lib /def:peerdist.def /machine:x64 /out:peerdist.lib)
#   include/ peerdist.h p2p.h p2p_errors.h
#   lib/cmake/PeerDist/  package configuration: find_package(PeerDist) -> PeerDist::peerdist, PeerDist::p2p
include(CMakePackageConfigHelpers)

install(TARGETS peerdist p2p EXPORT PeerDistTargets
        RUNTIME DESTINATION bin ARCHIVE DESTINATION lib LIBRARY DESTINATION lib)
foreach(dll peerdist p2p)
  install(FILES $<TARGET_PROPERTY:${dll},PD_DEF_FILE> DESTINATION lib)
endforeach()
file(GLOB _pd_headers ${PROJECT_SOURCE_DIR}/include/*.h)
install(FILES ${_pd_headers} DESTINATION include)
install(EXPORT PeerDistTargets NAMESPACE PeerDist:: DESTINATION lib/cmake/PeerDist)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/PeerDistConfig.cmake.in
  ${CMAKE_BINARY_DIR}/PeerDistConfig.cmake INSTALL_DESTINATION lib/cmake/PeerDist)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/PeerDistConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/PeerDistConfig.cmake ${CMAKE_BINARY_DIR}/PeerDistConfigVersion.cmake
        DESTINATION lib/cmake/PeerDist)
