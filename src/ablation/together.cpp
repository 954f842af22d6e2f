// Damage of ablating a few neurons of one layer together (single-neuron and pair damage).
#include "ablation/together.hpp"

#include <algorithm>
#include <optional>

#include "ablation/exact_forward.hpp"
#include "ablation/intact_cache.hpp"
#include "ioca/core.hpp"

namespace ioca::ablation::detail {

SetDamage damage_together(const nn::Mlp& net, const data::Dataset& test,
                          const AblationValues& values,
                          const std::vector<std::vector<Neuron>>& sets,
                          const SweepOptions& options) {
  if (options.chunk_rows == 0) throw std::logic_error("chunk_rows must be > 0");
  check_sweep_inputs(net, test, values, sets);
  const std::size_t size = sets.empty() ? 0 : sets.front().size();
  for (const auto& s : sets)
    if (s.size() != size || s.empty() || std::any_of(s.begin(), s.end(), [&](const Neuron& n) {
          return n.layer != s.front().layer;
        }))
      throw std::logic_error("damage_together: sets of one size, each within one layer");
  SetDamage out;
  out.accuracy_drop.assign(sets.size(), 0.0);
  out.loss_increase.assign(sets.size(), 0.0);

  if (options.engine == Engine::naive) {
    SweepOptions o = options;
    o.record_at = {0, static_cast<std::int64_t>(size)};
    // No sets: one empty order still gives the intact accuracy and loss.
    const auto curves =
        run_naive(net, test, values, sets.empty() ? std::vector<std::vector<Neuron>>{{}} : sets, o);
    out.intact_accuracy = curves.front().accuracy[0];
    out.intact_loss = curves.front().loss[0];
    for (std::size_t i = 0; i < sets.size(); ++i) {
      out.accuracy_drop[i] = curves[i].accuracy[0] - curves[i].accuracy[1];
      out.loss_increase[i] = curves[i].loss[1] - curves[i].loss[0];
    }
    return out;
  }

  const ExactNet en(net, values);
  const int L = en.layers();
  const std::size_t chunk = options.chunk_rows;
  // Running totals, chunk sums added in chunk order as the curves add them, so the damage
  // is bit for bit what the naive engine reports (up to double rounding in the loss).
  std::vector<std::int64_t> correct_change(sets.size(), 0);
  std::vector<double> ablated_loss(sets.size(), 0.0);
  std::int64_t intact_correct = 0;
  double intact_loss = 0.0;
  const std::size_t bytes_per_row =
      intact_bytes_per_row(en) + 2 * sizeof(double) * sets.size() / chunk + 1;
  for (const auto& block :
       row_blocks(test.samples, chunk, bytes_per_row, options.memory_budget_bytes)) {
    const IntactCache cache = compute_intact(en, test, block.lo, block.hi, chunk);
    const std::size_t chunks = (block.hi - block.lo + chunk - 1) / chunk;
    // Per (set, chunk): change of the correct count and the ablated loss sum.
    std::vector<std::int64_t> chunk_correct(sets.size() * chunks, 0);
    std::vector<double> chunk_ablated(sets.size() * chunks, 0.0);
    parallel_for(static_cast<std::ptrdiff_t>(sets.size() * chunks), [&](std::ptrdiff_t task) {
      const std::vector<Neuron>& set = sets[static_cast<std::size_t>(task) / chunks];
      // Rows of the cache (sample = block.lo + row).
      const std::size_t lo = (static_cast<std::size_t>(task) % chunks) * chunk,
                        hi = std::min(cache.rows, lo + chunk);
      const int layer = set.front().layer;
      const auto m = static_cast<std::size_t>(layer);
      // Scratch rows for the layers above the ablated one.
      std::vector<std::vector<float>> a(static_cast<std::size_t>(L));
      std::vector<std::vector<double>> z(static_cast<std::size_t>(L));
      for (int l = layer + 1; l < L; ++l) {
        a[static_cast<std::size_t>(l)].resize(en.width(l));
        z[static_cast<std::size_t>(l)].resize(en.width(l));
      }
      // For rows whose arg-max is near a tie: the set as the naive engine's mask.
      std::vector<std::vector<std::uint8_t>> mask;
      std::optional<ForwardRows> naive_rows;
      // Sums over every row of the chunk in row order, as the naive engine adds them.
      std::int64_t dcorrect = 0;
      double ablated_sum = 0.0;
      const std::size_t w = en.width(layer), w_next = en.width(layer + 1);
      for (std::size_t r = lo; r < hi; ++r) {
        const float* current = cache.a[m].data() + r * w;
        bool changed = false;
        for (const auto& nr : set) changed |= current[nr.index] != en.value(layer, nr.index);
        if (!changed) {
          ablated_sum += cache.loss[r];
          continue;
        }
        const double* z_cached = cache.z[m + 1].data() + r * w_next;
        std::copy(z_cached, z_cached + w_next, z[m + 1].begin());
        // One rank-1 term per neuron whose value changes, in set order (as a sweep of the
        // set would add them).
        for (const auto& nr : set) {
          const float c = en.value(layer, nr.index), was = current[nr.index];
          if (was != c)
            axpy(static_cast<double>(c) - static_cast<double>(was), en.outgoing(layer, nr.index),
                 z[m + 1].data(), w_next);
        }
        for (int l = layer + 1; l + 1 < L; ++l) {
          const auto ul = static_cast<std::size_t>(l);
          en.activate(l, z[ul].data(), a[ul].data(), nullptr);
          en.affine(l + 1, a[ul].data(), z[ul + 1].data());
        }
        int predicted = 0;
        const int label = test.y[block.lo + r];
        ablated_sum += fast_row_loss(
            en, z.back().data(), test.row(block.lo + r), label,
            [&]() -> const auto& {
              if (mask.empty()) {  // the set as the naive engine's flags, at the first near tie
                mask.resize(static_cast<std::size_t>(en.hidden()));
                for (int l = 0; l < en.hidden(); ++l)
                  mask[static_cast<std::size_t>(l)].assign(en.width(l), 0);
                for (const auto& nr : set) mask[m][static_cast<std::size_t>(nr.index)] = 1;
              }
              return mask;
            },
            naive_rows, predicted);
        dcorrect += (predicted == label) - (cache.predicted[r] == label);
      }
      chunk_ablated[static_cast<std::size_t>(task)] = ablated_sum;
      chunk_correct[static_cast<std::size_t>(task)] = dcorrect;
    });
    for (std::size_t ch = 0; ch < chunks; ++ch) {
      const std::size_t lo = ch * chunk, hi = std::min(cache.rows, lo + chunk);
      double sum = 0.0;  // in row order within the chunk, as the curves add it
      for (std::size_t r = lo; r < hi; ++r) {
        sum += cache.loss[r];
        intact_correct += cache.predicted[r] == test.y[block.lo + r];
      }
      intact_loss += sum;
    }
    for (std::size_t i = 0; i < sets.size(); ++i)
      for (std::size_t ch = 0; ch < chunks; ++ch) {
        correct_change[i] += chunk_correct[i * chunks + ch];
        ablated_loss[i] += chunk_ablated[i * chunks + ch];
      }
  }
  const double n = static_cast<double>(test.samples);
  out.intact_accuracy = static_cast<double>(intact_correct) / n;
  out.intact_loss = intact_loss / n;
  for (std::size_t i = 0; i < sets.size(); ++i) {
    out.accuracy_drop[i] =
        out.intact_accuracy - static_cast<double>(intact_correct + correct_change[i]) / n;
    out.loss_increase[i] = ablated_loss[i] / n - out.intact_loss;
  }
  return out;
}

}  // namespace ioca::ablation::detail
