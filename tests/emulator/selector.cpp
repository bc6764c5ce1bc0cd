// Label and field selector parsing and matching (see selector.hpp).
#include "selector.hpp"

#include <cctype>

namespace herald::emulator {

namespace {

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(s.begin());
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

// Splits on commas that are not inside parentheses (set values).
std::vector<std::string> split_terms(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  for (char c : text) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(trim(cur));
  return out;
}

bool valid_key(const std::string& k) {
  if (k.empty() || k.size() > 316) return false;
  for (char c : k) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' && c != '/')
      return false;
  }
  return true;
}

}  // namespace

bool label_selector::matches(const nlohmann::json& labels) const {
  for (const auto& r : requirements) {
    const bool has = labels.is_object() && labels.contains(r.key) && labels[r.key].is_string();
    const std::string value = has ? labels[r.key].get<std::string>() : std::string();
    auto in_values = [&] {
      for (const auto& v : r.values)
        if (v == value) return true;
      return false;
    };
    switch (r.operation) {
      case label_requirement::op::exists: if (!has) return false; break;
      case label_requirement::op::not_exists: if (has) return false; break;
      case label_requirement::op::equals:
      case label_requirement::op::in: if (!has || !in_values()) return false; break;
      // != and notin match objects without the label (apimachinery semantics).
      case label_requirement::op::not_equals:
      case label_requirement::op::not_in: if (has && in_values()) return false; break;
    }
  }
  return true;
}

std::string field_value(const nlohmann::json& object, const std::string& path) {
  const nlohmann::json* cur = &object;
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!cur->is_object() || !cur->contains(part)) return {};
    cur = &(*cur)[part];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (cur->is_string()) return cur->get<std::string>();
  if (cur->is_boolean()) return cur->get<bool>() ? "true" : "false";
  if (cur->is_number()) return cur->dump();
  return {};
}

bool field_selector::matches(const nlohmann::json& object) const {
  for (const auto& r : requirements) {
    const bool equal = field_value(object, r.field) == r.value;
    if (equal == r.negated) return false;
  }
  return true;
}

herald::Result<label_selector, std::string> parse_label_selector(const std::string& text) {
  label_selector sel;
  if (trim(text).empty()) return sel;
  for (const auto& term : split_terms(text)) {
    if (term.empty()) return std::string("found '', expected: !, identifier, or 'end of string'");
    label_requirement r;
    if (term[0] == '!') {
      r.key = trim(term.substr(1));
      r.operation = label_requirement::op::not_exists;
    } else if (auto p = term.find("!="); p != std::string::npos) {
      r.key = trim(term.substr(0, p));
      r.operation = label_requirement::op::not_equals;
      r.values.push_back(trim(term.substr(p + 2)));
    } else if (auto q = term.find('='); q != std::string::npos) {
      r.key = trim(term.substr(0, q));
      r.operation = label_requirement::op::equals;
      std::size_t vstart = q + 1;
      if (vstart < term.size() && term[vstart] == '=') ++vstart;
      r.values.push_back(trim(term.substr(vstart)));
    } else if (auto open = term.find('('); open != std::string::npos) {
      const auto close = term.rfind(')');
      if (close == std::string::npos || close < open) return "unterminated set in '" + term + "'";
      const std::string head = trim(term.substr(0, open));
      const auto sp = head.rfind(' ');
      if (sp == std::string::npos) return "expected 'in' or 'notin' in '" + term + "'";
      r.key = trim(head.substr(0, sp));
      const std::string op = trim(head.substr(sp + 1));
      if (op == "in") {
        r.operation = label_requirement::op::in;
      } else if (op == "notin") {
        r.operation = label_requirement::op::not_in;
      } else {
        return "unknown operator '" + op + "'";
      }
      std::string values = term.substr(open + 1, close - open - 1);
      std::size_t s = 0;
      while (s <= values.size()) {
        const auto c = values.find(',', s);
        r.values.push_back(trim(values.substr(s, c == std::string::npos ? std::string::npos : c - s)));
        if (c == std::string::npos) break;
        s = c + 1;
      }
    } else {
      r.key = term;
      r.operation = label_requirement::op::exists;
    }
    if (!valid_key(r.key)) return "invalid label key \"" + r.key + "\"";
    sel.requirements.push_back(std::move(r));
  }
  return sel;
}

herald::Result<field_selector, std::string> parse_field_selector(const std::string& text) {
  field_selector sel;
  if (trim(text).empty()) return sel;
  for (const auto& term : split_terms(text)) {
    field_requirement r;
    if (auto p = term.find("!="); p != std::string::npos) {
      r.field = trim(term.substr(0, p));
      r.negated = true;
      r.value = trim(term.substr(p + 2));
    } else if (auto q = term.find('='); q != std::string::npos) {
      r.field = trim(term.substr(0, q));
      std::size_t vstart = q + 1;
      if (vstart < term.size() && term[vstart] == '=') ++vstart;
      r.value = trim(term.substr(vstart));
    } else {
      return "invalid field selector: '" + term + "': no operator";
    }
    if (r.field.empty()) return "invalid field selector: '" + term + "': empty field";
    sel.requirements.push_back(std::move(r));
  }
  return sel;
}

}  // namespace herald::emulator
