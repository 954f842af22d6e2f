#pragma once
// The study's results file in format version 1 (layout: docs/study.md): one HDF5 dataset
// per array under /networks/<net>/, plus the layout of every task's records
// (/study/records, bytes) with a checksum of each dataset. ioca writes version 2
// (study/packed_file.hpp); version 1 is read for files of earlier ioca versions, and
// written only by `ioca convert --format 1` (its nested per-network groups are easy to
// browse). Written collectively with parallel HDF5: MPI-IO access, collective metadata,
// one collective transfer per dataset in which only the rank holding the data selects
// anything.
#include <string>
#include <vector>

#include "ioca/io.hpp"
#include "study/record.hpp"

namespace ioca::study {

inline constexpr std::int64_t legacy_format_version = 1;

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
