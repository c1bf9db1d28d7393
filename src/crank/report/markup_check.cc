#include "markup_check.h"

#include <cctype>
#include <set>
#include <string>
#include <vector>

namespace crank::testing {
namespace {

bool ValidReference(std::string_view s, size_t at) {
  for (std::string_view ref : {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"}) {
    if (s.substr(at, ref.size()) == ref) return true;
  }
  return false;
}

std::string At(size_t i, const std::string& what) { return what + " at byte " + std::to_string(i); }

}  // namespace

std::string MarkupProblem(std::string_view s) {
  static const std::set<std::string> kVoid = {"meta", "br", "hr", "img", "link", "input"};
  std::vector<std::string> open;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '&') {
      if (!ValidReference(s, i)) return At(i, "bare '&'");
      ++i;
      continue;
    }
    if (c == '>') return At(i, "'>' in text");
    if (c != '<') {
      ++i;
      continue;
    }
    if (s.substr(i, 9) == "<!DOCTYPE") {
      const size_t end = s.find('>', i);
      if (end == std::string_view::npos) return At(i, "unterminated doctype");
      i = end + 1;
      continue;
    }
    const bool closing = i + 1 < s.size() && s[i + 1] == '/';
    size_t j = i + (closing ? 2 : 1);
    const size_t name_start = j;
    while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '-')) ++j;
    const std::string name(s.substr(name_start, j - name_start));
    if (name.empty()) return At(i, "'<' without a tag name");
    bool self_closing = false;
    // Attributes: name="value" pairs separated by blanks.
    while (true) {
      while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j]))) ++j;
      if (j >= s.size()) return At(i, "unterminated tag <" + name);
      if (s[j] == '>') break;
      if (s[j] == '/' && j + 1 < s.size() && s[j + 1] == '>') {
        self_closing = true;
        ++j;
        break;
      }
      if (closing) return At(j, "attribute in closing tag </" + name);
      const size_t attr = j;
      while (j < s.size() &&
             (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '-' || s[j] == ':')) {
        ++j;
      }
      if (j == attr) return At(j, "bad attribute name in <" + name);
      if (j + 1 >= s.size() || s[j] != '=' || s[j + 1] != '"') {
        return At(j, "unquoted attribute value in <" + name);
      }
      j += 2;
      while (j < s.size() && s[j] != '"') {
        if (s[j] == '<' || s[j] == '>') return At(j, "'<' or '>' in an attribute of <" + name);
        if (s[j] == '&' && !ValidReference(s, j)) return At(j, "bare '&' in an attribute");
        ++j;
      }
      if (j >= s.size()) return At(attr, "unterminated attribute value in <" + name);
      ++j;
    }
    if (closing) {
      if (open.empty() || open.back() != name) {
        return At(i,
                  "</" + name + "> closes " + (open.empty() ? "nothing" : "<" + open.back() + ">"));
      }
      open.pop_back();
    } else if (!self_closing && kVoid.count(name) == 0) {
      open.push_back(name);
    }
    i = j + 1;
  }
  if (!open.empty()) return "<" + open.back() + "> is never closed";
  return "";
}

}  // namespace crank::testing
