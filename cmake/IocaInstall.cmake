# `cmake --install build --prefix P`: the command, the job scripts and study configs, the
# analysis package, the documentation and an environment-module file under P.
#
#   P/bin/ioca
#   P/share/ioca/jobs/{study,array,hybrid,multinode}.sbatch, lib/, studies/, run-default.sh
#   P/share/ioca/analysis/ioca_analysis/ (PYTHONPATH; with _version.py), export_torch.py, README.md
#   (pip installs the package from the source tree instead: analysis/pyproject.toml)
#   P/share/doc/ioca/ README.md, LICENSE, CITATION.cff, CHANGELOG.md, docs/*.md
#   P/share/modulefiles/ioca/<version> (Tcl; `module use P/share/modulefiles`)
#
# The job scripts find the installed binary (P/share/ioca/../../bin/ioca) and the module
# sets IOCA_HOME to P/share/ioca. jobs/local-slurm is a test harness of the repository
# (root, namespaces) and is not installed.
include(GNUInstallDirs)

# Keep the run-time paths of libraries found outside the system directories (a cluster's
# MPI and HDF5 modules) in the installed binary, so it runs without those modules loaded.
set_target_properties(ioca PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)

set(IOCA_SHAREDIR ${CMAKE_INSTALL_DATADIR}/ioca)
set(IOCA_PYTHONDIR ${IOCA_SHAREDIR}/analysis)
set(IOCA_DOCDIR ${CMAKE_INSTALL_DATADIR}/doc/ioca)
set(IOCA_MODULEDIR ${CMAKE_INSTALL_DATADIR}/modulefiles/ioca)
set(IOCA_MODULE_PREREQS "" CACHE STRING
  "Modules the ioca module needs loaded first (e.g. \"gcc/12 openmpi/4.1 hdf5/1.14\"): one prereq line each")

install(TARGETS ioca RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

install(PROGRAMS jobs/study.sbatch jobs/array.sbatch jobs/hybrid.sbatch jobs/multinode.sbatch
  jobs/run-default.sh DESTINATION ${IOCA_SHAREDIR}/jobs)
install(FILES jobs/lib/ioca-job.sh DESTINATION ${IOCA_SHAREDIR}/jobs/lib)
install(DIRECTORY jobs/studies/ DESTINATION ${IOCA_SHAREDIR}/jobs/studies FILES_MATCHING PATTERN "*.ini")

install(DIRECTORY analysis/ioca_analysis DESTINATION ${IOCA_PYTHONDIR}
  FILES_MATCHING PATTERN "*.py" PATTERN "__pycache__" EXCLUDE)
install(FILES analysis/export_torch.py analysis/README.md DESTINATION ${IOCA_PYTHONDIR})
# The installed package has no CMakeLists.txt two folders up to read its version from:
# it gets the _version.py that a pip build writes (analysis/setup.py), with the same number.
file(WRITE ${PROJECT_BINARY_DIR}/generated/ioca_analysis_version.py
  "version = \"${PROJECT_VERSION}\"  # from CMakeLists.txt at install (cmake/IocaInstall.cmake)\n")
install(FILES ${PROJECT_BINARY_DIR}/generated/ioca_analysis_version.py
  DESTINATION ${IOCA_PYTHONDIR}/ioca_analysis RENAME _version.py)

install(FILES README.md LICENSE CITATION.cff CHANGELOG.md DESTINATION ${IOCA_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${IOCA_DOCDIR}/docs FILES_MATCHING PATTERN "*.md")

# The module file names the prefix, which `cmake --install --prefix` may choose only now:
# written at install time.
set(IOCA_MODULE_PREREQ_LINES "")
separate_arguments(ioca_prereqs UNIX_COMMAND "${IOCA_MODULE_PREREQS}")
foreach(m IN LISTS ioca_prereqs)
  string(APPEND IOCA_MODULE_PREREQ_LINES "prereq ${m}\n")
endforeach()
install(CODE "
  set(IOCA_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(PROJECT_VERSION \"${PROJECT_VERSION}\")
  set(IOCA_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
  set(IOCA_PYTHONDIR \"${IOCA_PYTHONDIR}\")
  set(IOCA_SHAREDIR \"${IOCA_SHAREDIR}\")
  set(IOCA_DOCDIR \"${IOCA_DOCDIR}\")
  set(IOCA_MODULE_PREREQ_LINES \"${IOCA_MODULE_PREREQ_LINES}\")
  set(module \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${IOCA_MODULEDIR}/${PROJECT_VERSION}\")
  message(STATUS \"Installing: \${module}\")
  configure_file(\"${CMAKE_CURRENT_SOURCE_DIR}/cmake/ioca.modulefile.in\" \"\${module}\" @ONLY)
")
