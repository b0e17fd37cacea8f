#include "conformance/suite.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <thread>

#include "conformance/known_deviations.h"
#include "harness/fd.h"
#include "harness/host_backend.h"
#include "harness/image.h"
#include "harness/log.h"

namespace isobench::conformance {

using harness::Error;
using harness::Result;
using json = nlohmann::json;

namespace {

Suite* g_suite = nullptr;

json ExpectationsJson(const Expectations& e) {
  const auto& s = e.switches;
  json switches = json::object();
  for (const harness::ProfileSwitch& sw : harness::ProfileSwitches())
    switches[sw.name] = s.*sw.member;
  json out = {{"switches", switches}, {"hostname", e.hostname}};
  if (s.drop_capabilities)
    out["capabilities"] = {{"bounding", CapabilityNames(e.caps.bounding)},
                           {"effective", CapabilityNames(e.caps.effective)},
                           {"ambient", CapabilityNames(e.caps.ambient)}};
  json rl = json::object();
  for (const auto& [n, r] : e.rlimits) rl[n] = {r.soft, r.hard};
  if (!rl.empty()) out["rlimits"] = rl;
  if (e.memory_bytes) out["memory_bytes"] = *e.memory_bytes;
  if (e.pids_limit) out["pids_limit"] = *e.pids_limit;
  if (e.cpu_quota) out["cpu_quota"] = *e.cpu_quota;
  return out;
}

}  // namespace

// --- Suite ---------------------------------------------------------------------------

struct Suite::State {
  Target target;
  harness::InstanceSpec spec;
  bool started = false;
  std::string unavailable;  // skip reason
  std::string error;        // creation error
  std::unique_ptr<harness::Instance> instance;
  // "networked": a second instance of the same backend and profile beside it, with a
  // listener the probed one must not reach (PROBES.md 46).
  std::unique_ptr<harness::Instance> peer;
  InstanceUnderTest iut;
  Expectations own, baseline;
  std::map<std::string, Grade> cache;  // probe name + params -> grade
  // Set when the agent stopped answering: later probes fail at once instead of each
  // waiting out its timeout.
  std::string unresponsive;
  // Records by probe number, for the verdict file.
  std::map<int, json> records;
};

Suite::Suite(SuiteOptions options) : options_(std::move(options)) { g_suite = this; }

Suite::~Suite() {
  if (g_suite == this) g_suite = nullptr;
}

Suite& Suite::Get() {
  if (!g_suite) {
    std::cerr << "conformance: the Suite environment is not installed\n";
    std::abort();
  }
  return *g_suite;
}

void Suite::SetUp() {
  if (::geteuid() != 0) {
    // Containers, VMs and the shared image under /var/lib need root: every target skips.
    not_root_ = true;
    return;
  }
  auto host = HostFacts::Create();
  if (!host.ok())
    host_error_ = host.error().message();
  else
    host_ = std::move(*host);

  bool all =
      options_.backends.empty() || (options_.backends.size() == 1 && options_.backends[0] == "all");
  harness::SessionOptions session_options;
  session_options.workdir = options_.workdir;
  session_options.kernel = options_.kernel;
  session_options.backend_options = options_.backend_options;
  session_options.allow_no_backend = true;  // absent ones skip, broken ones fail (below)
  // The networked targets' guests need their network driver (Debian's kernel builds it
  // as a module).
  session_options.vm_modules.push_back("virtio_net");
  // The selected backends as a registry of their own, opened as "all": one that is
  // unusable is then listed with its reason (its targets skip) instead of failing the
  // whole session, as an explicitly named one would.
  const harness::BackendRegistry& builtin = SuiteBackends();
  harness::BackendRegistry selected;
  for (const auto& name : builtin.Names()) {
    bool wanted = all || std::find(options_.backends.begin(), options_.backends.end(), name) !=
                             options_.backends.end();
    if (wanted)
      selected.Register(
          name, builtin.Description(name), *builtin.Traits(name),
          [name](const harness::BackendContext& context) {
            return SuiteBackends().Make(name, context);
          },
          builtin.KnownDeviations(name));
  }
  if (!selected.Names().empty()) {
    auto session = harness::OpenSession(session_options, selected);
    if (session.ok())
      session_ = std::move(*session);
    else
      session_error_ = session.error().message();
  }
  bool want_host = all || std::find(options_.backends.begin(), options_.backends.end(),
                                    harness::kHostFloorName) != options_.backends.end();
  if (want_host) {
    harness::BackendContext context;
    context.workdir = options_.workdir;
    context.run_id = session_ ? session_->run_id : harness::NewRunId();
    if (session_) {
      context.image = session_->image;
    } else {
      harness::ImageOptions image_options;
      image_options.workdir = options_.workdir;
      image_options.agent_binary = harness::DefaultAgentPath();
      image_options.want_vm = false;
      auto image = harness::BuildImage(image_options);
      if (image.ok())
        context.image = *image;
      else
        session_error_ += (session_error_.empty() ? "" : "; ") + image.error().message();
    }
    if (!context.image.rootfs.empty())
      host_backend_ = std::make_unique<harness::HostBackend>(context);
  }
}

Suite::State* Suite::StateFor(const Target& target) {
  auto it = states_.find(target.Label());
  if (it != states_.end()) return it->second.get();
  auto state = std::make_unique<State>();
  state->target = target;
  state->spec = BaseSpec(target);
  State* raw = state.get();
  states_[target.Label()] = std::move(state);
  state_order_.push_back(target.Label());
  if (not_root_) {
    raw->unavailable = "needs root (it creates containers and VMs)";
    raw->started = true;
  } else if (!host_) {
    raw->error = "host facts: " + host_error_;
    raw->started = true;
  }
  return raw;
}

Result<void> Suite::Start(State& s) {
  s.started = true;
  harness::Backend* backend = nullptr;
  bool all =
      options_.backends.empty() || (options_.backends.size() == 1 && options_.backends[0] == "all");
  bool selected = all || std::find(options_.backends.begin(), options_.backends.end(),
                                   s.target.backend) != options_.backends.end();
  if (!selected) {
    s.unavailable = "backend `" + s.target.backend + "` not selected (--backends)";
    return {};
  }
  if (TraitsOf(s.target.backend).kind == harness::BackendTraits::Kind::kHost) {
    if (!host_backend_) return Error("host reference backend: " + session_error_);
    backend = host_backend_.get();
  } else {
    if (session_)
      for (auto& b : session_->backends)
        if (b->name() == s.target.backend) backend = b.get();
    if (!backend) {
      // Absence (not installed, no daemon) skips with its reason unless the backend is
      // required; a backend that is there but cannot start (its trial container failed,
      // the image could not be built, the runtime binary is broken) fails.
      std::string why = session_ ? "" : session_error_;
      bool absent = false;
      if (session_) {
        for (const auto& u : session_->unusable) {
          if (u.name != s.target.backend) continue;
          why = u.reason;
          absent = u.absent;
        }
      }
      bool required = std::find(options_.require.begin(), options_.require.end(),
                                s.target.backend) != options_.require.end();
      if (absent && !required) {
        s.unavailable = "backend `" + s.target.backend + "` is not present here: " + why;
        return {};
      }
      if (absent)
        return Error("backend `" + s.target.backend +
                     "` is required (--require) but absent: " + why);
      return Error("backend `" + s.target.backend + "` is present but cannot start: " +
                   (why.empty() ? std::string("no reason given") : why));
    }
  }

  HostLimits limits = host_->limits();
  std::string userns_map;
  // A backend's options are named after it: "<backend>.userns_map" (the native runtime's).
  auto opt = options_.backend_options.find(s.target.backend + ".userns_map");
  if (opt != options_.backend_options.end()) userns_map = opt->second;

  // The baseline: the native runtime's default profile, with this target's resources.
  harness::InstanceSpec baseline_spec = s.spec;
  baseline_spec.profile = harness::SecurityProfile{};
  ISO_ASSIGN_OR_RETURN(s.baseline, ExpectationsFor(baseline_spec, limits));
  if (IsRuntimeDefault(s.target)) {
    // The runtime's promise is its own default spec, which the backend saves.
    auto facts = backend->Describe();
    std::string key = s.target.backend + ".default_spec";
    auto it = facts.find(key);
    if (it == facts.end())
      return Error("backend `" + s.target.backend + "` does not describe its default spec (" + key +
                   ")");
    std::ifstream in(it->second);
    json config = json::parse(in, nullptr, false);
    if (config.is_discarded())
      return Error("cannot parse the runtime's default spec `" + it->second + "`");
    ISO_ASSIGN_OR_RETURN(s.own, ExpectationsFromOciSpec(config, limits));
    s.own.profile_name = s.target.profile;
  } else if (s.target.profile == "none") {
    // The negative control: the bare host graded against every promise of the hardened
    // profile, with the target's resources. Each probe that can fail there must.
    harness::InstanceSpec hardened = s.spec;
    hardened.profile = *ProfileNamed("hardened");
    ISO_ASSIGN_OR_RETURN(s.own, ExpectationsFor(hardened, limits));
    s.own.profile_name = "none";
  } else {
    ISO_ASSIGN_OR_RETURN(s.own, ExpectationsFor(s.spec, limits, userns_map));
  }

  ISO_LOG(kInfo) << "conformance: creating " << s.target.Label() << " (" << s.spec.name << ")";
  ISO_ASSIGN_OR_RETURN(s.instance, backend->Create(s.spec));
  s.iut.instance = s.instance.get();
  auto info = s.instance->Call({{"op", "info"}}, std::chrono::seconds(30));
  if (!info.ok()) return std::move(info).error().Context("agent info");
  s.iut.vm = info->value("mode", "") == "vm";
  if (s.target.profile == "networked") ISO_RETURN_IF_ERROR(StartPeer(s, *backend));
  return {};
}

namespace {

// Whether a TCP connection from the host to address:port completes within a second.
bool HostReachesOnce(const std::string& address, int port) {
  struct sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, address.c_str(), &addr.sin_addr) != 1) return false;
  harness::Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return false;
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return true;
  if (errno != EINPROGRESS) return false;
  struct pollfd pfd = {fd.get(), POLLOUT, 0};
  if (::poll(&pfd, 1, 1000) <= 0) return false;
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  return err == 0;
}

// Tried for up to 20 s: a guest under TCG answers its first ARP request late.
bool HostReaches(const std::string& address, int port) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    if (HostReachesOnce(address, port)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace

// The neighbours #46 tries: the host's address on the instance's network (where the
// host facts' listener on every address answers) and a peer's listener. Both are shown
// reachable from the host first, so that a pass means the instance is kept from them,
// not that nothing listened.
Result<void> Suite::StartPeer(State& s, harness::Backend& backend) {
  auto endpoint = s.instance->endpoint();
  if (!endpoint) return Error("network \"bridge\" not honoured: the instance has no endpoint");
  harness::InstanceSpec spec = s.spec;
  spec.name = s.spec.name + "-peer";
  ISO_LOG(kInfo) << "conformance: creating the peer of " << s.target.Label() << " (" << spec.name
                 << ")";
  ISO_ASSIGN_OR_RETURN(s.peer, backend.Create(spec));
  auto peer_endpoint = s.peer->endpoint();
  if (!peer_endpoint) return Error("the peer instance has no network endpoint");
  ISO_ASSIGN_OR_RETURN(json listening,
                       s.peer->Call({{"op", "listen"}, {"port", 0}}, std::chrono::seconds(10)));
  int port = listening.value("port", 0);
  if (!HostReaches(peer_endpoint->address, port))
    return Error("the peer's listener " + peer_endpoint->address + ":" + std::to_string(port) +
                 " does not answer the host: #46 could prove nothing");
  if (!HostReaches(endpoint->host_address, host_->any_port()))
    return Error("the host's listener on every address does not answer at " +
                 endpoint->host_address + ":" + std::to_string(host_->any_port()));
  for (Expectations* e : {&s.own, &s.baseline}) {
    e->gateway = endpoint->host_address;
    e->peer_address = peer_endpoint->address;
    e->peer_port = port;
  }
  return {};
}

Grade Suite::GradeAgainst(State& s, const Probe& probe, const Expectations& expectations) {
  Grade g;
  if (!expectations.isolated) {
    g.verdict = "skip";
    g.detail = "the profile promises no isolation at all (reference row)";
    return g;
  }
  if (auto why = probe.unpromised(expectations)) {
    g.verdict = "skip";
    g.detail = *why;
    return g;
  }
  json params = probe.params(expectations, *host_);
  std::string key = probe.name + " " + params.dump();
  auto it = s.cache.find(key);
  if (it != s.cache.end()) return it->second;
  if (!s.unresponsive.empty()) {
    g.verdict = "error";
    g.error = true;
    g.detail = "not run: " + s.unresponsive;
    return g;
  }
  ProbeResult r = probe.Run(s.iut, *host_, params);
  ++probes_run_;
  if (r.error) {
    auto ping = s.instance->Call({{"op", "ping"}}, std::chrono::seconds(5));
    if (!ping.ok())
      s.unresponsive = "the agent stopped answering during #" + std::to_string(probe.number) + " " +
                       probe.name + " (" + ping.error().message() + ")";
  }
  g.verdict = r.verdict;
  g.detail = r.detail;
  g.observed = r.observed;
  g.error = r.error;
  s.cache[key] = g;
  return g;
}

Evaluation Suite::Evaluate(const Target& target, const Probe& probe) {
  Evaluation ev;
  State* s = StateFor(target);
  if (!s->started) {
    auto started = Start(*s);
    if (!started.ok()) s->error = started.error().message();
  }
  json record = {{"probe", probe.name},
                 {"number", probe.number},
                 {"title", probe.title},
                 {"backend", target.backend},
                 {"profile", target.profile}};
  if (!s->unavailable.empty()) {
    ev.available = false;
    ev.unavailable_reason = s->unavailable;
    record.update({{"verdict", "skip"}, {"baseline_verdict", "skip"}, {"detail", s->unavailable}});
  } else if (!s->error.empty()) {
    ev.creation_error = s->error;
    record.update({{"verdict", "fail"},
                   {"baseline_verdict", "fail"},
                   {"detail", "the instance could not be created: " + s->error}});
  } else {
    ev.own = GradeAgainst(*s, probe, s->own);
    ev.baseline = GradeAgainst(*s, probe, s->baseline);
    record.update(
        {{"verdict", ev.own.verdict},
         {"baseline_verdict", ev.baseline.verdict},
         {"detail", ev.own.detail},
         {"baseline_detail", ev.baseline.detail},
         {"observed", ev.own.verdict == "skip" ? ev.baseline.observed : ev.own.observed}});
    if (ev.own.error || ev.baseline.error) record["error"] = true;
    if (const KnownDeviation* d =
            FindKnownDeviation(SuiteBackends(), target.backend, target.profile, probe.name)) {
      const Grade& g = ev.own.verdict == "skip" ? ev.baseline : ev.own;
      if (Excuses(*d, g.verdict, g.observed))
        record["known_deviation"] = std::string(d->reason) + " [" + d->signature + "]";
    }
    if (target.profile == "none") record["negative_control"] = true;
  }
  s->records[probe.number] = record;
  return ev;
}

MutationOutcome Suite::Mutate(const std::string& weakening) {
  MutationOutcome m;
  m.weakening = weakening;
  m.reference = ReferenceProfileFor(weakening);
  m.profile = "weak-" + weakening;
  auto done = [&]() -> MutationOutcome {
    mutations_.push_back(m);
    return m;
  };
  if (options_.mutation_backend.empty()) {
    m.skip_reason = "no mutation backend (--mutation_backend=)";
    return done();
  }
  Target reference{options_.mutation_backend, m.reference};
  Target mutant{options_.mutation_backend, m.profile};
  State* ref = StateFor(reference);
  if (!ref->started) {
    auto started = Start(*ref);
    if (!started.ok()) ref->error = started.error().message();
  }
  if (!ref->unavailable.empty()) {
    // Only a host that cannot run instances at all (not root) skips: the mutation
    // backend was asked for, so its absence is a failure, never a 0/0 score.
    if (not_root_)
      m.skip_reason = ref->unavailable;
    else
      m.error = "reference " + reference.Label() + ": " + ref->unavailable;
    return done();
  }
  if (!ref->error.empty()) {
    m.error = "reference " + reference.Label() + ": " + ref->error;
    return done();
  }
  if (auto why = InexpressibleWeakening(options_.mutation_backend, weakening)) {
    m.skip_reason = *why;
    return done();
  }
  State* mut = StateFor(mutant);
  if (!mut->started) {
    auto started = Start(*mut);
    if (!started.ok()) mut->error = started.error().message();
  }
  if (!mut->error.empty()) {
    m.error = mutant.Label() + ": " + mut->error;
    return done();
  }
  m.ran = true;
  // Both graded against the reference's promise: a probe catches the weakening when it
  // passes on the reference and fails on the mutant.
  // A known deviation of the reference (runc's read-write cgroup tmpfs) is its known
  // failure: the reference counts as holding when it fails exactly so, and the mutant
  // catches when it fails otherwise.
  for (const auto& probe : Probes()) {
    Grade on_ref = GradeAgainst(*ref, probe, ref->own);
    Grade on_mut = GradeAgainst(*mut, probe, ref->own);
    m.verdicts[probe.name] = on_mut.verdict;
    const auto& table = MutationTable().at(weakening);
    if (std::find(table.begin(), table.end(), probe.name) != table.end())
      m.details[probe.name] = {{"reference", on_ref.verdict + ": " + on_ref.detail},
                               {"mutant", on_mut.verdict + ": " + on_mut.detail},
                               {"mutant_observed", on_mut.observed}};
    const KnownDeviation* known =
        FindKnownDeviation(SuiteBackends(), options_.mutation_backend, m.reference, probe.name);
    bool ref_holds =
        on_ref.verdict == "pass" || (known && Excuses(*known, on_ref.verdict, on_ref.observed));
    bool mut_fails = on_mut.verdict == "fail" && !on_mut.error &&
                     !(known && Excuses(*known, on_mut.verdict, on_mut.observed));
    if (ref_holds && mut_fails) {
      const auto& expected = MutationTable().at(weakening);
      if (std::find(expected.begin(), expected.end(), probe.name) != expected.end()) {
        m.caught = true;
        m.caught_by_table.push_back(probe.name);
      }
      m.caught_by.push_back("#" + std::to_string(probe.number) + " " + probe.name + ": " +
                            on_mut.detail);
    }
  }
  // The mutant has served its purpose; free its resources for the next one.
  if (mut->instance) {
    auto destroyed = mut->instance->Destroy();
    if (!destroyed.ok()) ISO_LOG(kWarning) << mutant.Label() << ": " << destroyed.error().message();
    mut->instance.reset();
    mut->iut.instance = nullptr;
  }
  return done();
}

json Suite::VerdictFile() const {
  json out = {{"suite", "isobench-conformance"}, {"version", 1}};
  if (session_) {
    out["run_id"] = session_->run_id;
    out["environment"] = session_->environment;
    json unusable = json::array();
    for (const auto& u : session_->unusable)
      unusable.push_back({{"backend", u.name}, {"reason", u.reason}, {"absent", u.absent}});
    out["unusable"] = unusable;
  } else if (!session_error_.empty()) {
    out["session_error"] = session_error_;
  }
  out["baseline"] = {{"backend", "container"},
                     {"profile", "default"},
                     {"description",
                      "the native runtime's default SecurityProfile, with each "
                      "target's own resources"}};
  json targets = json::array();
  json records = json::array();
  for (const auto& label : state_order_) {
    const State& s = *states_.at(label);
    json t = {
        {"backend", s.target.backend}, {"profile", s.target.profile}, {"instance", s.spec.name}};
    if (!s.unavailable.empty())
      t["status"] = "unavailable", t["reason"] = s.unavailable;
    else if (!s.error.empty())
      t["status"] = "error", t["reason"] = s.error;
    else if (s.started) {
      t["status"] = "ran";
      t["vm"] = s.iut.vm;
      t["expectations"] = ExpectationsJson(s.own);
    }
    targets.push_back(t);
    for (const auto& [number, record] : s.records) records.push_back(record);
  }
  out["targets"] = targets;
  out["records"] = records;
  int caught = 0, tried = 0;
  json results = json::array();
  for (const auto& m : mutations_) {
    json r = {{"weakening", m.weakening},
              {"reference_profile", m.reference},
              {"profile", m.profile},
              {"backend", options_.mutation_backend}};
    if (!m.skip_reason.empty())
      r["status"] = "skipped", r["reason"] = m.skip_reason;
    else if (!m.error.empty())
      r["status"] = "error", r["reason"] = m.error;
    else {
      ++tried;
      if (m.caught) ++caught;
      r["status"] = m.caught ? "caught" : "missed";
      r["caught_by"] = m.caught_by;
      r["must_catch"] = MutationTable().at(m.weakening);
      r["caught_by_table"] = m.caught_by_table;
      r["must_catch_details"] = m.details;
      r["verdicts"] = m.verdicts;
    }
    results.push_back(r);
  }
  out["mutation"] = {{"backend", options_.mutation_backend},
                     {"score", {{"caught", caught}, {"tried", tried}}},
                     {"results", results}};
  return out;
}

void Suite::TearDown() {
  json file = VerdictFile();
  const json& score = file["mutation"]["score"];
  if (score["tried"].get<int>() > 0) {
    std::cout << "[ MUTATION ] score " << score["caught"] << "/" << score["tried"]
              << " weakenings caught\n";
    ::testing::Test::RecordProperty("mutation_score",
                                    std::to_string(score["caught"].get<int>()) + "/" +
                                        std::to_string(score["tried"].get<int>()));
  }
  if (!options_.verdicts_out.empty()) {
    std::ofstream out(options_.verdicts_out);
    out << file.dump(2) << "\n";
    if (!out)
      std::cerr << "conformance: cannot write " << options_.verdicts_out << "\n";
    else
      std::cout << "[ VERDICTS ] " << options_.verdicts_out << "\n";
  }
  // Instances before backends: an instance may need its backend to tear down.
  for (auto& [label, state] : states_) {
    if (state->peer) {
      auto destroyed = state->peer->Destroy();
      if (!destroyed.ok()) ISO_LOG(kWarning) << label << " peer: " << destroyed.error().message();
      state->peer.reset();
    }
    if (state->instance) {
      auto destroyed = state->instance->Destroy();
      if (!destroyed.ok()) ISO_LOG(kWarning) << label << ": " << destroyed.error().message();
      state->instance.reset();
    }
  }
  host_backend_.reset();
  session_.reset();
  host_.reset();
}

}  // namespace isobench::conformance
