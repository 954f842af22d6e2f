#pragma once
// A run's checkpoint is a chain of results files: the base, <out>.checkpoint, holding every
// task finished when it was written, then segments <out>.checkpoint.1, .2, … each holding
// only the tasks finished since the file before it. So a checkpoint writes what is new, not
// the whole study again; the base is rewritten (compacted from the chain) only when there
// are many segments (runner.cpp: max_segments).
// Every file is written under a temporary name and renamed into place, so a kill at any
// moment leaves a valid chain. Each file names its chain (root attribute checkpoint_id, new
// for every base): segments left over from an older base are ignored.
#include <cstdint>
#include <string>
#include <vector>

#include "ioca/io.hpp"
#include "study/packed_file.hpp"

namespace ioca::study {

std::string checkpoint_segment_path(const std::string& base, int number);

struct CheckpointChain {
  io::Attributes root;             // the base's root attributes
  std::string id;                  // the chain's checkpoint_id ("" from an older ioca)
  int segments = 0;                // the chain's segments are 1 … segments
  std::vector<std::string> files;  // the base, then the segments in order
  std::vector<TaskEntry> tasks;    // every task of the chain (keys and sizes), in file order
  std::vector<std::size_t> file_of;  // for each task, its file in `files`
  std::vector<std::size_t> row_of;   // and its row there
};

// Serial. Reads the task tables of the base and its segments (no arrays; files of either
// results format). Throws ioca::FileError naming the file when a file is damaged, a
// segment is missing from the chain, or a task appears twice.
CheckpointChain read_checkpoint(const std::string& base);

// The checkpoint files present: the base (if any), every segment (of any chain) and their
// temporaries. For removing them.
std::vector<std::string> checkpoint_files(const std::string& base);

}  // namespace ioca::study
