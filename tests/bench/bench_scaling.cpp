// Costs of the study runner's coordination against the number of MPI ranks (not a test;
// tests/bench/scaling.sh runs it at 1..16 ranks and docs/scaling.md uses its numbers).
// Every measurement goes through the runner's own code:
//   claim  one task claim, mpi::SharedCounters::fetch_add on rank 0's counter, with every
//          rank claiming at once; also the counter traffic of one task as the runner does
//          it (read the sync request, claim, count the task done) and the counters' rate;
//          with BUSY_US, every rank computes that long between claims, as between tasks.
//   sync   one synchronisation's exchange (study/sync.hpp: exchange_new_tasks, the
//          runner's), R new records per rank with keys and sizes like the plan's.
//   write  one checkpoint segment written with PackedWriter (each rank its own records, in
//          rounds of at most 4 MiB, as Runner::write_segment), once with compressed tables
//          written collectively (Storage::compressed: how segments were written before) and
//          once plain, written independently (Storage::plain: how they are now), and the
//          final compaction (study::compact, compressed) of the same records, for a fixed
//          total payload split over the ranks.
// usage: mpiexec -n N ioca_bench_scaling claim [CLAIMS_PER_RANK] [REPS] [BUSY_US [poll]]
//        mpiexec -n N ioca_bench_scaling sync [REPS] [RECORDS_PER_RANK ...]
//        mpiexec -n N ioca_bench_scaling write DIR paper|scale NETWORKS [REPS]
// Prints one line per measurement on rank 0: "<what> ranks=N key=value ...". Times are
// medians over REPS repetitions (the machine is shared: medians, not means).
#include <mpi.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "ioca/study.hpp"
#include "study/mpi.hpp"
#include "study/packed_file.hpp"
#include "study/sync.hpp"

using namespace ioca;
using namespace ioca::study;
using Clock = std::chrono::steady_clock;

namespace {

int rank_ = 0, ranks_ = 1;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}
double median(const std::vector<double>& v) { return quantile(v, 0.5); }

double max_over_ranks(double v) {
  double out = 0;
  MPI_Allreduce(&v, &out, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return out;
}

// Every rank's samples on rank 0.
std::vector<double> gather(const std::vector<double>& mine) {
  const int n = static_cast<int>(mine.size());
  std::vector<int> counts(static_cast<std::size_t>(ranks_)), offsets(counts.size());
  MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
  int total = 0;
  for (std::size_t r = 0; r < counts.size(); ++r) offsets[r] = total, total += counts[r];
  std::vector<double> all(rank_ == 0 ? static_cast<std::size_t>(total) : 0);
  MPI_Gatherv(mine.data(), n, MPI_DOUBLE, all.data(), counts.data(), offsets.data(), MPI_DOUBLE,
              0, MPI_COMM_WORLD);
  return all;
}

// ---- claim

// The counter traffic of one task in Runner::work: the sync request is read, a task
// claimed and, once it is done, counted. Returns its seconds.
double one_task_traffic(mpi::SharedCounters& counters) {
  using S = mpi::SharedCounters;
  const auto t = Clock::now();
  if (counters.read(S::sync_request) != 0) std::abort();
  (void)counters.fetch_add(S::next_task, 1);
  (void)counters.fetch_add(S::tasks_done, 1);
  return since(t);
}

void claim(int claims, int reps) {
  using S = mpi::SharedCounters;
  std::vector<double> med, p90, task_med, task_p90, rate, task_rate;
  for (int rep = 0; rep < reps; ++rep) {
    S counters;  // collective, like the runner's (one per run)
    std::vector<double> one(static_cast<std::size_t>(claims)), task(one.size());
    mpi::barrier();
    auto start = Clock::now();
    for (int i = 0; i < claims; ++i) {
      const auto t = Clock::now();
      (void)counters.fetch_add(S::next_task, 1);
      one[static_cast<std::size_t>(i)] = since(t);
    }
    const double wall = max_over_ranks(since(start));
    mpi::barrier();
    start = Clock::now();
    for (int i = 0; i < claims; ++i) task[static_cast<std::size_t>(i)] = one_task_traffic(counters);
    const double task_wall = max_over_ranks(since(start));
    const auto all = gather(one), all_task = gather(task);
    if (rank_ == 0) {
      med.push_back(median(all) * 1e6), p90.push_back(quantile(all, 0.9) * 1e6);
      task_med.push_back(median(all_task) * 1e6), task_p90.push_back(quantile(all_task, 0.9) * 1e6);
      rate.push_back(static_cast<double>(claims) * ranks_ / wall);
      task_rate.push_back(static_cast<double>(claims) * ranks_ / task_wall);
    }
  }
  if (rank_ == 0)
    std::printf("claim ranks=%d claims_per_rank=%d reps=%d median_us=%.2f p90_us=%.2f "
                "claims_per_s=%.0f task_median_us=%.2f task_p90_us=%.2f tasks_per_s=%.0f\n",
                ranks_, claims, reps, median(med), median(p90), median(rate), median(task_med),
                median(task_p90), median(task_rate));
}

// Claims as the runner makes them between tasks: every rank (rank 0 too) runs a "task" of
// busy_us microseconds of computing without calling MPI, then does the counter traffic of
// one task. With hardware (or shared-memory) atomics a claim never waits for rank 0; with
// atomics that rank 0's MPI library must serve in software (Open MPI's osc pt2pt, or UCX
// without RDMA atomics), a claim waits until rank 0 next calls MPI.
// With poll, the "task" runs on a worker thread while the main thread calls MPI every 2 ms,
// as Runner::work does, so that rank 0 serves software atomics while it computes.
void claim_busy(int claims, int reps, int busy_us, bool poll) {
  using S = mpi::SharedCounters;
  std::vector<double> med, p90, eff;
  for (int rep = 0; rep < reps; ++rep) {
    S counters;
    std::vector<double> task(static_cast<std::size_t>(claims));
    mpi::barrier();
    const auto start = Clock::now();
    for (int i = 0; i < claims; ++i) {
      task[static_cast<std::size_t>(i)] = one_task_traffic(counters);
      const auto b = Clock::now();
      if (!poll) {
        while (since(b) * 1e6 < busy_us) {
        }
        continue;
      }
      std::atomic<bool> running{true};
#pragma omp parallel num_threads(2)
      {
        if (omp_get_thread_num() == 0) {
          while (running.load()) {
            mpi::progress();
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
          }
        } else {
          while (since(b) * 1e6 < busy_us) {
          }
          running = false;
        }
      }
    }
    const double wall = max_over_ranks(since(start));
    // Other ranks' claims (rank 0's own are local).
    const auto all = gather(rank_ == 0 && ranks_ > 1 ? std::vector<double>{} : task);
    if (rank_ == 0) {
      med.push_back(median(all) * 1e6), p90.push_back(quantile(all, 0.9) * 1e6);
      eff.push_back(static_cast<double>(claims) * busy_us * 1e-6 / wall);
    }
  }
  if (rank_ == 0)
    std::printf("claim_busy ranks=%d claims_per_rank=%d reps=%d busy_us=%d poll=%d median_us=%.2f "
                "p90_us=%.2f busy_fraction=%.3f\n",
                ranks_, claims, reps, busy_us, poll ? 1 : 0, median(med), median(p90), median(eff));
}

// ---- records like the runner's

// A plan key (plan.cpp: "<index>/<network name>/prepare" or ".../sweep/<scope>/<group>").
std::string key_of(int network, const std::string& name, const std::string& rest) {
  char idx[16];
  std::snprintf(idx, sizeof idx, "%06d", network);
  return std::string(idx) + "/" + name + "/" + rest;
}

template <class T>
void add(Record& r, const std::string& path, std::vector<std::uint64_t> dims) {
  std::uint64_t n = 1;
  for (auto d : dims) n *= d;
  std::vector<T> v(n);
  for (std::uint64_t i = 0; i < n; ++i) v[i] = static_cast<T>((i * 2654435761u) % 1000) / T(7);
  r.add(path, v, std::move(dims));
}

struct Shape {
  std::vector<int> hidden;
  int inputs = 784, classes = 10;
  std::vector<std::string> quantities;
  int random = 20;
  std::string dataset = "mnist";
};

// The paper study's networks (jobs/studies/paper.ini) or study_scale.sh's (16x16 on 32
// synthetic features, 3 quantities, 3 random orders).
Shape shape(const std::string& kind) {
  if (kind == "paper")
    return {{200, 200}, 784, 10,
            {"entropy", "mutual_information", "kl_selectivity", "selectivity_index",
             "mean_activation", "mean_abs_activation", "activation_variance", "outgoing_l1",
             "outgoing_l2", "single_damage"},
            20, "mnist"};
  return {{16, 16}, 32, 10, {"entropy", "mutual_information", "kl_selectivity"}, 3, "synthetic"};
}

std::string network_name(const Shape& s, int i) {
  std::string w;
  for (int h : s.hidden) w += (w.empty() ? "" : "x") + std::to_string(h);
  return s.dataset + "-relu-" + w + "-s" + std::to_string(i + 1);
}

// The records of one network's tasks, in plan order, with the arrays the runner's have
// (docs/study.md): prepare (model, measures, single-neuron damage, information plane) and
// per scope one sweep per quantity (both directions) and one of the random orders.
std::vector<Record> network_records(const Shape& s, int index, bool with_data) {
  const std::string name = network_name(s, index), prefix = "/networks/" + name;
  std::vector<Record> out;
  Record p;
  p.key = key_of(index, name, "prepare");
  const auto H = static_cast<std::uint64_t>(s.hidden.size());
  if (with_data) {
    add<std::int64_t>(p, prefix + "/hidden_widths", {H});
    std::uint64_t in = static_cast<std::uint64_t>(s.inputs);
    for (std::uint64_t l = 0; l <= H; ++l) {
      const std::uint64_t o = l < H ? static_cast<std::uint64_t>(s.hidden[l]) : static_cast<std::uint64_t>(s.classes);
      add<float>(p, prefix + "/model/layers/" + std::to_string(l) + "/weight", {o, in});
      add<float>(p, prefix + "/model/layers/" + std::to_string(l) + "/bias", {o});
      in = o;
    }
    for (std::uint64_t l = 0; l < H; ++l) {
      const auto w = static_cast<std::uint64_t>(s.hidden[l]);
      const std::string m = prefix + "/measures/layers/" + std::to_string(l) + "/";
      for (const char* q : {"entropy", "mutual_information", "kl_selectivity", "selectivity_index",
                            "mean_activation", "mean_abs_activation", "activation_variance",
                            "outgoing_l1", "outgoing_l2", "bin_low", "bin_high"})
        add<double>(p, m + q, {w});
      add<std::int64_t>(p, m + "kl_selectivity_class", {w});
      add<std::int64_t>(p, m + "bins_used", {w});
      const std::string sn = prefix + "/single_neuron/layers/" + std::to_string(l) + "/";
      add<double>(p, sn + "accuracy_drop", {w});
      add<double>(p, sn + "loss_increase", {w});
    }
    add<double>(p, prefix + "/information_plane/entropy", {H});
    add<double>(p, prefix + "/information_plane/mutual_information", {H});
    for (const char* a : {"dataset", "hidden", "activation", "source", "model_fingerprint", "binning",
                          "estimator", "measure_split", "ablate_to"})
      p.attribute(prefix, a, std::string("value-of-") + a);
    for (const char* a : {"index", "seed", "classes", "bins", "zero_bin", "random_repeats",
                          "ablation_seed", "steps", "test_samples", "measure_samples"})
      p.attribute(prefix, a, std::int64_t{index});
    p.attribute(prefix, "test_accuracy", 0.97);
    p.attribute(prefix, "test_loss", 0.1);
  }
  out.push_back(std::move(p));
  std::vector<std::pair<std::string, std::uint64_t>> scopes;
  std::uint64_t all = 0;
  for (std::size_t l = 0; l < s.hidden.size(); ++l) {
    scopes.emplace_back("layer" + std::to_string(l), static_cast<std::uint64_t>(s.hidden[l]));
    all += static_cast<std::uint64_t>(s.hidden[l]);
  }
  scopes.emplace_back("network", all);
  const auto C = static_cast<std::uint64_t>(s.classes);
  for (const auto& [scope, n] : scopes) {
    const std::uint64_t P = n + 1;
    const std::string a = prefix + "/ablation/" + scope;
    for (const auto& q : s.quantities) {
      Record r;
      r.key = key_of(index, name, "sweep/" + scope + "/" + q);
      if (with_data) {
        for (const char* d : {"ascending", "descending"}) {
          const std::string c = a + "/" + q + "/" + d + "/";
          add<double>(r, c + "accuracy", {P});
          add<double>(r, c + "loss", {P});
          add<double>(r, c + "per_class_accuracy", {P, C});
          add<std::int64_t>(r, c + "ablated", {P});
          add<std::int64_t>(r, c + "order", {n});
        }
        r.attribute(a, "neurons", static_cast<std::int64_t>(n));
      }
      out.push_back(std::move(r));
    }
    Record r;
    r.key = key_of(index, name, "sweep/" + scope + "/random");
    if (with_data) {
      const auto R = static_cast<std::uint64_t>(s.random);
      const std::string c = a + "/random/";
      add<double>(r, c + "accuracy", {R, P});
      add<double>(r, c + "loss", {R, P});
      add<double>(r, c + "per_class_accuracy", {R, P, C});
      add<std::int64_t>(r, c + "ablated", {P});
      add<std::int64_t>(r, c + "order", {R, n});
      r.attribute(a, "neurons", static_cast<std::int64_t>(n));
    }
    out.push_back(std::move(r));
  }
  return out;
}

// ---- sync

void sync(int reps, const std::vector<int>& per_rank) {
  const Shape s = shape("paper");
  for (int R : per_rank) {
    // R sweep records of this rank: keys of the plan's shape (network indices spread over
    // the ranks), each with the datasets of a paper sweep (sizes are what is sent).
    std::vector<Record> mine;
    for (int i = 0; static_cast<int>(mine.size()) < R; ++i) {
      auto recs = network_records(s, rank_ + ranks_ * i, false);
      for (std::size_t k = 1; k < recs.size() && static_cast<int>(mine.size()) < R; ++k) {
        Record r = std::move(recs[k]);
        for (int d = 0; d < 10; ++d) {
          DatasetEntry e;
          e.path = "/networks/" + network_name(s, rank_ + ranks_ * i) + "/ablation/layer0/entropy/ascending/accuracy";
          e.type = DType::f64;
          e.dims = {201};
          r.datasets.push_back(e);
        }
        mine.push_back(std::move(r));
      }
    }
    std::vector<double> times;
    std::size_t received = 0;
    for (int rep = 0; rep < reps; ++rep) {
      mpi::barrier();
      const auto t = Clock::now();
      std::vector<TaskEntry> fresh;
      const SyncStatus st = exchange_new_tasks({0, ""}, mine, &fresh);
      const double wall = max_over_ranks(since(t));
      if (st.code != 0 || fresh.size() != static_cast<std::size_t>(R) * static_cast<std::size_t>(ranks_)) std::abort();
      received = fresh.size();
      times.push_back(wall);
    }
    std::size_t bytes = 0;
    for (const auto& r : mine) bytes += 8 + r.key.size() + sizeof(TaskSize);
    if (rank_ == 0)
      std::printf("sync ranks=%d records_per_rank=%d reps=%d median_ms=%.3f p90_ms=%.3f "
                  "bytes_per_rank=%zu records_received=%zu\n",
                  ranks_, R, reps, median(times) * 1e3, quantile(times, 0.9) * 1e3, bytes + 24, received);
  }
}

// ---- write

void write(const std::string& dir, const std::string& kind, int networks, int reps) {
  const Shape s = shape(kind);
  // Every task of the study, in plan order (prepare tasks first, then sweeps), sizes only.
  std::vector<std::vector<Record>> layout;
  for (int n = 0; n < networks; ++n) layout.push_back(network_records(s, n, true));
  std::vector<TaskEntry> entries;
  std::vector<const Record*> all;
  for (auto& net : layout)
    for (auto& r : net) all.push_back(&r);
  // A segment: rank by rank, each its contiguous share of the tasks (by count), as the
  // runner's `fresh` after a synchronisation (every rank's new tasks, rank by rank).
  const std::size_t T = all.size();
  std::uint64_t total_bytes = 0;
  for (std::size_t i = 0; i < T; ++i) {
    const int owner = static_cast<int>(i * static_cast<std::size_t>(ranks_) / T);
    entries.push_back({all[i]->key, size_of(*all[i]), owner});
    total_bytes += entries.back().size.bytes();
  }
  const std::string path = dir + "/bench_scaling." + std::to_string(ranks_) + ".h5";
  constexpr std::uint64_t round_bytes = std::uint64_t{4} << 20;
  std::vector<double> segment, plain, compaction;
  std::uintmax_t size_compressed = 0, size_plain = 0, size_final = 0;
  const auto file_size = [&] {
    std::error_code ec;
    const auto n = std::filesystem::file_size(path + ".tmp", ec);
    return ec ? std::uintmax_t{0} : n;
  };
  for (int rep = 0; rep < reps; ++rep) {
    for (const Storage storage : {Storage::compressed, Storage::plain}) {
      // Runner::write_segment: rounds of at most 4 MiB per rank, every rank the same count.
      std::vector<std::vector<const Record*>> rounds;
      std::vector<std::size_t> rounds_of(static_cast<std::size_t>(ranks_), 0);
      std::vector<std::uint64_t> in(rounds_of.size(), 0);
      for (const auto& e : entries) {
        const auto o = static_cast<std::size_t>(e.owner);
        if (rounds_of[o] == 0 || in[o] + e.size.bytes() > round_bytes) ++rounds_of[o], in[o] = 0;
        in[o] += e.size.bytes();
      }
      const std::size_t count = *std::max_element(rounds_of.begin(), rounds_of.end());
      std::uint64_t bytes = 0;
      for (std::size_t i = 0; i < T; ++i) {
        if (entries[i].owner != rank_) continue;
        if (rounds.empty() || (bytes + entries[i].size.bytes() > round_bytes)) rounds.emplace_back(), bytes = 0;
        rounds.back().push_back(all[i]);
        bytes += entries[i].size.bytes();
      }
      rounds.resize(count);
      mpi::barrier();
      const auto t = Clock::now();
      PackedWriter writer(path + ".tmp", path, rank_, entries, storage);
      for (const auto& r : rounds) writer.write(r);
      writer.finish({{"complete", std::int64_t{0}}}, {{"ranks", std::int64_t{ranks_}}});
      (storage == Storage::plain ? plain : segment).push_back(max_over_ranks(since(t)));
      (storage == Storage::plain ? size_plain : size_compressed) = file_size();
    }
    {
      // The final compaction: the tasks in key order, one run per rank balanced by bytes.
      std::vector<Placement> placements;
      std::vector<std::size_t> order(T);
      for (std::size_t i = 0; i < T; ++i) order[i] = i;
      std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return all[a]->key < all[b]->key; });
      for (std::size_t i : order) placements.push_back({0, i, {all[i]->key, entries[i].size, 0}});
      mpi::barrier();
      const auto t = Clock::now();
      compact(path + ".tmp", path, rank_, ranks_, std::move(placements),
              [&](const Placement& p) { return *all[p.row]; }, {{"complete", std::int64_t{1}}},
              {{"ranks", std::int64_t{ranks_}}});
      compaction.push_back(max_over_ranks(since(t)));
      size_final = file_size();
    }
  }
  if (rank_ == 0) {
    std::error_code ec;
    std::filesystem::remove(path + ".tmp", ec);
    std::printf("write ranks=%d payload=%s:%d tasks=%zu result_mib=%.1f reps=%d segment_compressed_median_s=%.3f "
                "segment_compressed_p90_s=%.3f segment_plain_median_s=%.3f segment_plain_p90_s=%.3f "
                "compaction_median_s=%.3f compaction_p90_s=%.3f file_mb_compressed=%.1f file_mb_plain=%.1f "
                "file_mb_final=%.1f\n",
                ranks_, kind.c_str(), networks, T, static_cast<double>(total_bytes) / (1 << 20), reps,
                median(segment), quantile(segment, 0.9), median(plain), quantile(plain, 0.9),
                median(compaction), quantile(compaction, 0.9), static_cast<double>(size_compressed) / 1e6,
                static_cast<double>(size_plain) / 1e6, static_cast<double>(size_final) / 1e6);
  }
}

}  // namespace

int main(int argc, char** argv) {
  MpiSession mpi;
  rank_ = mpi.rank();
  ranks_ = mpi.size();
  const std::vector<std::string> a(argv + 1, argv + argc);
  const auto arg = [&](std::size_t i, int fallback) { return i < a.size() ? std::atoi(a[i].c_str()) : fallback; };
  if (a.empty()) {
    if (rank_ == 0) std::fprintf(stderr, "usage: see tests/bench/bench_scaling.cpp\n");
    return 2;
  }
  if (a[0] == "claim" && arg(3, 0) > 0) {
    claim_busy(arg(1, 200), arg(2, 5), arg(3, 0), a.size() > 4 && a[4] == "poll");
  } else if (a[0] == "claim") {
    claim(arg(1, 20000), arg(2, 5));
  } else if (a[0] == "sync") {
    std::vector<int> per_rank;
    for (std::size_t i = 2; i < a.size(); ++i) per_rank.push_back(std::atoi(a[i].c_str()));
    if (per_rank.empty()) per_rank = {1, 10, 100, 1000};
    sync(arg(1, 21), per_rank);
  } else if (a[0] == "write" && a.size() >= 4) {
    write(a[1], a[2], arg(3, 4), arg(4, 3));
  } else {
    if (rank_ == 0) std::fprintf(stderr, "usage: see tests/bench/bench_scaling.cpp\n");
    return 2;
  }
  return 0;
}
