# Writes OUTPUT, a C++ file defining ioca::git_commit as `git describe` of SOURCE_DIR says it
# now. Run at every build (target ioca_git_commit_file), so the commit that ioca --version and
# every output file record is the one built, not the one CMake was configured at; the file is
# rewritten only when the commit changed, so nothing is recompiled otherwise.
execute_process(
  COMMAND git describe --always --dirty --abbrev=12
  WORKING_DIRECTORY ${SOURCE_DIR}
  OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT commit)
  set(commit unknown)
endif()
set(text "// Generated at build time by cmake/GitCommit.cmake.
#include \"ioca/version.hpp\"
namespace ioca {
const char* const git_commit = \"${commit}\";
}  // namespace ioca
")
set(old "")
if(EXISTS ${OUTPUT})
  file(READ ${OUTPUT} old)
endif()
if(NOT old STREQUAL text)
  file(WRITE ${OUTPUT} "${text}")
endif()
