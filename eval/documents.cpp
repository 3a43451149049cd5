#include "eval/documents.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "eval/python_random.h"
#include "eval/sha256.h"
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

// The task's documents (all of them: doc_id is the index) and their doc_hash.
void read_documents(const TaskSpec& task, const std::string& data_root,
                    const SyntheticSources& sources, std::vector<nlohmann::json>& docs,
                    std::vector<std::string>& hashes) {
  if (!task.data.synthetic.empty()) {
    const auto& source = sources.get(task.data.synthetic, "$.data.synthetic.source");
    for (const auto& ex :
         source(task.data.synthetic_n, static_cast<uint64_t>(task.data.synthetic_seed),
                task.data.synthetic_params, "$.data.synthetic.params")) {
      docs.push_back({{"prompt", ex.prompt}, {"answer", ex.answer}});
      hashes.push_back(lmeval_doc_hash(
          nlohmann::ordered_json{{"prompt", ex.prompt}, {"answer", ex.answer}}.dump()));
    }
    return;
  }
  const auto file = resolve(data_root, task.data.path);
  if (task.data.format == "text") {
    std::ifstream in(file);
    std::stringstream buffer;
    buffer << in.rdbuf();
    docs.push_back({{"text", buffer.str()}});
    hashes.push_back(lmeval_doc_hash(docs.back().dump()));
    return;
  }
  std::vector<std::string> lines;
  auto all = read_jsonl(file, &lines);
  for (size_t i = 0; i < all.size(); ++i)
    if (keep(task.data, all[i])) {
      docs.push_back(std::move(all[i]));
      hashes.push_back(lmeval_doc_hash(lines[i]));
    }
}

// Draws each scored document's shots the way lm-eval's samplers do.
class ShotDrawer {
 public:
  ShotDrawer(const ShotSpec& spec, int64_t n, uint64_t seed, std::vector<nlohmann::json> pool,
             bool pool_is_docs)
      : spec_(spec),
        n_(static_cast<size_t>(n)),
        rng_(seed),
        pool_(std::move(pool)),
        pool_is_docs_(pool_is_docs) {}

  std::vector<nlohmann::json> draw(const nlohmann::json& doc) {
    std::vector<nlohmann::json> shots;
    if (n_ == 0) return shots;
    if (spec_.sampler == ShotSampler::kFirstN) {
      // FirstNSampler: the pool in order, without the document itself.
      for (const auto& candidate : pool_) {
        if (shots.size() == n_) break;
        if (!(pool_is_docs_ && candidate == doc)) shots.push_back(candidate);
      }
    } else {
      // ContextSampler.sample: n draws, or n + 1 and the document removed when the pool is
      // the evaluated split.
      const size_t k = pool_is_docs_ ? n_ + 1 : n_;
      for (size_t index : rng_.sample(pool_.size(), k)) {
        if (pool_is_docs_ && pool_[index] == doc) continue;
        if (shots.size() < n_) shots.push_back(pool_[index]);
      }
    }
    if (shots.size() != n_)
      throw InputError("$.shots.n", "the few-shot pool of " + std::to_string(pool_.size()) +
                                        " documents cannot give " + std::to_string(n_) +
                                        " shots besides the document itself");
    return shots;
  }

 private:
  const ShotSpec& spec_;
  size_t n_;
  PythonRandom rng_;
  std::vector<nlohmann::json> pool_;
  bool pool_is_docs_;
};

}  // namespace

std::vector<nlohmann::json> read_jsonl(const std::string& file,
                                       std::vector<std::string>* raw_lines) {
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
    if (raw_lines) raw_lines->push_back(line);
  }
  return docs;
}

std::string lmeval_doc_hash(const std::string& json_text) {
  // nlohmann's indented dump with key order kept writes what Python's json.dumps(indent=2,
  // ensure_ascii=False) writes: the same separators, escapes and shortest float forms.
  const auto doc = nlohmann::ordered_json::parse(json_text);
  return sha256_hex(doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
}

TaskData load_task_data(const TaskSpec& task, const std::string& data_root,
                        const SyntheticSources& sources, int64_t limit) {
  DataOptions options;
  options.limit = limit;
  return load_task_data(task, data_root, sources, options);
}

TaskData load_task_data(const TaskSpec& task, const std::string& data_root,
                        const SyntheticSources& sources, const DataOptions& options) {
  std::vector<nlohmann::json> all;
  std::vector<std::string> hashes;
  read_documents(task, data_root, sources, all, hashes);

  const int64_t n = options.num_fewshot.value_or(task.shots.n);
  const int64_t seed = options.fewshot_seed.value_or(task.shots.seed);
  if (n < 0) throw InputError("--num-fewshot", "must be >= 0");
  if (n > 0 && !task.shots.unavailable.empty())
    throw InputError(task.name,
                     "cannot take " + std::to_string(n) + " shots: " + task.shots.unavailable);
  std::vector<nlohmann::json> pool;
  bool pool_is_docs = false;
  std::string pool_name;
  if (!task.shots.exemplars.empty()) {
    pool = task.shots.exemplars;
    pool_name = "exemplars";
  } else if (!task.shots.path.empty()) {
    if (n > 0) pool = read_jsonl(resolve(data_root, task.shots.path));
    pool_name = task.shots.path;
  } else {
    pool = all;
    pool_is_docs = true;
    pool_name = "the evaluated documents (each document left out of its own shots)";
  }
  if (n > 0 && static_cast<int64_t>(pool.size()) < n)
    throw InputError(pool_name, "has " + std::to_string(pool.size()) + " documents, fewer than " +
                                    std::to_string(n) + " shots");

  TaskData data;
  data.shot_settings = {
      {"n", n},
      {"sampler", task.shots.sampler == ShotSampler::kRandom ? "random" : "first_n"},
      {"seed", seed},
      {"pool", pool_name}};
  size_t end = all.size();
  if (options.limit > 0) end = std::min(end, static_cast<size_t>(options.limit));
  ShotDrawer drawer(task.shots, n, static_cast<uint64_t>(seed), std::move(pool), pool_is_docs);
  // Fixed shots (first_n from another pool) are the same for every document: stored once.
  const bool same_for_all = task.shots.sampler == ShotSampler::kFirstN && !pool_is_docs;
  for (size_t i = 0; i < end; ++i) {
    if (!same_for_all || i == 0) {
      auto shots = drawer.draw(all[i]);
      if (i == 0) data.shots = shots;
      if (!same_for_all) data.doc_shots.push_back(std::move(shots));
    }
    data.doc_ids.push_back(static_cast<int64_t>(i));
    data.doc_hashes.push_back(hashes[i]);
    data.docs.push_back(std::move(all[i]));
  }
  if (data.docs.empty()) throw InputError(task.name, "no documents to score");
  return data;
}

std::string default_data_root() {
  if (const char* env = std::getenv("DREAMER_DATA_DIR"); env && *env) return env;
  return "../shared/data";
}

}  // namespace dreamer::eval
