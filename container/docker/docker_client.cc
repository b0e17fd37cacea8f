#include "container/docker/docker_client.h"

#include <curl/curl.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace isobench::container::docker {

using json = nlohmann::json;

namespace {

constexpr char kDefaultSocket[] = "/var/run/docker.sock";

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
    s.remove_suffix(1);
  while (!s.empty() && (s.front() == '\n' || s.front() == ' ')) s.remove_prefix(1);
  return std::string(s);
}

}  // namespace

struct DockerClient::Handle {
  CURL* curl = nullptr;
  ~Handle() {
    if (curl) curl_easy_cleanup(curl);
  }
};

DockerClient::DockerClient() = default;
DockerClient::DockerClient(DockerClient&&) noexcept = default;
DockerClient& DockerClient::operator=(DockerClient&&) noexcept = default;
DockerClient::~DockerClient() = default;

Result<std::string> DockerSocketPath(const std::string& docker_host) {
  std::string host = docker_host;
  if (host.empty()) {
    const char* env = std::getenv("DOCKER_HOST");
    if (env != nullptr) host = env;
  }
  if (host.empty()) return std::string(kDefaultSocket);
  std::string path = host;
  if (host.rfind("unix://", 0) == 0) path = host.substr(7);
  if (path.empty() || path[0] != '/')
    return Error(
        "docker: unsupported DOCKER_HOST `" + host + "`: only unix:///<path> sockets are supported",
        EINVAL);
  return path;
}

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

int CompareApiVersions(std::string_view a, std::string_view b) {
  auto parse = [](std::string_view v) {
    int major = std::atoi(std::string(v).c_str());
    size_t dot = v.find('.');
    int minor =
        dot == std::string_view::npos ? 0 : std::atoi(std::string(v.substr(dot + 1)).c_str());
    return std::pair<int, int>(major, minor);
  };
  auto pa = parse(a), pb = parse(b);
  return pa < pb ? -1 : (pa == pb ? 0 : 1);
}

std::string DaemonMessage(std::string_view body) {
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object() && parsed.contains("message") && parsed["message"].is_string())
    return parsed["message"].get<std::string>();
  std::string text = Trim(body);
  if (text.size() > 400) text = text.substr(0, 400) + "...";
  return text.empty() ? "(empty reply)" : text;
}

Result<DockerClient> DockerClient::Connect(const std::string& socket_path) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  DockerClient client;
  client.socket_path_ = socket_path;
  client.handle_ = std::make_unique<Handle>();
  client.handle_->curl = curl_easy_init();
  if (client.handle_->curl == nullptr) return Error("docker: curl_easy_init failed", ENOMEM);
  // /version is served unversioned: it is how a client learns what to ask for.
  ISO_ASSIGN_OR_RETURN(HttpResponse r,
                       client.Send("GET", "/version", {}, {}, std::chrono::seconds(10)));
  if (r.status != 200)
    return Error("docker: GET /version: " + DaemonMessage(r.body) + " (HTTP " +
                     std::to_string(r.status) + ")",
                 EPROTO);
  client.version_ = json::parse(r.body, nullptr, false);
  std::string daemon_api =
      client.version_.is_object() ? client.version_.value("ApiVersion", "") : "";
  if (daemon_api.empty()) return Error("docker: GET /version: no ApiVersion in the reply", EPROTO);
  if (CompareApiVersions(daemon_api, kMinApiVersion) < 0)
    return Error("docker: the daemon at " + socket_path + " speaks API " + daemon_api +
                     ", older than the " + kMinApiVersion + " this backend needs",
                 ENOTSUP);
  client.api_version_ =
      CompareApiVersions(daemon_api, kMaxApiVersion) > 0 ? kMaxApiVersion : daemon_api;
  return client;
}

Result<HttpResponse> DockerClient::Send(std::string_view method, const std::string& full_path,
                                        const std::string& body, std::string_view content_type,
                                        std::chrono::milliseconds timeout) {
  if (!handle_ || handle_->curl == nullptr)
    return Error("docker: client is not connected", ENOTCONN);
  CURL* curl = handle_->curl;
  curl_easy_reset(curl);
  HttpResponse response;
  char error_buffer[CURL_ERROR_SIZE] = {0};
  // The host part is ignored over a unix socket; "docker" is what the CLI sends.
  std::string url = "http://docker" + full_path;
  std::string method_text(method);
  curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket_path_.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method_text.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  struct curl_slist* headers = nullptr;
  if (method == "POST" || !body.empty()) {
    headers = curl_slist_append(headers, ("Content-Type: " + std::string(content_type)).c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  // A large build context would otherwise wait a second for "100 Continue".
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (code != CURLE_OK) {
    std::string why = error_buffer[0] ? error_buffer : curl_easy_strerror(code);
    int err = code == CURLE_COULDNT_CONNECT      ? ECONNREFUSED
              : code == CURLE_OPERATION_TIMEDOUT ? ETIMEDOUT
                                                 : EIO;
    if (code == CURLE_COULDNT_CONNECT) {
      // curl's own words name a TCP port; the socket's errno says what is wrong.
      long os_errno = 0;
      curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
      if (os_errno != 0) why = std::strerror(static_cast<int>(os_errno));
      return Error("cannot reach the Docker daemon at " + socket_path_ + ": " + why,
                   os_errno != 0 ? static_cast<int>(os_errno) : err);
    }
    return Error("docker: " + method_text + " " + full_path + " on " + socket_path_ + ": " + why,
                 err);
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

Result<HttpResponse> DockerClient::Request(std::string_view method, const std::string& path,
                                           const std::string& body, std::string_view content_type,
                                           std::chrono::milliseconds timeout) {
  return Send(method, "/v" + api_version_ + path, body, content_type, timeout);
}

Result<json> DockerClient::Call(std::string_view method, const std::string& path, const json& body,
                                bool not_found_ok, std::chrono::milliseconds timeout) {
  std::string text = body.is_null() ? std::string() : body.dump();
  ISO_ASSIGN_OR_RETURN(HttpResponse r, Request(method, path, text, "application/json", timeout));
  if (r.status == 404 && not_found_ok) return json(nullptr);
  if (r.status < 200 || r.status >= 300) {
    int err = r.status == 404 ? ENOENT : r.status == 409 ? EEXIST : r.status == 400 ? EINVAL : EIO;
    return Error("docker: " + std::string(method) + " " + path + ": " + DaemonMessage(r.body) +
                     " (HTTP " + std::to_string(r.status) + ")",
                 err);
  }
  if (r.body.empty()) return json(nullptr);
  json parsed = json::parse(r.body, nullptr, false);
  if (parsed.is_discarded())
    return Error("docker: " + std::string(method) + " " + path +
                     ": the reply is not JSON: " + DaemonMessage(r.body),
                 EPROTO);
  return parsed;
}

}  // namespace isobench::container::docker
