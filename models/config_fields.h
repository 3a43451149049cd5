#pragma once
// One declaration per config struct: each field once, with its JSON key, member, one-line doc
// and range or enum check. Reading (strict: unknown keys are errors naming their JSON path),
// writing (to_json), field-level validation and the config's JSON Schema all come from it.
// Checks that relate several fields stay in the config's hand-written validate().
//
//   ConfigFields<Backbone> f;
//   f.field("d_model", &Backbone::d_model, "residual width", positive<int64_t>());
//   f.choice("norm", &Backbone::norm, norm_kind_names(), "norm layer");
//   f.renamed("width", "d_model");  // reading "width" is an error that names d_model
//
// Sub-configs: object() reads a nested object into a member struct with its own declaration;
// group() reads a nested object into fields of this same struct; embed() adds another
// struct's fields at this level (Backbone inside every family).
#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "util/errors.h"
#include "util/json_reader.h"

namespace dreamer::models {

using ordered_json = nlohmann::ordered_json;

// A field-level check: `fail` returns "" when the value is valid, else what is wrong;
// `schema` holds the matching JSON Schema keywords ("minimum", ...).
template <typename V>
struct Check {
  std::function<std::string(const V&)> fail;
  ordered_json schema = ordered_json::object();
};

namespace detail {
template <typename V>
std::string show(const V& v) {
  return nlohmann::json(v).dump();
}
}  // namespace detail

// v > 0.
template <typename V>
Check<V> positive() {
  Check<V> c;
  c.fail = [](const V& v) { return v > 0 ? "" : "must be positive, got " + detail::show(v); };
  if constexpr (std::is_integral_v<V>)
    c.schema = {{"minimum", 1}};
  else
    c.schema = {{"exclusiveMinimum", 0}};
  return c;
}
// v >= lo.
template <typename V>
Check<V> at_least(V lo) {
  Check<V> c;
  c.fail = [lo](const V& v) {
    return v >= lo ? "" : "must be at least " + detail::show(lo) + ", got " + detail::show(v);
  };
  c.schema = {{"minimum", lo}};
  return c;
}
// 0 (the documented default) or positive.
template <typename V>
Check<V> zero_or_positive() {
  Check<V> c;
  c.fail = [](const V& v) {
    return v >= 0 ? "" : "must be positive (or 0 for the default), got " + detail::show(v);
  };
  c.schema = {{"minimum", 0}};
  return c;
}
// lo <= v <= hi, or lo < v <= hi when lo_open.
inline Check<double> in_range(double lo, double hi, bool lo_open = false) {
  Check<double> c;
  const std::string range =
      std::string(lo_open ? "(" : "[") + detail::show(lo) + ", " + detail::show(hi) + "]";
  c.fail = [=](const double& v) {
    const bool ok = (lo_open ? v > lo : v >= lo) && v <= hi;
    return ok ? "" : "must be in " + range + ", got " + detail::show(v);
  };
  c.schema = {{lo_open ? "exclusiveMinimum" : "minimum", lo}, {"maximum", hi}};
  return c;
}

template <typename V>
const char* schema_type() {
  if constexpr (std::is_same_v<V, bool>)
    return "boolean";
  else if constexpr (std::is_integral_v<V>)
    return "integer";
  else if constexpr (std::is_floating_point_v<V>)
    return "number";
  else
    return "string";
}

template <typename T>
class ConfigFields {
 public:
  // One declared key. `read` reads it (if present) into the struct; `write` adds it to a JSON
  // object; `check` throws InputError below the object's path; `schema` gives its property
  // schema (defaults taken from a default-constructed struct).
  struct Entry {
    std::string key;
    std::string renamed_to;  // set for a former key: reading it is an error naming this
    std::function<void(JsonReader&, T&)> read;
    std::function<void(const T&, nlohmann::json&)> write;
    std::function<void(const T&, const std::string&)> check;
    std::function<ordered_json(const T&)> schema;
    std::function<bool(const T&)> written;  // empty = always written
  };

  // A scalar (integer, number, boolean, string) member.
  template <typename V>
  ConfigFields& field(std::string key, V T::*member, std::string doc, Check<V> check = {}) {
    Entry e;
    e.key = key;
    e.read = [key, member](JsonReader& r, T& t) { r.get(key, t.*member); };
    e.write = [key, member](const T& t, nlohmann::json& j) { j[key] = t.*member; };
    if (check.fail)
      e.check = [key, member, fail = check.fail](const T& t, const std::string& path) {
        const std::string what = fail(t.*member);
        if (!what.empty()) throw InputError(path + "." + key, what);
      };
    e.schema = [member, doc, keywords = check.schema](const T& defaults) {
      ordered_json s = {{"type", schema_type<V>()}};
      s.update(keywords);
      s["default"] = defaults.*member;
      s["description"] = doc;
      return s;
    };
    entries_.push_back(std::move(e));
    return *this;
  }

  // An enum member written as one of `names`.
  template <typename E>
  ConfigFields& choice(std::string key, E T::*member,
                       const std::vector<std::pair<std::string, E>>& names, std::string doc) {
    Entry e;
    e.key = key;
    e.read = [key, member, names](JsonReader& r, T& t) { r.get_enum(key, t.*member, names); };
    e.write = [key, member, names](const T& t, nlohmann::json& j) {
      j[key] = enum_name(t.*member, names);
    };
    e.schema = [member, names, doc](const T& defaults) {
      ordered_json values = ordered_json::array();
      for (const auto& [name, value] : names) values.push_back(name);
      return ordered_json{
          {"enum", values}, {"default", enum_name(defaults.*member, names)}, {"description", doc}};
    };
    entries_.push_back(std::move(e));
    return *this;
  }

  // A nested object read into the member struct `member` by `fields`.
  template <typename S>
  ConfigFields& object(std::string key, S T::*member, ConfigFields<S> fields, std::string doc) {
    Entry e;
    e.key = key;
    e.read = [key, member, fields](JsonReader& r, T& t) {
      JsonReader child = r.child(key);
      fields.read(child, t.*member);
      child.finish();
    };
    e.write = [key, member, fields](const T& t, nlohmann::json& j) {
      j[key] = fields.write(t.*member);
    };
    e.check = [key, member, fields](const T& t, const std::string& path) {
      fields.check(t.*member, path + "." + key);
    };
    e.schema = [member, fields, doc](const T& defaults) {
      return fields.object_schema(defaults.*member, doc);
    };
    entries_.push_back(std::move(e));
    return *this;
  }

  // A nested object whose keys are declared by `fields` over this same struct.
  ConfigFields& group(std::string key, ConfigFields<T> fields, std::string doc) {
    Entry e;
    e.key = key;
    e.read = [key, fields](JsonReader& r, T& t) {
      JsonReader child = r.child(key);
      fields.read(child, t);
      child.finish();
    };
    e.write = [key, fields](const T& t, nlohmann::json& j) { j[key] = fields.write(t); };
    e.check = [key, fields](const T& t, const std::string& path) {
      fields.check(t, path + "." + key);
    };
    e.schema = [fields, doc](const T& defaults) { return fields.object_schema(defaults, doc); };
    entries_.push_back(std::move(e));
    return *this;
  }

  // The keys of the struct `member`, declared by `fields`, at this level.
  template <typename S>
  ConfigFields& embed(S T::*member, const ConfigFields<S>& fields) {
    return embed_via(
        fields, [member](auto& t) -> auto& { return t.*member; });
  }
  // The keys of the base class B of T, declared by `fields`, at this level.
  template <typename B>
  ConfigFields& embed_base(const ConfigFields<B>& fields) {
    static_assert(std::is_base_of_v<B, T>);
    return embed_via(
        fields, [](auto& t) -> auto& {
          using Base =
              std::conditional_t<std::is_const_v<std::remove_reference_t<decltype(t)>>, const B, B>;
          return static_cast<Base&>(t);
        });
  }

  // A former key: reading it is an InputError that names `now` (a path relative to this
  // object, e.g. "ffn_experts.k").
  ConfigFields& renamed(std::string old_key, std::string now) {
    Entry e;
    e.key = old_key;
    e.renamed_to = now;
    e.read = [old_key, now](JsonReader& r, T&) {
      if (r.has(old_key))
        throw InputError(r.path_of(old_key), "renamed: write " + r.path_of(now) + " instead");
    };
    entries_.push_back(std::move(e));
    return *this;
  }

  // The last declared key is written only when `when` holds (a key that applies to one mode).
  ConfigFields& written_only_if(std::function<bool(const T&)> when) {
    entries_.back().written = std::move(when);
    return *this;
  }

  // Reads every declared key present in `r` into `out` (does not finish()).
  void read(JsonReader& r, T& out) const {
    for (const auto& e : entries_)
      if (e.read) e.read(r, out);
  }
  // Strict: a reader over `j`, every declared key, then unknown keys are errors.
  void read(const nlohmann::json& j, const std::string& path, T& out) const {
    JsonReader r(j, path);
    read(r, out);
    r.finish();
  }
  nlohmann::json write(const T& t) const {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& e : entries_)
      if (e.write && (!e.written || e.written(t))) e.write(t, j);
    return j;
  }
  // Field-level checks; `path` is the object's JSON path.
  void check(const T& t, const std::string& path) const {
    for (const auto& e : entries_)
      if (e.check) e.check(t, path);
  }
  // {"key": property schema, ...} of the current keys, defaults from `defaults`.
  ordered_json properties(const T& defaults) const {
    ordered_json p = ordered_json::object();
    for (const auto& e : entries_)
      if (e.schema) p[e.key] = e.schema(defaults);
    return p;
  }
  ordered_json object_schema(const T& defaults, const std::string& doc) const {
    return {{"type", "object"},
            {"additionalProperties", false},
            {"description", doc},
            {"properties", properties(defaults)}};
  }
  // (old key, new path) of every renamed() entry.
  std::vector<std::pair<std::string, std::string>> renames() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& e : entries_)
      if (!e.renamed_to.empty()) out.emplace_back(e.key, e.renamed_to);
    return out;
  }
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  // Lifts the entries of `fields` (over S) to T; get(t) is t's S part (const or not).
  template <typename S, typename Get>
  ConfigFields& embed_via(const ConfigFields<S>& fields, Get get) {
    for (const auto& inner : fields.entries()) {
      Entry e;
      e.key = inner.key;
      e.renamed_to = inner.renamed_to;
      if (inner.read) e.read = [get, f = inner.read](JsonReader& r, T& t) { f(r, get(t)); };
      if (inner.write)
        e.write = [get, f = inner.write](const T& t, nlohmann::json& j) { f(get(t), j); };
      if (inner.check)
        e.check = [get, f = inner.check](const T& t, const std::string& p) { f(get(t), p); };
      if (inner.schema)
        e.schema = [get, f = inner.schema](const T& defaults) { return f(get(defaults)); };
      if (inner.written) e.written = [get, f = inner.written](const T& t) { return f(get(t)); };
      entries_.push_back(std::move(e));
    }
    return *this;
  }

  std::vector<Entry> entries_;
};

// The usual from_json of a declared config: strict read from a default-constructed Config,
// then Config::validate (which runs the field checks and the cross-field ones).
template <typename Config>
Config parse_config(const nlohmann::json& params, const std::string& path) {
  Config c;
  Config::fields().read(params, path, c);
  c.validate(path);
  return c;
}

}  // namespace dreamer::models
