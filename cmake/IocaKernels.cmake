# ioca_add_kernel_variants(<target> <source> <name>:<flags>...)
# Compiles <source> once per instruction set with its own flags and a macro that renames
# the Eigen namespace, so the template instances of different variants never merge at link
# time (which would let an AVX-512 instance run on a CPU without AVX-512).
function(ioca_add_kernel_variants target source)
  foreach(spec IN LISTS ARGN)
    string(REPLACE ":" ";" parts "${spec}")
    list(GET parts 0 isa)
    list(GET parts 1 flags)
    separate_arguments(flags UNIX_COMMAND "${flags}")
    set(obj ${target}_${isa})
    add_library(${obj} OBJECT ${source})
    # GCC 12 reports false maybe-uninitialized warnings inside its own AVX-512 headers.
    # -fno-math-errno lets sqrt vectorise; ioca never reads errno.
    target_compile_options(${obj} PRIVATE ${flags} -fno-math-errno -Wno-maybe-uninitialized)
    if(IOCA_SANITIZE)
      # tests/sanitize.sh builds at -O1; the kernels, where the tests spend their time, at -O2.
      # AddressSanitizer checks every heap and global access they make, but not their stack:
      # its stack instrumentation keeps the accumulator arrays of the register-blocked loops in
      # memory, with redzones, which made the MPI tests under ASan several times slower.
      # UndefinedBehaviorSanitizer keeps its arithmetic checks here and drops its pointer checks
      # (null, alignment, pointer overflow, object size: ASan's territory), which inside Eigen's
      # product templates made each variant compile 2.5 times longer (86 s against 34 s, AVX2).
      target_compile_options(${obj} PRIVATE -O2 --param=asan-stack=0
        -fno-sanitize=null,alignment,pointer-overflow,object-size)
    endif()
    target_compile_definitions(${obj} PRIVATE IOCA_KERNEL_ISA=${isa} Eigen=ioca_eigen_${isa}
      EIGEN_DONT_PARALLELIZE EIGEN_NO_DEBUG)
    target_link_libraries(${obj} PRIVATE Eigen3::Eigen OpenMP::OpenMP_CXX ioca_warnings)
    target_include_directories(${obj} PRIVATE ${PROJECT_SOURCE_DIR}/include ${PROJECT_BINARY_DIR}/generated
      ${PROJECT_SOURCE_DIR}/src)
    set_target_properties(${obj} PROPERTIES POSITION_INDEPENDENT_CODE ON)
    target_sources(${target} PRIVATE $<TARGET_OBJECTS:${obj}>)
  endforeach()
endfunction()
