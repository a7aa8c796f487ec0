# The Go bridge. With MOE_WITH_GO the goext/ module is built as a c-archive
# (libmoego.a) and linked into moe with -rdynamic, so that Go plugins opened
# at startup resolve the host's Go runtime (docs/design/go-embedding-findings.md).
# Without it (sanitizer builds) a stub bridge is compiled in that refuses
# configs naming Go filters, so the C++ data plane runs and is tested alone.
target_sources(moe_core PRIVATE ${CMAKE_SOURCE_DIR}/src/goext/go_worker.cc)
if(MOE_WITH_GO)
  find_program(GO_EXECUTABLE go REQUIRED)
  set(MOE_GO_ARCHIVE ${CMAKE_BINARY_DIR}/goext/libmoego.a)
  file(GLOB_RECURSE MOE_GO_SOURCES CONFIGURE_DEPENDS
    ${CMAKE_SOURCE_DIR}/goext/*.go ${CMAKE_SOURCE_DIR}/goext/go.mod)
  add_custom_command(
    OUTPUT ${MOE_GO_ARCHIVE}
    COMMAND ${CMAKE_COMMAND} -E env CGO_ENABLED=1
            ${GO_EXECUTABLE} build -trimpath -buildmode=c-archive -o ${MOE_GO_ARCHIVE} ./bridge
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/goext
    DEPENDS ${MOE_GO_SOURCES} ${CMAKE_SOURCE_DIR}/include/moe/goext_abi.h
    COMMENT "go build -buildmode=c-archive goext/bridge"
    VERBATIM)
  add_custom_target(moe_go_archive DEPENDS ${MOE_GO_ARCHIVE})
  add_library(moe_go STATIC IMPORTED GLOBAL)
  set_target_properties(moe_go PROPERTIES IMPORTED_LOCATION ${MOE_GO_ARCHIVE})
  add_dependencies(moe_go moe_go_archive)
  target_sources(moe_core PRIVATE ${CMAKE_SOURCE_DIR}/src/goext/go_bridge.cc)
  # moe_core calls into the archive and the archive calls back into moe_core
  # (moe_post_resume...): list the archive as a link interface of moe_core so
  # every binary linking moe_core gets it after moe_core, plus -rdynamic.
  target_link_libraries(moe_core PUBLIC moe_go ${CMAKE_DL_LIBS} -rdynamic)
  target_compile_definitions(moe_core PUBLIC MOE_WITH_GO=1)
else()
  target_sources(moe_core PRIVATE ${CMAKE_SOURCE_DIR}/src/goext/go_stub.cc)
endif()
