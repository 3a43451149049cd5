#pragma once
// Prompt templates: the small Jinja subset lm-eval task files use, so templates can be copied
// from lm-eval YAML unchanged: `{{field}}`, `{{field[2]}}` and `{{field|trim}}`. Anything else
// between `{{ }}` is an error, so a typo never renders as an empty string.
#include <nlohmann/json.hpp>

#include <string>

namespace dreamer::eval {

// Renders `text` with the fields of `doc` (a JSON object). Strings are inserted as they are,
// numbers as JSON. Throws InputError naming `where` for an unknown field or bad expression.
std::string render_template(const std::string& text, const nlohmann::json& doc,
                            const std::string& where);

// Checks the syntax of a template without a document (task files fail at load, not mid-run).
void check_template(const std::string& text, const std::string& where);

}  // namespace dreamer::eval
