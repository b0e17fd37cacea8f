// A Docker Engine API client: HTTP/1.1 over the daemon's unix socket (libcurl's
// CURLOPT_UNIX_SOCKET_PATH), JSON bodies (nlohmann-json), the API version negotiated
// the way the docker CLI does it (GET /version, then every path under /v<version>).
//
//   ISO_ASSIGN_OR_RETURN(std::string socket, DockerSocketPath(""));  // honours DOCKER_HOST
//   ISO_ASSIGN_OR_RETURN(DockerClient docker, DockerClient::Connect(socket));
//   ISO_ASSIGN_OR_RETURN(json created, docker.Call("POST", "/containers/create?name=x", body));
//   ISO_RETURN_IF_ERROR(docker.Call("POST", "/containers/x/start").Context("starting x"));
//
// Errors:
//   - the daemon does not answer: "cannot reach the Docker daemon at /var/run/docker.sock:
//     Couldn't connect to server" (errno ECONNREFUSED);
//   - the daemon answers 4xx/5xx: "docker: POST /containers/create: <the daemon's own
//     "message"> (HTTP 400)", with the HTTP status in http_status() of the last call.
//
// Not thread-safe: one client per thread (the curl handle keeps the connection alive).
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "harness/error.h"

namespace isobench::container::docker {

using harness::Error;
using harness::Result;

// The socket a client talks to: `docker_host` if non-empty, else $DOCKER_HOST, else
// /var/run/docker.sock. Only "unix://<absolute path>" (or a bare absolute path) is
// accepted: tcp:// and ssh:// hosts are an error naming them.
Result<std::string> DockerSocketPath(const std::string& docker_host);

// Percent-encoding of a query value (RFC 3986 unreserved characters kept).
std::string UrlEncode(std::string_view text);

// "major.minor" compared numerically: -1, 0, 1.
int CompareApiVersions(std::string_view a, std::string_view b);

// The API versions this client speaks: the daemon's own version is used when it lies in
// between, the newest otherwise (as the docker CLI negotiates).
inline constexpr char kMinApiVersion[] = "1.40";  // HostConfig.CgroupnsMode, MaskedPaths
inline constexpr char kMaxApiVersion[] = "1.43";

// The daemon's "message" from an error body, or the body itself (trimmed) when it is
// not the JSON the API documents.
std::string DaemonMessage(std::string_view body);

struct HttpResponse {
  long status = 0;
  std::string body;
};

class DockerClient {
 public:
  DockerClient();
  DockerClient(DockerClient&&) noexcept;
  DockerClient& operator=(DockerClient&&) noexcept;
  DockerClient(const DockerClient&) = delete;
  DockerClient& operator=(const DockerClient&) = delete;
  ~DockerClient();

  // GET /version and negotiates the API version.
  static Result<DockerClient> Connect(const std::string& socket_path);

  const std::string& socket_path() const { return socket_path_; }
  const std::string& api_version() const { return api_version_; }
  // GET /version's reply, as the daemon gave it.
  const nlohmann::json& version() const { return version_; }

  // One request under /v<api_version>. `body` is sent with `content_type`. Any HTTP
  // status is returned; only a transport failure is an error.
  Result<HttpResponse> Request(std::string_view method, const std::string& path,
                               const std::string& body = {},
                               std::string_view content_type = "application/json",
                               std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // Request() with a JSON body (none when null) whose reply must be 2xx; returns the
  // reply's JSON (null when empty). A non-2xx reply is an error carrying the daemon's
  // message; `not_found_ok` turns a 404 into success (null), for idempotent deletes.
  Result<nlohmann::json> Call(std::string_view method, const std::string& path,
                              const nlohmann::json& body = nullptr, bool not_found_ok = false,
                              std::chrono::milliseconds timeout = std::chrono::seconds(60));

 private:
  Result<HttpResponse> Send(std::string_view method, const std::string& full_path,
                            const std::string& body, std::string_view content_type,
                            std::chrono::milliseconds timeout);

  struct Handle;
  std::unique_ptr<Handle> handle_;
  std::string socket_path_;
  std::string api_version_;
  nlohmann::json version_;
};

}  // namespace isobench::container::docker
