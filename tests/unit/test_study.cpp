// Study pieces that need no MPI: the information plane, and task records as bytes.
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "ioca/info.hpp"
#include "ioca/nn.hpp"
#include "ioca/study.hpp"
#include "study/output_lock.hpp"
#include "study/record.hpp"
#include "test_helpers.hpp"

using namespace ioca;

namespace {

// The exact information plane, kept as the reference: every hidden activation of the split
// in memory, each sample's pattern of bins compared in full (ioca's own keeps hashes).
info::InformationPlane naive_information_plane(const nn::Mlp& net, const data::Dataset& split,
                                               const info::MeasureOptions& options) {
  const int H = net.num_hidden();
  const std::size_t N = split.samples;
  info::InformationPlane out;
  out.entropy.assign(static_cast<std::size_t>(H), 0.0);
  out.mutual_information.assign(static_cast<std::size_t>(H), 0.0);
  if (N == 0 || H == 0) return out;

  // Every hidden activation of the split, column-major per layer: values[l][j * N + i].
  std::vector<std::vector<float>> values(static_cast<std::size_t>(H));
  for (int l = 0; l < H; ++l)
    values[static_cast<std::size_t>(l)].resize(N * static_cast<std::size_t>(net.out_size(l)));
  const std::size_t chunk = std::max<std::size_t>(1, options.chunk_rows);
  nn::Activations acts;
  for (std::size_t start = 0; start < N; start += chunk) {
    const int rows = static_cast<int>(std::min(chunk, N - start));
    nn::forward(net, split.row(start), rows, acts);
    for (int l = 0; l < H; ++l) {
      const auto width = static_cast<std::size_t>(net.out_size(l));
      const auto& a = acts.outputs[static_cast<std::size_t>(l)];
      auto& v = values[static_cast<std::size_t>(l)];
      for (int r = 0; r < rows; ++r)
        for (std::size_t j = 0; j < width; ++j)
          v[j * N + start + static_cast<std::size_t>(r)] =
              a[static_cast<std::size_t>(r) * width + j];
    }
  }

  for (int l = 0; l < H; ++l) {
    const auto width = static_cast<std::size_t>(net.out_size(l));
    const auto& v = values[static_cast<std::size_t>(l)];
    // uniform-layer binning uses one range for the layer (over the values the rule sees).
    float low = 0.0f, high = 0.0f;
    bool any = false;
    for (float x : v)
      if (!options.binning.zero_bin || x != 0.0f) {
        low = any ? std::min(low, x) : x;
        high = any ? std::max(high, x) : x;
        any = true;
      }
    // Each sample's pattern of bins, built neuron by neuron .
    std::vector<std::u32string> pattern(N, std::u32string(width, U'\0'));
    std::vector<float> column(N);
    for (std::size_t j = 0; j < width; ++j) {
      std::copy(v.begin() + static_cast<std::ptrdiff_t>(j * N),
                v.begin() + static_cast<std::ptrdiff_t>((j + 1) * N), column.begin());
      const auto bins = info::bin_values(column, options.binning, net.activation(l), low, high);
      for (std::size_t i = 0; i < N; ++i) pattern[i][j] = static_cast<char32_t>(bins[i]);
    }
    // Distinct patterns in sorted order, so the histogram does not depend on sample order.
    std::map<std::u32string, std::size_t> symbol;
    for (const auto& p : pattern) symbol.emplace(p, 0);
    std::size_t next = 0;
    for (auto& [p, s] : symbol) s = next++;
    info::JointHistogram h;
    h.bins = static_cast<int>(symbol.size());
    h.classes = split.classes;
    h.counts.assign(symbol.size() * static_cast<std::size_t>(split.classes), 0);
    for (std::size_t i = 0; i < N; ++i)
      ++h.counts[symbol.at(pattern[i]) * static_cast<std::size_t>(split.classes) +
                 static_cast<std::size_t>(split.y[i])];
    const info::HistogramQuantities q = info::quantities(h, options.estimator);
    out.entropy[static_cast<std::size_t>(l)] = q.entropy;
    out.mutual_information[static_cast<std::size_t>(l)] = q.mutual_information;
  }
  return out;
}

}  // namespace

TEST_CASE("information plane of one-neuron layers equals that neuron's H(T) and I(T,Y)",
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

TEST_CASE("information plane: duplicated neurons add nothing, 0 <= I(T,Y) <= H(T) <= log2 N",
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

TEST_CASE("information plane equals the exact reference for every rule, budget and thread count",
          "[study][info]") {
  const auto d = testing::gaussian_blobs(1200, 8, 4, 21, 0.4f);
  for (auto act : {nn::Activation::relu, nn::Activation::tanh, nn::Activation::sigmoid}) {
    // Narrow layers with coarse bins share patterns between samples (a real histogram);
    // the wide one gives nearly every sample a pattern of its own.
    const nn::Mlp net = nn::make_mlp(8, {3, 2, 24}, act, 4, 17);
    for (auto rule : {info::Binning::uniform, info::Binning::uniform_layer, info::Binning::quantile,
                      info::Binning::binary})
      for (bool zero_bin : {false, true})
        for (std::size_t budget : {std::size_t{1} << 30, std::size_t{0}}) {
          info::MeasureOptions o;
          o.binning.rule = rule;
          o.binning.bins = 4;
          o.binning.zero_bin = zero_bin;
          o.estimator = info::Estimator::miller_madow;
          o.chunk_rows = 100;  // several chunks
          o.activation_cache_bytes = budget;
          const auto ref = naive_information_plane(net, d, o);
          const int saved = omp_get_max_threads();
          omp_set_num_threads(1);
          const auto one = info::information_plane(net, d, o);
          omp_set_num_threads(2);
          const auto two = info::information_plane(net, d, o);
          omp_set_num_threads(saved);
          for (std::size_t l = 0; l < 3; ++l) {
            INFO("activation " << nn::to_string(act) << " rule " << info::to_string(rule)
                               << " zero_bin " << zero_bin << " budget " << budget << " layer "
                               << l);
            CHECK(one.entropy[l] == Approx(ref.entropy[l]).margin(1e-12));
            CHECK(one.mutual_information[l] == Approx(ref.mutual_information[l]).margin(1e-12));
            CHECK(std::memcmp(&one.entropy[l], &two.entropy[l], sizeof(double)) == 0);
            CHECK(std::memcmp(&one.mutual_information[l], &two.mutual_information[l],
                              sizeof(double)) == 0);
          }
        }
  }
}

TEST_CASE("task records survive bytes, damaged bytes are an error, not a crash", "[study]") {
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

TEST_CASE("same_study_config accepts an earlier ioca's spelling of the same config", "[study]") {
  const std::string now =
      "[study]\nname = q\n[data]\nsynthetic_noise = 0.35\n[network]\nhidden = 64; 32\n"
      "[train]\nlr = 0.001\nmomentum = 0.9\n[measure]\nthreshold = 0.3\nzero_bin = false\n";
  const std::string before =
      "name = q\n[data]\nsynthetic_noise = 0.34999999999999998\n[network]\nhidden = 64, 32\n"
      "[train]\nlr = 0.001\nmomentum = 0.90000000000000002\n[measure]\n"
      "threshold = 0.30000001192092896\nzero_bin = false\n";
  REQUIRE(study::same_study_config(now, now));
  REQUIRE(study::same_study_config(now, before));
  REQUIRE(study::same_study_config(before, now));
  // Any real difference still counts.
  auto changed = [&](const std::string& from, const std::string& to) {
    std::string t = now;
    t.replace(t.find(from), from.size(), to);
    return t;
  };
  REQUIRE_FALSE(study::same_study_config(now, changed("lr = 0.001", "lr = 0.0011")));
  REQUIRE_FALSE(study::same_study_config(now, changed("name = q", "name = r")));
  REQUIRE_FALSE(study::same_study_config(now, changed("hidden = 64; 32", "hidden = 64x32")));
  REQUIRE_FALSE(study::same_study_config(now, changed("[train]", "[ablation]")));
  REQUIRE_FALSE(study::same_study_config(now, now + "pairs = true\n"));
  REQUIRE_FALSE(study::same_study_config(now, changed("momentum = 0.9", "momentum = 0.9000000000000001")));
  REQUIRE_FALSE(study::same_study_config(now, changed("zero_bin = false", "zero_bin = true")));
}

TEST_CASE("output lock: written and read back, holders judged by host, pid and SLURM job",
          "[study][lock]") {
  const study::LockHolder me = study::this_process_holder();
  REQUIRE(me.pid == static_cast<long long>(::getpid()));
  REQUIRE(me.pid_start > 0);
  const auto back = study::parse_lock(study::format_lock(me));
  REQUIRE(back);
  CHECK(back->host == me.host);
  CHECK(back->pid == me.pid);
  CHECK(back->pid_start == me.pid_start);
  CHECK(back->started == me.started);
  CHECK_FALSE(study::parse_lock("not a lock"));
  CHECK_FALSE(study::parse_lock("host=a\npid=x\n"));

  // The parent process is alive on this host: never ended, whatever else.
  study::LockHolder live = me;
  live.pid = static_cast<long long>(::getppid());
  live.pid_start = 0;
  CHECK_FALSE(study::judge_holder(live, me).ended);
  CHECK(study::judge_holder(live, me).checkable);
  // The same pid with another start time is another process: the holder has ended.
  study::LockHolder reused = me;
  reused.pid = live.pid;
  reused.pid_start = 1;
  CHECK(study::judge_holder(reused, me).ended);
  // A pid that does not exist.
  study::LockHolder dead = me;
  dead.pid = 0x3ffffffe;
  CHECK(study::judge_holder(dead, me).ended);
  // Another host cannot be checked...
  study::LockHolder remote = me;
  remote.host = me.host + "-elsewhere";
  CHECK_FALSE(study::judge_holder(remote, me).ended);
  CHECK_FALSE(study::judge_holder(remote, me).checkable);
  // ... unless it is an earlier run of this very SLURM job.
  study::LockHolder requeued = me;
  requeued.slurm_job = "77";
  requeued.slurm_restart = 2;
  remote.slurm_job = "77";
  remote.slurm_restart = 1;
  CHECK(study::judge_holder(remote, requeued).ended);
  remote.slurm_restart = 2;
  CHECK_FALSE(study::judge_holder(remote, requeued).ended);
  remote.slurm_job = "78";
  remote.slurm_restart = 0;
  CHECK_FALSE(study::judge_holder(remote, requeued).ended);
}

TEST_CASE("output lock: one holder at a time, released on destruction, stale ones taken over",
          "[study][lock]") {
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("ioca_lock_" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string out = dir + "/r.h5";
  std::string note;
  {
    study::OutputLock first(out, false, &note);
    CHECK(note.empty());
    REQUIRE(std::filesystem::exists(out + ".lock"));
    // This process holds it: another taker is refused, with --force too.
    CHECK_THROWS_WITH(study::OutputLock(out, true, nullptr),
                      Catch::Contains("is being written by another run") &&
                          Catch::Contains("never breaks the lock of a live run"));
  }
  CHECK_FALSE(std::filesystem::exists(out + ".lock"));
  // A dead holder on this host.
  study::LockHolder dead = study::this_process_holder();
  dead.pid = 0x3ffffffe;
  {
    std::ofstream(out + ".lock") << study::format_lock(dead);
  }
  {
    study::OutputLock taken(out, false, &note);
    CHECK_THAT(note, Catch::Contains("took over the lock of a run that has ended"));
  }
  CHECK_FALSE(std::filesystem::exists(out + ".lock"));
  // Another host: refused, broken by force.
  study::LockHolder remote = study::this_process_holder();
  remote.host += "-elsewhere";
  {
    std::ofstream(out + ".lock") << study::format_lock(remote);
  }
  CHECK_THROWS_WITH(study::OutputLock(out, false, nullptr), Catch::Contains("use --force"));
  {
    study::OutputLock broken(out, true, &note);
    CHECK_THAT(note, Catch::Contains("--force: broke the lock"));
  }
  CHECK(std::filesystem::is_empty(dir));
  std::filesystem::remove_all(dir);
}
