#pragma once
// Results files, format version 2 (layout: docs/study.md). Every array of every task is
// packed into three large datasets, /data/f32, /data/f64 and /data/i64, indexed by three
// tables (/tasks, /datasets, /attributes, one row per task, array and attribute) and a
// table of networks (/networks). So the file's metadata does not grow with the number of
// networks: a study of thousands of networks writes a few dozen datasets, each in one
// collective transfer per round, instead of 150 small datasets per network.
//
// Logically a version-2 file holds exactly what a version-1 file holds: the same records
// (study/record.hpp), each dataset `/networks/<net>/<path>` being a row of /datasets.
// Writing is collective and streams: each rank writes its own contiguous run of tasks, in
// rounds of bounded size, so no rank holds more than one round of results.
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ioca/io.hpp"
#include "study/record.hpp"

namespace ioca::study {

inline constexpr std::int64_t packed_format_version = 2;

// What a results file knows of one task without reading its arrays: enough to place its
// rows and values in a file being written.
struct TaskSize {
  std::int64_t datasets = 0, attributes = 0;
  std::array<std::int64_t, 3> elements{};  // its values in /data/f32, /data/f64, /data/i64
  std::int64_t string_width = 0;           // its longest path, name or text
  std::uint64_t bytes() const {
    return static_cast<std::uint64_t>(4 * elements[0] + 8 * elements[1] + 8 * elements[2]);
  }
};
TaskSize size_of(const Record& r);

// A task of a results file: its key and size (and, while writing, the rank that writes it).
struct TaskEntry {
  std::string key;
  TaskSize size;
  int owner = 0;
};

// Gives memory freed since back to the system (HDF5's free lists, the C heap): a rank's
// resident memory then follows what it holds, not what it once held.
void release_memory();

// The network a task key belongs to: "<index>/<name>/...".
std::int64_t network_index_of(const std::string& key);
std::string network_name_of(const std::string& key);

// How a file's index tables and values are stored and written. `compressed`: the tables
// chunked and deflate-compressed, every table and value array written collectively (parallel
// HDF5 writes filtered datasets only collectively) -- the finished results file. `plain`:
// the tables contiguous and uncompressed, and each rank writes its own rows and values
// independently, without a collective call per array and round -- checkpoint files, which
// are written at every synchronisation and read back once. Both hold the same content and
// read alike; only the storage differs.
enum class Storage { compressed, plain };

// Writes a version-2 results file collectively (over MPI_COMM_WORLD). Every rank passes the
// same list of every task in file order; the tasks a rank owns must be contiguous, and it
// passes their records to write() in that order, in as many rounds as it likes, as long as
// every rank calls write() equally often (an empty list when it has nothing left).
class PackedWriter {
 public:
  PackedWriter(const std::string& path, const std::string& display_path, int rank,
               std::vector<TaskEntry> tasks, Storage storage = Storage::compressed);
  ~PackedWriter();
  PackedWriter(const PackedWriter&) = delete;
  PackedWriter& operator=(const PackedWriter&) = delete;

  void write(const std::vector<const Record*>& records);
  // The /networks table (from the attributes of the network groups written), the root and
  // /provenance attributes; closes the file. Collective.
  void finish(const io::Attributes& root, const io::Attributes& provenance);

 private:
  void open(const std::string& path, const std::string& display_path, int rank,
            std::vector<TaskEntry> tasks, Storage storage);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether a writer went away before its file was closed (a write failed): the file is left
// open (see ~PackedWriter), and HDF5 must not be shut down any more — it would close that
// file at MPI_Finalize, and libhdf5 1.10 crashes there on a file whose writes failed.
bool results_files_left_open();

// Serial: replaces attributes of /provenance in a closed results file (for the cost of
// writing that file itself, known only once it is written).
void update_provenance(const std::string& path, const io::Attributes& values);

// A results file being read, of either format: version 1 (one dataset per array, with the
// /study/records manifest) or version 2. Serial; not thread-safe.
class ResultsSource {
 public:
  virtual ~ResultsSource() = default;
  virtual const std::string& path() const = 0;
  virtual const io::Attributes& root() const = 0;
  virtual const io::Attributes& provenance() const = 0;
  // Every task of the file in file order (keys and sizes; nothing of the arrays is read).
  virtual std::vector<TaskEntry> tasks() = 0;
  // The record of the task in the given row, with its data; every array's checksum is
  // checked. Throws ioca::FileError naming the file when it is damaged.
  virtual Record read(std::size_t row) = 0;
};
// Throws ioca::FileError naming the file when it is not an ioca results file.
std::unique_ptr<ResultsSource> open_results(const std::string& path);

// One task of a file being compacted: where its record is, and under which key it goes.
struct Placement {
  std::size_t source = 0;  // index into the sources
  std::size_t row = 0;     // its row there
  TaskEntry entry;         // its key and size in the new file (owner: set by compact)
};

// Writes a version-2 file whose tasks are `placements`, in that order (identical on every
// rank), reading each from `read` (called on the rank that writes it; the placement's key
// has moved to the writer by then, so `read` must name the record itself). The work is split
// into one contiguous run per rank, balanced by bytes, written in rounds of at most
// round_bytes of values per rank. Collective.
void compact(const std::string& path, const std::string& display_path, int rank, int ranks,
             std::vector<Placement> placements, const std::function<Record(const Placement&)>& read,
             const io::Attributes& root, const io::Attributes& provenance,
             std::uint64_t round_bytes = std::uint64_t{4} << 20, Storage storage = Storage::compressed);

}  // namespace ioca::study
