#pragma once
// Studies: a whole multi-seed experiment as one MPI batch job (`ioca run`). The grid of
// networks (data set x architecture x activation x seed, or given model files) is trained
// or loaded, measured and ablated by MPI ranks that take tasks dynamically; the results go
// into one HDF5 file written collectively (layout: docs/study.md). Checkpoints are whole
// files renamed into place, so a kill at any moment loses at most the work since the last
// one, and `--resume` continues from it.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ioca/ablation.hpp"
#include "ioca/data.hpp"
#include "ioca/info.hpp"
#include "ioca/nn.hpp"

namespace ioca::study {

// Exit status of a run stopped by SIGTERM or SIGUSR1 after writing its checkpoint.
inline constexpr int exit_interrupted = 3;

// One measure setting of a study (docs/study.md, "Measure settings"): a binning rule, bins
// and estimator; named `<binning>-<bins>-<estimator>`, or `binary-<estimator>` (binary
// binning has no bins).
struct MeasureSetting {
  std::string name;
  info::MeasureOptions options;
};
std::string setting_name(const info::MeasureOptions& options);
// Whether a quantity's values depend on the binning and estimator (entropy, mutual
// information, KL selectivity, ...): its sweeps run once per measure setting. Every measured
// quantity but the class-mean, activation-moment and weight baselines does; single_damage
// does not.
bool depends_on_binning(const std::string& quantity);

struct StudyConfig {
  std::string name = "study";
  // Data (for trained networks; model files bring their own data attributes).
  std::vector<std::string> datasets{"mnist"};
  std::string data_dir;                        // empty: default per data set
  std::optional<std::size_t> validation_size;  // unset: 10000 (synthetic: 1000)
  std::uint64_t split_seed = 0;
  // data.split_seeds: the split seed of each network seed (parallel to `seeds`), or empty:
  // every network uses split_seed. split_seeds_text is the key as given ("seed" or a list).
  std::vector<std::uint64_t> split_seeds;
  std::string split_seeds_text;
  data::SyntheticSpec synthetic;
  // The grid.
  std::vector<std::vector<int>> architectures{{200, 200}};
  std::vector<nn::Activation> activations{nn::Activation::relu};
  std::vector<std::uint64_t> seeds{1};
  std::vector<std::string> model_files;  // when given, the networks are these files
  nn::TrainOptions train;                // seed replaced per network
  // The information plane over training (train.snapshots, ...): the epochs of its snapshots
  // (empty: none; trained networks only), measured on measure_split, capped at
  // snapshot_samples samples (0: all).
  std::vector<int> snapshots;
  info::SnapshotOptions snapshot;
  std::size_t snapshot_samples = 0;
  // Measures.
  std::string measure_split = "validation";
  info::MeasureOptions measure;  // the first measure setting
  // Every measure setting (the cross product of the [measure] lists), the first equal to
  // `measure`; one entry for a study of a single setting.
  std::vector<MeasureSetting> measure_settings;
  // Ablation.
  std::vector<std::string> quantities;  // measured quantities and/or "single_damage"
  std::vector<ablation::Direction> directions{ablation::Direction::ascending,
                                              ablation::Direction::descending};
  std::vector<std::string> scopes;  // empty: every scope of each network
  int random = 10;
  ablation::AblateTo ablate_to = ablation::AblateTo::zero;
  std::int64_t steps = 0;
  bool single = true;
  // Pairs per group and hidden layer ablated together (ablation::interaction_pairs on the
  // first measure setting's pairs); 0: none. Needs measure.pairs and single.
  std::int64_t pair_interactions = 0;
  std::size_t chunk_rows = 256;
  // Run (not part of the results: neither is in canonical_text).
  double checkpoint_interval_seconds = 60.0;
  int checkpoint_segments = 256;  // segments before the chain is compacted into a new base
  std::size_t memory_budget_bytes = std::size_t{512} << 20;  // per task: caches and blocks
  // The whole config with every key resolved, as INI text (stored in the results file and
  // compared on --resume with same_study_config).
  std::string canonical_text;
};

// Whether two stored study configs (canonical_text, or the study_config of a file) describe
// the same study. Equal texts always do; so do the texts an earlier ioca wrote for the same
// study: `name` before any section (now under [study]), numbers in 17 digits (now the
// shortest exact text) and several one-layer architectures joined by ',' (now ';').
bool same_study_config(const std::string& a, const std::string& b);

struct RunOptions {
  std::string out;
  bool resume = false;
  bool force = false;
  bool quiet = false;
  // Testing aid: stop (as if SIGTERM had arrived) after this many completed tasks.
  std::optional<std::int64_t> stop_after_tasks;
};

// SIGTERM and SIGUSR1 (SLURM's warning before a time limit) from now on request a stop:
// the run checkpoints and exits with exit_interrupted. Call first, before MPI starts, so a
// signal during start-up is not fatal either (a stop requested then ends the run at its
// first synchronisation, with nothing lost).
void catch_stop_signals();

// MPI for the life of the object (MPI_THREAD_FUNNELED: only the main thread calls MPI;
// OpenMP threads compute). Created before the config is read, so that only rank 0 reports
// a bad config.
class MpiSession {
 public:
  MpiSession();
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  int rank() const { return rank_; }
  int size() const { return size_; }

 private:
  int rank_ = 0, size_ = 1;
};

// Runs the study on MPI_COMM_WORLD. Returns the exit status for every rank: 0 done, 2 bad
// input, exit_interrupted after a signal. Prints errors and progress (rank 0 only).
int run(const MpiSession& mpi, const StudyConfig& config, const RunOptions& options);

// Combines results files of the same study with disjoint networks (an array job's parts)
// into one file. Serial; throws ioca::Error naming the offending file.
void merge(const std::string& out, const std::vector<std::string>& parts, bool quiet);

// Writes a results file (either format) in format 2 or 1, with only the given networks
// (all when empty). Serial; throws ioca::Error naming the offending file.
void convert(const std::string& in, const std::string& out, int format,
             const std::vector<std::string>& networks, bool quiet);

}  // namespace ioca::study
