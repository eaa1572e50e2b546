// Checks every defaults table of the docs against the code: default-constructs each options
// struct, renders its fields the way the docs write them, and compares with the markdown table
// marked <!-- defaults: <struct> --> (and checks that the table lists exactly the struct's
// members, as declared in its header). Run by ctest; prints every mismatch.
// SPDX-License-Identifier: MIT
#include <resil/resil.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using row = std::pair<std::string, std::string>;  // field, rendered default

int problems = 0;
void problem(const std::string& where, const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", where.c_str(), what.c_str());
  ++problems;
}

// --- Rendering values the way the docs write them -------------------------------------------

std::string dur(std::chrono::nanoseconds d) {
  using namespace std::chrono;
  if (d == nanoseconds::max()) return "nanoseconds::max()";
  const std::int64_t n = d.count();
  // Seconds at most, as the docs write them ("60s", not "1min").
  const std::pair<std::int64_t, const char*> units[] = {
      {1'000'000'000, "s"}, {1'000'000, "ms"}, {1'000, "us"}};
  if (n != 0) {
    for (const auto& [size, unit] : units) {
      if (n % size == 0) return std::to_string(n / size) + unit;
    }
  }
  return std::to_string(n) + "ns";
}

std::string num(double x) {
  std::ostringstream s;
  s.precision(17);
  s << x;
  return s.str();
}
template <class I>
std::string num_int(I x) {
  return std::to_string(x);
}
std::string boolean(bool b) {
  return b ? "true" : "false";
}
const std::string none = "none";  // an empty optional, function, list or null pointer

std::string render(const resil::backoff& b) {
  using shape = resil::backoff::shape;
  std::string s;
  switch (b.kind()) {
    case shape::constant:
      s = "backoff::constant(" + dur(b.base()) + ")";
      break;
    case shape::linear:
      s = "backoff::linear(" + dur(b.base()) + ", " + dur(b.base_delay(2) - b.base()) + ", " +
          dur(b.cap()) + ")";
      break;
    case shape::exponential: {
      const double m =
          static_cast<double>(b.base_delay(2).count()) / static_cast<double>(b.base().count());
      std::ostringstream ms;
      ms.precision(1);
      ms << std::fixed << m;
      s = "backoff::exponential(" + dur(b.base()) + ", " + ms.str() + ", " + dur(b.cap()) + ")";
      break;
    }
  }
  switch (b.jitter_mode()) {
    case resil::jitter_kind::none:
      break;
    case resil::jitter_kind::full:
      s += ".full_jitter()";
      break;
    default:
      s += ".<jitter>";
      break;
  }
  return s;
}

// A classifier is rendered by what it does with a few probe outcomes; the docs name the known
// behaviours ("classifier{}", or the fallback's sentence).
std::string render(const resil::classifier& c) {
  const auto v = [&](const resil::outcome<int>& o) {
    return static_cast<int>(c.classify_noexcept(o).first);
  };
  const int e =
      v(resil::outcome<int>::from_exception(std::make_exception_ptr(std::runtime_error("probe"))));
  const int timeout = v(resil::outcome<int>::from_error(resil::errc::timeout));
  const int open = v(resil::outcome<int>::from_error(resil::errc::circuit_open));
  const int cancelled = v(resil::outcome<int>::from_error(resil::errc::cancelled));
  const int value = v(resil::outcome<int>(1));
  const std::string sig = std::to_string(e) + std::to_string(timeout) + std::to_string(open) +
                          std::to_string(cancelled) + std::to_string(value);
  const std::map<std::string, std::string> known{
      {"11220", "classifier{}"},
      {"11120", "every exception and error code, rejections included, except cancellation"}};
  const auto it = known.find(sig);
  return it == known.end() ? "classifier with probe verdicts " + sig : it->second;
}

std::string render(resil::window_type w) {
  switch (w) {
    case resil::window_type::count:
      return "window_type::count";
    case resil::window_type::time:
      return "window_type::time";
    case resil::window_type::none:
      return "window_type::none";
  }
  return "?";
}

std::string hex(std::uint64_t x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llX", static_cast<unsigned long long>(x));
  return buf;
}

// --- The options structs, rendered -----------------------------------------------------------

struct options_doc {
  std::string name;    // the struct, as in <!-- defaults: name -->
  std::string header;  // where it is declared
  std::string page;    // where its table is
  std::vector<row> rows;
};

std::vector<options_doc> all_options() {
  std::vector<options_doc> out;
  {
    const resil::bulkhead_options o;
    out.push_back({"bulkhead_options",
                   "include/resil/bulkhead.hpp",
                   "docs/policies/bulkhead.md",
                   {{"max_concurrent", num_int(o.max_concurrent)}, {"max_wait", dur(o.max_wait)}}});
  }
  {
    const resil::circuit_breaker_options o;
    out.push_back({"circuit_breaker_options",
                   "include/resil/circuit_breaker.hpp",
                   "docs/policies/circuit-breaker.md",
                   {{"failure_rate_threshold", num(o.failure_rate_threshold)},
                    {"slow_call_rate_threshold", num(o.slow_call_rate_threshold)},
                    {"slow_call_duration", dur(o.slow_call_duration)},
                    {"consecutive_failures", num_int(o.consecutive_failures)},
                    {"window", render(o.window)},
                    {"window_size", num_int(o.window_size)},
                    {"time_bucket", dur(o.time_bucket)},
                    {"minimum_calls", num_int(o.minimum_calls)},
                    {"open_duration", dur(o.open_duration)},
                    {"open_backoff", o.open_backoff ? render(*o.open_backoff) : none},
                    {"open_backoff_seed", hex(o.open_backoff_seed)},
                    {"half_open_calls", num_int(o.half_open_calls)},
                    {"max_half_open_duration", dur(o.max_half_open_duration)},
                    {"classify", render(o.classify)}}});
  }
  {
    const resil::rate_limiter_options o;
    out.push_back({"rate_limiter_options",
                   "include/resil/rate_limiter.hpp",
                   "docs/policies/rate-limiter.md",
                   {{"permits", num_int(o.permits)},
                    {"period", dur(o.period)},
                    {"burst", o.burst ? num_int(*o.burst) : none},
                    {"max_wait", dur(o.max_wait)}}});
  }
  {
    const resil::keyed_rate_limiter_options o;
    const resil::rate_limiter_options plain;
    const bool limit_is_default = o.limit.permits == plain.permits &&
                                  o.limit.period == plain.period && o.limit.burst == plain.burst &&
                                  o.limit.max_wait == plain.max_wait;
    out.push_back({"keyed_rate_limiter_options",
                   "include/resil/keyed_rate_limiter.hpp",
                   "docs/policies/rate-limiter.md",
                   {{"limit", limit_is_default ? "rate_limiter_options{}" : "custom"},
                    {"max_keys", num_int(o.max_keys)},
                    {"shards", num_int(o.shards)}}});
  }
  {
    const resil::fixed_window_rate_limiter_options o;
    out.push_back({"fixed_window_rate_limiter_options",
                   "include/resil/window_rate_limiter.hpp",
                   "docs/policies/rate-limiter.md",
                   {{"limit", num_int(o.limit)}, {"window", dur(o.window)}}});
  }
  {
    const resil::sliding_window_rate_limiter_options o;
    out.push_back({"sliding_window_rate_limiter_options",
                   "include/resil/window_rate_limiter.hpp",
                   "docs/policies/rate-limiter.md",
                   {{"limit", num_int(o.limit)},
                    {"window", dur(o.window)},
                    {"segments", num_int(o.segments)}}});
  }
  {
    const resil::retry_options o;
    out.push_back({"retry_options",
                   "include/resil/retry.hpp",
                   "docs/policies/retry.md",
                   {{"max_attempts", num_int(o.max_attempts)},
                    {"backoff", render(o.backoff)},
                    {"max_delay", o.max_delay ? dur(*o.max_delay) : none},
                    {"max_total_duration", dur(o.max_total_duration)},
                    {"classify", render(o.classify)},
                    {"delay_from_outcome", o.delay_from_outcome ? "set" : none},
                    {"budget", o.budget != nullptr ? "set" : "nullptr"},
                    {"concurrency_budget", o.concurrency_budget != nullptr ? "set" : "nullptr"},
                    {"fail_after_max_attempts", boolean(o.fail_after_max_attempts)},
                    {"seed", o.seed ? num_int(*o.seed) : none}}});
  }
  {
    const resil::retry_budget_options o;
    out.push_back({"retry_budget_options",
                   "include/resil/retry_budget.hpp",
                   "docs/policies/retry.md",
                   {{"max_tokens", num(o.max_tokens)}, {"token_ratio", num(o.token_ratio)}}});
  }
  {
    const resil::retry_concurrency_budget_options o;
    out.push_back({"retry_concurrency_budget_options",
                   "include/resil/retry_budget.hpp",
                   "docs/policies/retry.md",
                   {{"retry_ratio", num(o.retry_ratio)},
                    {"min_retry_concurrency", num_int(o.min_retry_concurrency)}}});
  }
  {
    const resil::timeout_options o;
    out.push_back({"timeout_options",
                   "include/resil/timeout.hpp",
                   "docs/policies/timeout.md",
                   {{"duration", dur(o.duration)}}});
  }
  {
    const resil::fallback_options o;
    out.push_back({"fallback_options",
                   "include/resil/fallback.hpp",
                   "docs/policies/fallback.md",
                   {{"classify", render(o.classify)}}});
  }
  {
    const resil::health_check_options o;
    out.push_back({"health_check_options",
                   "include/resil/health.hpp",
                   "docs/policies/health.md",
                   {{"tags", o.tags.empty() ? none : "set"},
                    {"critical", boolean(o.critical)},
                    {"timeout", dur(o.timeout)},
                    {"interval", dur(o.interval)},
                    {"unhealthy_threshold", num_int(o.unhealthy_threshold)},
                    {"healthy_threshold", num_int(o.healthy_threshold)},
                    {"background", boolean(o.background)}}});
  }
  {
    const resil::chaos_options o;
    out.push_back({"chaos_options",
                   "include/resil/chaos.hpp",
                   "docs/testing.md",
                   {{"injection_rate", num(o.injection_rate)},
                    {"enabled", boolean(o.enabled)},
                    {"seed", hex(o.seed)},
                    {"schedule", o.schedule.empty() ? none : "set"}}});
  }
  return out;
}

// --- Reading the sources ---------------------------------------------------------------------

std::vector<std::string> read_lines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

// The data members of `struct name { ... };` as declared in the header: lines indented by
// exactly two spaces that declare something with `=`, `{...}` or `;` (not functions).
std::vector<std::string> declared_members(const fs::path& header, const std::string& name) {
  const auto lines = read_lines(header);
  std::vector<std::string> members;
  bool inside = false;
  for (const auto& l : lines) {
    if (!inside) {
      inside = l == "struct " + name + " {";
      continue;
    }
    if (l.rfind("};", 0) == 0) break;
    if (l.size() < 3 || l.compare(0, 2, "  ") != 0 ||
        std::string(" /*[}").find(l[2]) != std::string::npos) {
      continue;
    }
    const std::string t = trim(l);
    bool skip = false;
    for (const char* kw : {"static ", "using ", "template ", "friend ", "return ", "enum ",
                           "struct ", "constexpr ", "explicit ", "public:", "private:"}) {
      skip = skip || t.rfind(kw, 0) == 0;
    }
    if (skip) continue;
    int angle = 0, paren = 0;
    std::size_t end = std::string::npos;
    for (std::size_t i = 0; i < t.size() && end == std::string::npos; ++i) {
      const char c = t[i];
      if (c == '<') ++angle;
      if (c == '>') --angle;
      if (c == '(') ++paren;
      if (c == ')') --paren;
      if (angle == 0 && paren == 0 && (c == '=' || c == '{' || c == ';')) end = i;
    }
    if (end == std::string::npos) continue;
    std::string before = trim(t.substr(0, end));
    if (before.empty() || before.back() == ')') continue;  // a function
    const auto b =
        before.find_last_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
    members.push_back(before.substr(b == std::string::npos ? 0 : b + 1));
  }
  return members;
}

// The first value of a docs cell: the first `code span` if any, else the text before " (".
std::string doc_value(const std::string& cell) {
  std::string v;
  const auto tick = cell.find('`');
  if (tick != std::string::npos && tick < cell.find(" (")) {
    v = cell.substr(tick + 1, cell.find('`', tick + 1) - tick - 1);
  } else {
    v = trim(cell.substr(0, cell.find(" (")));
  }
  if (v == "unset" || v == "empty" || v == "none") v = none;
  std::string out;
  for (char c : v) {
    if (c != '\'') out += c;  // digit separators
  }
  return out;
}

bool same_value(const std::string& doc, const std::string& code) {
  if (doc == code) return true;
  try {  // numbers compare by value: "1.0" is 1
    std::size_t a = 0, b = 0;
    const double x = std::stod(doc, &a), y = std::stod(code, &b);
    return a == doc.size() && b == code.size() && x == y;
  } catch (const std::exception&) {
    return false;
  }
}

std::vector<std::string> cells(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool code = false;
  for (std::size_t i = 1; i < line.size(); ++i) {
    const char c = line[i];
    if (c == '`') code = !code;
    if (c == '|' && !code) {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  return out;
}

void check(const fs::path& root, const options_doc& o) {
  const auto lines = read_lines(root / o.page);
  const std::string marker = "<!-- defaults: " + o.name + " -->";
  std::size_t i = 0;
  while (i < lines.size() && trim(lines[i]) != marker) ++i;
  if (i == lines.size()) {
    problem(o.page, "no table marked " + marker);
    return;
  }
  const std::string where = o.page + ":" + std::to_string(i + 1) + " (" + o.name + ")";
  std::map<std::string, std::string> table;
  for (i += 3; i < lines.size() && trim(lines[i]).rfind('|', 0) == 0; ++i) {  // skip header rows
    const auto c = cells(trim(lines[i]));
    if (c.size() < 2) continue;
    std::string field = c[0];
    field.erase(std::remove(field.begin(), field.end(), '`'), field.end());
    table[field] = c[1];
  }

  const auto declared = declared_members(root / o.header, o.name);
  if (declared.empty()) problem(where, "no members found for struct " + o.name + " in " + o.header);
  std::set<std::string> rendered;
  for (const auto& [field, value] : o.rows) rendered.insert(field);
  for (const auto& m : declared) {
    if (rendered.count(m) == 0) {
      problem(where, "member '" + m + "' of " + o.header + " is not rendered by defaults.cpp");
    }
    if (table.count(m) == 0) problem(where, "member '" + m + "' is missing from the table");
  }
  for (const auto& [field, cell] : table) {
    if (std::find(declared.begin(), declared.end(), field) == declared.end()) {
      problem(where, "the table lists '" + field + "', which " + o.name + " does not declare");
    }
  }
  for (const auto& [field, value] : o.rows) {
    const auto it = table.find(field);
    if (it == table.end()) continue;
    const std::string doc = doc_value(it->second);
    if (!same_value(doc, value)) {
      problem(where, "'" + field + "': the docs say '" + doc + "', the code says '" + value + "'");
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: docs-defaults <repo root>\n");
    return 2;
  }
  const auto options = all_options();
  for (const auto& o : options) check(argv[1], o);
  if (problems != 0) {
    std::fprintf(stderr, "docs-defaults: %d mismatch(es) between docs and code\n", problems);
    return 1;
  }
  std::printf("docs-defaults: %zu defaults tables match the options structs\n", options.size());
  return 0;
}
