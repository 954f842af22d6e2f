// The information plane over training: the Kolchinsky–Tracey KDE bound against closed
// forms, numerical integration and a naive double loop; binned snapshots on layers whose
// patterns can be counted by hand; snapshots during training against the untrained network
// and the network trained without them.
#include <omp.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <numbers>
#include <numeric>

#include "io/layout.hpp"
#include "ioca/info.hpp"
#include "ioca/nn.hpp"
#include "ioca/pipeline.hpp"
#include "test_helpers.hpp"

using namespace ioca;

namespace {

// The bound exactly as written, pair by pair in long double: the reference for the
// Gram-matrix path. Returns {xt, ty} in bits.
info::KdeBounds naive_kde(const std::vector<float>& h, std::size_t n, std::size_t width,
                          const std::vector<std::int32_t>& y, int classes, double s2) {
  std::vector<std::size_t> count(static_cast<std::size_t>(classes), 0);
  for (const auto c : y) ++count[static_cast<std::size_t>(c)];
  long double xt = 0, conditional = 0;
  for (std::size_t i = 0; i < n; ++i) {
    long double all = 0, same = 0;
    for (std::size_t j = 0; j < n; ++j) {
      long double d2 = 0;
      for (std::size_t k = 0; k < width; ++k) {
        const long double diff = static_cast<long double>(h[i * width + k]) - h[j * width + k];
        d2 += diff * diff;
      }
      const long double e = std::exp(-d2 / (2.0L * s2));
      all += e;
      if (y[j] == y[i]) same += e;
    }
    xt -= std::log(all / static_cast<long double>(n));
    conditional -= std::log(same / static_cast<long double>(count[static_cast<std::size_t>(y[i])]));
  }
  const long double bits = 1.0L / (static_cast<long double>(n) * std::log(2.0L));
  return {static_cast<double>(xt * bits), static_cast<double>((xt - conditional) * bits)};
}

std::vector<float> random_points(std::size_t n, std::size_t width, float spread,
                                 std::uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n * width);
  for (auto& x : v) x = spread * static_cast<float>(rng.normal());
  return v;
}

std::vector<std::int32_t> round_robin_labels(std::size_t n, int classes) {
  std::vector<std::int32_t> y(n);
  for (std::size_t i = 0; i < n; ++i)
    y[i] = static_cast<std::int32_t>(i % static_cast<std::size_t>(classes));
  return y;
}

// I(X;T) in nats of T = h(X) + N(0, s2), X uniform over the 1-D points h, by integrating
// the mixture's density on a fine grid (Simpson's rule): H(T) - H(T|X), H(T|X) the entropy
// of one component, 0.5 ln(2 pi e s2).
double mixture_information(const std::vector<double>& h, double s2) {
  const double sd = std::sqrt(s2);
  const double lo = *std::min_element(h.begin(), h.end()) - 14 * sd,
               hi = *std::max_element(h.begin(), h.end()) + 14 * sd;
  const int steps = 200000;  // even
  const double dx = (hi - lo) / steps;
  const double norm = 1.0 / (static_cast<double>(h.size()) * std::sqrt(2 * std::numbers::pi * s2));
  double entropy = 0;
  for (int k = 0; k <= steps; ++k) {
    const double t = lo + k * dx;
    double p = 0;
    for (const double c : h) p += std::exp(-(t - c) * (t - c) / (2 * s2));
    p *= norm;
    const double f = p > 0 ? -p * std::log(p) : 0.0;
    entropy += f * (k == 0 || k == steps ? 1 : (k % 2 ? 4 : 2));
  }
  entropy *= dx / 3;
  return entropy - 0.5 * std::log(2 * std::numbers::pi * std::numbers::e * s2);
}

// The pairwise form -(1/N) sum_i ln (1/N) sum_j exp(-D_ij) in nats for a distance D between
// equal-variance Gaussians: the KL divergence d^2 / (2 s2) gives the upper bound, the
// Bhattacharyya distance d^2 / (8 s2) a lower bound (Kolchinsky & Tracey 2017).
double pairwise_nats(const std::vector<double>& h, double s2, double divisor) {
  double sum = 0;
  for (const double a : h) {
    double inner = 0;
    for (const double b : h) inner += std::exp(-(a - b) * (a - b) / (divisor * s2));
    sum -= std::log(inner / static_cast<double>(h.size()));
  }
  return sum / static_cast<double>(h.size());
}

}  // namespace

TEST_CASE("KDE bound: identical points give 0, far-apart points log2 N and H(Y)", "[plane][info]") {
  const std::size_t n = 60, width = 7;
  const auto y = round_robin_labels(n, 3);
  std::vector<float> same(n * width);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = 0; k < width; ++k)
      same[i * width + k] = 0.25f * static_cast<float>(k) - 0.5f;
  const auto zero = info::kde_upper_bounds(same.data(), n, width, y.data(), 3, 0.1);
  CHECK(zero.xt == Approx(0.0).margin(1e-12));
  CHECK(zero.ty == Approx(0.0).margin(1e-12));

  std::vector<float> apart(n * width, 0.0f);
  for (std::size_t i = 0; i < n; ++i)
    apart[i * width + i % width] = 1000.0f * static_cast<float>(i + 1);
  const auto far = info::kde_upper_bounds(apart.data(), n, width, y.data(), 3, 0.1);
  CHECK(far.xt == Approx(std::log2(60.0)).epsilon(1e-14));
  CHECK(far.ty == Approx(std::log2(3.0)).epsilon(1e-12));  // equal classes: H(Y)

  // Unequal classes: ty = log2 N - sum_y p(y) log2 N_y = H(Y).
  std::vector<std::int32_t> uneven(n, 0);
  for (std::size_t i = 0; i < 15; ++i) uneven[i] = 1;
  const auto skew = info::kde_upper_bounds(apart.data(), n, width, uneven.data(), 2, 0.1);
  const double hy = -(0.25 * std::log2(0.25) + 0.75 * std::log2(0.75));
  CHECK(skew.ty == Approx(hy).epsilon(1e-12));
}

TEST_CASE("KDE bound: two points at distance d give -log2((1 + exp(-d^2/(2 s2)))/2)",
          "[plane][info]") {
  const std::vector<std::int32_t> y{0, 1};
  for (const double s2 : {0.1, 1.0, 2.5})
    for (const double d : {0.0, 0.05, 0.3, 1.0, 2.0, 5.0}) {
      // Along a diagonal of 3 dimensions, from an offset origin.
      const float step = static_cast<float>(d / std::sqrt(3.0));
      const std::vector<float> h{0.5f, -1.0f, 2.0f, 0.5f + step, -1.0f + step, 2.0f + step};
      double d2 = 0;
      for (int k = 0; k < 3; ++k) {
        const double diff = static_cast<double>(h[static_cast<std::size_t>(3 + k)]) -
                            h[static_cast<std::size_t>(k)];
        d2 += diff * diff;
      }
      const auto b = info::kde_upper_bounds(h.data(), 2, 3, y.data(), 2, s2);
      INFO("s2 " << s2 << " d " << d);
      CHECK(b.xt == Approx(-std::log2((1.0 + std::exp(-d2 / (2 * s2))) / 2.0)).margin(1e-12));
      // One sample per class: H(T|Y) bounds are 0, so ty = xt.
      CHECK(b.ty == Approx(b.xt).margin(1e-12));
    }
}

TEST_CASE("KDE bound: at least the true mutual information of X and T of a noisy 1-D mixture, within the known gap",
          "[plane][info]") {
  // Points a float holds exactly, so the bound sees the mixture that is integrated.
  const std::vector<std::vector<double>> mixtures{
      {0.0, 0.25}, {0.0, 0.625}, {0.0, 1.5}, {0.0, 4.0}, {0.0, 0.25, 1.0, 2.5, 2.625}};
  for (const double s2 : {0.1, 0.5})
    for (const auto& h : mixtures) {
      const double truth = mixture_information(h, s2);
      const double lower = pairwise_nats(h, s2, 8.0), upper = pairwise_nats(h, s2, 2.0);
      const std::vector<float> hf(h.begin(), h.end());
      const std::vector<std::int32_t> y(h.size(), 0);
      const double bound = info::kde_upper_bounds(hf.data(), h.size(), 1, y.data(), 1, s2).xt;
      INFO("s2 " << s2 << " points " << h.size() << " last " << h.back() << " true "
                 << truth / std::log(2.0) << " bound " << bound);
      CHECK(bound == Approx(upper / std::log(2.0)).margin(1e-12));
      CHECK(bound >= truth / std::log(2.0) - 1e-9);  // an upper bound
      CHECK(truth >= lower - 1e-9);  // the Bhattacharyya form bounds it from below, so the
      CHECK(bound - truth / std::log(2.0) <= (upper - lower) / std::log(2.0) + 1e-9);  // gap
      CHECK(bound <= std::log2(static_cast<double>(h.size())) + 1e-12);  // and H(X) bounds all
    }
}

TEST_CASE("KDE bound: the Gram-matrix path equals a naive double loop, any threads",
          "[plane][info]") {
  // 1300 samples: several row tiles (256) and two column tiles (1024).
  struct Case {
    std::size_t n, width;
    float spread;
    double s2;
  };
  for (const Case& c : {Case{1300, 20, 0.3f, 0.1}, Case{300, 5, 1.0f, 0.5},
                        Case{257, 64, 0.05f, 0.1}, Case{1, 3, 1.0f, 0.1}}) {
    const std::size_t n = c.n, width = c.width;
    const double s2 = c.s2;
    const auto h = random_points(n, width, c.spread, n + width);
    const int classes = n < 4 ? 1 : 4;
    const auto labels = round_robin_labels(n, classes);
    const auto ref = naive_kde(h, n, width, labels, classes, s2);
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    const auto one = info::kde_upper_bounds(h.data(), n, width, labels.data(), classes, s2);
    omp_set_num_threads(2);
    const auto two = info::kde_upper_bounds(h.data(), n, width, labels.data(), classes, s2);
    omp_set_num_threads(saved);
    INFO("n " << n << " width " << width);
    CHECK(one.xt == Approx(ref.xt).margin(1e-9));
    CHECK(one.ty == Approx(ref.ty).margin(1e-9));
    CHECK(one.ty <= one.xt + 1e-12);
    CHECK(one.xt <= std::log2(static_cast<double>(n)) + 1e-12);
    CHECK(std::memcmp(&one, &two, sizeof one) == 0);
  }
  const std::vector<float> h{0.0f, 1.0f};
  const std::vector<std::int32_t> y{0, 0};
  CHECK_THROWS_AS(info::kde_upper_bounds(h.data(), 2, 1, y.data(), 1, 0.0), Error);
  CHECK_THROWS_AS(info::kde_upper_bounds(h.data(), 2, 1, y.data(), 1, std::nan("")), Error);
}

TEST_CASE("binned snapshot: patterns counted by hand, and the saturation flag", "[plane][info]") {
  // One input x in {0, 1, 2, 3}, 25 samples each, label x mod 2; hidden layer relu(x) and
  // relu(3 - x). Binary bins (threshold 0) give the patterns (0,1) for x = 0, (1,1) for
  // x = 1, 2 and (1,0) for x = 3: probabilities 1/4, 1/2, 1/4, so H(T) = 1.5 bits, and
  // I(T;Y) = H(Y) - H(Y|T) = 1 - 1/2 (only (1,1) leaves the label open).
  nn::Mlp net({1, 2, 2}, {nn::Activation::relu, nn::Activation::identity});
  net.weight(0)[0] = 1.0f;
  net.weight(0)[1] = -1.0f;
  net.bias(0)[0] = 0.0f;
  net.bias(0)[1] = 3.0f;
  data::Dataset d;
  d.name = "hand";
  d.features = 1;
  d.classes = 2;
  for (int i = 0; i < 100; ++i) {
    d.x.push_back(static_cast<float>(i % 4));
    d.y.push_back(i % 2);
  }
  d.samples = 100;
  info::SnapshotOptions o;
  o.binning.rule = info::Binning::binary;
  auto s = info::plane_snapshot(net, d, o);
  CHECK(s.binned_entropy[0] == Approx(1.5).margin(1e-12));
  CHECK(s.binned_mutual_information[0] == Approx(0.5).margin(1e-12));
  CHECK(s.saturated[0] == 0);  // 1.5 < 0.99 log2 100

  // Eight samples x = 0..7 through relu(x), 8 uniform bins over [0, 7]: every sample a bin
  // of its own, H(T) = 3 = log2 8: saturated. With 2 bins, H(T) = 1: not.
  nn::Mlp one({1, 1, 2}, {nn::Activation::relu, nn::Activation::identity});
  one.weight(0)[0] = 1.0f;
  data::Dataset e;
  e.name = "hand";
  e.features = 1;
  e.classes = 2;
  for (int i = 0; i < 8; ++i) {
    e.x.push_back(static_cast<float>(i));
    e.y.push_back(i < 4 ? 0 : 1);
  }
  e.samples = 8;
  o.binning.rule = info::Binning::uniform;
  o.binning.bins = 8;
  s = info::plane_snapshot(one, e, o);
  CHECK(s.binned_entropy[0] == Approx(3.0).margin(1e-12));
  CHECK(s.binned_mutual_information[0] == Approx(1.0).margin(1e-12));
  CHECK(s.saturated[0] == 1);
  o.binning.bins = 2;
  s = info::plane_snapshot(one, e, o);
  CHECK(s.binned_entropy[0] == Approx(1.0).margin(1e-12));
  CHECK(s.saturated[0] == 0);
  // Its KDE bound is the one of the layer's values themselves.
  const std::vector<float> values{0, 1, 2, 3, 4, 5, 6, 7};
  const auto k = info::kde_upper_bounds(values.data(), 8, 1, e.y.data(), 2, o.noise_variance);
  CHECK(s.kde_upper_xt[0] == k.xt);
  CHECK(s.kde_upper_ty[0] == k.ty);
}

TEST_CASE("sample subset: seeded, sorted, distinct, the whole split without a cap",
          "[plane][info]") {
  const auto d = testing::gaussian_blobs(500, 3, 4, 2, 0.3f);
  CHECK(info::sample_subset(d, 0, 1).x == d.x);
  CHECK(info::sample_subset(d, 500, 1).x == d.x);
  const auto a = info::sample_subset(d, 120, 9), b = info::sample_subset(d, 120, 9),
             c = info::sample_subset(d, 120, 10);
  REQUIRE(a.samples == 120);
  CHECK(a.x == b.x);
  CHECK(a.x != c.x);
  // The documented rule: the first 120 of a Fisher–Yates shuffle by Rng(9), sorted.
  std::vector<std::size_t> order(500);
  std::iota(order.begin(), order.end(), std::size_t{0});
  Rng rng(9);
  shuffle(order, rng);
  order.resize(120);
  std::sort(order.begin(), order.end());
  CHECK(d.subset(order).x == a.x);
  CHECK(d.subset(order).y == a.y);
}

TEST_CASE("snapshots: the trained network is the same bits, epoch 0 is the untrained one",
          "[plane][pipeline]") {
  data::Splits sp;
  sp.train = testing::gaussian_blobs(900, 12, 3, 4, 0.4f);
  sp.validation = testing::gaussian_blobs(300, 12, 3, 5, 0.4f);
  sp.test = testing::gaussian_blobs(200, 12, 3, 6, 0.4f);
  nn::TrainOptions t;
  t.epochs = 3;
  t.seed = 8;
  const std::vector<int> hidden{16, 8};
  const nn::Mlp plain = pipeline::train(sp, hidden, nn::Activation::tanh, t);
  for (const std::size_t cap : {std::size_t{0}, std::size_t{120}}) {
    pipeline::Snapshots s;
    s.epochs = {0, 1, 3};
    s.max_samples = cap;
    s.options.binning.bins = 6;
    std::vector<std::int64_t> seen;
    const pipeline::Trained trained = pipeline::train_with_snapshots(
        sp, hidden, nn::Activation::tanh, t, s, {},
        [&](std::int64_t epoch, const info::SnapshotLayers&) { seen.push_back(epoch); });
    INFO("cap " << cap);
    CHECK(nn::fingerprint(trained.net) == nn::fingerprint(plain));
    CHECK(trained.net.parameters() == plain.parameters());
    REQUIRE(trained.plane);
    const info::TrainingPlane& p = *trained.plane;
    CHECK(p.epochs == std::vector<std::int64_t>{0, 1, 3});
    CHECK(seen == p.epochs);
    REQUIRE(p.points.size() == 3);
    CHECK(p.samples == (cap ? cap : 300));

    // Epoch 0: information_plane and the KDE bound of the untrained network, on the
    // documented samples.
    const nn::Mlp untrained =
        nn::make_mlp(12, hidden, nn::Activation::tanh, 3, derive_seed(t.seed, {hash_name("init")}));
    const data::Dataset samples = info::sample_subset(
        sp.validation, cap, derive_seed(t.seed, {hash_name("snapshot_samples")}));
    info::MeasureOptions m;
    m.binning = s.options.binning;
    const info::InformationPlane ref = info::information_plane(untrained, samples, m);
    const info::SnapshotLayers ref_snapshot = info::plane_snapshot(untrained, samples, s.options);
    for (std::size_t l = 0; l < 2; ++l) {
      CHECK(p.points[0].binned_entropy[l] == ref.entropy[l]);
      CHECK(p.points[0].binned_mutual_information[l] == ref.mutual_information[l]);
      CHECK(p.points[0].kde_upper_xt[l] == ref_snapshot.kde_upper_xt[l]);
      CHECK(p.points[0].kde_upper_ty[l] == ref_snapshot.kde_upper_ty[l]);
    }
    // The last snapshot is the trained network.
    const info::SnapshotLayers last = info::plane_snapshot(plain, samples, s.options);
    CHECK(p.points[2].kde_upper_xt == last.kde_upper_xt);
    CHECK(p.points[2].binned_entropy == last.binned_entropy);
    // Training moves the layers: the snapshots differ.
    CHECK(p.points[0].kde_upper_xt != p.points[2].kde_upper_xt);

    // The record layout: [S] per quantity and layer, the settings as attributes.
    io::Record r;
    r.key = "k";
    io::add_training_plane(r, "/networks/n", p);
    CHECK(r.find("/networks/n/training/information_plane/epochs").values<std::int64_t>() ==
          p.epochs);
    const auto xt1 = r.find("/networks/n/training/information_plane/layers/1/kde_upper_xt");
    CHECK(xt1.dims == std::vector<std::uint64_t>{3});
    CHECK(xt1.values<double>()[2] == p.points[2].kde_upper_xt[1]);
    CHECK(r.find("/networks/n/training/information_plane/layers/0/saturated").type ==
          io::DType::i64);
    bool log2_samples = false;
    for (const auto& a : r.attributes)
      if (a.name == "log2_samples")
        log2_samples = std::get<double>(a.value) == std::log2(static_cast<double>(p.samples));
    CHECK(log2_samples);
  }
}

TEST_CASE("snapshots: the same bits for 1 and 2 threads", "[plane][info]") {
  const auto d = testing::gaussian_blobs(1100, 10, 4, 3, 0.3f);
  const nn::Mlp net = nn::make_mlp(10, {40, 12}, nn::Activation::relu, 4, 5);
  for (auto rule : {info::Binning::uniform, info::Binning::quantile}) {
    info::SnapshotOptions o;
    o.binning.rule = rule;
    o.chunk_rows = 100;
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    const auto one = info::plane_snapshot(net, d, o);
    omp_set_num_threads(2);
    const auto two = info::plane_snapshot(net, d, o);
    omp_set_num_threads(saved);
    CHECK(one.binned_entropy == two.binned_entropy);
    CHECK(one.binned_mutual_information == two.binned_mutual_information);
    CHECK(one.kde_upper_xt == two.kde_upper_xt);
    CHECK(one.kde_upper_ty == two.kde_upper_ty);
    CHECK(one.saturated == two.saturated);
  }
}
