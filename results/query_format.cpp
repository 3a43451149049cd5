#include "results/query_format.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace dreamer::results {

std::string format_number_for_table(const Cell& cell) {
  if (cell.type == Cell::Type::kInteger) return std::to_string(cell.integer);
  if (cell.type != Cell::Type::kReal) return cell.to_string();
  const double x = cell.real;
  char buffer[64];
  // Costs (params, FLOPs, bytes) are stored as REAL but are whole numbers: print them whole.
  if (std::isfinite(x) && std::abs(x) < 1e15 && x == std::round(x)) {
    std::snprintf(buffer, sizeof buffer, "%.0f", x);
  } else if (std::isfinite(x) && std::abs(x) >= 1e-3 && std::abs(x) < 1e9) {
    // Four significant digits, without switching to exponent form for large values.
    const int magnitude = static_cast<int>(std::floor(std::log10(std::abs(x))));
    std::snprintf(buffer, sizeof buffer, "%.*f", std::max(1, 3 - magnitude), x);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.4g", x);
  }
  return buffer;
}

std::string format_table(const QueryResult& result) {
  const size_t n = result.columns.size();
  std::vector<std::vector<std::string>> text(result.rows.size(), std::vector<std::string>(n));
  std::vector<size_t> width(n);
  std::vector<bool> numeric(n, false);  // right-align a column whose non-NULL cells are numbers
  for (size_t c = 0; c < n; ++c) {
    width[c] = result.columns[c].size();
    bool any = false, all_numbers = true;
    for (size_t r = 0; r < result.rows.size(); ++r) {
      const Cell& cell = result.rows[r][c];
      if (cell.is_null()) {
        text[r][c] = "NULL";
      } else {
        any = true;
        all_numbers = all_numbers && cell.is_number();
        text[r][c] = cell.is_number() ? format_number_for_table(cell) : cell.to_string();
      }
      width[c] = std::max(width[c], text[r][c].size());
    }
    numeric[c] = any && all_numbers;
  }
  std::string out;
  auto put_row = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t c = 0; c < n; ++c) {
      const std::string pad(width[c] - cells[c].size(), ' ');
      line += c ? "  " : "";
      line += numeric[c] ? pad + cells[c] : cells[c] + pad;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  };
  put_row(result.columns);
  std::vector<std::string> rule(n);
  for (size_t c = 0; c < n; ++c) rule[c] = std::string(width[c], '-');
  put_row(rule);
  for (const auto& row : text) put_row(row);
  return out;
}

namespace {

std::string csv_field(const std::string& value) {
  if (value.find_first_of(",\"\r\n") == std::string::npos) return value;
  std::string quoted = "\"";
  for (char ch : value) {
    if (ch == '"') quoted += '"';
    quoted += ch;
  }
  return quoted + "\"";
}

}  // namespace

std::string format_csv(const QueryResult& result) {
  std::string out;
  auto put_line = [&](size_t n, auto field) {
    for (size_t c = 0; c < n; ++c) out += (c ? "," : "") + csv_field(field(c));
    out += "\r\n";
  };
  put_line(result.columns.size(), [&](size_t c) { return result.columns[c]; });
  for (const auto& row : result.rows)
    put_line(row.size(), [&](size_t c) { return row[c].to_string(); });
  return out;
}

std::string format_json(const QueryResult& result) {
  auto rows = nlohmann::ordered_json::array();
  for (const auto& row : result.rows) {
    nlohmann::ordered_json object = nlohmann::ordered_json::object();
    for (size_t c = 0; c < row.size(); ++c) {
      const Cell& cell = row[c];
      auto& value = object[result.columns[c]];
      switch (cell.type) {
        case Cell::Type::kNull:
          value = nullptr;
          break;
        case Cell::Type::kInteger:
          value = cell.integer;
          break;
        case Cell::Type::kReal:
          value = cell.real;
          break;
        case Cell::Type::kText:
          value = cell.text;
          break;
      }
    }
    rows.push_back(std::move(object));
  }
  // Invalid UTF-8 in a text column is replaced rather than aborting the whole output.
  return rows.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

namespace {

bool is_json_column(const std::string& name) {
  return name.size() >= 5 && name.compare(name.size() - 5, 5, "_json") == 0;
}

nlohmann::ordered_json cell_json(const Cell& cell, bool embed) {
  switch (cell.type) {
    case Cell::Type::kNull:
      return nullptr;
    case Cell::Type::kInteger:
      return cell.integer;
    case Cell::Type::kReal:
      return cell.real;
    case Cell::Type::kText:
      if (embed) {
        auto parsed = nlohmann::ordered_json::parse(cell.text, nullptr, false);
        if (!parsed.is_discarded()) return parsed;
      }
      return cell.text;
  }
  return nullptr;
}

}  // namespace

std::string format_jsonl(const QueryResult& result) {
  std::string out;
  const bool single = result.columns.size() == 1 && is_json_column(result.columns[0]);
  for (const auto& row : result.rows) {
    nlohmann::ordered_json line;
    if (single) {
      line = cell_json(row[0], true);
    } else {
      line = nlohmann::ordered_json::object();
      for (size_t c = 0; c < row.size(); ++c)
        line[result.columns[c]] = cell_json(row[c], is_json_column(result.columns[c]));
    }
    out += line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  return out;
}

}  // namespace dreamer::results
