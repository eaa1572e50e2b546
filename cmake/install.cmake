# Install rules: headers, CMake package (resilConfig.cmake + version file), pkg-config file,
# and a build-tree export so a project can use resil from its build directory.
include(CMakePackageConfigHelpers)

set(RESIL_CMAKE_DIR "${CMAKE_INSTALL_DATADIR}/cmake/resil"
    CACHE STRING "Where resilConfig.cmake is installed, relative to the prefix")
set(RESIL_PKGCONFIG_DIR "${CMAKE_INSTALL_DATADIR}/pkgconfig"
    CACHE STRING "Where resil.pc is installed, relative to the prefix")

install(TARGETS resil EXPORT resilTargets)
install(DIRECTORY include/resil TYPE INCLUDE FILES_MATCHING PATTERN "*.hpp")
install(EXPORT resilTargets NAMESPACE resil:: DESTINATION ${RESIL_CMAKE_DIR})

configure_package_config_file(cmake/resilConfig.cmake.in
                              "${PROJECT_BINARY_DIR}/resilConfig.cmake"
                              INSTALL_DESTINATION ${RESIL_CMAKE_DIR})
write_basic_package_version_file("${PROJECT_BINARY_DIR}/resilConfigVersion.cmake"
                                 COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
install(FILES "${PROJECT_BINARY_DIR}/resilConfig.cmake"
              "${PROJECT_BINARY_DIR}/resilConfigVersion.cmake" DESTINATION ${RESIL_CMAKE_DIR})

configure_file(cmake/resil.pc.in "${PROJECT_BINARY_DIR}/resil.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/resil.pc" DESTINATION ${RESIL_PKGCONFIG_DIR})

# Build-tree export: find_package(resil) with resil_DIR pointing at the build directory.
export(EXPORT resilTargets NAMESPACE resil:: FILE "${PROJECT_BINARY_DIR}/resilTargets.cmake")
