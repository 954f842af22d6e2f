#pragma once
// The naive reference of the pair decomposition (info.hpp, LayerPairs): std::map histograms
// and the definitions' log2 formulas, one pair at a time. Used by tests/unit/test_pairs.cpp
// and tests/bench/bench_pairs.cpp.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

namespace ioca::testing {

// The decomposition of one pair, straight from the definitions.
struct NaivePair {
  double joint = 0, redundancy = 0, unique_first = 0, unique_second = 0, synergy = 0,
         co_information = 0;
};

// I(X;Y) = sum p(x,y) log2(p(x,y) / (p(x) p(y))) over a map of (x, y) counts.
template <class X>
double naive_mi(const std::map<std::pair<X, int>, double>& joint, double n) {
  std::map<X, double> px;
  std::map<int, double> py;
  for (const auto& [k, c] : joint) {
    px[k.first] += c;
    py[k.second] += c;
  }
  double mi = 0;
  for (const auto& [k, c] : joint)
    mi += c / n * std::log2((c / n) / ((px[k.first] / n) * (py[k.second] / n)));
  return mi;
}

// I_spec(y;T) = sum_t p(t|y) log2(p(y|t) / p(y)) for every class present.
inline std::map<int, double> naive_specific(const std::vector<int>& t,
                                            const std::vector<std::int32_t>& y) {
  std::map<std::pair<int, int>, double> joint;
  std::map<int, double> pt, py;
  for (std::size_t s = 0; s < t.size(); ++s) {
    joint[{t[s], y[s]}] += 1;
    pt[t[s]] += 1;
    py[y[s]] += 1;
  }
  const double n = static_cast<double>(t.size());
  std::map<int, double> out;
  for (const auto& [cls, ny] : py) out[cls] = 0;
  for (const auto& [k, c] : joint) {
    const double p_t_given_y = c / py[k.second], p_y_given_t = c / pt[k.first];
    out[k.second] += p_t_given_y * std::log2(p_y_given_t / (py[k.second] / n));
  }
  return out;
}

inline NaivePair naive_pair(const std::vector<int>& a, const std::vector<int>& b,
                            const std::vector<std::int32_t>& y) {
  const double n = static_cast<double>(y.size());
  std::map<std::pair<int, int>, double> ja, jb;
  std::map<std::pair<std::pair<int, int>, int>, double> jab;
  std::map<int, double> py;
  for (std::size_t s = 0; s < y.size(); ++s) {
    ja[{a[s], y[s]}] += 1;
    jb[{b[s], y[s]}] += 1;
    jab[{{a[s], b[s]}, y[s]}] += 1;
    py[y[s]] += 1;
  }
  const double Ia = naive_mi(ja, n), Ib = naive_mi(jb, n);
  NaivePair p;
  p.joint = naive_mi(jab, n);
  const auto sa = naive_specific(a, y), sb = naive_specific(b, y);
  for (const auto& [cls, ny] : py) p.redundancy += ny / n * std::min(sa.at(cls), sb.at(cls));
  p.unique_first = Ia - p.redundancy;
  p.unique_second = Ib - p.redundancy;
  p.synergy = p.joint - Ia - Ib + p.redundancy;
  p.co_information = Ia + Ib - p.joint;
  return p;
}

}  // namespace ioca::testing
