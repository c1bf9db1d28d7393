#ifndef CRANK_BASE_ENUM_NAMES_H_
#define CRANK_BASE_ENUM_NAMES_H_

// One name table per enum: the text used in YAML, flags and messages for each value.
//
//   inline constexpr EnumName<Interaction> kInteractionNames[] = {
//       {"dot", Interaction::kDot}, {"cross", Interaction::kCross}};
//   NameOf(kInteractionNames, Interaction::kDot)     -> "dot"
//   ParseName(kInteractionNames, "cross")           -> Interaction::kCross (nullopt if unknown)
//   ListNames(kInteractionNames, ", ", " or ")      -> "dot or cross"
//
// Tables are constant arrays; every function is pure and thread-safe.

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace crank {

template <typename E>
struct EnumName {
  const char* name;
  E value;
};

// The name of `value`; "?" when the table lacks it (a table that misses a value is a bug).
template <typename E>
const char* NameOf(std::span<const EnumName<E>> names, E value) {
  for (const EnumName<E>& n : names) {
    if (n.value == value) return n.name;
  }
  return "?";
}
template <typename E, size_t N>
const char* NameOf(const EnumName<E> (&names)[N], E value) {
  return NameOf(std::span<const EnumName<E>>(names), value);
}

// The value named `text` (exact, case-sensitive), or nullopt.
template <typename E>
std::optional<E> ParseName(std::span<const EnumName<E>> names, std::string_view text) {
  for (const EnumName<E>& n : names) {
    if (text == n.name) return n.value;
  }
  return std::nullopt;
}
template <typename E, size_t N>
std::optional<E> ParseName(const EnumName<E> (&names)[N], std::string_view text) {
  return ParseName(std::span<const EnumName<E>>(names), text);
}

// The names in table order joined by `separator`, the last two by `last_separator`.
template <typename E>
std::string ListNames(std::span<const EnumName<E>> names, std::string_view separator,
                      std::string_view last_separator) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? last_separator : separator;
    out += names[i].name;
  }
  return out;
}
template <typename E, size_t N>
std::string ListNames(const EnumName<E> (&names)[N], std::string_view separator,
                      std::string_view last_separator) {
  return ListNames(std::span<const EnumName<E>>(names), separator, last_separator);
}

}  // namespace crank

#endif  // CRANK_BASE_ENUM_NAMES_H_
