# resil_settings: the private build settings of resil's own tests, examples and benches.
# Never linked into resil::resil, so consumers' builds stay clean.
add_library(resil_settings INTERFACE)
target_link_libraries(resil_settings INTERFACE resil::resil)

if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(
    resil_settings
    INTERFACE -Wall
              -Wextra
              -Wpedantic
              -Wconversion
              -Wsign-conversion
              -Wshadow
              -Wnon-virtual-dtor
              -Wold-style-cast
              -Wcast-align
              -Woverloaded-virtual
              -Wnull-dereference
              -Wimplicit-fallthrough)
  if(RESIL_WERROR)
    target_compile_options(resil_settings INTERFACE -Werror)
  endif()
  if(RESIL_SANITIZE)
    list(JOIN RESIL_SANITIZE "," resil_sanitizers)
    target_compile_options(resil_settings INTERFACE -fsanitize=${resil_sanitizers}
                                                    -fno-omit-frame-pointer -fno-sanitize-recover=all)
    target_link_options(resil_settings INTERFACE -fsanitize=${resil_sanitizers})
  endif()
elseif(MSVC)
  target_compile_options(resil_settings INTERFACE /W4 /permissive-)
  if(RESIL_WERROR)
    target_compile_options(resil_settings INTERFACE /WX)
  endif()
endif()
