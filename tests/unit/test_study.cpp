// Study pieces that need no MPI: the information plane, and task records as bytes.
#include <catch2/catch.hpp>
#include <cmath>

#include "ioca/info.hpp"
#include "ioca/nn.hpp"
#include "study/record.hpp"
#include "test_helpers.hpp"

using namespace ioca;

TEST_CASE("information plane of one-neuron layers equals that neuron's H(T) and I(T;Y)",
          "[study][info]") {
  const auto d = testing::gaussian_blobs(2000, 6, 4, 11, 0.3f);
  for (auto act : {nn::Activation::relu, nn::Activation::tanh}) {
    nn::Mlp net = nn::make_mlp(6, {1, 1}, act, 4, 3);
    for (auto rule : {info::Binning::uniform, info::Binning::quantile, info::Binning::binary}) {
      info::MeasureOptions o;
      o.binning.rule = rule;
      o.binning.bins = 12;
      const auto m = info::measure(net, d, o);
      const auto p = info::information_plane(net, d, o);
      for (int l = 0; l < 2; ++l) {
        CHECK(p.entropy[static_cast<std::size_t>(l)] ==
              Approx(m.layers[static_cast<std::size_t>(l)].entropy[0]).margin(1e-12));
        CHECK(p.mutual_information[static_cast<std::size_t>(l)] ==
              Approx(m.layers[static_cast<std::size_t>(l)].mutual_information[0]).margin(1e-12));
      }
    }
  }
}

TEST_CASE("information plane: duplicated neurons add nothing; 0 <= I(T;Y) <= H(T) <= log2 N",
          "[study][info]") {
  const auto d = testing::gaussian_blobs(1500, 5, 3, 5, 0.4f);
  nn::Mlp one = nn::make_mlp(5, {1}, nn::Activation::relu, 3, 9);
  nn::Mlp two({5, 2, 3}, {nn::Activation::relu, nn::Activation::identity});
  for (int j = 0; j < 2; ++j) {  // both hidden neurons are copies of the single one
    std::copy(one.weight(0), one.weight(0) + 5, two.weight(0) + j * 5);
    two.bias(0)[j] = one.bias(0)[0];
  }
  info::MeasureOptions o;
  const auto a = info::information_plane(one, d, o), b = info::information_plane(two, d, o);
  CHECK(a.entropy[0] == Approx(b.entropy[0]).margin(1e-12));
  CHECK(a.mutual_information[0] == Approx(b.mutual_information[0]).margin(1e-12));

  nn::Mlp wide = nn::make_mlp(5, {40, 20}, nn::Activation::tanh, 3, 2);
  const auto w = info::information_plane(wide, d, o);
  for (std::size_t l = 0; l < 2; ++l) {
    CHECK(w.mutual_information[l] >= -1e-12);
    CHECK(w.mutual_information[l] <= w.entropy[l] + 1e-12);
    CHECK(w.entropy[l] <= std::log2(1500.0) + 1e-12);
    CHECK(w.mutual_information[l] <= std::log2(3.0) + 1e-12);
  }
}

TEST_CASE("task records survive bytes; damaged bytes are an error, not a crash", "[study]") {
  study::Record r;
  r.key = "000001/net/sweep/layer0/entropy";
  r.add("/networks/net/a", std::vector<double>{1.5, -2.0, 3.25}, {3});
  r.add("/networks/net/b", std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  r.add("/networks/net/c", std::vector<std::int64_t>{7, -8}, {2});
  r.attribute("/networks/net", "name", std::string("x"));
  r.attribute("/networks/net", "value", 0.25);
  r.attribute("/networks/net", "count", std::int64_t{-3});
  study::Bytes with, without;
  study::serialize(r, true, with);
  study::serialize(r, false, without);
  const auto back = study::deserialize_all(with, "test");
  REQUIRE(back.size() == 1);
  CHECK(back[0].key == r.key);
  CHECK(back[0].find("/networks/net/a").values<double>() == std::vector<double>{1.5, -2.0, 3.25});
  CHECK(back[0].find("/networks/net/b").dims == std::vector<std::uint64_t>{2, 3});
  CHECK(back[0].find("/networks/net/c").values<std::int64_t>() == std::vector<std::int64_t>{7, -8});
  CHECK(back[0].attributes.size() == 3);
  CHECK(std::get<std::int64_t>(back[0].attributes[2].value) == -3);
  CHECK(back[0].has_data());
  const auto layout = study::deserialize_all(without, "test");
  CHECK_FALSE(layout[0].has_data());
  CHECK(layout[0].find("/networks/net/a").checksum == r.find("/networks/net/a").checksum);
  // Every truncation is reported as an error.
  for (std::size_t n = 1; n < with.size(); n += 7) {
    study::Bytes cut(with.begin(), with.begin() + static_cast<std::ptrdiff_t>(n));
    CHECK_THROWS_AS(study::deserialize_all(cut, "test"), Error);
  }
  CHECK_THROWS_AS(r.add("/x", std::vector<double>{1, 2}, {3}), std::logic_error);
}
