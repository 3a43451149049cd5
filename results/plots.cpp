#include "results/plots.h"

#include <sys/wait.h>
#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include "util/errors.h"
#include "util/fs.h"

namespace dreamer::results {

namespace {

struct CommandOutput {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

CommandOutput run_command(const std::string& command) {
  CommandOutput result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer{};
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    result.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

// gnuplot single-quoted string: only the quote itself needs doubling.
std::string gp_quote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("''") : std::string(1, ch);
  return out + "'";
}

// gnuplot double-quoted string, for titles: "\n" in `s` becomes a line break.
std::string gp_text(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '\n') {
      out += "\\n";
      continue;
    }
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "\"";
}

std::string number(double x) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.10g", x);
  return buffer;
}

// Okabe-Ito colours (distinguishable with colour-vision deficiencies), black last.
const char* kStyle = R"gp(set linetype 1 lc rgb '#0072B2' lw 2
set linetype 2 lc rgb '#D55E00' lw 2
set linetype 3 lc rgb '#009E73' lw 2
set linetype 4 lc rgb '#CC79A7' lw 2
set linetype 5 lc rgb '#E69F00' lw 2
set linetype 6 lc rgb '#56B4E9' lw 2
set linetype 7 lc rgb '#000000' lw 2
set linetype 8 lc rgb '#F0E442' lw 2
set linetype cycle 8
)gp";

const char* kSize = "size 960,600";
const char* kFont = "font 'Sans,12'";

// Both terminals render the same plot: PNG first, then the same commands again for SVG.
std::string both_terminals(const std::string& stem, const std::string& body) {
  std::string s;
  s += "set terminal pngcairo " + std::string(kSize) + " noenhanced " + kFont + "\n";
  s += "set output " + gp_quote(stem + ".png") + "\n" + kStyle + body;
  s += "set terminal svg " + std::string(kSize) + " noenhanced " + kFont +
       " background rgb 'white'\n";
  s += "set output " + gp_quote(stem + ".svg") + "\nreplot\nunset output\n";
  return s;
}

struct Series {
  std::string title;
  std::vector<CurvePoint> points;
  int colour = 1;  // linetype: one per arm
  int dash = 1;    // dashtype: one per seed of an arm
};

struct LinePlot {
  std::string stem, title, y_label, style;
  std::vector<Series> series;
  std::optional<std::pair<double, std::string>> reference_line;  // y, legend
};

// Writes stem.dat and stem.gp; returns false when there is nothing to draw.
bool write_line_plot(const std::string& dir, const LinePlot& plot) {
  double lo = 0, hi = 0;
  bool any = false;
  std::ofstream data(fs::join(dir, plot.stem + ".dat"));
  for (const auto& s : plot.series) {
    data << "# " << s.title << "\n";
    for (const auto& p : s.points) {
      data << number(p.tokens) << " " << number(p.value) << "\n";
      lo = any ? std::min(lo, p.tokens) : p.tokens;
      hi = any ? std::max(hi, p.tokens) : p.tokens;
      any = true;
    }
    data << "\n\n";  // gnuplot: next `index`
  }
  if (!any) return false;
  std::string body = "set title " + gp_text(plot.title) + "\n";
  body += "set xlabel 'training tokens'\nset ylabel " + gp_quote(plot.y_label) + "\n";
  // The legend goes under the plot, where it can never hide a line, three entries a row; the
  // bottom margin is set by hand because gnuplot's own puts the legend over the x label.
  const size_t entries = plot.series.size() + (plot.reference_line ? 1 : 0);
  const size_t rows = (entries + 2) / 3;
  body += "set grid\nset key below samplen 3 maxcols 3\nset bmargin " + std::to_string(4 + rows) +
          "\nset autoscale xfix\n";
  // Checkpoints usually double: a log axis spreads them evenly once they span a decade or so.
  // Ticks in SI prefixes: 10M, 1.5M rather than 1e+07, 1.5e+06.
  if (lo > 0 && hi / lo >= 20)
    body += "set logscale x\nset format x '%.0s%c'\n";
  else if (hi >= 1e4)
    body += "set format x '%.1s%c'\n";
  body += "plot ";
  for (size_t i = 0; i < plot.series.size(); ++i) {
    const auto& s = plot.series[i];
    body += (i ? ", \\\n     " : "") + gp_quote(plot.stem + ".dat") + " index " +
            std::to_string(i) + " using 1:2 " + plot.style + " lt " + std::to_string(s.colour) +
            " dt " + std::to_string(s.dash) + " title " + gp_quote(s.title);
  }
  if (plot.reference_line)
    body += ", \\\n     " + number(plot.reference_line->first) +
            " with lines dt 2 lw 1.5 lc rgb 'gray40' title " +
            gp_quote(plot.reference_line->second);
  body += "\n";
  std::ofstream(fs::join(dir, plot.stem + ".gp")) << both_terminals(plot.stem, body);
  return true;
}

struct Heatmap {
  std::string stem, title;
  std::map<int64_t, std::vector<double>> shares;  // depth -> share of each expert
};

void write_heatmap(const std::string& dir, const Heatmap& map) {
  size_t experts = 0;
  std::ofstream data(fs::join(dir, map.stem + ".dat"));
  data << "# expert_id depth share\n";
  for (const auto& [depth, shares] : map.shares) {
    experts = std::max(experts, shares.size());
    for (size_t e = 0; e < shares.size(); ++e)
      data << e << " " << depth << " " << number(shares[e]) << "\n";
    data << "\n";
  }
  const int64_t first = map.shares.begin()->first, last = map.shares.rbegin()->first;
  std::string body = "set title " + gp_text(map.title) + "\n";
  body += "set xlabel 'expert id'\nset ylabel 'depth (recurrence step or layer)'\n";
  body += "set cblabel 'share of selections at the depth'\nset rmargin 12\n";
  body += "set xrange [-0.5:" + number(static_cast<double>(experts) - 0.5) + "]\n";
  body += "set yrange [" + number(first - 0.5) + ":" + number(last + 0.5) + "]\n";
  if (experts <= 32) body += "set xtics 1\n";
  if (last - first < 32) body += "set ytics 1\n";
  body += "set cbrange [0:*]\nset tics out\n";
  body +=
      "set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21918c', 0.75 '#5ec962', "
      "1 '#fde725')\n";
  // One filled box per (expert, depth): unlike `with image`, this also draws a single depth.
  body += "plot " + gp_quote(map.stem + ".dat") +
          " using 1:2:(0.5):(0.5):3 with boxxyerror fs solid 1.0 noborder fc palette notitle\n";
  std::ofstream(fs::join(dir, map.stem + ".gp")) << both_terminals(map.stem, body);
}

// Stems unique within one experiment's folder ("a/b" and "a_b" must not overwrite each other).
class StemNames {
 public:
  std::string make(const std::string& wanted) {
    std::string stem = sanitize_file_name(wanted);
    for (int i = 2; !used_.insert(stem).second; ++i)
      stem = sanitize_file_name(wanted) + "_" + std::to_string(i);
    return stem;
  }

 private:
  std::set<std::string> used_;
};

}  // namespace

std::string sanitize_file_name(const std::string& name) {
  std::string out;
  for (char ch : name) {
    const bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_';
    out += keep ? ch : '_';
  }
  if (out.empty() || out[0] == '.') out = "_" + out;  // no hidden files, no ".."
  return out;
}

std::string gnuplot_problem() {
  const auto r = run_command("gnuplot --version");
  if (r.exit_code == 0) return "";
  return "`gnuplot --version` failed (exit " + std::to_string(r.exit_code) +
         "): " + (r.output.empty() ? "no output" : r.output.substr(0, r.output.find('\n')));
}

PlotSet write_plots(const ExperimentData& data, const ExperimentAnalysis& analysis,
                    const std::vector<TrainPoint>& train,
                    const std::vector<ExpertCountRecord>& counts, const std::string& out_dir,
                    const std::string& subdir) {
  PlotSet out;
  const std::string dir = fs::join(out_dir, subdir);
  if (const auto error = fs::try_create_directories(dir); !error.empty())
    throw InputError(dir, "cannot create the plot folder: " + error);
  StemNames names;
  std::vector<std::pair<std::string, std::string>> written;  // stem, title

  std::map<std::string, const RunRecord*> run_of;
  for (const auto& r : data.runs) run_of[r.run_id] = &r;

  std::map<std::string, int> colour_of;  // arm -> linetype, the same in every plot
  for (const auto& arm : analysis.arms)
    colour_of.emplace(arm.arm, static_cast<int>(colour_of.size()) + 1);

  LinePlot loss{names.make("loss_vs_tokens"),
                data.name + ": training loss",
                "loss",
                "with lines lw 2",
                {},
                std::nullopt};
  std::map<std::string, int> seeds_drawn;  // arm -> seeds so far: the next dash type
  for (const auto& p : train) {
    if (loss.series.empty() || loss.series.back().title != p.run_id)
      loss.series.push_back({p.run_id, {}});
    loss.series.back().points.push_back({p.tokens, p.loss});
  }
  for (auto& s : loss.series)  // "arm seed N" reads better than the run id
    if (auto it = run_of.find(s.title); it != run_of.end()) {
      s.colour = colour_of[it->second->arm];
      s.dash = ++seeds_drawn[it->second->arm];
      s.title = it->second->arm + " seed " + std::to_string(it->second->seed);
    }
  if (write_line_plot(dir, loss))
    written.emplace_back(loss.stem, "Training loss");
  else
    out.notes.push_back("No training metrics stored: no loss plot.");

  for (const auto& task : data.tasks) {
    LinePlot plot{
        names.make("accuracy_vs_tokens_" + task.task),
        data.name + ": " + task.task + " vs training tokens\n(default depth, mean over seeds)",
        task.metric + (task.higher_is_better ? "" : " (lower is better)"),
        "with linespoints lw 2 pt 7 ps 1",
        {},
        std::nullopt};
    for (const auto& arm : analysis.arms)
      if (auto it = arm.curve.find(task.task); it != arm.curve.end() && !it->second.empty())
        plot.series.push_back({arm.arm, it->second, colour_of[arm.arm], 1});
    if (analysis.reference_has_runs)
      if (auto it = analysis.arms.front().curve.find(task.task);
          it != analysis.arms.front().curve.end() && !it->second.empty())
        plot.reference_line = {it->second.back().value,
                               "reference final (" + analysis.arms.front().arm + ")"};
    if (write_line_plot(dir, plot))
      written.emplace_back(plot.stem, task.task + " " + task.metric + " vs tokens");
    else
      out.notes.push_back("No checkpoint with known tokens was evaluated on " + task.task +
                          ": no accuracy plot.");
  }

  // arm -> site -> depth -> expert -> count, summed over seeds and tasks.
  std::map<std::string, std::map<std::string, std::map<int64_t, std::vector<double>>>> usage;
  for (const auto& c : counts) {
    auto it = run_of.find(c.run_id);
    if (it == run_of.end()) continue;
    // One heatmap per site ("ffn", not "ffn@layer2"): a row per depth, each row over the
    // experts of that depth's own pool.
    auto& row = usage[it->second->arm][c.site.substr(0, c.site.find('@'))][c.depth];
    if (row.size() <= static_cast<size_t>(c.expert_id)) row.resize(c.expert_id + 1, 0.0);
    row[c.expert_id] += static_cast<double>(c.count);
  }
  for (const auto& arm : analysis.arms) {
    auto it = usage.find(arm.arm);
    if (it == usage.end()) continue;
    for (const auto& [site, by_depth] : it->second) {
      Heatmap map{names.make("expert_usage_" + arm.arm + "_" + site),
                  data.name + ": expert usage of " + arm.arm + ", site " + site +
                      "\n(last checkpoint, " +
                      (arm.default_depth > 1 ? std::to_string(arm.default_depth) + " recurrences"
                                             : std::string("one pass: depth = layer")) +
                      ", summed over seeds and tasks)",
                  {}};
      for (const auto& [depth, row] : by_depth) {
        double total = 0;
        for (double c : row) total += c;
        auto& shares = map.shares[depth];
        for (double c : row) shares.push_back(total > 0 ? c / total : 0.0);
      }
      write_heatmap(dir, map);
      written.emplace_back(map.stem, "Expert usage: " + arm.arm + ", site " + site);
    }
  }

  if (const auto problem = gnuplot_problem(); !problem.empty()) {
    out.notes.push_back("gnuplot is not available, so no plots were drawn (" + problem +
                        "). Their data and .gp scripts are in " + dir +
                        "; install gnuplot (Debian: gnuplot-nox) and run `gnuplot NAME.gp` there.");
    return out;
  }
  for (const auto& [stem, title] : written) {
    const auto r =
        run_command("cd " + shell_quote(dir) + " && gnuplot " + shell_quote(stem + ".gp"));
    const bool made = fs::file_size(fs::join(dir, stem + ".png")) > 0 &&
                      fs::file_size(fs::join(dir, stem + ".svg")) > 0;
    if (r.exit_code != 0 || !made) {
      out.notes.push_back("gnuplot failed on " + fs::join(dir, stem + ".gp") + " (exit " +
                          std::to_string(r.exit_code) + "): " + r.output.substr(0, 300));
      continue;
    }
    if (!r.output.empty())  // warnings: the plot was drawn but may be missing something
      out.notes.push_back("gnuplot on " + stem + ".gp said: " + r.output.substr(0, 300));
    out.links.push_back({title, fs::join(subdir, stem + ".png")});
  }
  return out;
}

}  // namespace dreamer::results
