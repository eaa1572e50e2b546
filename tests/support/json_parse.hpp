// A small, strict JSON parser for tests: proves that what resil renders is valid JSON and lets
// tests read it back.
// SPDX-License-Identifier: MIT
#pragma once

#include <cctype>
#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace resil_test {

struct json;
using json_object = std::map<std::string, json>;
using json_array = std::vector<json>;

struct json {
  std::variant<std::nullptr_t, bool, double, std::string, json_array, json_object> v;

  [[nodiscard]] const json& operator[](const std::string& k) const {
    return std::get<json_object>(v).at(k);
  }
  [[nodiscard]] const json& operator[](std::size_t i) const {
    return std::get<json_array>(v).at(i);
  }
  [[nodiscard]] const std::string& str() const { return std::get<std::string>(v); }
  [[nodiscard]] double num() const { return std::get<double>(v); }
  [[nodiscard]] bool boolean() const { return std::get<bool>(v); }
  [[nodiscard]] std::size_t size() const {
    if (const auto* a = std::get_if<json_array>(&v)) return a->size();
    return std::get<json_object>(v).size();
  }
  [[nodiscard]] bool has(const std::string& k) const {
    return std::get<json_object>(v).count(k) != 0;
  }
};

class json_parser {
 public:
  explicit json_parser(std::string_view text) : s_(text) {}

  json parse() {
    json j = value();
    ws();
    if (i_ != s_.size()) fail("trailing characters");
    return j;
  }

 private:
  [[noreturn]] void fail(const char* why) const {
    throw std::runtime_error(std::string("invalid JSON at ") + std::to_string(i_) + ": " + why);
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t'))
      ++i_;
  }
  char peek() {
    ws();
    if (i_ >= s_.size()) fail("unexpected end");
    return s_[i_];
  }
  void expect(char c) {
    if (peek() != c) fail("unexpected character");
    ++i_;
  }
  bool literal(std::string_view lit) {
    if (s_.substr(i_, lit.size()) != lit) return false;
    i_ += lit.size();
    return true;
  }
  json value() {
    const char c = peek();
    if (c == '{') return object();
    if (c == '[') return array();
    if (c == '"') return json{string()};
    if (literal("true")) return json{true};
    if (literal("false")) return json{false};
    if (literal("null")) return json{nullptr};
    return json{number()};
  }
  json object() {
    expect('{');
    json_object o;
    if (peek() == '}') {
      ++i_;
      return json{o};
    }
    for (;;) {
      if (peek() != '"') fail("expected a key");
      std::string k = string();
      expect(':');
      if (!o.emplace(k, value()).second) fail("duplicate key");
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect('}');
      return json{o};
    }
  }
  json array() {
    expect('[');
    json_array a;
    if (peek() == ']') {
      ++i_;
      return json{a};
    }
    for (;;) {
      a.push_back(value());
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect(']');
      return json{a};
    }
  }
  std::string string() {
    expect('"');
    std::string out;
    while (true) {
      if (i_ >= s_.size()) fail("unterminated string");
      const char c = s_[i_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("raw control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= s_.size()) fail("bad escape");
      const char e = s_[i_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          if (i_ + 4 > s_.size()) fail("bad \\u escape");
          const auto code = std::stoul(std::string(s_.substr(i_, 4)), nullptr, 16);
          i_ += 4;
          if (code >= 0x80) fail("test parser only decodes ASCII \\u escapes");
          out += static_cast<char>(code);
          break;
        }
        default:
          fail("bad escape");
      }
    }
  }
  double number() {
    const std::size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    if (i_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[i_]))) fail("bad number");
    while (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.' ||
                              s_[i_] == 'e' || s_[i_] == 'E' || s_[i_] == '+' || s_[i_] == '-'))
      ++i_;
    return std::strtod(std::string(s_.substr(start, i_ - start)).c_str(), nullptr);
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

inline json parse_json(std::string_view text) {
  return json_parser{text}.parse();
}

}  // namespace resil_test
