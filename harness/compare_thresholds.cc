// ci/thresholds.toml: the rules `isobench compare` applies to each row (compare.h).
#include <fnmatch.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "harness/compare.h"
#include "harness/fd.h"

namespace isobench::harness {

bool GlobMatch(std::string_view pattern, std::string_view text) {
  return ::fnmatch(std::string(pattern).c_str(), std::string(text).c_str(), 0) == 0;
}

Result<Thresholds> ParseThresholds(std::string_view toml_text, std::string_view source) {
  std::string src(source);
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    return Error(
        src + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description()),
        EINVAL);
  }
  Thresholds t;
  t.source = src;
  auto number = [&](const toml::node* node, const std::string& key, double lo, double hi,
                    double* out) -> Result<void> {
    if (!node) return {};
    auto v = node->value<double>();
    if (!v || !(node->is_floating_point() || node->is_integer()))
      return Error(src + ": `" + key + "` must be a number", EINVAL);
    if (!(*v >= lo && *v <= hi))
      return Error(src + ": `" + key + "` must be between " + std::to_string(lo) + " and " +
                       std::to_string(hi),
                   EINVAL);
    *out = *v;
    return {};
  };
  auto reason = [&](const toml::node* node, const std::string& key,
                    std::optional<std::string>* out) -> Result<void> {
    if (!node) return {};
    auto text = node->value<std::string>();
    if (!node->is_string() || !text || text->empty())
      return Error(src + ": `" + key +
                       "` must be a non-empty string: the reason the row is "
                       "not gated",
                   EINVAL);
    *out = *text;
    return {};
  };
  for (const auto& [key, node] : root) {
    std::string k(key.str());
    if (k != "threshold" && k != "alpha" && k != "metric")
      return Error(src + ": unknown key `" + k + "`", EINVAL);
  }
  ISO_RETURN_IF_ERROR(number(root.get("threshold"), "threshold", 0, 10, &t.default_threshold));
  // The family level of one comparison; above 0.2 no gate is worth trusting.
  ISO_RETURN_IF_ERROR(number(root.get("alpha"), "alpha", 1e-9, 0.2, &t.alpha));
  if (const toml::node* metrics = root.get("metric")) {
    const toml::array* array = metrics->as_array();
    if (!array) return Error(src + ": `metric` must be an array of tables ([[metric]])", EINVAL);
    for (size_t i = 0; i < array->size(); ++i) {
      const toml::table* m = (*array)[i].as_table();
      std::string where = "metric[" + std::to_string(i) + "]";
      if (!m) return Error(src + ": `" + where + "` must be a table", EINVAL);
      ThresholdRule rule;
      auto match = m->get("match");
      if (!match || !match->is_string())
        return Error(src + ": `" + where + ".match` must be a string", EINVAL);
      rule.pattern = *match->value<std::string>();
      if (m->get("threshold")) {
        double threshold = 0;
        ISO_RETURN_IF_ERROR(number(m->get("threshold"), where + ".threshold", 0, 10, &threshold));
        rule.threshold = threshold;
      }
      if (auto d = m->get("direction")) {
        auto text = d->value<std::string>();
        if (text && *text == "lower_is_better")
          rule.direction = Direction::kLowerIsBetter;
        else if (text && *text == "higher_is_better")
          rule.direction = Direction::kHigherIsBetter;
        else
          return Error(src + ": `" + where +
                           ".direction` must be \"lower_is_better\" or \"higher_is_better\"",
                       EINVAL);
      }
      if (auto g = m->get("gated")) {
        if (!g->is_boolean())
          return Error(src + ": `" + where + ".gated` must be true or false", EINVAL);
        rule.gated = *g->value<bool>();
      }
      ISO_RETURN_IF_ERROR(reason(m->get("report_only"), where + ".report_only", &rule.report_only));
      ISO_RETURN_IF_ERROR(reason(m->get("report_only_stored"), where + ".report_only_stored",
                                 &rule.report_only_stored));
      ISO_RETURN_IF_ERROR(reason(m->get("profile"), where + ".profile", &rule.profile));
      for (const auto& [key, node] : *m) {
        std::string k(key.str());
        if (k != "match" && k != "threshold" && k != "direction" && k != "gated" &&
            k != "report_only" && k != "report_only_stored" && k != "profile")
          return Error(src + ": unknown key `" + where + "." + k + "`", EINVAL);
      }
      t.rules.push_back(rule);
    }
  }
  return t;
}

Result<Thresholds> LoadThresholds(const std::string& path) {
  ISO_ASSIGN_OR_RETURN(std::string text, ReadFile(path).Context("thresholds file"));
  return ParseThresholds(text, path);
}

Result<Thresholds> LoadThresholdsOrDefault(const std::string& path_or_empty) {
  std::string path = path_or_empty;
#ifdef ISOBENCH_SOURCE_DIR
  if (path.empty()) {
    const std::string fallback = std::string(ISOBENCH_SOURCE_DIR) + "/ci/thresholds.toml";
    if (::access(fallback.c_str(), R_OK) == 0) path = fallback;
  }
#endif
  if (!path.empty()) return LoadThresholds(path);
  Thresholds thresholds;
  thresholds.source = "built-in defaults";
  return thresholds;
}

}  // namespace isobench::harness
