#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numeric>
#include <stdexcept>

#include "ioca/core.hpp"
#include "ioca/nn.hpp"

namespace ioca::nn {
namespace {

// Derivative of the activation expressed through its output a = f(z).
void multiply_by_derivative(Activation act, const float* a, float* delta, std::size_t n) {
  switch (act) {
    case Activation::relu:
      for (std::size_t i = 0; i < n; ++i) delta[i] = a[i] > 0.0f ? delta[i] : 0.0f;
      break;
    case Activation::tanh:
      for (std::size_t i = 0; i < n; ++i) delta[i] *= 1.0f - a[i] * a[i];
      break;
    case Activation::sigmoid:
      for (std::size_t i = 0; i < n; ++i) delta[i] *= a[i] * (1.0f - a[i]);
      break;
    case Activation::identity:
      break;
  }
}

// How the training step splits a product's C into tiles: from the shape alone, never from
// the thread count, so no bit of a result depends on the number of threads (each tile is a
// whole-k product on one thread). Rows or columns as gemm() chooses them; tile edges at
// multiples of 48, so every row and column of C goes through the same micro-kernel of the
// product as without the split (Eigen's panels are 24 or 48 rows, 4 or 8 columns).
struct Split {
  bool rows = true;
  int count = 1, dim = 0;
  int start(int i) const {
    if (i >= count) return dim;
    return static_cast<int>(static_cast<long long>(dim) * i / count / 48 * 48);
  }
};

Split choose_split(int m, int n, int k) {
  Split s;
  s.rows = m >= 64 || m >= n;
  s.dim = s.rows ? m : n;
  const double flops = 2.0 * m * n * k;
  constexpr int max_tiles = 16, min_tile_dim = 64;
  constexpr double min_tile_flops = 1 << 20;
  while (s.count * 2 <= max_tiles && s.dim / (s.count * 2) >= min_tile_dim &&
         flops / (s.count * 2) >= min_tile_flops)
    s.count *= 2;
  return s;
}

// C's tile i (rows or columns [lo, hi) of C) of the product: gemm() on one tile.
struct Product {
  Trans ta, tb;
  int m, n, k;
  const float* a;
  int lda;
  const float* b;
  int ldb;
  float beta;
  float* c;
  int ldc;
};

void gemm_tile(const Product& p, const Split& s, int lo, int hi) {
  if (hi <= lo) return;
  if (s.rows) {
    const float* a = p.ta == Trans::no ? p.a + static_cast<std::ptrdiff_t>(lo) * p.lda : p.a + lo;
    gemm_serial(p.ta, p.tb, hi - lo, p.n, p.k, 1.0f, a, p.lda, p.b, p.ldb, p.beta,
                p.c + static_cast<std::ptrdiff_t>(lo) * p.ldc, p.ldc);
  } else {
    const float* b = p.tb == Trans::no ? p.b + lo : p.b + static_cast<std::ptrdiff_t>(lo) * p.ldb;
    gemm_serial(p.ta, p.tb, p.m, hi - lo, p.k, 1.0f, p.a, p.lda, b, p.ldb, p.beta, p.c + lo, p.ldc);
  }
}

// Calls f(pointer, length) for each row segment of the block [rows r0..r1) x [cols c0..c1)
// of a row-major matrix with `ld` columns.
template <class F>
void for_block(float* base, int ld, int r0, int r1, int c0, int c1, F&& f) {
  for (int r = r0; r < r1; ++r)
    f(base + static_cast<std::ptrdiff_t>(r) * ld + c0, static_cast<std::size_t>(c1 - c0));
}

// One training step (forward, softmax cross-entropy, backward, optimizer) as a fixed list
// of phases. A phase is a list of independent tasks (a product's tiles, a bias gradient, a
// range of the optimizer update); every task of a phase reads only what earlier phases
// wrote. The threads share out the tasks inside one parallel region per epoch (see
// EpochTasks; a parallel region per product cost more than the products at batch 32 on 2
// cores). The tasks are the same whatever the thread count, and each computes exactly what
// the whole product computes for its tile, so results are the same bits for any count.
// Each layer's parameters are updated as soon as nothing in the step reads them any more:
// the first layer's weight tiles right after their gradient (while in cache), the biases
// with their gradient, the other weights during the next layer down's backward phase.
class Step {
 public:
  Step(Mlp& net, int max_rows, const TrainOptions* options)
      : net_(net), options_(options), layers_(net.num_layers()) {
    const auto rows = static_cast<std::size_t>(max_rows);
    for (auto& b : input_) b.resize(rows * static_cast<std::size_t>(net.input_size()));
    labels_[0].resize(rows);
    labels_[1].resize(rows);
    outputs_.resize(static_cast<std::size_t>(layers_));
    deltas_.resize(static_cast<std::size_t>(layers_));
    for (int l = 0; l < layers_; ++l) {
      outputs_[static_cast<std::size_t>(l)].resize(rows *
                                                   static_cast<std::size_t>(net.out_size(l)));
      deltas_[static_cast<std::size_t>(l)].resize(rows * static_cast<std::size_t>(net.out_size(l)));
    }
    gradient_.assign(net.parameters().size(), 0.0f);
    if (options) {
      m_.assign(net.parameters().size(), 0.0f);
      if (options->optimizer == Optimizer::adam) v_.assign(net.parameters().size(), 0.0f);
    }
  }

  enum class Kind { forward, loss, weight_grad, input_grad, bias_grad, update, gather_next };
  struct Item {
    Kind kind;
    int layer, tile;
    Split split;
    std::size_t lo = 0, hi = 0;  // update: a range of the layer's weights
  };
  using Task = std::vector<Item>;  // run in order on one thread
  using Phase = std::vector<Task>;

  // Copies the rows `index[0..rows)` of x/y (normalised as the network's input) into input
  // slot `slot`.
  void gather(int slot, const float* x, std::size_t features, const std::int32_t* y,
              const std::size_t* index, int rows) {
    float* dst = input_[slot].data();
    for (int r = 0; r < rows; ++r) {
      const std::size_t i = index ? index[r] : static_cast<std::size_t>(r);
      const float* src = x + i * features;
      float* d = dst + static_cast<std::size_t>(r) * features;
      if (net_.input_mean == 0.0f && net_.input_std == 1.0f) {
        std::copy(src, src + features, d);
      } else {
        for (std::size_t f = 0; f < features; ++f)
          d[f] = (src[f] - net_.input_mean) / net_.input_std;
      }
      labels_[slot][static_cast<std::size_t>(r)] = y[i];
    }
  }

  // Builds the plan for batches of `rows` rows (before the threads start).
  void plan(int rows) {
    for (const auto& p : plans_)
      if (p.first == rows) return;
    plans_.emplace_back(rows, std::vector<Phase>());
    phases_ = &plans_.back().second;
    const int last = layers_ - 1;
    for (int l = 0; l < layers_; ++l) {
      const Split s = choose_split(rows, net_.out_size(l), net_.in_size(l));
      Phase phase;
      for (int t = 0; t < s.count; ++t) phase.push_back({{Kind::forward, l, t, s}});
      add(std::move(phase));
    }
    add({{{Kind::loss, last, 0, {}}}});
    for (int l = last; l >= 0; --l) {
      Phase phase;
      const Split sw = choose_split(net_.out_size(l), net_.in_size(l), rows);
      for (int t = 0; t < sw.count; ++t) phase.push_back({{Kind::weight_grad, l, t, sw}});
      if (l > 0) {
        const Split sx = choose_split(rows, net_.in_size(l), net_.out_size(l));
        for (int t = 0; t < sx.count; ++t) phase.push_back({{Kind::input_grad, l, t, sx}});
      }
      phase.push_back({{Kind::bias_grad, l, 0, {}}});
      if (options_ && l < last) {
        // The weights of the layer above: nothing reads them after its backward phase.
        const std::size_t n = static_cast<std::size_t>(net_.in_size(l + 1)) *
                              static_cast<std::size_t>(net_.out_size(l + 1));
        constexpr std::size_t chunk = 16384;
        for (std::size_t lo = 0; lo < n; lo += chunk)
          phase.push_back({{Kind::update, l + 1, 0, {}, lo, std::min(n, lo + chunk)}});
      }
      if (l == 0) phase.push_back({{Kind::gather_next, 0, 0, {}}});
      add(std::move(phase));
    }
  }

  // The phases of a step of `rows` rows (plan(rows) first).
  const std::vector<Phase>& phases(int rows) const {
    for (const auto& p : plans_)
      if (p.first == rows) return p.second;
    throw std::logic_error("Step: no plan for this batch size");
  }

  // Runs one task of step `step` on the batch of `rows` rows in input slot `slot`. The last
  // phase calls gather_next(step + 1), which gathers the following batch into the other
  // slot (if there is one).
  void run(const Task& task, std::size_t step, int rows, int slot, const AdamStep& adam) {
    for (const Item& item : task) run(item, step, rows, slot, adam);
  }
  std::function<void(std::size_t)> gather_next;

  // The loss summed over the batches run (nats) and their correct predictions.
  double loss_sum = 0.0;
  std::size_t correct = 0;
  const std::vector<float>& gradient() const { return gradient_; }

 private:
  struct BatchResult {
    double loss_sum = 0.0;  // summed over the batch, nats
    std::size_t correct = 0;
  };

  // Adds a phase; a phase of one task joins a previous phase of one task (no barrier).
  void add(Phase phase) {
    if (phase.size() == 1 && !phases_->empty() && phases_->back().size() == 1) {
      auto& task = phases_->back().front();
      task.insert(task.end(), phase.front().begin(), phase.front().end());
    } else {
      phases_->push_back(std::move(phase));
    }
  }

  const float* layer_input(int l, int slot) const {
    return l == 0 ? input_[slot].data() : outputs_[static_cast<std::size_t>(l - 1)].data();
  }

  void update(std::size_t offset, std::size_t n, const AdamStep& adam) {
    if (!options_) return;
    float* p = net_.parameters().data() + offset;
    const float* g = gradient_.data() + offset;
    if (options_->optimizer == Optimizer::adam) {
      adam_update_serial(p, g, m_.data() + offset, v_.data() + offset, n, adam);
    } else {
      sgd_momentum_update_serial(
          p, g, m_.data() + offset, n, static_cast<float>(options_->learning_rate),
          static_cast<float>(options_->momentum), static_cast<float>(options_->weight_decay));
    }
  }

  void run(const Item& item, std::size_t step, int rows, int slot, const AdamStep& adam) {
    const int l = item.layer;
    const int in = net_.in_size(l), out = net_.out_size(l);
    const auto ul = static_cast<std::size_t>(l);
    const Split& s = item.split;
    const int lo = s.start(item.tile), hi = s.start(item.tile + 1);
    const bool tile = item.kind == Kind::forward || item.kind == Kind::weight_grad ||
                      item.kind == Kind::input_grad;
    if (tile && hi <= lo) return;  // never with choose_split's tiles of at least 64 - 48
    switch (item.kind) {
      case Kind::forward: {
        // z = bias + input W^T, then the activation, on this tile of z.
        float* z = outputs_[ul].data();
        const int r0 = s.rows ? lo : 0, r1 = s.rows ? hi : rows;
        const int c0 = s.rows ? 0 : lo, c1 = s.rows ? out : hi;
        const float* bias = net_.bias(l);
        for_block(z, out, r0, r1, c0, c1,
                  [&](float* p, std::size_t n) { std::copy(bias + c0, bias + c0 + n, p); });
        gemm_tile({Trans::no, Trans::yes, rows, out, in, layer_input(l, slot), in, net_.weight(l),
                   in, 1.0f, z, out},
                  s, lo, hi);
        const Activation act = net_.activation(l);
        for_block(z, out, r0, r1, c0, c1, [&](float* p, std::size_t n) { activate(act, p, n); });
        break;
      }
      case Kind::loss: {
        const BatchResult r = softmax_loss(rows, slot);
        loss_sum += r.loss_sum;
        correct += r.correct;
        break;
      }
      case Kind::weight_grad: {
        // dW = delta^T input (tile of dW's rows or columns); the first layer's tile is
        // updated at once: nothing else in the step reads those weights.
        float* gw = gradient_.data() + net_.weight_offset(l);
        gemm_tile({Trans::yes, Trans::no, out, in, rows, deltas_[ul].data(), out,
                   layer_input(l, slot), in, 0.0f, gw, in},
                  s, lo, hi);
        if (l == 0 && options_) {
          const std::size_t w0 = net_.weight_offset(l);
          if (s.rows) {
            update(w0 + static_cast<std::size_t>(lo) * static_cast<std::size_t>(in),
                   static_cast<std::size_t>(hi - lo) * static_cast<std::size_t>(in), adam);
          } else {
            for (int r = 0; r < out; ++r)
              update(w0 + static_cast<std::size_t>(r) * static_cast<std::size_t>(in) +
                         static_cast<std::size_t>(lo),
                     static_cast<std::size_t>(hi - lo), adam);
          }
        }
        break;
      }
      case Kind::input_grad: {
        // Delta of the layer below: (delta W) * f'(a), on this tile.
        float* below = deltas_[ul - 1].data();
        gemm_tile({Trans::no, Trans::no, rows, in, out, deltas_[ul].data(), out, net_.weight(l), in,
                   0.0f, below, in},
                  s, lo, hi);
        const float* a = outputs_[ul - 1].data();
        const Activation act = net_.activation(l - 1);
        const int r0 = s.rows ? lo : 0, r1 = s.rows ? hi : rows;
        const int c0 = s.rows ? 0 : lo, c1 = s.rows ? in : hi;
        for_block(below, in, r0, r1, c0, c1, [&](float* p, std::size_t n) {
          multiply_by_derivative(act, a + (p - below), p, n);
        });
        break;
      }
      case Kind::bias_grad: {
        // db = column sums of delta (fixed row order), then the bias update.
        float* db = gradient_.data() + net_.bias_offset(l);
        std::fill(db, db + out, 0.0f);
        const float* delta = deltas_[ul].data();
        for (int r = 0; r < rows; ++r) {
          const float* d = delta + static_cast<std::ptrdiff_t>(r) * out;
          for (int j = 0; j < out; ++j) db[j] += d[j];
        }
        update(net_.bias_offset(l), static_cast<std::size_t>(out), adam);
        break;
      }
      case Kind::update:
        update(net_.weight_offset(l) + item.lo, item.hi - item.lo, adam);
        break;
      case Kind::gather_next:
        if (gather_next) gather_next(step + 1);
        break;
    }
  }

  // Softmax cross-entropy: dL/dz = (softmax(z) - onehot(y)) / rows.
  BatchResult softmax_loss(int rows, int slot) {
    const int classes = net_.output_size();
    const int last = layers_ - 1;
    BatchResult r;
    float* delta_out = deltas_[static_cast<std::size_t>(last)].data();
    const float* logits = outputs_.back().data();
    const std::int32_t* y = labels_[slot].data();
    const float inv_rows = 1.0f / static_cast<float>(rows);
    for (int i = 0; i < rows; ++i) {
      const float* z = logits + static_cast<std::ptrdiff_t>(i) * classes;
      float* dz = delta_out + static_cast<std::ptrdiff_t>(i) * classes;
      const float max = *std::max_element(z, z + classes);
      float sum = 0.0f;
      int best = 0;
      for (int c = 0; c < classes; ++c) {
        dz[c] = std::exp(z[c] - max);
        sum += dz[c];
        if (z[c] > z[best]) best = c;
      }
      const int label = y[i];
      r.loss_sum += static_cast<double>(std::log(sum) + max - z[label]);
      r.correct += best == label ? 1 : 0;
      for (int c = 0; c < classes; ++c)
        dz[c] = (dz[c] / sum - (c == label ? 1.0f : 0.0f)) * inv_rows;
    }
    return r;
  }

  Mlp& net_;
  const TrainOptions* options_;  // null: gradient only, no update
  int layers_;
  std::vector<float> input_[2];  // two slots: the next batch is gathered during a step
  std::vector<std::int32_t> labels_[2];
  std::vector<std::vector<float>> outputs_, deltas_;
  std::vector<float> gradient_, m_, v_;
  std::vector<std::pair<int, std::vector<Phase>>> plans_;  // by batch rows
  std::vector<Phase>* phases_ = nullptr;                   // the one plan() builds
};

// The futex word of an atomic counter (Linux).
int* futex_word(std::atomic<std::uint32_t>& a) {
  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(int));
  return reinterpret_cast<int*>(&a);
}

// An epoch's steps as one list of tasks, phase after phase, step after step, that the team
// works through: a thread takes the next task only once every task of the phases before it
// is done. No thread waits for another at a barrier: a thread that another program keeps
// off its core holds no task up (it has none), so on a busy machine the team degrades to
// the threads that run instead of to the slowest one; on an idle one they share each phase.
// Which thread runs a task never changes what it computes.
class EpochTasks {
 public:
  struct Entry {
    std::uint32_t step, phase_start;  // phase_start: index of its phase's first task
    const Step::Task* task;
  };
  std::vector<Entry> entries;

  void add_step(std::uint32_t step, const std::vector<Step::Phase>& phases) {
    for (const auto& phase : phases) {
      const auto start = static_cast<std::uint32_t>(entries.size());
      for (const auto& task : phase) entries.push_back({step, start, &task});
    }
  }

  // Every thread of the team calls this; run(entry) runs one task.
  template <class F>
  void work(F&& run) {
    const auto total = static_cast<std::uint32_t>(entries.size());
    for (;;) {
      std::uint32_t t = next_.load(std::memory_order_acquire);
      if (t >= total) return;
      const std::uint32_t done = done_.load(std::memory_order_acquire);
      if (done < entries[t].phase_start) {
        wait_while_done_is(done);
        continue;
      }
      if (!next_.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel)) continue;
      run(entries[t]);
      done_.fetch_add(1, std::memory_order_seq_cst);
      if (sleepers_.load(std::memory_order_seq_cst) > 0)
        syscall(SYS_futex, futex_word(done_), FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr, nullptr, 0);
    }
  }

  void reset() {
    next_ = 0;
    done_ = 0;
  }

 private:
  // Spins ~20 us (a phase takes ~10-100 us on an idle machine), then sleeps until a task
  // finishes.
  void wait_while_done_is(std::uint32_t done) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 1;; ++i) {
      if (done_.load(std::memory_order_acquire) != done) return;
      __builtin_ia32_pause();
      if (i % 32 == 0 && std::chrono::steady_clock::now() - start > std::chrono::microseconds(20))
        break;
    }
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    if (done_.load(std::memory_order_seq_cst) == done)
      syscall(SYS_futex, futex_word(done_), FUTEX_WAIT_PRIVATE, static_cast<int>(done), nullptr,
              nullptr, 0);
    sleepers_.fetch_sub(1, std::memory_order_seq_cst);
  }

  std::atomic<std::uint32_t> next_{0}, done_{0};
  std::atomic<int> sleepers_{0};
};

void check_options(const TrainOptions& o, const data::Dataset& d) {
  if (o.epochs < 0) throw Error("--epochs must be >= 0");
  if (o.batch_size <= 0) throw Error("--batch-size must be > 0");
  if (!(o.learning_rate > 0.0) || !std::isfinite(o.learning_rate)) throw Error("--lr must be > 0");
  if (!(o.weight_decay >= 0.0)) throw Error("--weight-decay must be >= 0");
  if (!(o.momentum >= 0.0 && o.momentum < 1.0)) throw Error("--momentum must be in [0, 1)");
  if (d.samples == 0) throw Error("the training split of '" + d.name + "' is empty");
}

}  // namespace

double loss_and_gradient(const Mlp& net, const float* x, const std::int32_t* y, int rows,
                         std::vector<float>& gradient) {
  // Without options the step changes nothing in the network.
  Step step(const_cast<Mlp&>(net), rows, nullptr);
  step.gather(0, x, static_cast<std::size_t>(net.input_size()), y, nullptr, rows);
  step.plan(rows);
  for (const auto& phase : step.phases(rows))
    for (const auto& task : phase) step.run(task, 0, rows, 0, AdamStep{});
  gradient = step.gradient();
  return step.loss_sum / rows;
}

void train(Mlp& net, const data::Dataset& train_set, const TrainOptions& o,
           const std::function<void(const EpochStats&)>& on_epoch) {
  check_options(o, train_set);
  const std::size_t n = train_set.samples, features = train_set.features;
  const auto batch = static_cast<std::size_t>(o.batch_size);
  const int max_rows = static_cast<int>(std::min(batch, n));
  std::vector<std::size_t> order(n);
  Step step(net, max_rows, &o);
  const std::size_t batches = (n + batch - 1) / batch;
  const auto rows_of = [&](std::size_t b) {
    return static_cast<int>(std::min(batch, n - b * batch));
  };
  step.plan(rows_of(0));
  step.plan(rows_of(batches - 1));
  EpochTasks tasks;
  for (std::size_t b = 0; b < batches; ++b)
    tasks.add_step(static_cast<std::uint32_t>(b), step.phases(rows_of(b)));
  std::vector<AdamStep> adam(batches);
  std::int64_t steps_done = 0;
  const int threads = max_threads();

  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    std::iota(order.begin(), order.end(), std::size_t{0});
    Rng rng(derive_seed(o.seed, {hash_name("shuffle"), static_cast<std::uint64_t>(epoch)}));
    shuffle(order, rng);
    step.loss_sum = 0.0;
    step.correct = 0;
    for (std::size_t b = 0; b < batches; ++b) {
      const auto t = static_cast<double>(steps_done + static_cast<std::int64_t>(b) + 1);
      adam[b] = AdamStep{static_cast<float>(o.learning_rate),
                         static_cast<float>(o.beta1),
                         static_cast<float>(o.beta2),
                         static_cast<float>(o.epsilon),
                         static_cast<float>(o.weight_decay),
                         static_cast<float>(1.0 - std::pow(o.beta1, t)),
                         static_cast<float>(1.0 - std::pow(o.beta2, t))};
    }
    const auto gather = [&](std::size_t b) {
      step.gather(static_cast<int>(b % 2), train_set.x.data(), features, train_set.y.data(),
                  order.data() + b * batch, rows_of(b));
    };
    gather(0);
    step.gather_next = [&](std::size_t b) {
      if (b < batches) gather(b);
    };
    tasks.reset();
    // One parallel region for the epoch (nothing in it allocates or throws).
#pragma omp parallel num_threads(threads)
    tasks.work([&](const EpochTasks::Entry& e) {
      const std::size_t b = e.step;
      step.run(*e.task, b, rows_of(b), static_cast<int>(b % 2), adam[b]);
    });
    steps_done += static_cast<std::int64_t>(batches);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (float p : net.parameters())
      if (!std::isfinite(p))
        throw Error("training diverged in epoch " + std::to_string(epoch) +
                    " (non-finite weights); try a smaller --lr");
    if (on_epoch)
      on_epoch(EpochStats{epoch, step.loss_sum / static_cast<double>(n),
                          static_cast<double>(step.correct) / static_cast<double>(n), seconds,
                          static_cast<double>(n) / seconds});
  }
}

}  // namespace ioca::nn
