#include "container/oci/oci_runtime.h"

#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "harness/child_process.h"
#include "harness/fd.h"

namespace isobench::container::oci {

using harness::Error;
using harness::Result;
using json = nlohmann::json;

namespace {

constexpr auto kVerbTimeout = std::chrono::seconds(30);

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

Result<Runtime> Runtime::Locate(const std::string& name_or_path, std::string state_root) {
  Runtime r;
  r.state_root_ = std::move(state_root);
  if (name_or_path.empty()) return Error("oci: no runtime given", EINVAL);
  if (name_or_path.find('/') != std::string::npos) {
    if (::access(name_or_path.c_str(), X_OK) != 0) return Error::Errno("access", name_or_path);
    r.path_ = name_or_path;
    return r;
  }
  std::string dirs = std::getenv("PATH") ? std::getenv("PATH") : "";
  dirs += ":/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin";
  std::stringstream in(dirs);
  std::string dir;
  while (std::getline(in, dir, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + name_or_path;
    if (::access(candidate.c_str(), X_OK) == 0) {
      r.path_ = candidate;
      return r;
    }
  }
  return Error("`" + name_or_path + "` is not installed (not found in PATH)", ENOENT);
}

std::vector<std::string> Runtime::Command(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {path_, "--root", state_root_};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

Result<std::string> Runtime::Version() const {
  ISO_ASSIGN_OR_RETURN(std::string out, harness::RunCapture({path_, "--version"}, kVerbTimeout));
  std::string first = out.substr(0, out.find('\n'));
  return first;
}

Result<json> Runtime::DefaultSpec(const std::string& scratch_dir) const {
  ISO_RETURN_IF_ERROR(harness::MakeDirs(scratch_dir, 0700));
  ::unlink((scratch_dir + "/config.json").c_str());
  // Not every runtime's `spec` takes --bundle; all of them write to the working directory.
  auto out = harness::RunCapture(
      {"/bin/sh", "-c",
       "cd " + ShellQuote(scratch_dir) + " && exec " + ShellQuote(path_) + " spec"},
      kVerbTimeout);
  if (!out.ok()) return std::move(out).error().Context(path_ + " spec");
  ISO_ASSIGN_OR_RETURN(std::string text, harness::ReadFile(scratch_dir + "/config.json"));
  json spec = json::parse(text, nullptr, false);
  if (spec.is_discarded() || !spec.is_object())
    return Error(path_ + " spec: config.json is not JSON", EPROTO);
  return spec;
}

Result<void> Runtime::Start(const std::string& id) const {
  auto out = harness::RunCapture(Command({"start", id}), kVerbTimeout);
  if (!out.ok()) return std::move(out).error().Context("start " + id);
  return {};
}

Result<void> Runtime::Delete(const std::string& id) const {
  auto out = harness::RunCapture(Command({"delete", "--force", id}), kVerbTimeout);
  if (out.ok()) return {};
  const std::string& message = out.error().message();
  if (message.find("does not exist") != std::string::npos ||
      message.find("not found") != std::string::npos ||
      message.find("No such") != std::string::npos)
    return {};
  return std::move(out).error().Context("delete " + id);
}

Result<json> Runtime::List() const {
  ISO_ASSIGN_OR_RETURN(std::string out,
                       harness::RunCapture(Command({"list", "--format", "json"}), kVerbTimeout));
  size_t start = out.find_first_of("[n");  // "null" when there is none
  if (start == std::string::npos) return json::array();
  json list = json::parse(out.substr(start), nullptr, false);
  if (list.is_discarded()) return Error("list: output is not JSON: " + out.substr(0, 200), EPROTO);
  if (list.is_null()) return json::array();
  return list;
}

}  // namespace isobench::container::oci
