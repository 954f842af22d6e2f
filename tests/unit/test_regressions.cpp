// Regression tests of bugs found by the fuzz targets (tests/fuzz) and the bad-input run
// (tests/bad-input/run.sh). Each names where it was found.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli/options.hpp"
#include "io/hdf5.hpp"
#include "ioca/cli.hpp"
#include "ioca/core.hpp"
#include "ioca/io.hpp"
#include "ioca/nn.hpp"

namespace fs = std::filesystem;

namespace {

struct Scratch {
  fs::path path;
  Scratch() {
    path = fs::temp_directory_path() / ("ioca_regressions_" + std::to_string(::getpid()));
    fs::create_directories(path);
  }
  ~Scratch() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::string write(const std::string& name, const std::string& text) const {
    const auto p = (path / name).string();
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
};

// Runs `ioca ARGS...` through ioca::cli::main; returns its status and what it printed on
// stderr.
std::pair<int, std::string> run_ioca(const std::vector<std::string>& args, const Scratch& s) {
  std::vector<std::string> argv_text{"ioca"};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  const std::string err_path = (s.path / "stderr").string();
  std::fflush(stderr);
  const int saved = ::dup(2);
  const int fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ::dup2(fd, 2);
  ::close(fd);
  const int status = ioca::cli::main(static_cast<int>(argv.size()), argv.data());
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  std::ifstream in(err_path);
  return {status, std::string(std::istreambuf_iterator<char>(in), {})};
}

}  // namespace

// fuzz_config: Boost.Program_options 1.74 looped forever building the message of an
// invalid value that contains its own placeholder ("%value%"); ioca hung.
TEST_CASE("an option value containing a message placeholder is an error, not a hang") {
  Scratch s;
  std::string help;
  for (const char* value : {"%value%", "x%canonical_option%y", "%option%", "%prefix%%value%"}) {
    try {
      ioca::cli::parse_train_args({"--epochs", value}, &help);
      FAIL("no error for --epochs " << value);
    } catch (const ioca::cli::UsageError& e) {
      CHECK(std::string(e.what()).find("epochs") != std::string::npos);
    }
  }
  // The fuzzer's input: in a config file, for another option.
  const auto ini =
      s.write("hang.ini", "dataset = synthetic\nsynthetic-samples =aaaa%value%'aaaaaaaa\n");
  try {
    ioca::cli::parse_train_args({"--config", ini}, &help);
    FAIL("no error for the config file");
  } catch (const ioca::FileError& e) {
    CHECK(e.path() == ini);
  }
  // An unknown key that is a placeholder.
  const auto key = s.write("key.ini", "%canonical_option% = 1\n");
  CHECK_THROWS_AS(ioca::cli::parse_train_args({"--config", key}, &help), ioca::FileError);
}

// bad-input config-is-a-folder: `--config FOLDER` was silently ignored (the command ran).
TEST_CASE("a config file option naming a folder is an error naming it") {
  Scratch s;
  std::string help;
  try {
    ioca::cli::parse_train_args({"--config", s.path.string()}, &help);
    FAIL("no error");
  } catch (const ioca::FileError& e) {
    CHECK(e.path() == s.path.string());
    CHECK(std::string(e.what()).find("folder") != std::string::npos);
  }
}

// bad-input config-negative-epochs and friends: a bad value from the config file gave a
// message that did not name the file.
TEST_CASE("a bad value in a config file is reported against the file") {
  Scratch s;
  const auto ini = s.write("bad.ini", "epochs = -1\n");
  auto [status, err] = run_ioca({"train", "--config", ini, "--out", (s.path / "m.h5").string()}, s);
  CHECK(status == ioca::cli::exit_bad_input);
  CHECK(err.find(ini) != std::string::npos);
  CHECK(err.find("--epochs") != std::string::npos);
  CHECK(std::count(err.begin(), err.end(), '\n') == 1);
  // The same mistake on the command line is a usage error, not the file's.
  std::tie(status, err) = run_ioca(
      {"train", "--config", s.write("ok.ini", "epochs = 2\n"), "--epochs", "-1", "--out", "x"}, s);
  CHECK(status == ioca::cli::exit_bad_input);
  CHECK(err.find("ok.ini") == std::string::npos);
  CHECK(err.find("--epochs") != std::string::npos);
}

// bad-input model-absurd-synthetic-samples (exit 1 after trying to allocate 64 TB),
// model-negative-synthetic-features, model-dataset-attr-unknown: data settings read from a
// model file were not checked like their options, and errors did not name the file.
TEST_CASE("data settings from a model's attributes are checked and name the model file") {
  const ioca::cli::DataArgs none;
  ioca::io::Attributes a{{"dataset", std::string("synthetic")},
                         {"synthetic_seed", std::int64_t{7}},
                         {"synthetic_samples", std::int64_t{600}}};
  CHECK(ioca::cli::resolve_data(none, &a, "m.h5").synthetic.train_samples == 600);
  const auto fails = [&](const char* key, ioca::io::AttributeValue value) {
    ioca::io::Attributes bad = a;
    bad[key] = value;
    try {
      ioca::cli::resolve_data(none, &bad, "m.h5");
      FAIL("no error for " << key);
    } catch (const ioca::FileError& e) {
      CHECK(e.path() == "m.h5");
      CHECK(std::string(e.what()).find(key) != std::string::npos);
    }
  };
  fails("synthetic_samples", std::int64_t{1'000'000'000'000});
  fails("synthetic_features", std::int64_t{-16});
  fails("synthetic_classes", std::int64_t{1} << 40);
  fails("synthetic_noise", 1e300);
  fails("validation_size", std::int64_t{-5});
  fails("dataset", std::string("imagenet"));
  // An option given on the command line still wins, unchecked against the attribute.
  ioca::cli::DataArgs given;
  given.dataset = "synthetic";
  ioca::io::Attributes odd = a;
  odd["dataset"] = std::string("imagenet");
  CHECK_NOTHROW(ioca::cli::resolve_data(given, &odd, "m.h5"));
}

// bad-input out-nearly-full-disk-ablate: when the disk filled up, HDF5 failed only when
// the file was closed, by a destructor that ignored it: the damaged file was renamed into
// place (and libhdf5 crashed at exit on the half-closed file). A file-size limit fails
// writes as a full disk does: at every limit, save_model either writes a file that loads
// or throws FileError and leaves nothing behind.
TEST_CASE("a write that fails (full disk) leaves no file that looks valid") {
  Scratch s;
  const auto net = ioca::nn::make_mlp(40, {24, 16}, ioca::nn::Activation::relu, 10, 3);
  const std::string path = (s.path / "m.h5").string();
  struct sigaction ignore {
  }, old{};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGXFSZ, &ignore, &old);
  rlimit saved{};
  ::getrlimit(RLIMIT_FSIZE, &saved);
  int failed = 0, written = 0;
  for (rlim_t limit = 512; limit <= 65536 && written < 2; limit += 512) {
    rlimit small = saved;
    small.rlim_cur = limit;
    ::setrlimit(RLIMIT_FSIZE, &small);
    bool threw = false;
    try {
      ioca::io::save_model(path, net, {});
    } catch (const ioca::FileError& e) {
      threw = true;
      CHECK(std::string(e.what()).find(path) != std::string::npos);
    }
    ::setrlimit(RLIMIT_FSIZE, &saved);
    if (threw) {
      ++failed;
      CHECK_FALSE(fs::exists(path));
    } else {
      ++written;
      CHECK_NOTHROW(ioca::io::load_model(path));
      fs::remove(path);
    }
    for (const auto& entry : fs::directory_iterator(s.path))
      CHECK(entry.path().filename().string().find(".tmp.") == std::string::npos);
  }
  ::sigaction(SIGXFSZ, &old, nullptr);
  CHECK(failed > 0);
  CHECK(written > 0);
}

// fuzz_model (regressions/model/input-mean-overflows-float): input_mean = 5.7e303 is a
// finite double, so it was accepted, and became infinity as the network's float.
TEST_CASE("input_mean and input_std must be finite as float32") {
  Scratch s;
  const auto net = ioca::nn::make_mlp(4, {3}, ioca::nn::Activation::relu, 2, 1);
  const std::string path = (s.path / "m.h5").string();
  for (const double value : {5.7e303, -1e39, 3.5e38}) {
    ioca::io::save_model(path, net, {});
    {
      const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
      REQUIRE(f >= 0);
      H5Adelete(f, "input_mean");
      ioca::io::h5::File file{ioca::io::h5::Handle(f), path};
      ioca::io::h5::write_attribute(file, f, "input_mean", value);
    }
    try {
      ioca::io::load_model(path);
      FAIL("no error for input_mean = " << value);
    } catch (const ioca::FileError& e) {
      CHECK(std::string(e.what()).find("input_mean") != std::string::npos);
    }
  }
}
