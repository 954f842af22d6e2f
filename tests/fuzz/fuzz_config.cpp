// libFuzzer target: the INI config files of `--config FILE`, through each command's own
// parser (ioca::cli::parse_*_args with {"--config", FILE}): Boost.Program_options' INI
// reader, then every option's checks. Bad input must be ioca::cli::UsageError or
// ioca::Error (exit status 2), never another exception (exit status 1: an internal error).
#include "fuzz_common.hpp"
#include "ioca/cli.hpp"
#include "ioca/core.hpp"

namespace {

template <class Parse>
void parse_one(Parse parse, const std::string& path) {
  std::string help;
  try {
    parse(std::vector<std::string>{"--config", path}, &help);
  } catch (const ioca::cli::UsageError&) {
  } catch (const ioca::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (1u << 16)) return 0;
  const std::string path = ioca_fuzz::write_file("config.ini", data, size);
  parse_one(ioca::cli::parse_train_args, path);
  parse_one(ioca::cli::parse_evaluate_args, path);
  parse_one(ioca::cli::parse_measure_args, path);
  parse_one(ioca::cli::parse_ablate_args, path);
  return 0;
}
