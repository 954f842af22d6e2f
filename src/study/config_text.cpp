// Comparing stored study configs across ioca versions: a resume or merge of files written by
// an earlier ioca must not fail only because the config's text is spelled differently now.
#include <cstdlib>
#include <map>
#include <sstream>

#include "ioca/study.hpp"

namespace ioca::study {
namespace {

// "section.key" -> value; keys before any section are in "study" (where `name` is now).
std::map<std::string, std::string> entries(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line, section = "study";
  while (std::getline(in, line)) {
    if (line.size() >= 2 && line.front() == '[' && line.back() == ']') {
      section = line.substr(1, line.size() - 2);
      continue;
    }
    const auto eq = line.find(" = ");
    if (eq == std::string::npos) {
      if (line.size() > 1 && line.back() == '=' && line[line.size() - 2] == ' ')
        out[section + "." + line.substr(0, line.size() - 2)] = "";  // "key =" (empty value)
      else
        out[section + ".#" + line] = line;  // anything else must match as it is
      continue;
    }
    std::string value = line.substr(eq + 3);
    if (section == "network" && line.compare(0, eq, "hidden") == 0)
      for (char& ch : value)
        if (ch == ';') ch = ',';
    out[section + "." + line.substr(0, eq)] = value;
  }
  return out;
}

bool number(const std::string& s, double& v) {
  if (s.empty()) return false;
  char* end = nullptr;
  v = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

bool same_value(const std::string& key, const std::string& a, const std::string& b) {
  if (a == b) return true;
  double x = 0, y = 0;
  if (!number(a, x) || !number(b, y)) return false;
  // The binary threshold is a float: 17 digits of its double value then, its own now.
  if (key == "measure.threshold") return static_cast<float>(x) == static_cast<float>(y);
  return x == y;
}

}  // namespace

bool same_study_config(const std::string& a, const std::string& b) {
  if (a == b) return true;
  const auto ea = entries(a), eb = entries(b);
  if (ea.size() != eb.size()) return false;
  for (auto i = ea.begin(), j = eb.begin(); i != ea.end(); ++i, ++j)
    if (i->first != j->first || !same_value(i->first, i->second, j->second)) return false;
  return true;
}

}  // namespace ioca::study
