#include "eval/documents.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "util/errors.h"
#include "util/fs.h"

namespace dreamer::eval {

namespace {

std::string resolve(const std::string& data_root, const std::string& relative) {
  const auto file = fs::join(data_root, relative);
  if (!fs::exists(file))
    throw InputError(file, "data file does not exist (data root " + data_root +
                               "; set --data-dir or DREAMER_DATA_DIR)");
  return file;
}

bool keep(const DataSpec& spec, const nlohmann::json& doc) {
  if (spec.where_field.empty()) return true;
  if (!doc.contains(spec.where_field) || !doc[spec.where_field].is_string()) return false;
  const auto value = doc[spec.where_field].get<std::string>();
  for (const auto& allowed : spec.where_in)
    if (value == allowed) return true;
  return false;
}

std::vector<nlohmann::json> read_documents(const DataSpec& spec, const std::string& file) {
  if (spec.format == "text") {
    std::ifstream in(file);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return {nlohmann::json{{"text", buffer.str()}}};
  }
  std::vector<nlohmann::json> docs;
  for (auto& doc : read_jsonl(file))
    if (keep(spec, doc)) docs.push_back(std::move(doc));
  return docs;
}

}  // namespace

std::vector<nlohmann::json> read_jsonl(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw InputError(file, "cannot open file");
  std::vector<nlohmann::json> docs;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      docs.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::exception& e) {  // parse errors, numbers too large
      throw InputError(file + ":" + std::to_string(number),
                       std::string("invalid JSON: ") + e.what());
    }
    if (!docs.back().is_object())
      throw InputError(file + ":" + std::to_string(number), "expected a JSON object");
  }
  return docs;
}

TaskData load_task_data(const TaskSpec& task, const std::string& data_root,
                        const SyntheticSources& sources, int64_t limit) {
  std::vector<nlohmann::json> all;
  if (!task.data.synthetic.empty()) {
    const auto& source = sources.get(task.data.synthetic, "$.data.synthetic.source");
    for (const auto& ex :
         source(task.data.synthetic_n, static_cast<uint64_t>(task.data.synthetic_seed),
                task.data.synthetic_params, "$.data.synthetic.params"))
      all.push_back({{"prompt", ex.prompt}, {"answer", ex.answer}});
  } else {
    all = read_documents(task.data, resolve(data_root, task.data.path));
  }
  TaskData data;
  size_t first_scored = 0;
  if (task.shots.n > 0) {
    if (task.shots.path.empty()) {
      // Shots from the evaluated data itself: the first n, excluded from scoring.
      first_scored = std::min(all.size(), static_cast<size_t>(task.shots.n));
      data.shots.assign(all.begin(), all.begin() + first_scored);
    } else {
      auto pool = read_jsonl(resolve(data_root, task.shots.path));
      if (static_cast<int64_t>(pool.size()) < task.shots.n)
        throw InputError(task.shots.path,
                         "has fewer than shots.n = " + std::to_string(task.shots.n) + " documents");
      data.shots.assign(pool.begin(), pool.begin() + task.shots.n);
    }
  }
  size_t end = all.size();
  if (limit > 0) end = std::min(end, first_scored + static_cast<size_t>(limit));
  data.docs.assign(all.begin() + first_scored, all.begin() + end);
  if (data.docs.empty()) throw InputError(task.name, "no documents to score");
  return data;
}

std::string default_data_root() {
  if (const char* env = std::getenv("DREAMER_DATA_DIR"); env && *env) return env;
  return "../shared/data";
}

}  // namespace dreamer::eval
