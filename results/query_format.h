#pragma once
// The three ways `dreamer query` prints a result: an aligned table for people, CSV (RFC 4180)
// and JSON (an array of objects) for programs.
#include <string>

#include "results/query.h"

namespace dreamer::results {

// Columns padded to their widest cell; numbers right-aligned, text left-aligned; NULL as
// "NULL"; reals with about four significant digits (an integral real prints as an integer).
std::string format_table(const QueryResult& result);

// Header line, then one line per row, "\r\n" line ends; a field is quoted (with quotes
// doubled) when it holds a comma, quote, CR or LF. NULL is an empty field; reals at full
// precision.
std::string format_csv(const QueryResult& result);

// [{"column": value, ...}, ...] in column order: numbers as JSON numbers, NULL as null.
std::string format_json(const QueryResult& result);

// One compact JSON object per row, "\n" line ends (JSON Lines). A column whose name ends in
// "_json" holds JSON text and is embedded as JSON; when it is the only column, each line is
// that JSON itself (the `samples` query: lm-eval samples-file records).
std::string format_jsonl(const QueryResult& result);

// The table form of one number (exposed for the report and the tests).
std::string format_number_for_table(const Cell& cell);

}  // namespace dreamer::results
