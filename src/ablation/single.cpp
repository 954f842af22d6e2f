// Damage of ablating each hidden neuron alone.
#include <algorithm>

#include "ablation/exact_forward.hpp"
#include "ablation/intact_cache.hpp"
#include "ioca/core.hpp"

namespace ioca::ablation {

SingleDamage single_neuron_damage(const nn::Mlp& net, const data::Dataset& test,
                                  const AblationValues& values, const SweepOptions& options) {
  detail::check_sweep_inputs(net, test, values, {});
  const detail::ExactNet en(net, values);
  const int H = en.hidden(), L = en.layers();
  std::vector<Neuron> neurons;
  for (int l = 0; l < H; ++l)
    for (int j = 0; j < net.out_size(l); ++j) neurons.push_back({l, j});
  SingleDamage out;
  out.accuracy_drop.resize(static_cast<std::size_t>(H));
  out.loss_increase.resize(static_cast<std::size_t>(H));
  for (int l = 0; l < H; ++l) {
    out.accuracy_drop[static_cast<std::size_t>(l)].assign(en.width(l), 0.0);
    out.loss_increase[static_cast<std::size_t>(l)].assign(en.width(l), 0.0);
  }
  const double n = static_cast<double>(test.samples);

  if (options.engine == Engine::naive) {
    std::vector<std::vector<Neuron>> orders;
    for (const auto& nr : neurons) orders.push_back({nr});
    SweepOptions o = options;
    o.record_at = {0, 1};
    const auto curves = detail::run_naive(net, test, values, orders, o);
    for (std::size_t i = 0; i < neurons.size(); ++i) {
      const auto l = static_cast<std::size_t>(neurons[i].layer),
                 j = static_cast<std::size_t>(neurons[i].index);
      out.accuracy_drop[l][j] = curves[i].accuracy[0] - curves[i].accuracy[1];
      out.loss_increase[l][j] = curves[i].loss[1] - curves[i].loss[0];
      out.intact_accuracy = curves[i].accuracy[0];
      out.intact_loss = curves[i].loss[0];
    }
    return out;
  }

  const std::size_t chunk = options.chunk_rows;
  // Running totals per neuron, chunk sums added in chunk order as the curves add them, so
  // the damage is bit for bit what the naive engine reports.
  std::vector<std::int64_t> correct_change(neurons.size(), 0);
  std::vector<double> intact_loss(neurons.size(), 0.0), ablated_loss(neurons.size(), 0.0);
  std::int64_t intact_correct = 0;
  const std::size_t bytes_per_row =
      detail::intact_bytes_per_row(en) + 3 * sizeof(double) * neurons.size() / chunk + 1;
  for (const auto& block :
       detail::row_blocks(test.samples, chunk, bytes_per_row, options.memory_budget_bytes)) {
    const detail::IntactCache cache = detail::compute_intact(en, test, block.lo, block.hi, chunk);
    const std::size_t chunks = (block.hi - block.lo + chunk - 1) / chunk;
    // Per (neuron, chunk): change of the correct count, loss sums intact and ablated.
    std::vector<std::int64_t> chunk_correct(neurons.size() * chunks, 0);
    std::vector<double> chunk_intact(neurons.size() * chunks, 0.0),
        chunk_ablated(neurons.size() * chunks, 0.0);
    parallel_for(static_cast<std::ptrdiff_t>(neurons.size() * chunks), [&](std::ptrdiff_t task) {
      const Neuron& nr = neurons[static_cast<std::size_t>(task) / chunks];
      // Rows of the cache (sample = block.lo + row).
      const std::size_t lo = (static_cast<std::size_t>(task) % chunks) * chunk,
                        hi = std::min(cache.rows, lo + chunk);
      const auto m = static_cast<std::size_t>(nr.layer), j = static_cast<std::size_t>(nr.index);
      const float c = en.value(nr.layer, nr.index);
      // Scratch rows for the layers above the ablated one.
      std::vector<std::vector<float>> a(static_cast<std::size_t>(L));
      std::vector<std::vector<double>> z(static_cast<std::size_t>(L));
      for (int l = nr.layer + 1; l < L; ++l) {
        a[static_cast<std::size_t>(l)].resize(en.width(l));
        z[static_cast<std::size_t>(l)].resize(en.width(l));
      }
      // Sums over every row of the chunk in row order, as the naive engine adds them.
      std::int64_t dcorrect = 0;
      double intact_sum = 0.0, ablated_sum = 0.0;
      const std::size_t w = en.width(nr.layer), w_next = en.width(nr.layer + 1);
      for (std::size_t r = lo; r < hi; ++r) {
        intact_sum += cache.loss[r];
        const float current = cache.a[m][r * w + j];
        if (current == c) {
          ablated_sum += cache.loss[r];
          continue;
        }
        const double* z_cached = cache.z[m + 1].data() + r * w_next;
        std::copy(z_cached, z_cached + w_next, z[m + 1].begin());
        axpy(static_cast<double>(c) - static_cast<double>(current), en.outgoing(nr.layer, nr.index),
             z[m + 1].data(), w_next);
        for (int l = nr.layer + 1; l + 1 < L; ++l) {
          const auto ul = static_cast<std::size_t>(l);
          en.activate(l, z[ul].data(), a[ul].data(), nullptr);
          en.affine(l + 1, a[ul].data(), z[ul + 1].data());
        }
        int predicted = 0;
        const int label = test.y[block.lo + r];
        ablated_sum += detail::row_loss(z.back().data(), en.classes(), label, predicted);
        dcorrect += (predicted == label) - (cache.predicted[r] == label);
      }
      chunk_intact[static_cast<std::size_t>(task)] = intact_sum;
      chunk_ablated[static_cast<std::size_t>(task)] = ablated_sum;
      chunk_correct[static_cast<std::size_t>(task)] = dcorrect;
    });
    for (std::size_t r = 0; r < cache.rows; ++r)
      intact_correct += cache.predicted[r] == test.y[block.lo + r];
    for (std::size_t i = 0; i < neurons.size(); ++i)
      for (std::size_t ch = 0; ch < chunks; ++ch) {
        correct_change[i] += chunk_correct[i * chunks + ch];
        intact_loss[i] += chunk_intact[i * chunks + ch];
        ablated_loss[i] += chunk_ablated[i * chunks + ch];
      }
  }
  out.intact_accuracy = static_cast<double>(intact_correct) / n;
  for (std::size_t i = 0; i < neurons.size(); ++i) {
    const auto l = static_cast<std::size_t>(neurons[i].layer),
               j = static_cast<std::size_t>(neurons[i].index);
    out.accuracy_drop[l][j] =
        out.intact_accuracy - static_cast<double>(intact_correct + correct_change[i]) / n;
    out.loss_increase[l][j] = ablated_loss[i] / n - intact_loss[i] / n;
    out.intact_loss = intact_loss[i] / n;
  }
  return out;
}

}  // namespace ioca::ablation
