#include "ioca/cli.hpp"

int main(int argc, char** argv) {
  return ioca::cli::main(argc, argv);
}
