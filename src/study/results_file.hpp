#pragma once
// The study's results file (layout: docs/study.md), written collectively by every rank
// with parallel HDF5: MPI-IO access, collective metadata, one collective transfer per
// dataset in which only the rank holding the data selects anything. The file also keeps
// the layout of every task's records (/study/records, bytes) with a checksum of each
// dataset, so a checkpoint can be read back, checked and continued from.
#include <string>
#include <vector>

#include "ioca/io.hpp"
#include "study/record.hpp"

namespace ioca::study {

inline constexpr std::int64_t results_format_version = 1;

struct FileContents {
  io::Attributes root;        // identical on every rank
  io::Attributes provenance;  // identical on every rank
  // Every record of the study in the same order on every rank; a rank's own records (owner
  // == its rank) carry their data.
  std::vector<const Record*> records;
};

// Collective over MPI_COMM_WORLD. Creates (truncates) path; errors name display_path.
void write_results(const std::string& path, const std::string& display_path, int rank,
                   const FileContents& contents);

// Serial (any process). The root attributes and the layout of every record, data not read.
// Throws ioca::FileError naming the file when it is not an ioca results file or is damaged.
struct ResultsHeader {
  io::Attributes root;
  std::vector<Record> records;
};
ResultsHeader read_results_header(const std::string& path);
// Reads the data of the given records from the file and checks each dataset's checksum.
void read_record_data(const std::string& path, const std::vector<Record*>& records);

}  // namespace ioca::study
