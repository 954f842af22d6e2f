// `ioca merge`: the results files of an array job (each ran a slice of the seeds of one
// study) into the file one job over all those seeds would have written. Files of different
// studies, incomplete files and overlapping networks are refused.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <map>
#include <set>
#include <filesystem>
#include <sstream>

#include "ioca/core.hpp"
#include "ioca/study.hpp"
#include "study/mpi.hpp"
#include "study/packed_file.hpp"

namespace ioca::study {
namespace {

// The value of "key = value" in the canonical config (the first such line), and the text
// with that line's value replaced.
std::string config_value(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + " = ", 0) == 0) return line.substr(key.size() + 3);
  return "";
}
std::string with_value(const std::string& text, const std::string& key, const std::string& value) {
  std::istringstream in(text);
  std::string line, out;
  bool done = false;
  while (std::getline(in, line)) {
    if (!done && line.rfind(key + " = ", 0) == 0) {
      line = key + " = " + value;
      done = true;
    }
    out += line + "\n";
  }
  return out;
}
std::vector<std::string> split_items(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    const auto b = item.find_first_not_of(' ');
    if (b != std::string::npos) out.push_back(item.substr(b));
  }
  return out;
}
std::size_t position(const std::vector<std::string>& v, const std::string& x, const std::string& path,
                     const std::string& what) {
  const auto it = std::find(v.begin(), v.end(), x);
  if (it == v.end()) throw FileError(path, "network with " + what + " '" + x + "' outside its study config");
  return static_cast<std::size_t>(it - v.begin());
}

}  // namespace

void merge(const std::string& out, const std::vector<std::string>& parts, bool quiet) {
  if (parts.empty()) throw Error("ioca merge needs at least one results file to merge");
  io::check_writable(out);
  std::vector<std::unique_ptr<ResultsSource>> sources;
  std::string common, seeds_joined;
  std::vector<std::string> seeds;
  for (const auto& p : parts) {
    auto source = open_results(p);
    const io::Attributes& root = source->root();
    if (io::attribute_int(root, "complete", 0) != 1)
      throw FileError(p, "is not a complete results file (finish it with ioca run --resume first)");
    const std::string config = io::attribute_string(root, "study_config", "");
    if (!config_value(config, "models").empty())
      throw FileError(p, "is a study of model files; merging is for studies of trained networks");
    const std::string without_seeds = with_value(config, "seeds", "");
    if (sources.empty()) common = without_seeds;
    else if (!same_study_config(without_seeds, common))
      throw FileError(p, "is from a different study than " + parts.front() +
                             " (their configs differ beyond network.seeds)");
    for (const auto& s : split_items(config_value(config, "seeds"))) {
      if (std::find(seeds.begin(), seeds.end(), s) != seeds.end())
        throw FileError(p, "overlaps another file: seed " + s + " is in both");
      seeds.push_back(s);
    }
    sources.push_back(std::move(source));
  }
  for (const auto& s : seeds) seeds_joined += (seeds_joined.empty() ? "" : ", ") + s;
  const std::string merged_config = with_value(common, "seeds", seeds_joined);
  const auto datasets = split_items(config_value(merged_config, "datasets"));
  std::string hidden_text = config_value(merged_config, "hidden");
  std::replace(hidden_text.begin(), hidden_text.end(), ';', ',');  // one-layer architectures
  const auto hidden = split_items(hidden_text);
  const auto acts = split_items(config_value(merged_config, "activations"));

  // Every task, re-indexed as in the grid of the merged config: a task's key is
  // "<index>/<network name>/<task>", and the network group's `index` attribute follows.
  std::map<std::string, int> index_of;  // network name -> index in the merged grid
  std::vector<Placement> placements;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const auto tasks = sources[i]->tasks();
    for (std::size_t row = 0; row < tasks.size(); ++row) {
      if (!tasks[row].key.ends_with("/prepare")) continue;
      const Record r = sources[i]->read(row);
      const std::string name = network_name_of(r.key);
      std::string ds, hid, act;
      std::int64_t seed = -1;
      for (const auto& a : r.attributes)
        if (a.path == "/networks/" + name) {
          if (a.name == "dataset") ds = std::get<std::string>(a.value);
          if (a.name == "hidden") hid = std::get<std::string>(a.value);
          if (a.name == "activation") act = std::get<std::string>(a.value);
          if (a.name == "seed") seed = std::get<std::int64_t>(a.value);
        }
      std::replace(hid.begin(), hid.end(), ',', 'x');
      const std::size_t idx =
          ((position(datasets, ds, parts[i], "data set") * hidden.size() +
            position(hidden, hid, parts[i], "architecture")) * acts.size() +
           position(acts, act, parts[i], "activation")) * seeds.size() +
          position(seeds, std::to_string(seed), parts[i], "seed");
      if (!index_of.emplace(name, static_cast<int>(idx)).second)
        throw FileError(parts[i], "overlaps another file: network " + name + " is in both");
    }
    for (std::size_t row = 0; row < tasks.size(); ++row) {
      const std::string& key = tasks[row].key;
      const auto it = index_of.find(network_name_of(key));
      if (it == index_of.end())
        throw FileError(parts[i], "network " + network_name_of(key) + " has no prepare record");
      char buf[16];
      std::snprintf(buf, sizeof buf, "%06d", it->second);
      TaskEntry e = tasks[row];
      e.key = std::string(buf) + key.substr(key.find('/'));
      placements.push_back({i, row, std::move(e)});
    }
  }
  std::sort(placements.begin(), placements.end(),
            [](const Placement& a, const Placement& b) { return a.entry.key < b.entry.key; });
  for (std::size_t i = 1; i < placements.size(); ++i)
    if (placements[i].entry.key == placements[i - 1].entry.key)
      throw Error("two files hold task " + placements[i].entry.key);

  const auto networks = static_cast<std::int64_t>(index_of.size());
  const io::Attributes& first = sources.front()->root();
  const std::int64_t tasks_each = io::attribute_int(first, "tasks", 0) /
                                  std::max<std::int64_t>(1, io::attribute_int(first, "networks", 1));
  io::Attributes root;
  for (const char* k : {"ioca_version", "git_commit", "study_name"})
    if (first.count(k)) root[k] = first.at(k);
  root["study_config"] = merged_config;
  char hash[20];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(hash_name(merged_config)));
  root["study_config_hash"] = std::string(hash);
  root["complete"] = std::int64_t{1};
  root["networks"] = networks;
  root["tasks"] = tasks_each * networks;
  root["tasks_done"] = static_cast<std::int64_t>(placements.size());
  std::string from;
  for (const auto& p : parts) from += (from.empty() ? "" : ",") + p;
  const std::size_t task_count = placements.size();
  const auto read = [&](const Placement& p) {
    Record r = sources[p.source]->read(p.row);
    const std::string name = network_name_of(r.key);
    const int index = index_of.at(name);
    char buf[16];
    std::snprintf(buf, sizeof buf, "%06d", index);
    r.key = std::string(buf) + r.key.substr(r.key.find('/'));
    for (auto& a : r.attributes)
      if (a.path == "/networks/" + name && a.name == "index") a.value = std::int64_t{index};
    return r;
  };
  io::write_atomically(out, [&](const std::string& tmp) {
    compact(tmp, out, 0, 1, std::move(placements), read, root, {{"merged_from", from}});
  });
  if (!quiet)
    std::fprintf(stderr, "ioca merge: %zu files, %lld networks, %zu tasks into %s\n", parts.size(),
                 static_cast<long long>(networks), task_count, out.c_str());
}

}  // namespace ioca::study
