// Checks that every C++ code block in README.md and docs/**/*.md is quoted, byte for byte, from
// a compiled source, or says why it is not. Run by ctest; scripts/check-snippets.sh runs it too.
// SPDX-License-Identifier: MIT
//
// In a source (examples/**, docs/snippets/**):     In the markdown, right before the block:
//   // [snippet:retry-usage]                         <!-- snippet: retry-usage -->
//   ...code...                                       ```cpp
//   // [/snippet]                                    ...the same code, dedented...
//                                                    ```
// The quoted text is the lines between the markers, with their common indentation removed.
// A C++ block that is not a quote is preceded by <!-- not-compiled: the reason --> instead.
//
// Usage: check_snippets <repo root> [--update]   (--update rewrites quoted blocks from sources)
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct snippet {
  std::string text;
  std::string where;
};

int problems = 0;
std::set<std::string> quoted;  // snippet names some page quotes

void problem(const std::string& where, const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", where.c_str(), what.c_str());
  ++problems;
}

std::vector<std::string> read_lines(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// The lines joined with '\n', minus the indentation common to the non-blank ones.
std::string dedent(const std::vector<std::string>& lines) {
  std::size_t indent = std::string::npos;
  for (const auto& l : lines) {
    const auto b = l.find_first_not_of(' ');
    if (b != std::string::npos) indent = std::min(indent, b);
  }
  std::string out;
  for (const auto& l : lines) {
    out += l.size() > indent ? l.substr(indent) : trim(l);
    out += '\n';
  }
  return out;
}

void collect(const fs::path& file, const fs::path& root, std::map<std::string, snippet>& out) {
  const auto lines = read_lines(file);
  const std::string rel = fs::relative(file, root).string();
  const std::string open = "// [snippet:", close = "// [/snippet]";
  std::string name;
  std::size_t start = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string t = trim(lines[i]);
    const std::string where = rel + ":" + std::to_string(i + 1);
    if (t.rfind(open, 0) == 0) {
      if (!name.empty()) problem(where, "snippet '" + name + "' is not closed before this one");
      name = t.substr(open.size(), t.size() - open.size() - 1);
      start = i + 1;
      if (t.back() != ']' || name.empty()) problem(where, "malformed marker: " + t);
    } else if (t == close) {
      if (name.empty()) {
        problem(where, "[/snippet] without an open snippet");
        continue;
      }
      std::vector<std::string> body(lines.begin() + static_cast<std::ptrdiff_t>(start),
                                    lines.begin() + static_cast<std::ptrdiff_t>(i));
      if (out.count(name) != 0) problem(where, "snippet '" + name + "' defined twice");
      out[name] = {dedent(body), rel + ":" + std::to_string(start)};
      name.clear();
    }
  }
  if (!name.empty()) problem(rel, "snippet '" + name + "' is never closed");
}

// The first line where two texts differ, for the message.
std::string first_difference(const std::string& a, const std::string& b) {
  std::istringstream x(a), y(b);
  std::string lx, ly;
  for (int n = 1;; ++n) {
    const bool gx = static_cast<bool>(std::getline(x, lx));
    const bool gy = static_cast<bool>(std::getline(y, ly));
    if (!gx && !gy) return "(whitespace at the end)";
    if (!gx || !gy || lx != ly) {
      return "line " + std::to_string(n) + " of the block:\n    docs:   " + (gx ? lx : "<end>") +
             "\n    source: " + (gy ? ly : "<end>");
    }
  }
}

bool is_cpp(const std::string& lang) {
  return lang == "cpp" || lang == "c++" || lang == "cxx" || lang == "hpp";
}

void check_markdown(const fs::path& file, const fs::path& root,
                    const std::map<std::string, snippet>& snippets, bool update) {
  auto lines = read_lines(file);
  const std::string rel = fs::relative(file, root).string();
  bool changed = false;
  std::string previous;  // the last non-blank line before the current one
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string t = trim(lines[i]);
    if (t.rfind("```", 0) != 0) {
      if (!t.empty()) previous = t;
      continue;
    }
    const std::string where = rel + ":" + std::to_string(i + 1);
    const std::string lang = trim(t.substr(3));
    const std::size_t indent = lines[i].find_first_not_of(' ');
    std::size_t end = i + 1;
    while (end < lines.size() && trim(lines[end]) != "```") ++end;
    if (end == lines.size()) {
      problem(where, "code block never closed");
      return;
    }
    std::vector<std::string> body(lines.begin() + static_cast<std::ptrdiff_t>(i + 1),
                                  lines.begin() + static_cast<std::ptrdiff_t>(end));
    for (auto& l : body) l = l.size() >= indent ? l.substr(indent) : trim(l);
    std::string text;
    for (const auto& l : body) text += l + '\n';

    const std::string snip = "<!-- snippet:", skip = "<!-- not-compiled:";
    if (previous.rfind(snip, 0) == 0) {
      const std::string name =
          trim(previous.substr(snip.size(), previous.size() - snip.size() - 3));
      const auto it = snippets.find(name);
      quoted.insert(name);
      if (!is_cpp(lang)) {
        problem(where, "snippet '" + name + "' quoted into a ```" + lang + " block");
      } else if (it == snippets.end()) {
        problem(where, "no source defines snippet '" + name + "'");
      } else if (it->second.text != text) {
        if (update) {
          std::vector<std::string> fresh;
          std::istringstream in(it->second.text);
          for (std::string l; std::getline(in, l);) {
            fresh.push_back(l.empty() ? l : std::string(indent, ' ') + l);
          }
          lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(i + 1),
                      lines.begin() + static_cast<std::ptrdiff_t>(end));
          lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(i + 1), fresh.begin(),
                       fresh.end());
          end = i + 1 + fresh.size();
          changed = true;
          std::printf("%s: updated snippet '%s' from %s\n", where.c_str(), name.c_str(),
                      it->second.where.c_str());
        } else {
          problem(where, "snippet '" + name + "' differs from " + it->second.where + ", at " +
                             first_difference(text, it->second.text));
        }
      }
    } else if (previous.rfind(skip, 0) == 0) {
      if (trim(previous.substr(skip.size(), previous.size() - skip.size() - 3)).empty()) {
        problem(where, "<!-- not-compiled: --> needs a reason");
      }
    } else if (is_cpp(lang)) {
      problem(where,
              "C++ block neither quoted (<!-- snippet: name -->) nor marked "
              "<!-- not-compiled: reason -->");
    }
    previous.clear();
    i = end;
  }
  if (changed) {
    std::ofstream out(file, std::ios::binary);
    for (const auto& l : lines) out << l << '\n';
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: check_snippets <repo root> [--update]\n");
    return 2;
  }
  const fs::path root = argv[1];
  const bool update = argc > 2 && std::string(argv[2]) == "--update";

  std::map<std::string, snippet> snippets;
  for (const char* dir : {"examples", "docs/snippets"}) {
    for (const auto& e : fs::recursive_directory_iterator(root / dir)) {
      const auto ext = e.path().extension();
      if (e.is_regular_file() && (ext == ".cpp" || ext == ".hpp"))
        collect(e.path(), root, snippets);
    }
  }

  std::vector<fs::path> pages{root / "README.md"};
  for (const auto& e : fs::recursive_directory_iterator(root / "docs")) {
    if (e.is_regular_file() && e.path().extension() == ".md") pages.push_back(e.path());
  }
  std::sort(pages.begin(), pages.end());
  for (const auto& p : pages) check_markdown(p, root, snippets, update);

  for (const auto& [name, s] : snippets) {
    if (quoted.count(name) == 0 && s.where.rfind("docs/snippets/", 0) == 0) {
      problem(s.where, "snippet '" + name + "' is quoted by no page (remove it, or quote it)");
    }
  }

  if (problems != 0) {
    std::fprintf(stderr,
                 "check_snippets: %d problem(s); scripts/check-snippets.sh --update "
                 "rewrites quoted blocks from their sources\n",
                 problems);
    return 1;
  }
  std::printf("check_snippets: %zu page(s), %zu snippet(s) in sources, all quotes match\n",
              pages.size(), snippets.size());
  return 0;
}
