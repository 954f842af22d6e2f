#pragma once
// Per-neuron information measures from activation histograms (all in bits), the Morcos et
// al. class selectivity index, and cheap non-information baselines.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ioca/data.hpp"
#include "ioca/nn.hpp"

namespace ioca::info {

// How a neuron's output is quantised (docs/definitions.md, "Binning rules"):
// - uniform: B equal-width bins over [min, max] of that neuron on the estimation split;
//   bin = min(B-1, floor((a-min)/(max-min)*B)); a constant neuron puts all mass in bin 0.
// - uniform_layer: the same with one [min, max] for the whole layer.
// - quantile: equal-frequency bins; edges e_k = s[floor(k*N/B)], k = 1..B-1, of the sorted
//   values s; bin(a) = number of edges <= a (ties share a bin, so fewer bins may be used).
// - binary: bin 1 if a > threshold, else 0.
// With zero_bin, exact zeros get a bin of their own (the last one) and the rule is applied
// to the non-zero values only.
enum class Binning { uniform, uniform_layer, quantile, binary };
Binning parse_binning(std::string_view name);
std::string_view to_string(Binning b);

enum class Estimator { plugin, miller_madow };
Estimator parse_estimator(std::string_view name);
std::string_view to_string(Estimator e);

struct BinningOptions {
  Binning rule = Binning::uniform;
  int bins = 30;
  std::optional<float> threshold;  // binary: default 0 for relu/tanh/identity, 0.5 sigmoid
  bool zero_bin = false;
};

// Counts of (bin, class) for one neuron, row-major [bins, classes].
struct JointHistogram {
  int bins = 0;
  int classes = 0;
  std::vector<std::int64_t> counts;
  std::int64_t at(int bin, int cls) const {
    return counts[static_cast<std::size_t>(bin) * static_cast<std::size_t>(classes) +
                  static_cast<std::size_t>(cls)];
  }
};

// What the histogram gives. Miller–Madow adds (m-1)/(2 N ln 2) to each entropy term
// (m = occupied bins, N = samples of that term), so I = H(T) - sum_y p(y) H(T|Y=y) with
// corrected terms. KL selectivity is always the plug-in divergence (Miller–Madow corrects
// entropies, not divergences); kl_selectivity_corrected is the maximum over classes of the
// bias-corrected divergences of class_divergences (whatever the estimator). Classes absent
// from the split are left out of the maxima; kl_selectivity_class is -1 when no class is
// present.
struct HistogramQuantities {
  double entropy = 0.0;
  double mutual_information = 0.0;
  double kl_selectivity = 0.0;
  std::int64_t kl_selectivity_class = -1;
  double kl_selectivity_corrected = 0.0;
};
HistogramQuantities quantities(const JointHistogram& h, Estimator estimator);

// I(T;Y) in bits of a [bins, classes] table with the given estimator (as quantities()).
double mutual_information_bits(const JointHistogram& h, Estimator estimator);

// D(P_{T|Y=y} || P_T) in bits for one class y, plug-in and with its first-order bias
// removed. With class counts n_y fixed (N = sum n_y), counts c_ty, c_t = sum_y c_ty, m_y
// the occupied bins of class y and W_t = sum_y' c_ty' (1 - c_ty'/n_y'), the plug-in
// divergence has expectation D + b_y + O(1/n^2), b_y in nats =
//     (m_y - 1)/(2 n_y)                                  [from -H(P_{T|y}), Miller–Madow]
//   - sum_t c_ty (1 - c_ty/n_y) / (n_y c_t)              [covariance of P_{T|y} and P_T]
//   + sum_t (c_ty/n_y) W_t / (2 c_t^2)                    [curvature of log P_T]
// (sums over bins with c_ty > 0; the true probabilities replaced by the observed ones).
// corrected = plugin - b_y / ln 2; it may be negative. When T is independent of Y,
// b_y = (m - 1)(1/n_y - 1/N)/2. An absent class (n_y = 0) gives NaN for both.
struct ClassDivergence {
  double plugin = 0.0, corrected = 0.0;
};
std::vector<ClassDivergence> class_divergences(const JointHistogram& h);

// Label-permutation null of I(T;Y). Permuting the labels keeps every neuron's bin counts
// c_t and the class counts n_y, and makes its table a uniformly random one with those
// margins; so permutation k is drawn once, as a random arrangement z_k of the class labels
// over N positions (Fisher–Yates, Rng(derive_seed(seed, {k}))), and each neuron gets the
// table of z_k against its samples sorted by bin: bin t takes positions
// [c_0 + ... + c_{t-1}, c_0 + ... + c_t). With prefix counts of z_k this costs
// O(bins x classes) per neuron and permutation; no per-sample data is needed.
// For each neuron: the mean of the K null values, their 95th percentile (the
// ceil(0.95 K)-th smallest) and the permutation p-value (1 + #{k : I_k >= I - 1e-12}) / (K + 1).
// counts: [neurons, bins, classes], every neuron with the same class counts. The same
// seed gives the same bits for any number of OpenMP threads.
struct NullDistribution {
  std::vector<double> mean, q95, p;
};
NullDistribution mutual_information_null(const std::int64_t* counts, std::size_t neurons,
                                         int bins, int classes, Estimator estimator,
                                         int permutations, std::uint64_t seed);

// Entropy in bits of a vector of counts.
double entropy_bits(const std::int64_t* counts, std::size_t n, Estimator estimator);

// D(P || Q) in bits for count vectors (Q > 0 wherever P > 0 is required).
double kl_divergence_bits(const std::int64_t* p, const std::int64_t* q, std::size_t n);

// Morcos et al. (2018) selectivity index from class-conditional means mu_y of a neuron:
// (mu_max - mu_rest) / (mu_max + mu_rest), mu_rest the mean over the other present classes.
// Activations that can be negative are first shifted to be non-negative: tanh by +1 (its
// lower bound), identity by minus the neuron's minimum on the split; relu and sigmoid are
// used as they are. A zero denominator (a dead neuron) gives 0.
double selectivity_index(const std::vector<double>& class_means, const std::vector<bool>& present);

// Partial information decomposition (PID) of every pair of neurons (Ti, Tj) of a layer about
// the class Y, from the joint (bin_i, bin_j, class) histogram of the binned outputs, in bits,
// always plug-in (maximum-likelihood), whatever the measures' estimator:
//   joint_mutual_information = I(Ti,Tj;Y)
//   redundancy    = I_min of Williams & Beer, "Nonnegative Decomposition of Multivariate
//                   Information", arXiv:1004.2515 (2010): sum_y p(y) min(I_spec(y;Ti),
//                   I_spec(y;Tj)), with I_spec(y;T) = sum_t p(t|y) log2(p(y|t)/p(y))
//   unique_first  = I(Ti;Y) - redundancy,   unique_second = I(Tj;Y) - redundancy
//   synergy       = I(Ti,Tj;Y) - I(Ti;Y) - I(Tj;Y) + redundancy
//   co_information = I(Ti;Y) + I(Tj;Y) - I(Ti,Tj;Y) (= redundancy - synergy)
// I(Ti;Y) is the plug-in mutual information of the neuron's own (bin, class) table, the same
// bits as mutual_information_bits(h, Estimator::plugin) and so as the measures' plug-in
// mutual_information: redundancy + unique_first = I(Ti;Y) and the four parts sum to
// joint_mutual_information, up to rounding. The pairs of a layer of width n are
// (0,1), (0,2), ..., (0,n-1), (1,2), ..., (n-2,n-1): P = n(n-1)/2, pair (i, j) at
// i(2n-i-1)/2 + j-i-1.
struct LayerPairs {
  std::vector<std::int64_t> first, second;
  std::vector<double> joint_mutual_information, redundancy, unique_first, unique_second, synergy,
      co_information;
  std::size_t size() const { return first.size(); }
};

// Names of the float64 pair quantities, in file order, and a lookup by name.
const std::vector<std::string>& pair_quantity_names();
const std::vector<double>& pair_quantity(const LayerPairs& p, std::string_view name);
std::vector<double>& pair_quantity(LayerPairs& p, std::string_view name);

// The bin of every sample for each neuron of a layer: codes[neuron * samples + sample], each
// in [0, bins). 16 bits per value, so at most 65,536 bins.
struct LayerBins {
  std::size_t neurons = 0, samples = 0;
  int bins = 0;
  std::vector<std::uint16_t> codes;
};

// The decomposition of every pair of a layer from its bins and the samples' labels (classes
// in [0, classes)). Each pair is computed by one thread in a fixed order of operations, so
// the bits do not depend on the number of OpenMP threads.
LayerPairs pair_decomposition(const LayerBins& layer, const std::vector<std::int32_t>& labels,
                              int classes);

// The quantities of one hidden layer, one entry per neuron.
struct LayerMeasures {
  std::vector<double> entropy, mutual_information, kl_selectivity, selectivity_index;
  std::vector<std::int64_t> kl_selectivity_class;
  std::vector<double> mean_activation, mean_abs_activation, activation_variance;
  std::vector<double> outgoing_l1, outgoing_l2;
  std::vector<double> kl_selectivity_corrected;
  // The label-permutation null of mutual_information (empty unless mi_null_permutations > 0).
  std::vector<double> mutual_information_null_mean, mutual_information_null_q95,
      mutual_information_null_p;
  std::vector<double> bin_low, bin_high;  // the range binned (uniform rules), per neuron
  std::vector<std::int32_t> bins_used;    // occupied bins
  int histogram_bins = 0;                 // bins per neuron, zero bin included
  std::vector<std::int64_t> histograms;   // [neuron, bin, class], when kept
  std::optional<LayerPairs> pairs;        // the pair decomposition, when asked for
};

struct MeasureOptions {
  BinningOptions binning;
  Estimator estimator = Estimator::plugin;
  int mi_null_permutations = 0;     // K label permutations for the MI null (0: none)
  std::uint64_t mi_null_seed = 0;   // their seed (mutual_information_null)
  std::size_t chunk_rows = 1024;  // samples per forward chunk (bounds memory)
  bool keep_histograms = false;   // keep every (bin, class) count in LayerMeasures
  // The pair decomposition of every hidden layer (LayerMeasures::pairs). Keeps the bin of
  // every sample (2 bytes per sample and hidden neuron) from the histogram pass.
  bool pairs = false;
  // Activations are kept between the two passes up to this size (else computed twice).
  std::size_t activation_cache_bytes = std::size_t{1} << 30;
};

struct MeasureTimings {
  double statistics_seconds = 0.0;  // forward passes, ranges, sums, quantile edges
  double histogram_seconds = 0.0;   // the (bin, class) counting pass
  double null_seconds = 0.0;        // the MI permutation null (mi_null_permutations > 0)
  double pairs_seconds = 0.0;       // the pair decompositions (pairs)
  bool activations_cached = false;
};

struct Measures {
  std::vector<LayerMeasures> layers;  // one per hidden layer
  std::size_t samples = 0;
  int classes = 0;
};

// Names of the per-neuron double quantities, in file order, and a lookup by name.
// Optional quantities may be absent (empty): kl_selectivity_corrected from files of ioca
// versions before it, the mutual_information_null_* ones unless the null was asked for.
const std::vector<std::string>& quantity_names();
bool optional_quantity(std::string_view name);
const std::vector<double>& quantity(const LayerMeasures& m, std::string_view name);
std::vector<double>& quantity(LayerMeasures& m, std::string_view name);

// Two passes over the split in chunks: statistics and ranges, then histograms (and with
// options.pairs each sample's bins, then the pair decomposition of each layer). Memory is
// bounded by the chunk size plus activation_cache_bytes (the cached activations, or
// without the cache the values of the neurons whose quantile edges are being found; at
// least one neuron's values). Deterministic for any number of OpenMP threads.
Measures measure(const nn::Mlp& net, const data::Dataset& split, const MeasureOptions& options,
                 MeasureTimings* timings = nullptr);

// The information-plane coordinates of each hidden layer (one entry per hidden layer): the
// layer's output vector binned neuron by neuron with the measures' binning rule, each
// distinct pattern of bins one symbol; entropy = H(T) (= I(X;T) for a deterministic
// network) and mutual_information = I(T;Y), in bits, with the measures' estimator.
struct InformationPlane {
  std::vector<double> entropy, mutual_information;
};
InformationPlane information_plane(const nn::Mlp& net, const data::Dataset& split,
                                   const MeasureOptions& options);

// The Kolchinsky–Tracey upper bound on I(X;T) for a layer made noisy, T = h(X) + eps with
// eps ~ N(0, s2 I) (Kolchinsky & Tracey 2017, "Estimating mixture entropy with pairwise
// distances", Entropy 19:361; used by Saxe et al., ICLR 2018). The N samples h_i are the
// equally weighted components of a Gaussian mixture, whose entropy is bounded by pairwise
// KL divergences, ||h_i - h_j||^2 / (2 s2) for equal covariances:
//   I(X;T) <= -(1/N) sum_i ln (1/N) sum_j exp(-||h_i - h_j||^2 / (2 s2))   [nats]
// and, the same over the N_y samples of each class y (H(T|Y) bounded alike),
//   I(T;Y) ~= that - sum_y p(y) * [the same bound over the samples of class y only]
// (the difference of two upper bounds, as Saxe et al. use it: an estimate, not itself a
// bound). Both are reported in bits. ty <= xt and 0 <= xt <= log2 N: xt is 0 when the
// points coincide and tends to log2 N as they move apart (ty then to H(Y)).
// The squared distances come from a float64 Gram matrix (gemm_f64_serial, tiles of C fixed
// by the shape), each row summed in column order, rows summed in row order: the same bits
// for any number of OpenMP threads. Memory: N x width doubles plus one tile per thread.
// activations: [samples, width] row-major; labels: [samples], each in [0, classes).
struct KdeBounds {
  double xt = 0.0;  // upper bound on I(X;T), bits
  double ty = 0.0;  // estimate of I(T;Y), bits
};
KdeBounds kde_upper_bounds(const float* activations, std::size_t samples, std::size_t width,
                           const std::int32_t* labels, int classes, double noise_variance);

// One point of the information plane during training, per hidden layer, measured on a set
// of samples (docs/study.md, "Information plane over training"):
// - binned: information_plane() of the layer with the given binning (plug-in estimator):
//   binned_entropy = H(T) = I(X;T), binned_mutual_information = I(T;Y); saturated = 1 when
//   H(T) >= 0.99 log2 N (nearly every sample has a pattern of its own: the binned estimate
//   then says more about N than about the layer);
// - kde: kde_upper_bounds() of the layer's activations at noise variance noise_variance.
struct SnapshotOptions {
  BinningOptions binning;       // rule and bins (no zero bin, default threshold)
  double noise_variance = 0.1;  // s2 of the KDE bound
  std::size_t chunk_rows = 1024;
  std::size_t activation_cache_bytes = std::size_t{1} << 30;  // quantile binning
};
struct SnapshotLayers {  // one entry per hidden layer
  std::vector<double> binned_entropy, binned_mutual_information, kde_upper_xt, kde_upper_ty;
  std::vector<std::int64_t> saturated;
};
SnapshotLayers plane_snapshot(const nn::Mlp& net, const data::Dataset& samples,
                              const SnapshotOptions& options);

// The snapshots of one training run, in epoch order, with what they were measured with.
struct TrainingPlane {
  std::vector<std::int64_t> epochs;    // 0 = before training, e = after e epochs
  std::vector<SnapshotLayers> points;  // one per epoch
  SnapshotOptions options;
  std::string split;        // the split the samples come from
  std::size_t samples = 0;  // N: the samples measured (the split, or its capped subset)
};

// At most max_samples samples of d (all of them for 0 or max_samples >= d.samples): the
// first max_samples of a Fisher–Yates shuffle of 0..N-1 by Rng(seed), in increasing index
// order.
data::Dataset sample_subset(const data::Dataset& d, std::size_t max_samples, std::uint64_t seed);

// The bin of every sample for one neuron's values, by the rules above (the naive reference
// the fast path is tested against; also used for quantile binning).
std::vector<int> bin_values(const std::vector<float>& values, const BinningOptions& options,
                            nn::Activation activation, float layer_low, float layer_high);

}  // namespace ioca::info
