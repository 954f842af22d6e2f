// `ioca convert`: a results file into either format (version 2, packed, as `ioca run`
// writes; version 1, one HDF5 dataset per array in nested per-network groups), optionally
// keeping only some networks. Upgrades files of earlier ioca versions, and gives a
// per-network file to tools that want to browse groups.
#include <cstdio>
#include <set>

#include "ioca/core.hpp"
#include "ioca/study.hpp"
#include "study/packed_file.hpp"
#include "study/results_file.hpp"

namespace ioca::study {

void convert(const std::string& in, const std::string& out, int format,
             const std::vector<std::string>& networks, bool quiet) {
  if (format != 1 && format != packed_format_version)
    throw Error("--format must be 1 or 2, not " + std::to_string(format));
  io::check_writable(out);
  const auto source = open_results(in);
  const auto tasks = source->tasks();
  const std::set<std::string> wanted(networks.begin(), networks.end());
  std::set<std::string> found;
  std::vector<Placement> placements;
  for (std::size_t row = 0; row < tasks.size(); ++row) {
    const std::string name = network_name_of(tasks[row].key);
    if (!wanted.empty() && !wanted.count(name)) continue;
    found.insert(name);
    placements.push_back({0, row, tasks[row]});
  }
  for (const auto& n : wanted)
    if (!found.count(n)) throw FileError(in, "has no network named " + n);

  io::Attributes root = source->root();
  root.erase("ioca_results_format");
  root.erase("result_bytes");
  if (!wanted.empty()) {
    root["networks"] = static_cast<std::int64_t>(found.size());
    root["tasks_done"] = static_cast<std::int64_t>(placements.size());
  }
  io::Attributes provenance = source->provenance();
  provenance["converted_from"] = in;
  io::write_atomically(out, [&](const std::string& tmp) {
    if (format == packed_format_version) {
      compact(tmp, out, 0, 1, placements, [&](const Placement& p) { return source->read(p.row); },
              root, provenance);
    } else {
      std::vector<Record> records;
      for (const auto& p : placements) {
        records.push_back(source->read(p.row));
        records.back().owner = 0;
      }
      FileContents c;
      c.root = root;
      c.root["ioca_results_format"] = legacy_format_version;
      c.provenance = provenance;
      for (const auto& r : records) c.records.push_back(&r);
      write_results(tmp, out, 0, c);
    }
  });
  if (!quiet)
    std::fprintf(stderr, "ioca convert: %zu networks, %zu tasks into %s (format %d)\n", found.size(),
                 placements.size(), out.c_str(), format);
}

}  // namespace ioca::study
