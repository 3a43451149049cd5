#pragma once
// A results database filled by hand with known numbers, for the query and report tests.
// report_fixture.cpp lists every row; the tests' expected values are computed from those rows
// by hand (in comments there), not by the code under test.
#include <string>

namespace dreamer::testing {

// Creates `file` with the current schema (ResultStore) and the rows described in
// report_fixture.cpp: experiment "exp" (reference arm dense; arms dense x2 seeds, dreamer x2
// seeds, recurrent, default depth 4, moe x1 seed, still running; tasks arith, logic (acc) and
// ppl (bits_per_byte, lower is better); per-item samples for dense and dreamer on arith at every
// checkpoint and on logic at the last), experiment "other" (no reference arm, one run) and
// experiment "pending" (one planned run, nothing evaluated).
void fill_report_db(const std::string& file);

// A fresh temporary file holding that database.
std::string make_report_db();

}  // namespace dreamer::testing
