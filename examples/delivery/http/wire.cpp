// Encoding and decoding of the delivery domain for HTTP (see wire.hpp).
// SPDX-License-Identifier: MIT
#include "wire.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace delivery::http {

namespace {

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> out;
  for (;;) {
    const auto at = text.find(separator);
    out.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return out;
    text.remove_prefix(at + 1);
  }
}

// The non-empty lines of `text`, each split into exactly `fields` fields (nothing if one is not).
std::optional<std::vector<std::vector<std::string_view>>> records(std::string_view text,
                                                                  std::size_t fields) {
  std::vector<std::vector<std::string_view>> out;
  for (const auto line : split(text, '\n')) {
    if (line.empty()) continue;
    auto f = split(line, '\t');
    if (f.size() != fields) return std::nullopt;
    out.push_back(std::move(f));
  }
  return out;
}

template <class... T>
std::string line(const T&... fields) {
  std::string out;
  ((out += fields, out += '\t'), ...);
  out.back() = '\n';
  return out;
}

}  // namespace

template <class T>
std::optional<T> parse_number(std::string_view text) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty() || value < T{0}) {
    return std::nullopt;
  }
  return value;
}

template std::optional<std::uint32_t> parse_number<std::uint32_t>(std::string_view);
template std::optional<std::uint64_t> parse_number<std::uint64_t>(std::string_view);
template std::optional<std::int64_t> parse_number<std::int64_t>(std::string_view);

std::string encode(const std::vector<restaurant_summary>& list) {
  std::string out;
  for (const auto& r : list) out += line(std::to_string(r.id), r.name, r.cuisine);
  return out;
}

std::string encode(const menu& m) {
  std::string out;
  for (const auto& i : m.items)
    out += line(std::to_string(i.id), i.name, std::to_string(i.price_cents));
  return out;
}

std::string encode(const user_profile& p) {
  return line(std::to_string(p.id), p.name, p.city);
}

std::string encode(const receipt& r) {
  return line(std::to_string(r.charge_id),
              r.status == charge_status::charged ? "charged" : "pending", r.replayed ? "1" : "0");
}

std::string encode(const order& o) {
  return line(std::to_string(o.id), std::to_string(o.user_id), std::to_string(o.restaurant_id),
              std::to_string(o.total_cents), std::to_string(static_cast<int>(o.status)),
              o.idempotency_key.empty() ? "-" : o.idempotency_key);
}

std::optional<std::vector<restaurant_summary>> decode_restaurants(std::string_view text) {
  const auto rs = records(text, 3);
  if (!rs) return std::nullopt;
  std::vector<restaurant_summary> out;
  for (const auto& f : *rs) {
    const auto id = parse_number<std::uint32_t>(f[0]);
    if (!id) return std::nullopt;
    out.push_back({*id, std::string(f[1]), std::string(f[2])});
  }
  return out;
}

std::optional<menu> decode_menu(std::uint32_t restaurant_id, std::string_view text) {
  const auto rs = records(text, 3);
  if (!rs) return std::nullopt;
  menu m{restaurant_id, {}};
  for (const auto& f : *rs) {
    const auto id = parse_number<std::uint32_t>(f[0]);
    const auto price = parse_number<std::uint32_t>(f[2]);
    if (!id || !price) return std::nullopt;
    m.items.push_back({*id, std::string(f[1]), *price});
  }
  return m;
}

std::optional<user_profile> decode_profile(std::string_view text) {
  const auto rs = records(text, 3);
  if (!rs || rs->size() != 1) return std::nullopt;
  const auto& f = rs->front();
  const auto id = parse_number<std::uint32_t>(f[0]);
  if (!id) return std::nullopt;
  return user_profile{*id, std::string(f[1]), std::string(f[2])};
}

std::optional<receipt> decode_receipt(std::string_view text) {
  const auto rs = records(text, 3);
  if (!rs || rs->size() != 1) return std::nullopt;
  const auto& f = rs->front();
  const auto id = parse_number<std::uint64_t>(f[0]);
  if (!id || (f[1] != "charged" && f[1] != "pending")) return std::nullopt;
  return receipt{*id, f[1] == "charged" ? charge_status::charged : charge_status::pending,
                 f[2] == "1"};
}

std::optional<order> decode_order(std::string_view text) {
  const auto rs = records(text, 6);
  if (!rs || rs->size() != 1) return std::nullopt;
  const auto& f = rs->front();
  const auto id = parse_number<std::uint64_t>(f[0]);
  const auto user = parse_number<std::uint32_t>(f[1]);
  const auto restaurant = parse_number<std::uint32_t>(f[2]);
  const auto total = parse_number<std::uint32_t>(f[3]);
  const auto status = parse_number<std::uint32_t>(f[4]);
  if (!id || !user || !restaurant || !total || !status || *status > 2) return std::nullopt;
  return order{*id,
               *user,
               *restaurant,
               *total,
               static_cast<order_status>(*status),
               f[5] == "-" ? std::string{} : std::string(f[5])};
}

std::string encode_lines(const std::vector<order_line>& lines) {
  std::string out;
  for (const auto& l : lines) {
    if (!out.empty()) out += ',';
    out += std::to_string(l.item_id) + ':' + std::to_string(l.quantity);
  }
  return out;
}

std::optional<std::vector<order_line>> decode_lines(std::string_view text) {
  std::vector<order_line> out;
  if (text.empty()) return out;
  for (const auto item : split(text, ',')) {
    const auto parts = split(item, ':');
    if (parts.size() != 2) return std::nullopt;
    const auto id = parse_number<std::uint32_t>(parts[0]);
    const auto quantity = parse_number<std::uint32_t>(parts[1]);
    if (!id || !quantity || *quantity == 0 || *quantity > 100) return std::nullopt;
    out.push_back({*id, *quantity});
  }
  return out;
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string json_number(double value) {
  if (!std::isfinite(value)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", value);
  return buf;
}

std::string to_json(const std::vector<restaurant_summary>& list) {
  std::string out = "[";
  for (const auto& r : list) {
    if (out.size() > 1) out += ',';
    out += "{\"id\":" + std::to_string(r.id) + ",\"name\":" + json_string(r.name) +
           ",\"cuisine\":" + json_string(r.cuisine) + '}';
  }
  return out + ']';
}

std::string to_json(const menu& m) {
  std::string out = "{\"restaurant\":" + std::to_string(m.restaurant_id) + ",\"items\":[";
  bool first = true;
  for (const auto& i : m.items) {
    if (!first) out += ',';
    first = false;
    out += "{\"id\":" + std::to_string(i.id) + ",\"name\":" + json_string(i.name) +
           ",\"price_cents\":" + std::to_string(i.price_cents) + '}';
  }
  return out + "]}";
}

std::string to_json(const user_profile& p) {
  return "{\"id\":" + std::to_string(p.id) + ",\"name\":" + json_string(p.name) +
         ",\"city\":" + json_string(p.city) + '}';
}

std::string_view to_string(order_status s) noexcept {
  switch (s) {
    case order_status::paid:
      return "paid";
    case order_status::payment_pending:
      return "payment_pending";
    case order_status::rejected:
      return "rejected";
  }
  return "rejected";
}

std::string to_json(const order& o) {
  return "{\"id\":" + std::to_string(o.id) + ",\"user\":" + std::to_string(o.user_id) +
         ",\"restaurant\":" + std::to_string(o.restaurant_id) +
         ",\"total_cents\":" + std::to_string(o.total_cents) +
         ",\"status\":" + json_string(to_string(o.status)) + '}';
}

}  // namespace delivery::http
