#include "harness/backend.h"

#include <time.h>
#include <unistd.h>

#include <algorithm>

namespace isobench::harness {

Result<void> ValidateInstanceName(std::string_view name) {
  auto bad = [&](std::string_view why) {
    return Error("invalid instance name `" + std::string(name) + "`: " + std::string(why), EINVAL);
  };
  if (name.empty()) return bad("empty");
  if (name.size() > 48) return bad("longer than 48 characters");
  if (name.front() == '.' || name.front() == '-') return bad("starts with '.' or '-'");
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) return bad("only [A-Za-z0-9_.-] allowed (no '/', no spaces)");
  }
  if (name.find("..") != std::string_view::npos) return bad("contains '..'");
  return {};
}

Result<void> ValidateIoWeight(uint32_t weight) {
  if (weight == 0 || (weight >= 10 && weight <= 1000)) return {};
  return Error(
      "I/O weight " + std::to_string(weight) + " is out of range (10..1000, or 0 for none)",
      EINVAL);
}

Result<ExecResult> Instance::Exec(const std::vector<std::string>& argv,
                                  std::chrono::milliseconds timeout) {
  if (argv.empty()) return Error("exec: empty argv", EINVAL);
  nlohmann::json request = {{"op", "exec"}, {"argv", argv}, {"timeout_ms", timeout.count()}};
  // The agent enforces the timeout; the channel waits a little longer for its answer.
  ISO_ASSIGN_OR_RETURN(nlohmann::json reply, Call(request, timeout + std::chrono::seconds(5)));
  ExecResult result;
  try {
    result.exit_code = reply.at("exit_code").get<int>();
    result.stdout_text = reply.value("stdout", "");
    result.stderr_text = reply.value("stderr", "");
    result.truncated = reply.value("truncated", false);
    result.timed_out = reply.value("timed_out", false);
  } catch (const nlohmann::json::exception& e) {
    return Error(std::string("exec: malformed agent reply: ") + e.what(), EPROTO);
  }
  return result;
}

std::string_view KindName(BackendTraits::Kind kind) {
  switch (kind) {
    case BackendTraits::Kind::kHost:
      return "host";
    case BackendTraits::Kind::kContainer:
      return "container";
    case BackendTraits::Kind::kVm:
      return "vm";
  }
  return "unknown";
}

std::string_view RoleName(BackendTraits::Role role) {
  switch (role) {
    case BackendTraits::Role::kProduct:
      return "product";
    case BackendTraits::Role::kReference:
      return "reference";
    case BackendTraits::Role::kFloor:
      return "floor";
  }
  return "unknown";
}

void BackendRegistry::Register(std::string name, std::string description, BackendTraits traits,
                               BackendFactory factory, std::vector<KnownDeviation> deviations) {
  entries_.push_back(
      {std::move(name), std::move(description), traits, std::move(factory), std::move(deviations)});
}

const std::vector<KnownDeviation>& BackendRegistry::KnownDeviations(std::string_view name) const {
  static const std::vector<KnownDeviation> kNone;
  for (const auto& e : entries_)
    if (e.name == name) return e.deviations;
  return kNone;
}

const BackendTraits* BackendRegistry::Traits(std::string_view name) const {
  for (const auto& e : entries_)
    if (e.name == name) return &e.traits;
  return nullptr;
}

std::vector<std::string> BackendRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& e : entries_) names.push_back(e.name);
  return names;
}

bool BackendRegistry::Has(std::string_view name) const {
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const Entry& e) { return e.name == name; });
}

const std::string& BackendRegistry::Description(std::string_view name) const {
  static const std::string kNone;
  for (const auto& e : entries_)
    if (e.name == name) return e.description;
  return kNone;
}

Result<std::unique_ptr<Backend>> BackendRegistry::Make(std::string_view name,
                                                       const BackendContext& context) const {
  for (const auto& e : entries_)
    if (e.name == name) return e.factory(context);
  std::string known;
  for (const auto& e : entries_) known += (known.empty() ? "" : ", ") + e.name;
  return Error("unknown backend `" + std::string(name) + "` (known: " + known + ")", EINVAL);
}

std::string NewRunId() {
  time_t now = ::time(nullptr);
  struct tm tm;
  gmtime_r(&now, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y%m%dT%H%M%S", &tm);
  return std::string(buf) + "-" + std::to_string(::getpid());
}

Result<ImagePull> Backend::Pull(const std::string& reference) {
  return Error("backend `" + name() + "` does not start from registry images (`" + reference + "`)",
               EOPNOTSUPP);
}

Result<std::vector<std::string>> Backend::ImageLayerDirs(const std::string& reference) {
  return Error("backend `" + name() + "` does not start from registry images (`" + reference + "`)",
               EOPNOTSUPP);
}

Result<int> Backend::EvictImages() {
  return Error("backend `" + name() + "` has no registry image store", EOPNOTSUPP);
}

}  // namespace isobench::harness
