// The JSON shapes Docker clients read (API 1.41), built from engine state.
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>

#include "base/util.h"
#include "engine/cgroup/manager.h"
#include "engine/config_util.h"
#include "engine/container_filter.h"
#include "engine/engine.h"
#include "engine/mount_config.h"
#include "engine/runtime/spec.h"

namespace berth {

namespace json = boost::json;

namespace {

std::string human_duration(std::int64_t ns) {
    // Docker's go-units HumanDuration.
    std::int64_t s = ns / 1000000000;
    if (s < 1) return "Less than a second";
    if (s == 1) return "1 second";
    if (s < 60) return std::to_string(s) + " seconds";
    std::int64_t m = s / 60;
    if (m == 1) return "About a minute";
    if (m < 60) return std::to_string(m) + " minutes";
    std::int64_t h = m / 60;
    if (h == 1) return "About an hour";
    if (h < 48) return std::to_string(h) + " hours";
    if (h < 24 * 7 * 2) return std::to_string(h / 24) + " days";
    if (h < 24 * 30 * 2) return std::to_string(h / 24 / 7) + " weeks";
    if (h < 24 * 365 * 2) return std::to_string(h / 24 / 30) + " months";
    return std::to_string(h / 24 / 365) + " years";
}

std::string status_text(const container& c) {
    std::int64_t now = now_ns();
    if (c.restarting)
        return "Restarting (" + std::to_string(c.exit_code) + ") " + human_duration(now - c.finished_ns) + " ago";
    if (c.status == "running") {
        std::string health;
        if (c.health && c.health->status == "starting") health = " (health: starting)";
        else if (c.health) health = " (" + c.health->status + ")";
        return "Up " + human_duration(now - c.started_ns) + (c.paused ? " (Paused)" : health);
    }
    if (c.status == "removing") return "Removal In Progress";
    if (c.status == "exited")
        return "Exited (" + std::to_string(c.exit_code) + ") " + human_duration(now - c.finished_ns) + " ago";
    return "Created";
}

std::string os_name() {
    std::ifstream f("/etc/os-release");
    std::string line;
    while (std::getline(f, line))
        if (starts_with(line, "PRETTY_NAME=")) {
            std::string v = line.substr(12);
            if (v.size() >= 2 && v.front() == '"') v = v.substr(1, v.size() - 2);
            return v;
        }
    return "Linux";
}

std::string kernel_version() {
    utsname u{};
    ::uname(&u);
    return u.release;
}

json::array strings(const std::vector<std::string>& v) {
    json::array a;
    for (auto& s : v) a.emplace_back(s);
    return a;
}

// The endpoints GET /containers/json shows (docker ps {{.Networks}}): one
// for the "host" or "none" network the container joined.
json::object list_networks(const std::string& net) {
    if (net != "host" && net != "none") return {};
    return {{net, json::object{{"IPAMConfig", nullptr}, {"Links", nullptr}, {"Aliases", nullptr},
                              {"NetworkID", ""}, {"EndpointID", ""}, {"Gateway", ""}, {"IPAddress", ""},
                              {"IPPrefixLen", 0}, {"IPv6Gateway", ""}, {"GlobalIPv6Address", ""},
                              {"GlobalIPv6PrefixLen", 0}, {"MacAddress", ""}, {"DriverOpts", nullptr}}}};
}

}  // namespace

json::object engine::list_json(const container& c) const {
    std::string cmd = c.path;
    for (auto& a : c.args) cmd += " " + a;
    json::object labels;
    if (auto* l = c.config.if_contains("Labels"); l && l->is_object()) labels = l->as_object();
    std::string net = c.host_config.contains("NetworkMode") ? std::string(c.host_config.at("NetworkMode").as_string()) : "none";
    return {{"Id", c.id},
            {"Names", json::array{"/" + c.name}},
            {"Image", c.image_ref},
            {"ImageID", c.image_id},
            {"Command", cmd},
            {"Created", c.created_ns / 1000000000},
            {"Ports", json::array{}},
            {"Labels", labels},
            {"State", container_state(c)},
            {"Status", status_text(c)},
            {"HostConfig", json::object{{"NetworkMode", net}}},
            {"NetworkSettings", json::object{{"Networks", list_networks(net)}}},
            {"Mounts", json::array{}}};
}

json::object engine::inspect_json(const container& c) const {
    std::string dir = container_dir(c.id);
    std::string lower = dir + "/init:" + mount_points_layer();
    for (auto it = c.chain_ids.rbegin(); it != c.chain_ids.rend(); ++it) lower += ":" + _store->layer_dir(*it);
    json::object hc = c.host_config;
    hc.erase(anonymous_volumes_key);
    hc.erase(volumes_from_key);
    hc.erase(userns_record_key);
    json::value exec_id_list = nullptr;
    if (auto ids = exec_ids(c); !ids.empty()) exec_id_list = strings(ids);
    // Docker leaves both unset (null) for a privileged container.
    const bool privileged = bool_field(c.host_config, "Privileged");
    hc["MaskedPaths"] = privileged ? json::value(nullptr) : json::value(strings(runtime::default_masked_paths()));
    hc["ReadonlyPaths"] = privileged ? json::value(nullptr) : json::value(strings(runtime::default_readonly_paths()));
    if (!hc.contains("RestartPolicy")) hc["RestartPolicy"] = json::object{{"Name", "no"}, {"MaximumRetryCount", 0}};
    if (!hc.contains("AutoRemove")) hc["AutoRemove"] = false;
    for (const char* k : {"CapAdd", "CapDrop", "Binds"})
        if (!hc.contains(k)) hc[k] = nullptr;
    hc["Runtime"] = "berth";
    std::string net = hc.contains("NetworkMode") ? std::string(hc["NetworkMode"].as_string()) : "none";
    bool running = c.status == "running";
    json::object state{{"Status", c.restarting              ? std::string("restarting")
                                  : running && c.paused ? std::string("paused")
                                                        : c.status},
                       {"Running", running},
                       {"Paused", running && c.paused},
                       {"Restarting", c.restarting},
                       {"OOMKilled", c.oom_killed},
                       {"Dead", false},
                       {"Pid", running ? c.pid : 0},
                       {"ExitCode", c.exit_code},
                       {"Error", c.error},
                       {"StartedAt", format_rfc3339_nano(c.started_ns)},
                       {"FinishedAt", format_rfc3339_nano(c.finished_ns)}};
    if (c.health) {
        json::array log;
        for (auto& entry : c.health->log) log.push_back(entry);
        state["Health"] = json::object{
            {"Status", c.health->status}, {"FailingStreak", c.health->failing_streak}, {"Log", std::move(log)}};
    }
    json::object networks;
    if (net == "host" || net == "none") networks[net] = json::object{{"NetworkID", ""}, {"EndpointID", ""}, {"IPAddress", ""}};
    return {{"Id", c.id},
            {"Created", format_rfc3339_nano(c.created_ns)},
            {"Path", c.path},
            {"Args", strings(c.args)},
            {"State", state},
            {"Image", c.image_id},
            {"ResolvConfPath", dir + "/init/etc/resolv.conf"},
            {"HostnamePath", dir + "/init/etc/hostname"},
            {"HostsPath", dir + "/init/etc/hosts"},
            {"LogPath", log_path(c)},
            {"Name", "/" + c.name},
            {"RestartCount", c.restart_count},
            {"Driver", "overlay2"},
            {"Platform", "linux"},
            {"MountLabel", ""},
            {"ProcessLabel", ""},
            {"AppArmorProfile", ""},
            {"ExecIDs", exec_id_list},
            {"HostConfig", hc},
            {"GraphDriver",
             json::object{{"Name", "overlay2"},
                          {"Data", json::object{{"LowerDir", lower},
                                                {"MergedDir", dir + "/merged"},
                                                {"UpperDir", dir + "/upper"},
                                                {"WorkDir", dir + "/work"}}}}},
            {"Mounts", mount_points_json(c.host_config, _opts.data_root)},
            {"Config", c.config},
            {"NetworkSettings", json::object{{"Bridge", ""},
                                             {"SandboxID", ""},
                                             {"Ports", json::object{}},
                                             {"SandboxKey", ""},
                                             {"IPAddress", ""},
                                             {"Gateway", ""},
                                             {"MacAddress", ""},
                                             {"Networks", networks}}}};
}

json::object engine::image_json(const storage::image_record& img, bool inspect) const {
    boost::system::error_code ec;
    auto cfgv = json::parse(img.config_json, ec);
    json::object cfg = (!ec && cfgv.is_object()) ? cfgv.as_object() : json::object{};
    json::object labels;
    if (auto* c = cfg.if_contains("config"); c && c->is_object())
        if (auto* l = c->as_object().if_contains("Labels"); l && l->is_object()) labels = l->as_object();
    std::int64_t containers = 0;
    for (auto& [id, c] : _containers)
        if (c->image_id == img.id) containers++;
    if (!inspect) {
        return {{"Containers", -1},
                {"Created", img.created_ns / 1000000000},
                {"Id", img.id},
                {"Labels", labels.empty() ? json::value(nullptr) : json::value(labels)},
                {"ParentId", ""},
                {"RepoDigests", strings(img.repo_digests)},
                {"RepoTags", strings(img.repo_tags)},
                {"SharedSize", -1},
                {"Size", img.size},
                {"VirtualSize", img.size}};
    }
    std::string lower, upper;
    for (size_t i = 0; i < img.chain_ids.size(); ++i) {
        std::string d = _store->layer_dir(img.chain_ids[i]);
        if (i + 1 == img.chain_ids.size()) upper = d;
        else lower = lower.empty() ? d : d + ":" + lower;
    }
    json::object gd_data{{"UpperDir", upper}};
    if (!lower.empty()) gd_data["LowerDir"] = lower;
    auto get = [&](const char* k) -> json::value {
        auto* v = cfg.if_contains(k);
        return v ? *v : json::value("");
    };
    return {{"Id", img.id},
            {"RepoTags", strings(img.repo_tags)},
            {"RepoDigests", strings(img.repo_digests)},
            {"Parent", ""},
            {"Comment", ""},
            {"Created", format_rfc3339_nano(img.created_ns)},
            {"Container", ""},
            {"ContainerConfig", json::object{}},
            {"DockerVersion", ""},
            {"Author", get("author")},
            {"Config", cfg.contains("config") ? cfg["config"] : json::value(json::object{})},
            {"Architecture", get("architecture")},
            {"Os", get("os")},
            {"Size", img.size},
            {"VirtualSize", img.size},
            {"GraphDriver", json::object{{"Name", "overlay2"}, {"Data", gd_data}}},
            {"RootFS", json::object{{"Type", "layers"}, {"Layers", strings(img.diff_ids)}}},
            {"Metadata", json::object{{"LastTagTime", "0001-01-01T00:00:00Z"}}}};
}

json::object engine::version_json() {
    return {{"Platform", json::object{{"Name", "berth"}}},
            {"Components", json::array{json::object{{"Name", "Engine"},
                                                    {"Version", BERTH_VERSION},
                                                    {"Details", json::object{{"ApiVersion", "1.41"},
                                                                             {"MinAPIVersion", "1.12"},
                                                                             {"Os", "linux"},
                                                                             {"Arch", "amd64"}}}}}},
            {"Version", BERTH_VERSION},
            {"ApiVersion", "1.41"},
            {"MinAPIVersion", "1.12"},
            {"GitCommit", "berth"},
            {"GoVersion", "none (C++20)"},
            {"Os", "linux"},
            {"Arch", "amd64"},
            {"KernelVersion", kernel_version()},
            {"BuildTime", __DATE__}};
}

json::object engine::info_json() const {
    std::int64_t running = 0, paused = 0, stopped = 0;
    for (auto& [id, c] : _containers) (c->running() ? (c->paused ? paused : running) : stopped)++;
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
    json::object offloads;
    for (int r = 0; r < int(offload_reason::count_); ++r)
        offloads[offload_reason_name(offload_reason(r))] = _workers.count(offload_reason(r));
    return {{"ID", _opts.data_root},
            {"Containers", std::int64_t(_containers.size())},
            {"ContainersRunning", running},
            {"ContainersPaused", paused},
            {"ContainersStopped", stopped},
            {"Images", std::int64_t(_images.size())},
            {"Driver", "overlay2"},
            {"DriverStatus", json::array{json::array{"Backing Filesystem", "extfs"}, json::array{"Supports d_type", "true"}}},
            {"Plugins", json::object{{"Volume", json::array{}}, {"Network", json::array{"host", "none"}}, {"Log", json::array{"json-file"}}}},
            {"MemoryLimit", true},
            {"SwapLimit", false},
            {"CpuCfsPeriod", true},
            {"CpuCfsQuota", true},
            {"IPv4Forwarding", false},
            {"Debug", false},
            {"NFd", 0},
            {"NGoroutines", 0},
            {"SystemTime", format_rfc3339_nano(now_ns())},
            {"LoggingDriver", "json-file"},
            {"CgroupDriver", "cgroupfs"},
            {"CgroupVersion", _cgroups->version()},
            {"KernelVersion", kernel_version()},
            {"OperatingSystem", os_name()},
            {"OSVersion", ""},
            {"OSType", "linux"},
            {"Architecture", "x86_64"},
            {"NCPU", ::sysconf(_SC_NPROCESSORS_ONLN)},
            {"MemTotal", std::int64_t(pages) * page},
            {"IndexServerAddress", ""},
            {"RegistryConfig", json::object{{"IndexConfigs", json::object{}}, {"InsecureRegistryCIDRs", json::array{}}}},
            {"DockerRootDir", _opts.data_root},
            {"Name", host},
            {"Labels", json::array{}},
            {"ExperimentalBuild", false},
            {"ServerVersion", BERTH_VERSION},
            {"Runtimes", json::object{{"berth", json::object{{"path", "berth"}}}}},
            {"DefaultRuntime", "berth"},
            {"Swarm", json::object{{"LocalNodeState", "inactive"}, {"NodeID", ""}, {"NodeAddr", ""}, {"ControlAvailable", false}, {"Error", ""}, {"RemoteManagers", nullptr}}},
            {"LiveRestoreEnabled", true},
            {"Isolation", ""},
            {"InitBinary", ""},
            {"SecurityOptions", _opts.uid_map.empty() ? json::array{"name=cgroupns"}
                                                      : json::array{"name=userns", "name=cgroupns"}},
            {"BerthOffloads", offloads},
            {"Warnings", json::array{}}};
}

}  // namespace berth
