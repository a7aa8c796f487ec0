# The Go bridge. With MOE_WITH_GO the goext/ module is built as a c-archive and
# linked into moe; without it (sanitizer builds) a stub bridge is linked that
# reports "no Go filters" so the C++ data plane runs and is tested alone.
add_library(moe_goext STATIC ${CMAKE_SOURCE_DIR}/src/goext/go_stub.cc)
target_link_libraries(moe_goext PUBLIC moe_core)
