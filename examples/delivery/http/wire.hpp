// What travels over HTTP between the delivery services and to clients: the domain types as
// tab-separated lines between services, and as JSON towards clients.
// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "services.hpp"

namespace delivery::http {

// -- between services: one record per line, fields separated by tabs -------------------------

[[nodiscard]] std::string encode(const std::vector<restaurant_summary>& list);
[[nodiscard]] std::string encode(const menu& m);
[[nodiscard]] std::string encode(const user_profile& p);
[[nodiscard]] std::string encode(const receipt& r);
[[nodiscard]] std::string encode(const order& o);

[[nodiscard]] std::optional<std::vector<restaurant_summary>> decode_restaurants(
    std::string_view text);
[[nodiscard]] std::optional<menu> decode_menu(std::uint32_t restaurant_id, std::string_view text);
[[nodiscard]] std::optional<user_profile> decode_profile(std::string_view text);
[[nodiscard]] std::optional<receipt> decode_receipt(std::string_view text);
[[nodiscard]] std::optional<order> decode_order(std::string_view text);

/// Cart lines as "item:quantity,item:quantity" (the `items` form field).
[[nodiscard]] std::string encode_lines(const std::vector<order_line>& lines);
[[nodiscard]] std::optional<std::vector<order_line>> decode_lines(std::string_view text);

/// A non-negative decimal number that fits `T`, or nothing.
template <class T>
[[nodiscard]] std::optional<T> parse_number(std::string_view text);

extern template std::optional<std::uint32_t> parse_number<std::uint32_t>(std::string_view);
extern template std::optional<std::uint64_t> parse_number<std::uint64_t>(std::string_view);
extern template std::optional<std::int64_t> parse_number<std::int64_t>(std::string_view);

// -- towards clients: JSON ---------------------------------------------------------------------

/// `text` as a JSON string literal (quoted, escaped).
[[nodiscard]] std::string json_string(std::string_view text);
/// A finite number as JSON (`null` for NaN and infinities).
[[nodiscard]] std::string json_number(double value);

[[nodiscard]] std::string to_json(const std::vector<restaurant_summary>& list);
[[nodiscard]] std::string to_json(const menu& m);
[[nodiscard]] std::string to_json(const user_profile& p);
[[nodiscard]] std::string to_json(const order& o);
[[nodiscard]] std::string_view to_string(order_status s) noexcept;

}  // namespace delivery::http
