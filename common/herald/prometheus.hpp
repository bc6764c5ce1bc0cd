// A small writer for the Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): HELP and
// TYPE lines, samples with escaped labels, counters, gauges and a histogram
// with cumulative buckets. Pure and header-only: the allocator and the agent
// render their figures with it at scrape time; kube/http_server.hpp serves
// the text. Not thread-safe: one owner thread fills and renders.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herald::prometheus {

// The Content-Type of the text format.
inline constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

using label = std::pair<std::string_view, std::string_view>;
using labels = std::initializer_list<label>;

// Label values escape backslash, double quote and newline.
inline std::string escape_label(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

// Integers print without a fraction; others with the fewest significant
// digits (15 to 17) that read back as the same double (0.005, not
// 0.0050000000000000001); infinities as +Inf / -Inf, NaN as NaN.
inline std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  char buf[32];
  for (int digits = 15; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

class text_writer {
 public:
  // Starts a metric family: `# HELP name help` and `# TYPE name type`
  // (type: counter, gauge, histogram, untyped). Write each family once,
  // with all its samples after it.
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  // One sample line: name{l1="v1",...} value.
  void sample(std::string_view name, labels ls, double value) { sample(name, ls, {}, format_value(value)); }
  void sample(std::string_view name, labels ls, std::uint64_t value) { sample(name, ls, {}, std::to_string(value)); }
  // A family with a single unlabelled sample.
  void counter(std::string_view name, std::string_view help, std::uint64_t value) {
    family(name, "counter", help);
    sample(name, {}, value);
  }
  void gauge(std::string_view name, std::string_view help, double value) {
    family(name, "gauge", help);
    sample(name, {}, value);
  }

  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

  // `extra` is one more label after `ls` (a histogram's le), unescaped
  // name, value already formatted.
  void sample(std::string_view name, labels ls, label extra, std::string_view value) {
    out_ += name;
    bool any = ls.size() > 0 || !extra.first.empty();
    if (any) {
      out_ += '{';
      bool first = true;
      auto put = [&](const label& l) {
        if (!first) out_ += ',';
        first = false;
        out_ += l.first;
        out_ += "=\"";
        out_ += escape_label(l.second);
        out_ += '"';
      };
      for (const auto& l : ls) put(l);
      if (!extra.first.empty()) put(extra);
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }

 private:
  std::string out_;
};

// A histogram with fixed upper bounds (ascending, +Inf implied). observe()
// is O(log buckets); write() emits _bucket (cumulative, le ascending, +Inf
// last), _sum and _count, as the format requires.
class histogram {
 public:
  explicit histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1) {
    std::sort(bounds_.begin(), bounds_.end());
  }
  // Bounds start, start*factor, ... (count of them), like client_golang's ExponentialBuckets.
  static histogram exponential(double start, double factor, std::size_t count) {
    std::vector<double> b;
    for (std::size_t i = 0; i < count; ++i, start *= factor) b.push_back(start);
    return histogram(std::move(b));
  }

  void observe(double v) {
    auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);  // first bound >= v: le is inclusive
    ++counts_[static_cast<std::size_t>(it - bounds_.begin())];
    sum_ += v;
    ++count_;
  }
  std::uint64_t count() const { return count_; }
  double sum() const { return sum_; }

  // Writes the samples (not the family header) with `ls` on every line.
  void write(text_writer& w, std::string_view name, labels ls = {}) const {
    std::string bucket = std::string(name) + "_bucket";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
      cumulative += counts_[i];
      auto le = format_value(bounds_[i]);
      w.sample(bucket, ls, {"le", le}, std::to_string(cumulative));
    }
    w.sample(bucket, ls, {"le", "+Inf"}, std::to_string(count_));
    w.sample(std::string(name) + "_sum", ls, {}, format_value(sum_));
    w.sample(std::string(name) + "_count", ls, {}, std::to_string(count_));
  }

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;  // per bucket, not cumulative; last is (last bound, +Inf)
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

}  // namespace herald::prometheus
