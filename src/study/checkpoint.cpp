#include "study/checkpoint.hpp"

#include <algorithm>
#include <filesystem>
#include <set>
#include <utility>

#include "ioca/core.hpp"
#include "ioca/study.hpp"

namespace ioca::study {
namespace {

namespace fs = std::filesystem;

// The numbers of the segment files present next to base (any chain), ascending; with
// temporaries, those of their temporaries (<base>.N.tmp) too.
std::vector<int> segment_numbers(const std::string& base, bool temporaries = false) {
  const fs::path p(base);
  const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  const std::string prefix = p.filename().string() + ".";
  std::vector<int> numbers;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.starts_with(prefix)) continue;
    std::string rest = name.substr(prefix.size());
    if (temporaries != rest.ends_with(".tmp")) continue;
    if (temporaries) rest.resize(rest.size() - 4);
    if (rest.empty() || rest.size() > 9 || rest[0] == '0' ||
        !std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    numbers.push_back(std::stoi(rest));
  }
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

}  // namespace

std::string checkpoint_segment_path(const std::string& base, int number) {
  return base + "." + std::to_string(number);
}

CheckpointChain read_checkpoint(const std::string& base) {
  CheckpointChain chain;
  std::set<std::string> keys;
  const auto add_file = [&](ResultsSource& source) {
    chain.files.push_back(source.path());
    std::size_t row = 0;
    for (auto& t : source.tasks()) {
      if (!keys.insert(t.key).second)
        throw FileError(source.path(), "damaged checkpoint: task " + t.key + " is also in an earlier file");
      chain.tasks.push_back(std::move(t));
      chain.file_of.push_back(chain.files.size() - 1);
      chain.row_of.push_back(row++);
    }
  };

  const auto first = open_results(base);
  chain.root = first->root();
  chain.id = io::attribute_string(chain.root, "checkpoint_id", "");
  if (io::attribute_int(chain.root, "complete", 0) != 0)
    throw FileError(base, "not a checkpoint: a complete results file");
  if (io::attribute_int(chain.root, "checkpoint_segment", 0) != 0)
    throw FileError(base, "damaged checkpoint: the base file says it is a segment");
  add_file(*first);
  if (chain.id.empty()) return chain;  // written by an ioca before segments: the base alone

  for (int n : segment_numbers(base)) {
    const std::string path = checkpoint_segment_path(base, n);
    const auto s = open_results(path);
    if (io::attribute_string(s->root(), "checkpoint_id", "") != chain.id) continue;  // older chain
    if (!same_study_config(io::attribute_string(s->root(), "study_config", ""),
                           io::attribute_string(chain.root, "study_config", "")))
      throw FileError(path, "damaged checkpoint: another study config than its base " + base);
    const std::int64_t says = io::attribute_int(s->root(), "checkpoint_segment", -1);
    if (says != n)
      throw FileError(path, "damaged checkpoint: the file says it is segment " + std::to_string(says));
    if (n != chain.segments + 1)
      throw FileError(path, "damaged checkpoint: segment " + std::to_string(chain.segments + 1) +
                                " of this checkpoint is missing");
    chain.segments = n;
    add_file(*s);
  }
  return chain;
}

std::vector<std::string> checkpoint_files(const std::string& base) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const std::string& f : {base, base + ".tmp"})
    if (fs::exists(f, ec)) files.push_back(f);
  for (int n : segment_numbers(base)) files.push_back(checkpoint_segment_path(base, n));
  for (int n : segment_numbers(base, true))
    files.push_back(checkpoint_segment_path(base, n) + ".tmp");
  return files;
}

}  // namespace ioca::study
