/* Linked into the `ioca` of the sanitizer build only (IOCA_SANITIZE, tests/sanitize.sh): a
 * dlclose that leaves every library loaded.
 *
 * At MPI_Finalize Open MPI unloads the components it loaded with dlopen. LeakSanitizer's
 * report at exit then meets allocation stacks in code that is no longer mapped: it cannot
 * name those frames, and it read /proc/self/maps again for each of them, about half of the
 * 4 s that every sanitized `ioca run` rank took to start and end here. With the components
 * still loaded, their frames carry their library's name and cost nothing extra. ioca itself
 * never unloads a library, and nothing it does depends on one being unloaded. */
int dlclose(void *handle);

int dlclose(void *handle) {
  (void)handle;
  return 0;
}
