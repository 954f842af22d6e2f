#include <hdf5.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "io/hdf5.hpp"
#include "ioca/core.hpp"
#include "ioca/io.hpp"
#include "test_helpers.hpp"

using namespace ioca;
namespace fs = std::filesystem;

namespace {

using ioca::testing::TempDir;

// Writes a model file by hand through the C API, as h5py would, with knobs to break it.
struct RawLayer {
  std::vector<hsize_t> wdims, bdims;
  std::vector<float> w, b;
  std::string activation;
  bool fixed_length = false;
  bool has_activation = true;
};

void write_raw_model(const std::string& path, const std::vector<RawLayer>& layers,
                     std::vector<std::string> skip_names = {}) {
  io::h5::File f = io::h5::create_file(path);
  auto group = io::h5::create_group(f, f.handle.id(), "layers");
  for (std::size_t k = 0; k < layers.size(); ++k) {
    const auto& L = layers[k];
    const std::string name = std::to_string(k);
    if (std::find(skip_names.begin(), skip_names.end(), name) != skip_names.end()) continue;
    auto g = io::h5::create_group(f, group.id(), name);
    io::h5::write_dataset(f, g.id(), "weight", L.w.data(), L.wdims);
    io::h5::write_dataset(f, g.id(), "bias", L.b.data(), L.bdims);
    if (!L.has_activation) continue;
    if (L.fixed_length) {
      hid_t type = H5Tcopy(H5T_C_S1);
      H5Tset_size(type, 16);
      H5Tset_strpad(type, H5T_STR_NULLPAD);
      hid_t space = H5Screate(H5S_SCALAR);
      hid_t attr = H5Acreate2(g.id(), "activation", type, space, H5P_DEFAULT, H5P_DEFAULT);
      char buf[16] = {};
      std::memcpy(buf, L.activation.data(), L.activation.size());
      H5Awrite(attr, type, buf);
      H5Aclose(attr);
      H5Sclose(space);
      H5Tclose(type);
    } else {
      io::h5::write_attribute(f, g.id(), "activation", L.activation);
    }
  }
}

RawLayer layer(hsize_t out, hsize_t in, const std::string& act, float value = 0.1f) {
  RawLayer L;
  L.wdims = {out, in};
  L.bdims = {out};
  L.w.assign(out * in, value);
  L.b.assign(out, 0.0f);
  L.activation = act;
  return L;
}

void require_file_error(const std::string& path, const std::string& fragment) {
  try {
    io::load_model(path);
    FAIL("expected an error containing '" << fragment << "'");
  } catch (const FileError& e) {
    INFO(e.what());
    REQUIRE(std::string(e.what()).find(path) != std::string::npos);
    REQUIRE(std::string(e.what()).find(fragment) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("model file round trip keeps every bit and attribute", "[io]") {
  TempDir tmp;
  auto net = nn::make_mlp(12, {9, 5}, nn::Activation::tanh, 4, 3);
  net.input_mean = 0.1307f;
  net.input_std = 0.3081f;
  io::Attributes attrs{
      {"dataset", std::string("mnist")}, {"seed", std::int64_t{3}}, {"test_accuracy", 0.97}};
  const auto path = tmp.file("m.h5");
  io::save_model(path, net, attrs);
  const auto m = io::load_model(path);
  REQUIRE(m.net.sizes() == net.sizes());
  for (int l = 0; l < net.num_layers(); ++l) REQUIRE(m.net.activation(l) == net.activation(l));
  REQUIRE(std::memcmp(m.net.parameters().data(), net.parameters().data(),
                      net.parameters().size() * sizeof(float)) == 0);
  REQUIRE(m.net.input_mean == net.input_mean);
  REQUIRE(m.net.input_std == net.input_std);
  REQUIRE(io::attribute_string(m.attributes, "dataset", "") == "mnist");
  REQUIRE(io::attribute_int(m.attributes, "seed", 0) == 3);
  REQUIRE(std::get<double>(m.attributes.at("test_accuracy")) == 0.97);
  REQUIRE(io::attribute_int(m.attributes, "ioca_model_format", 0) == io::model_format_version);
  // No temporary file is left beside it.
  int files = 0;
  for (auto& e : fs::directory_iterator(tmp.path())) files += e.is_regular_file();
  REQUIRE(files == 1);
}

TEST_CASE("a model written like h5py (fixed- and variable-length strings) loads", "[io]") {
  TempDir tmp;
  auto l0 = layer(3, 4, "relu", 0.5f), l1 = layer(2, 3, "identity", -0.25f);
  l0.fixed_length = true;
  const auto path = tmp.file("torch.h5");
  write_raw_model(path, {l0, l1});
  const auto m = io::load_model(path);
  REQUIRE(m.net.sizes() == std::vector<int>{4, 3, 2});
  REQUIRE(m.net.activation(0) == nn::Activation::relu);
  REQUIRE(m.net.weight(1)[0] == -0.25f);
  REQUIRE(m.net.input_mean == 0.0f);
  REQUIRE(m.net.input_std == 1.0f);
}

TEST_CASE("bad model files give one clear error naming the file", "[io]") {
  TempDir tmp;
  const auto good0 = layer(3, 4, "relu"), good1 = layer(2, 3, "identity");
  const auto p = [&](const char* n) { return tmp.file(n); };

  require_file_error(p("missing.h5"), "no such file");
  {
    std::ofstream(p("text.h5")) << "not hdf5 at all";
    require_file_error(p("text.h5"), "not an HDF5 file");
  }
  { io::h5::File f = io::h5::create_file(p("nolayers.h5")); }
  require_file_error(p("nolayers.h5"), "missing group layers");

  auto chain = good1;
  chain.wdims = {2, 5};
  chain.w.assign(10, 0.1f);
  write_raw_model(p("chain.h5"), {good0, chain});
  require_file_error(p("chain.h5"), "takes 5 inputs but the layer before gives 3");

  auto bias = good0;
  bias.bdims = {4};
  bias.b.assign(4, 0.0f);
  write_raw_model(p("bias.h5"), {bias, good1});
  require_file_error(p("bias.h5"), "/layers/0/bias must have shape [3]");

  auto nan = good0;
  nan.w[5] = std::nanf("");
  write_raw_model(p("nan.h5"), {nan, good1});
  require_file_error(p("nan.h5"), "NaN or infinite");

  auto inf = good1;
  inf.b[1] = INFINITY;
  write_raw_model(p("inf.h5"), {good0, inf});
  require_file_error(p("inf.h5"), "NaN or infinite");

  auto gelu = good0;
  gelu.activation = "gelu";
  write_raw_model(p("gelu.h5"), {gelu, good1});
  require_file_error(p("gelu.h5"), "unknown activation 'gelu'");

  auto noact = good0;
  noact.has_activation = false;
  write_raw_model(p("noact.h5"), {noact, good1});
  require_file_error(p("noact.h5"), "missing attribute /layers/0@activation");

  write_raw_model(p("gap.h5"), {good0, good1, layer(2, 2, "identity")}, {"1"});
  require_file_error(p("gap.h5"), "/layers/1 is missing");

  write_raw_model(p("lastrelu.h5"), {good0, layer(2, 3, "relu")});
  require_file_error(p("lastrelu.h5"), "must have activation 'identity'");

  write_raw_model(p("notes.h5"), {good0, good1});
  {
    hid_t file = H5Fopen(p("notes.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    H5Gclose(H5Gcreate2(file, "/layers/notes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Fclose(file);
  }
  require_file_error(p("notes.h5"), "unexpected entry /layers/notes");

  auto flat = good0;
  flat.wdims = {12};
  write_raw_model(p("flat.h5"), {flat, good1});
  require_file_error(p("flat.h5"), "2-D array");
}

TEST_CASE("write_atomically leaves nothing behind when the writer fails", "[io]") {
  TempDir tmp;
  const auto path = tmp.file("out.h5");
  REQUIRE_THROWS_AS(io::write_atomically(path,
                                         [](const std::string& t) {
                                           std::ofstream(t) << "half";
                                           throw Error("boom");
                                         }),
                    Error);
  REQUIRE(fs::is_empty(tmp.path()));
  REQUIRE_THROWS_AS(io::save_model(tmp.file("no/such/dir/m.h5"),
                                   nn::make_mlp(2, {2}, nn::Activation::relu, 2, 1), {}),
                    FileError);
}

TEST_CASE("a model's training indices load sorted and distinct, bad ones are rejected", "[io]") {
  TempDir tmp;
  const auto l0 = layer(3, 4, "relu"), l1 = layer(2, 3, "identity");
  const auto with_indices = [&](const std::string& name, const std::vector<std::int64_t>& v,
                                std::vector<hsize_t> dims) {
    const auto path = tmp.file(name);
    write_raw_model(path, {l0, l1});
    io::h5::File f{io::h5::Handle(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)), path};
    io::h5::write_dataset(f, f.handle.id(), "training_indices", v.data(), dims);
    return path;
  };
  const auto plain = tmp.file("plain.h5");
  write_raw_model(plain, {l0, l1});
  REQUIRE(io::load_model(plain).training_indices.empty());
  const auto m = io::load_model(with_indices("ok.h5", {7, 2, 7, 0}, {4}));
  REQUIRE(m.training_indices == std::vector<std::int64_t>{0, 2, 7});
  require_file_error(with_indices("negative.h5", {3, -1}, {2}), "holds -1");
  require_file_error(with_indices("square.h5", {1, 2, 3, 4}, {2, 2}), "1-D");
}

TEST_CASE("a failed write names its cause from the error number, else from the folder",
          "[io]") {
  TempDir tmp;
  const auto path = tmp.file("out.h5");
  CHECK(io::write_failure_cause(path, ENOSPC) == "no space left on device");
  CHECK(io::write_failure_cause(path, EDQUOT) == "disk quota exceeded");
  CHECK(io::write_failure_cause(path, EROFS) == "read-only file system");
  CHECK(io::write_failure_cause(path, EIO) == "input/output error");
  // An error number that is not a write's, in a healthy folder: no cause to name, and the
  // test write there leaves nothing behind.
  CHECK(io::write_failure_cause(path, EINVAL).empty());
  CHECK(fs::is_empty(tmp.path()));
  CHECK(io::write_failure_message("cannot write /data/f64", path, ENOSPC) ==
        "cannot write /data/f64: no space left on device");
  CHECK(io::write_failure_message("cannot write /data/f64", path, 0) == "cannot write /data/f64");
}
