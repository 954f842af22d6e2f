// The fast engine. Per (order, chunk of samples) task: start from the cached intact state;
// ablating neuron j of layer m changes only the samples whose a_j differs from the
// ablation value, and for those the next layer's pre-activation by the rank-1 term
// (c - a_j) w_j; the layers above are recomputed for those samples alone.
#include <algorithm>
#include <optional>

#include "ablation/exact_forward.hpp"
#include "ablation/intact_cache.hpp"
#include "ioca/core.hpp"

namespace ioca::ablation {
namespace detail {

std::size_t intact_bytes_per_row(const ExactNet& en) {
  std::size_t bytes = sizeof(double) + sizeof(std::int32_t);
  for (int l = 0; l < en.hidden(); ++l) bytes += en.width(l) * sizeof(float);
  for (int l = 1; l < en.layers(); ++l) bytes += en.width(l) * sizeof(double);
  return bytes;
}

IntactCache compute_intact(const ExactNet& en, const data::Dataset& test, std::size_t lo,
                           std::size_t hi, std::size_t chunk_rows) {
  const int L = en.layers(), H = en.hidden();
  const std::size_t n = hi - lo;
  IntactCache cache;
  cache.first_row = lo;
  cache.rows = n;
  cache.a.resize(static_cast<std::size_t>(H));
  cache.z.resize(static_cast<std::size_t>(L));
  for (int l = 0; l < H; ++l) {
    reserve_large(cache.a[static_cast<std::size_t>(l)], n * en.width(l));
    cache.a[static_cast<std::size_t>(l)].resize(n * en.width(l));
  }
  for (int l = 1; l < L; ++l) {
    reserve_large(cache.z[static_cast<std::size_t>(l)], n * en.width(l));
    cache.z[static_cast<std::size_t>(l)].resize(n * en.width(l));
  }
  cache.loss.resize(n);
  cache.predicted.resize(n);
  const std::size_t chunks = (n + chunk_rows - 1) / chunk_rows;
  parallel_for(static_cast<std::ptrdiff_t>(chunks), [&](std::ptrdiff_t ch) {
    std::vector<float> input(en.input_width());
    std::vector<double> z0(en.width(0));
    const std::size_t first = static_cast<std::size_t>(ch) * chunk_rows,
                      last = std::min(n, first + chunk_rows);
    for (std::size_t r = first; r < last; ++r) {
      en.input_row(test.row(lo + r), input.data());
      const float* in = input.data();
      for (int l = 0; l < L; ++l) {
        const auto ul = static_cast<std::size_t>(l);
        double* z = l == 0 ? z0.data() : cache.z[ul].data() + r * en.width(l);
        en.affine(l, in, z);
        if (l + 1 < L) {
          float* a = cache.a[ul].data() + r * en.width(l);
          en.activate(l, z, a, nullptr);
          in = a;
        }
      }
      int predicted = 0;
      cache.loss[r] = row_loss(cache.z.back().data() + r * en.width(L - 1), en.classes(),
                               test.y[lo + r], predicted);
      cache.predicted[r] = predicted;
    }
  });
  return cache;
}

namespace {

// The storage of a task's state, kept by each thread from task to task: fresh memory for
// every task (a few hundred KB) cost a page fault per 4 KiB page.
struct ChunkBuffers {
  std::vector<std::vector<float>> a;
  std::vector<std::vector<double>> z;
  std::vector<std::vector<std::uint8_t>> ablated;
  std::vector<double> loss;
  std::vector<std::int32_t> predicted;
  std::vector<std::uint32_t> changed;
  std::vector<double> top2;
};

// The mutable state of one task: rows [lo, lo + rows) from layer `low` upward.
class ChunkState {
 public:
  ChunkState(const ExactNet& en, const IntactCache& cache, std::size_t lo, std::size_t rows,
             int low, ChunkBuffers& buffers)
      : en_(en),
        lo_(lo),
        rows_(rows),
        low_(low),
        a_(buffers.a),
        z_(buffers.z),
        ablated_(buffers.ablated),
        loss_(buffers.loss),
        predicted_(buffers.predicted),
        changed_(buffers.changed),
        top2_(buffers.top2) {
    changed_.resize(rows);
    top2_.resize(2 * rows);
    a_.resize(static_cast<std::size_t>(en.hidden()));
    z_.resize(static_cast<std::size_t>(en.layers()));
    ablated_.resize(static_cast<std::size_t>(en.hidden()));
    const std::size_t at = lo - cache.first_row;  // the samples' position in the cache
    for (int l = low; l < en.hidden(); ++l) {
      const auto w = en.width(l);
      const auto* src = cache.a[static_cast<std::size_t>(l)].data() + at * w;
      a_[static_cast<std::size_t>(l)].assign(src, src + rows * w);
    }
    for (int l = low + 1; l < en.layers(); ++l) {
      const auto w = en.width(l);
      const auto* src = cache.z[static_cast<std::size_t>(l)].data() + at * w;
      z_[static_cast<std::size_t>(l)].assign(src, src + rows * w);
    }
    for (int l = 0; l < en.hidden(); ++l)
      ablated_[static_cast<std::size_t>(l)].assign(en.width(l), 0);
    loss_.assign(cache.loss.begin() + static_cast<std::ptrdiff_t>(at),
                 cache.loss.begin() + static_cast<std::ptrdiff_t>(at + rows));
    predicted_.assign(cache.predicted.begin() + static_cast<std::ptrdiff_t>(at),
                      cache.predicted.begin() + static_cast<std::ptrdiff_t>(at + rows));
  }

  // Returns the number of sample rows that changed.
  std::int64_t ablate(const Neuron& nr, const data::Dataset& test) {
    const auto m = static_cast<std::size_t>(nr.layer), j = static_cast<std::size_t>(nr.index);
    ablated_[m][j] = 1;
    const float c = en_.value(nr.layer, nr.index);
    const std::size_t w = en_.width(nr.layer), w_next = en_.width(nr.layer + 1);
    const double* outgoing = en_.outgoing(nr.layer, nr.index);
    float* a = a_[m].data();
    double* z_next = z_[m + 1].data();
    // The rows whose a_j is not c yet, listed without a branch (a quarter to a half of them
    // change at a ReLU network's step, which a branch would keep guessing wrong).
    std::uint32_t* changed = changed_.data();
    std::size_t n_changed = 0;
    for (std::size_t r = 0; r < rows_; ++r) {
      changed[n_changed] = static_cast<std::uint32_t>(r);
      n_changed += a[r * w + j] != c;
    }
    const int next = nr.layer + 1;
    const bool next_hidden = next < en_.hidden();
    for (std::size_t k = 0; k < n_changed; ++k) {
      const std::uint32_t r = changed[k];
      const float current = a[r * w + j];
      a[r * w + j] = c;
      const double delta = static_cast<double>(c) - static_cast<double>(current);
      if (!next_hidden) {  // the logits themselves
        axpy(delta, outgoing, z_next + r * w_next, w_next);
        continue;
      }
      float* a_next = a_[m + 1].data() + r * w_next;
      en_.update_activate(next, delta, outgoing, z_next + r * w_next, a_next,
                          ablated_[m + 1].data());
      en_.affine(next + 1, a_next, z_[m + 2].data() + r * en_.width(next + 1));
      propagate(r, next + 1);
    }
    // The changed rows' losses in one batch (the kernel overlaps rows). The rank-1 update
    // rounds differently from the naive engine's full pass: a near-tied row is taken as the
    // naive engine computes it (the state above stays the fast one; a later step that
    // changes this row comes back here).
    const std::size_t r0 = lo_;
    fast_rows_loss(
        en_, z_.back().data(), changed, n_changed, test.y.data() + lo_,
        [&test, r0](std::size_t r) { return test.row(r0 + r); },
        [this]() -> const auto& { return ablated_; }, naive_rows_, loss_.data(), predicted_.data(),
        top2_.data());
    return static_cast<std::int64_t>(n_changed);
  }

  // Adds the rows' losses to `loss`, in row order, and counts the correct ones per class.
  void add_totals(const data::Dataset& test, double& loss, std::int64_t* correct_by_class) const {
    for (std::size_t r = 0; r < rows_; ++r) {
      loss += loss_[r];
      const int label = test.y[lo_ + r];
      if (predicted_[r] == label) ++correct_by_class[label];
    }
  }

 private:
  // Recomputes row r from the pre-activation of layer `from` up to the logits.
  void propagate(std::size_t r, int from) {
    const int L = en_.layers();
    for (int l = from; l + 1 < L; ++l) {
      const auto ul = static_cast<std::size_t>(l);
      float* a = a_[ul].data() + r * en_.width(l);
      en_.activate(l, z_[ul].data() + r * en_.width(l), a, ablated_[ul].data());
      en_.affine(l + 1, a, z_[ul + 1].data() + r * en_.width(l + 1));
    }
  }

  const ExactNet& en_;
  std::size_t lo_, rows_;
  int low_;
  std::vector<std::vector<float>>& a_;
  std::vector<std::vector<double>>& z_;
  std::vector<std::vector<std::uint8_t>>& ablated_;
  std::vector<double>& loss_;
  std::vector<std::int32_t>& predicted_;
  std::vector<std::uint32_t>& changed_;    // room for a step's changed rows (all of them)
  std::vector<double>& top2_;              // per row: its two largest logits
  std::optional<ForwardRows> naive_rows_;  // made at the first near tie, if any
};

std::vector<Curve> run_fast(const nn::Mlp& net, const data::Dataset& test,
                            const AblationValues& values,
                            const std::vector<std::vector<Neuron>>& orders,
                            const SweepOptions& options) {
  check_sweep_inputs(net, test, values, orders);
  const ExactNet en(net, values);
  const std::size_t chunk = options.chunk_rows;
  const std::size_t rows_in_cache =
      std::max<std::size_t>(8, options.cache_bytes / intact_bytes_per_row(en));
  const auto C = static_cast<std::size_t>(en.classes());
  const RecordingPlan plan = plan_recording(orders, options, en.classes());
  const auto& points = plan.points;
  if (options.counters)
    options.counters->rows_updated.assign(static_cast<std::size_t>(en.hidden()), 0);
  // Per sample row: the intact cache and this row's share of the per-chunk totals.
  const std::size_t bytes_per_row = intact_bytes_per_row(en) + plan.totals_bytes_per_row;
  CurveSums sums(points, en.classes());

  for (const RowBlock& block :
       row_blocks(test.samples, chunk, bytes_per_row, options.memory_budget_bytes)) {
    const IntactCache cache = compute_intact(en, test, block.lo, block.hi, chunk);
    const std::size_t chunks = (block.hi - block.lo + chunk - 1) / chunk;
    std::vector<PointTotals> totals(orders.size() * chunks);
    parallel_for(static_cast<std::ptrdiff_t>(orders.size() * chunks), [&](std::ptrdiff_t task) {
      const std::size_t o = static_cast<std::size_t>(task) / chunks,
                        ch = static_cast<std::size_t>(task) % chunks;
      const std::size_t lo = block.lo + ch * chunk, rows = std::min(chunk, block.hi - lo);
      int low = en.hidden();
      for (const auto& nr : orders[o]) low = std::min(low, nr.layer);
      PointTotals& t = totals[static_cast<std::size_t>(task)];
      t.loss_sum.assign(points[o].size(), 0.0);
      t.correct_by_class.assign(points[o].size() * C, 0);
      std::vector<std::int64_t> rows_updated(static_cast<std::size_t>(en.hidden()), 0);
      // The chunk's rows go through the order a few at a time, so that their state stays
      // in the core's L2 cache; each point's loss sum carries on from one part to the next,
      // so it still adds the chunk's rows in row order (the same bits as in one go).
      thread_local ChunkBuffers buffers;
      for (std::size_t part = 0; part < rows; part += rows_in_cache) {
        ChunkState state(en, cache, lo + part, std::min(rows_in_cache, rows - part), low, buffers);
        std::size_t applied = 0;
        for (std::size_t p = 0; p < points[o].size(); ++p) {
          for (; applied < static_cast<std::size_t>(points[o][p]); ++applied) {
            const Neuron& nr = orders[o][applied];
            rows_updated[static_cast<std::size_t>(nr.layer)] += state.ablate(nr, test);
          }
          state.add_totals(test, t.loss_sum[p], t.correct_by_class.data() + p * C);
        }
      }
      if (options.counters) {
#pragma omp critical(ioca_sweep_counters)
        for (std::size_t l = 0; l < rows_updated.size(); ++l)
          options.counters->rows_updated[l] += rows_updated[l];
      }
    });
    for (std::size_t o = 0; o < orders.size(); ++o)
      for (std::size_t ch = 0; ch < chunks; ++ch) sums.add(o, totals[o * chunks + ch]);
  }
  return sums.curves(test);
}

}  // namespace
}  // namespace detail

std::vector<Curve> run_sweeps(const nn::Mlp& net, const data::Dataset& test,
                              const AblationValues& values,
                              const std::vector<std::vector<Neuron>>& orders,
                              const SweepOptions& options) {
  if (options.chunk_rows == 0) throw std::logic_error("chunk_rows must be > 0");
  return options.engine == Engine::fast ? detail::run_fast(net, test, values, orders, options)
                                        : detail::run_naive(net, test, values, orders, options);
}

}  // namespace ioca::ablation
