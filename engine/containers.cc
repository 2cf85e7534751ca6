// Container lifecycle: create, start, exit, wait, kill, remove.
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <regex>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include "base/log.h"
#include "base/util.h"
#include "engine/cgroup/manager.h"
#include "engine/config_util.h"
#include "engine/container_dirs.h"
#include "engine/confinement_config.h"
#include "engine/device_config.h"
#include "engine/mount_config.h"
#include "engine/runtime/userns.h"
#include "engine/userns_copy.h"
#include "engine/volumes.h"
#include "engine/engine.h"
#include "engine/seccomp.h"
#include "engine/host_config.h"
#include "engine/monitor/json_log.h"
#include "engine/monitor_client.h"
#include "engine/rootfs_view.h"
#include "engine/runtime/spawn.h"
#include "engine/runtime/spec.h"
#include "storage/metadata.h"

namespace berth {

namespace json = boost::json;

namespace {

// A restart policy that may start the container again ("always",
// "unless-stopped", "on-failure").
bool has_restart_policy(const json::object& host_config) {
    auto* rp = host_config.if_contains("RestartPolicy");
    if (!rp || !rp->is_object()) return false;
    std::string name = str_field(rp->as_object(), "Name");
    return !name.empty() && name != "no";
}

// CAP_SYS_ADMIN mounts cgroupfs: such a container could change its own
// cgroups, which then never serve another (cgroup::manager::remove).
bool cgroup_keepable(const json::object& host_config) {
    auto caps = runtime::effective_capabilities(string_list(host_config.if_contains("CapAdd")),
                                                string_list(host_config.if_contains("CapDrop")));
    return caps && !bool_field(host_config, "Privileged") &&
           std::find(caps->begin(), caps->end(), "CAP_SYS_ADMIN") == caps->end();
}

error name_in_use(const std::string& name, const std::string& id) {
    return make_error(errc::conflict, "Conflict. The container name \"/" + name + "\" is already in use by container \"" +
                                          id + "\". You have to remove (or rename) that container to be able to reuse that name.");
}

// A new container name (without the leading '/'), as create and rename check
// it: Docker's pattern, then not taken.
status check_container_name(const std::string& name, const std::map<std::string, std::string>& names) {
    // [a-zA-Z0-9][a-zA-Z0-9_.-]+ by hand: libstdc++'s regex recurses per
    // character and a long name would overflow the loop's stack.
    auto alnum = [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) != 0; };
    bool valid = name.size() >= 2 && name.size() <= 255 && alnum(name[0]) &&
                 std::all_of(name.begin() + 1, name.end(),
                             [&](char ch) { return alnum(ch) || ch == '_' || ch == '.' || ch == '-'; });
    if (!valid)
        return make_error(errc::invalid_argument,
                          "Invalid container name (" + name + "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    if (auto it = names.find(name); it != names.end()) return name_in_use(name, it->second);
    return ok();
}

// A failed create's undo: its anonymous volumes and its directory.
status remove_created(const std::string& root, const std::vector<std::string>& anon, const std::string& dir) {
    for (const auto& n : anon) (void)volumes::remove(root, n);
    return remove_all(dir);
}

}  // namespace

int parse_signal(const std::string& s) {
    if (s.empty()) return SIGKILL;
    if (std::isdigit(static_cast<unsigned char>(s[0]))) return std::atoi(s.c_str());
    std::string n = s;
    for (auto& c : n) c = char(std::toupper(static_cast<unsigned char>(c)));
    if (starts_with(n, "SIG")) n = n.substr(3);
    static const std::pair<const char*, int> table[] = {
        {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL}, {"USR1", SIGUSR1},
        {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"ALRM", SIGALRM}, {"CONT", SIGCONT}, {"STOP", SIGSTOP},
        {"WINCH", SIGWINCH}, {"PIPE", SIGPIPE}};
    for (auto& [name, num] : table)
        if (n == name) return num;
    return -1;
}


std::string engine::generate_name() const {
    static const char* adjectives[] = {"brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen",
                                       "lucid", "merry", "nimble", "proud", "quiet", "sharp", "swift", "tender",
                                       "vivid", "witty", "zealous", "bold"};
    static const char* nouns[] = {"anchor", "beacon", "cargo", "dock", "ferry", "galley", "harbor", "jetty",
                                  "keel", "lagoon", "mast", "pier", "quay", "rudder", "schooner", "tide",
                                  "vessel", "wharf", "yacht", "buoy"};
    for (;;) {
        std::string id = random_id();
        std::string n = std::string(adjectives[std::stoul(id.substr(0, 4), nullptr, 16) % 20]) + "_" +
                        nouns[std::stoul(id.substr(4, 4), nullptr, 16) % 20];
        if (!_names.count(n)) return n;
        n += "_" + id.substr(8, 4);
        if (!_names.count(n)) return n;
    }
}

result<container_ptr> engine::find_container(std::string_view ref) const {
    std::string r(ref);
    if (!r.empty() && r[0] == '/') r.erase(0, 1);
    if (r.empty()) return make_error(errc::not_found, "No such container: " + std::string(ref));
    if (auto it = _containers.find(r); it != _containers.end()) return it->second;
    if (auto it = _names.find(r); it != _names.end()) return _containers.at(it->second);
    container_ptr found;
    for (auto& [id, c] : _containers)
        if (starts_with(id, r)) {
            if (found) return make_error(errc::not_found, "No such container: " + r);
            found = c;
        }
    if (found) return found;
    return make_error(errc::not_found, "No such container: " + std::string(ref));
}

std::vector<container_ptr> engine::containers() const {
    std::vector<container_ptr> out;
    for (auto& [id, c] : _containers) out.push_back(c);
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a->created_ns > b->created_ns; });
    return out;
}

awaitable<result<create_result>> engine::create_container(json::object body, std::string name,
                                                          bool starts_next) {
    _busy++;
    auto idle = scope_exit([&] {
        _busy--;
        _last_busy = std::chrono::steady_clock::now();
    });
    create_result out;
    if (!name.empty() && name[0] == '/') name.erase(0, 1);
    if (!name.empty()) {
        if (auto checked = check_container_name(name, _names); !checked) co_return checked.err();
    }
    std::string image_ref = str_field(body, "Image");
    if (image_ref.empty()) co_return make_error(errc::invalid_argument, "No image was specified");
    auto img = find_image(image_ref);
    if (!img) co_return img.err();

    json::object host_config;
    if (auto* h = body.if_contains("HostConfig"); h && h->is_object()) host_config = h->as_object();
    std::string net = str_field(host_config, "NetworkMode");
    if (net.empty() || net == "default") net = "none";  // no bridge network yet
    if (net != "none" && net != "host") co_return make_error(errc::not_found, "network " + net + " not found");
    host_config["NetworkMode"] = net;
    // --userns: "host" opts out of the daemon's --userns-remap (moby's checks and words).
    const std::string userns_mode = str_field(host_config, "UsernsMode");
    if (!userns_mode.empty() && userns_mode != "host")
        co_return make_error(errc::invalid_argument, "invalid USER mode: " + userns_mode);
    const bool remapped = !_opts.uid_map.empty() && userns_mode != "host";
    if (remapped && bool_field(host_config, "Privileged"))
        co_return make_error(errc::invalid_argument,
                             "privileged mode is incompatible with user namespaces.  You must run the container in "
                             "the host namespace when running privileged mode");
    // Nodes cannot be made in a user namespace, and the spec names a device
    // by number, not by a host path to bind.
    if (auto* d = host_config.if_contains("Devices"); remapped && d && d->is_array() && !d->as_array().empty())
        co_return make_error(errc::invalid_argument,
                             "--device is not supported with the daemon's --userns-remap yet: use --userns=host");
    // Settings berth does not implement yet are refused, never ignored: a
    // silently dropped --read-only or -m would be a lie to the user.
    for (const char* k : {"PortBindings", "ExtraHosts", "DeviceRequests"}) {
        auto* v = host_config.if_contains(k);
        bool set = v && ((v->is_array() && !v->as_array().empty()) || (v->is_object() && !v->as_object().empty()));
        if (set) co_return make_error(errc::invalid_argument, std::string("HostConfig.") + k + " is not supported yet");
    }
    // The image's config: its defaults are merged below as Docker does.
    json::object image_cfg;
    {
        boost::system::error_code ec;
        auto v = json::parse(img->config_json, ec);
        if (!ec && v.is_object())
            if (auto* c = v.as_object().if_contains("config"); c && c->is_object()) image_cfg = std::move(c->as_object());
    }
    json::object request_volumes, image_volumes;  // Config.Volumes: anonymous volumes
    if (auto* v = body.if_contains("Volumes"); v && v->is_object()) request_volumes = v->as_object();
    if (auto* vols = image_cfg.if_contains("Volumes"); vols && vols->is_object()) image_volumes = vols->as_object();
    // Privileged, Devices, DeviceCgroupRules: checked now, gathered at start.
    if (auto devices = device_config_of(host_config); !devices) {
        co_return devices.err();
    } else if (remapped && !devices->devices.empty()) {
        // A user namespace cannot mknod devices (runc bind-mounts them instead).
        co_return make_error(errc::invalid_argument,
                             "HostConfig.Devices in a user namespace (--userns-remap) is not supported yet");
    }
    for (const char* k : {"PublishAllPorts", "OomKillDisable"}) {
        auto* v = host_config.if_contains(k);
        if (v && v->is_bool() && v->as_bool())
            co_return make_error(errc::invalid_argument, std::string("HostConfig.") + k + " is not supported yet");
    }
    for (const char* k : {"CpuQuota", "CpuPeriod", "CpuRealtimePeriod", "CpuRealtimeRuntime", "KernelMemory",
                          "KernelMemoryTCP"}) {
        auto* v = host_config.if_contains(k);
        if (v && v->is_number() && v->to_number<double>() > 0)
            co_return make_error(errc::invalid_argument, std::string("HostConfig.") + k + " is not supported yet");
    }
    for (const char* k : {"BlkioWeightDevice", "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps",
                          "BlkioDeviceWriteIOps"}) {
        auto* v = host_config.if_contains(k);
        if (v && v->is_array() && !v->as_array().empty())
            co_return make_error(errc::invalid_argument, std::string("HostConfig.") + k + " is not supported yet");
    }
    // Read-only root, tmpfs, /dev/shm, ulimits, sysctls, groups, security opts.
    if (auto conf = confinement_of(host_config); !conf) co_return conf.err();
    else if (auto timens = check_time_offsets_on_host(*conf); !timens) co_return timens.err();
    set_confinement_defaults(host_config);
    // Binds and Mounts: named volumes are created on first use; --mount's
    // host sources must exist now. Anonymous volumes get their names here
    // and are made with the container's directories (job0).
    host_config.erase(anonymous_volumes_key);
    host_config.erase(volumes_from_key);
    host_config[userns_record_key] =
        remapped ? runtime::id_map_text(_opts.uid_map) + "|" + runtime::id_map_text(_opts.gid_map) : std::string();
    // --volumes-from: the source containers' mounts are copied now (moby
    // does so at create); the container's own mounts cover them.
    if (auto* vf = host_config.if_contains("VolumesFrom"); vf && vf->is_array() && !vf->as_array().empty()) {
        json::array inherited;
        for (const auto& spec : vf->as_array()) {
            if (!spec.is_string())
                co_return make_error(errc::invalid_argument, "HostConfig.VolumesFrom must be an array of strings");
            auto parsed = parse_volumes_from(std::string(spec.as_string()));
            if (!parsed) co_return parsed.err();
            auto source = find_container(parsed->first);
            if (!source) co_return source.err();
            auto mounts = inherited_mounts((*source)->host_config, parsed->second);
            if (!mounts) co_return mounts.err();
            for (auto& m : *mounts) {
                // A later source wins at the same target (moby's map).
                const json::value dest = m.as_object().at("Destination");
                json::array kept;
                for (auto& o : inherited)
                    if (o.as_object().at("Destination") != dest) kept.push_back(std::move(o));
                kept.push_back(std::move(m));
                inherited = std::move(kept);
            }
        }
        if (!inherited.empty()) host_config[volumes_from_key] = std::move(inherited);
    }
    {
        auto anon = assign_anonymous_volumes(host_config, request_volumes, image_volumes);
        if (!anon) co_return anon.err();
        if (!anon->empty()) host_config[anonymous_volumes_key] = std::move(*anon);
    }
    const auto anon_names = anonymous_volumes_of(host_config);
    {
        auto binds = bind_mounts_of(host_config, _opts.data_root);
        if (!binds) co_return binds.err();
        if (auto tmpfs = tmpfs_mounts_of(host_config); !tmpfs) co_return tmpfs.err();
        // Named volumes are made on first use (with the labels and driver
        // options --mount gives). Nothing to look at: no hop to a worker.
        auto requests = volume_requests_of(host_config);
        if (!binds->empty() || !requests.empty()) {
            auto check = [b = std::move(*binds), requests = std::move(requests), anon_names,
                          root = _opts.data_root]() -> status {
                for (auto r : requests)
                    if (std::find(anon_names.begin(), anon_names.end(), r.name) == anon_names.end())
                        BERTH_TRY(volumes::create(root, r.name, std::move(r.labels), std::move(r.options)));
                return check_bind_sources(b);
            };
            auto checked = co_await _workers.run(offload_reason::filesystem, std::move(check));
            if (!checked) co_return checked.err();
        }
    }
    // Limits are checked and adjusted as Docker does; the ones this host
    // cannot apply are dropped with Docker's warning.
    auto lim = limits_of(host_config);
    if (!lim) co_return lim.err();
    auto limit_warnings = cgroup::verify_limits(*lim, _cgroups->supported(), _cgroups->cpus(), _cgroups->mems(),
                                                usable_cpus());
    if (!limit_warnings) co_return limit_warnings.err();
    out.warnings = *limit_warnings;
    host_config["Memory"] = lim->memory;
    host_config["MemorySwap"] = lim->memory_swap;
    host_config["MemoryReservation"] = lim->memory_reservation;
    host_config["NanoCpus"] = lim->nano_cpus;
    host_config["CpuShares"] = lim->cpu_shares;
    host_config["CpusetCpus"] = lim->cpuset_cpus;
    host_config["CpusetMems"] = lim->cpuset_mems;
    host_config["BlkioWeight"] = lim->blkio_weight;
    if (lim->pids_limit != 0 || host_config.contains("PidsLimit")) host_config["PidsLimit"] = lim->pids_limit;
    else host_config["PidsLimit"] = nullptr;
    {
        auto policy = restart_policy_of(host_config);
        if (!policy) co_return policy.err();
        auto* ar = host_config.if_contains("AutoRemove");
        if (str_field(*policy, "Name") != "no" && ar && ar->is_bool() && ar->as_bool())
            co_return make_error(errc::invalid_argument, "Conflicting options: RestartPolicy and AutoRemove");
        host_config["RestartPolicy"] = std::move(*policy);
    }
    auto caps = runtime::effective_capabilities(string_list(host_config.if_contains("CapAdd")),
                                                string_list(host_config.if_contains("CapDrop")));
    if (!caps) co_return caps.err();
    auto log_config = json_log::check_log_config(host_config);
    if (!log_config) co_return log_config.err();
    host_config["LogConfig"] = std::move(*log_config);

    // Image defaults merged as Docker does (moby daemon/commit.go merge()).
    auto user_cmd = string_list(body.if_contains("Cmd"));
    auto* ep = body.if_contains("Entrypoint");
    auto user_ep = string_list(ep);
    std::vector<std::string> cmd = user_cmd, entry = user_ep;
    json::value cmd_json = body.contains("Cmd") ? body["Cmd"] : json::value(nullptr);
    json::value ep_json = ep ? *ep : json::value(nullptr);
    if (user_ep.empty()) {
        if (user_cmd.empty()) {
            cmd = string_list(image_cfg.if_contains("Cmd"));
            cmd_json = cmd.empty() ? json::value(nullptr) : to_array(cmd);
        }
        if (!ep || ep->is_null()) {
            entry = string_list(image_cfg.if_contains("Entrypoint"));
            ep_json = entry.empty() ? json::value(nullptr) : to_array(entry);
        }
    }
    std::vector<std::string> full = entry;
    full.insert(full.end(), cmd.begin(), cmd.end());
    if (full.empty() || full[0].empty()) co_return make_error(errc::invalid_argument, "No command specified");

    auto c = std::make_shared<container>();
    c->id = random_id();
    c->name = name.empty() ? generate_name() : name;
    c->image_ref = image_ref;
    c->image_id = img->id;
    c->chain_ids = img->chain_ids;
    c->created_ns = now_ns();
    c->path = full[0];
    c->args.assign(full.begin() + 1, full.end());
    c->changed = std::make_unique<async_signal>(_loop.get_executor());
    c->output = std::make_unique<async_signal>(_loop.get_executor());

    std::string hostname = str_field(body, "Hostname");
    if (hostname.empty()) hostname = c->id.substr(0, 12);
    auto env = merge_env(string_list(image_cfg.if_contains("Env")), string_list(body.if_contains("Env")));
    bool has_path = std::any_of(env.begin(), env.end(), [](auto& e) { return env_key(e) == "PATH"; });
    if (!has_path) env.insert(env.begin(), "PATH=" + std::string(runtime::default_search_path));
    std::string workdir = str_field(body, "WorkingDir");
    if (workdir.empty()) workdir = str_field(image_cfg, "WorkingDir");
    if (!workdir.empty() && workdir[0] != '/')
        co_return make_error(errc::invalid_argument, "the working directory '" + workdir + "' is invalid, it needs to be an absolute path");
    std::string user = str_field(body, "User");
    if (user.empty()) user = str_field(image_cfg, "User");
    json::object labels;
    if (auto* l = image_cfg.if_contains("Labels"); l && l->is_object()) labels = l->as_object();
    if (auto* l = body.if_contains("Labels"); l && l->is_object())
        for (auto& [k, v] : l->as_object()) labels[k] = v;
    auto flag = [&](const char* k) {
        auto* v = body.if_contains(k);
        return v && v->is_bool() && v->as_bool();
    };
    c->config = {{"Hostname", hostname},
                 {"Domainname", str_field(body, "Domainname")},
                 {"User", user},
                 {"AttachStdin", flag("AttachStdin")},
                 {"AttachStdout", flag("AttachStdout")},
                 {"AttachStderr", flag("AttachStderr")},
                 {"Tty", flag("Tty")},
                 {"OpenStdin", flag("OpenStdin")},
                 {"StdinOnce", flag("StdinOnce")},
                 {"Env", to_array(env)},
                 {"Cmd", cmd_json},
                 {"Image", image_ref},
                 {"Volumes", nullptr},
                 {"WorkingDir", workdir},
                 {"Entrypoint", ep_json},
                 {"OnBuild", nullptr},
                 {"Labels", labels}};
    // HEALTHCHECK: the request's fields over the image's, each on its own
    // (moby merge(): an unset Test, Interval, ... takes the image's).
    {
        json::object hc;
        if (auto* ih = image_cfg.if_contains("Healthcheck"); ih && ih->is_object()) hc = ih->as_object();
        if (auto* uh = body.if_contains("Healthcheck"); uh && uh->is_object())
            for (auto& [k, v] : uh->as_object()) {
                bool unset = v.is_null() || (v.is_array() && v.as_array().empty()) ||
                             (v.is_number() && v.to_number<double>() == 0);
                if (!unset) hc[k] = v;
            }
        auto test = string_list(hc.if_contains("Test"));
        if (!test.empty() && test[0] != "NONE" && test[0] != "CMD" && test[0] != "CMD-SHELL")
            co_return make_error(errc::invalid_argument, "unknown Healthcheck type '" + test[0] + "'");
        for (const char* k : {"Interval", "Timeout", "StartPeriod"}) {
            auto* v = hc.if_contains(k);
            if (v && v->is_number() && v->to_number<double>() != 0 && v->to_number<double>() < 1e6)
                co_return make_error(errc::invalid_argument, std::string(k) + " in Healthcheck cannot be less than 1ms");
        }
        if (auto* v = hc.if_contains("Retries"); v && v->is_number() && v->to_number<double>() < 0)
            co_return make_error(errc::invalid_argument, "Retries in Healthcheck cannot be negative");
        if (!hc.empty()) c->config["Healthcheck"] = std::move(hc);
    }
    {
        json::object vols = image_volumes;
        for (const auto& [k, v] : request_volumes) vols[k] = v;
        if (!vols.empty()) c->config["Volumes"] = std::move(vols);
    }
    c->host_config = host_config;
    // A warm pool's prepared sandbox, when one of this image matches the
    // sandbox this container would get exactly: its id (the directories,
    // the init layer with the default hostname, the cgroup are made).
    const std::string sandbox = anon_names.empty() ? take_sandbox(*c, body) : std::string();
    if (!sandbox.empty()) {
        c->id = sandbox;
        hostname = c->id.substr(0, 12);
        c->config["Hostname"] = hostname;
        c->parked = true;
    }
    // A batch's container with Docker's default limits and devices: its
    // cgroup is made in the job that makes its directories.
    bool prepare_cgroup = false;
    if (starts_next && sandbox.empty()) {
        auto lim = limits_of(host_config);
        auto dev = device_config_of(host_config);
        prepare_cgroup = lim && *lim == cgroup::limits{} && dev && !dev->any();
    }
    const bool keepable = prepare_cgroup && cgroup_keepable(host_config);
    std::shared_ptr<const cgroup::container_cgroup> prepared;
    // A spare's cgroups, where there is one, are this container's: it takes
    // the spare's name as its id (as a pool's sandbox gives its own), and
    // its create renames none of them.
    if (keepable) {
        if (std::string spare = _cgroups->claim_spare(); !spare.empty()) {
            c->id = std::move(spare);
            if (str_field(body, "Hostname").empty()) {
                hostname = c->id.substr(0, 12);
                c->config["Hostname"] = hostname;
            }
        }
    }

    // The container's directories: upper and work for the overlay, and the
    // init layer holding /etc/hostname, /etc/hosts and /etc/resolv.conf (its
    // root is mounted on engine::rootfs_mount_point(), shared, inside its own
    // mount namespace).
    std::string dir = container_dir(c->id);
    bool host_net = net == "host";
    // A claimed spare kept with its container's directory (engine::destroy)
    // and its cgroup2 directory: nothing is left to make, and the create
    // needs no worker. Its init files were written for its id's default
    // hostname and a network of its own.
    bool made_already = false;
    const bool dir_taken = keepable && !remapped && !host_net && hostname == c->id.substr(0, 12) &&
                           anon_names.empty() && _spare_dirs->take_named(dir);
    if (dir_taken) {
        if (auto cg = _cgroups->adopt(c->id)) {
            prepared = std::make_shared<const cgroup::container_cgroup>(std::move(*cg));
            made_already = true;
        }
    }
    // --userns-remap: the upper and work directories belong to the
    // container's root (the lower ones, the init layer too, are idmapped).
    long long remapped_uid = remapped ? runtime::map_to_host(_opts.uid_map, 0) : -1;
    long long remapped_gid = remapped ? runtime::map_to_host(_opts.gid_map, 0) : -1;
    // Its volumes too, as Docker's are under a remapping (only a volume
    // directory still owned by the host's root: never one a container owns).
    std::vector<std::string> remapped_volumes;
    if (remapped) {
        remapped_volumes = anon_names;
        for (const auto& r : volume_requests_of(host_config)) remapped_volumes.push_back(r.name);
    }
    // Without idmapped layers: the image's shifted copies, made once per
    // remapping (the first container pays), and an init layer in the host's ids.
    std::vector<std::pair<std::string, std::string>> layer_copies;
    if (remapped && _opts.userns_copy) layer_copies = remapped_layer_copies(*c);
    auto job0 = [dir, hostname, host_net, anon_names, root = _opts.data_root, remapped_uid, remapped_gid,
                 remapped_volumes, layer_copies, copy = remapped && _opts.userns_copy, uid_map = _opts.uid_map,
                 gid_map = _opts.gid_map, spares = remapped || dir_taken ? nullptr : _spare_dirs.get(), this, id = c->id,
                 prepare_cgroup, keepable, &prepared]() -> status {
        for (const auto& n : anon_names)
            BERTH_TRY(volumes::create(root, n, json::object{{anonymous_volume_label, ""}}));
        // Shared files (engine/container_dirs.h) unless the init layer's
        // owners are shifted below.
        BERTH_TRY(make_container_dirs(dir, hostname, host_net, !copy, spares));
        // Remapped: the group is the remapped root's (0710), so that the
        // daemon's idmapped view (where that gid is 0) passes, and no other
        // host user does.
        if (remapped_uid >= 0 && (::chown(dir.c_str(), 0, static_cast<gid_t>(remapped_gid)) != 0 ||
                                  ::chmod(dir.c_str(), 0710) != 0))
            return sys_error("chown " + dir);
        if (remapped_uid >= 0)
            for (auto d : {"/upper", "/work"})
                if (::chown((dir + d).c_str(), static_cast<uid_t>(remapped_uid), static_cast<gid_t>(remapped_gid)) != 0)
                    return sys_error("chown " + dir + d);
        if (copy) {
            BERTH_TRY(shift_tree_owners(dir + "/init", uid_map, gid_map));
            BERTH_TRY(ensure_remapped_copies(layer_copies, uid_map, gid_map));
        }
        for (const auto& name : remapped_volumes) {
            const std::string data = volumes::data_path(root, name);
            struct stat st {};
            if (::stat(data.c_str(), &st) == 0 && st.st_uid == 0 && st.st_gid == 0 &&
                ::chown(data.c_str(), static_cast<uid_t>(remapped_uid), static_cast<gid_t>(remapped_gid)) != 0)
                return sys_error("chown volume " + name);
        }
        // Not an error here: the start makes it again, and says why it cannot.
        if (prepare_cgroup) {
            if (auto cg = _cgroups->create(id, cgroup::limits{}, cgroup::device_access{}, keepable))
                prepared = std::make_shared<const cgroup::container_cgroup>(std::move(*cg));
        }
        return ok();
    };
    // A batch's create does not wait for its record: it is queued before
    // the directories are made, committed meanwhile, and the start waits
    // for it (container::create_commit) before its process runs. Should the
    // create fail, the record is erased again (a crash in between leaves a
    // record without its directory, which the next daemon drops: engine::load).
    const bool commit_later = starts_next && sandbox.empty() && anon_names.empty();
    std::shared_ptr<container::pending_commit> pending;
    auto queue_record = [&] {
        pending = std::make_shared<container::pending_commit>(_loop.get_executor());
        // The writer is woken now: it commits while the directories are made.
        _db->put(
            "container", c->id, doc_of(*c),
            [pending](status s) {
                pending->outcome = s;
                pending->done.set();
            },
            true);
        lazy_commit_taken();
    };
    auto forget_record = [&] {
        if (pending) _db->erase("container", c->id, {}, true);
    };
    if (commit_later) {
        while (name.empty() && _names.count(c->name)) c->name = generate_name();
        queue_record();
    }
    status made = ok();
    if (sandbox.empty() && !made_already) {
        made = co_await _workers.run(offload_reason::filesystem, std::move(job0));
    }
    if (!made) {
        forget_record();
        auto job1 = [this, dir, anon_names, root = _opts.data_root, id = c->id, cg = prepare_cgroup] {
            if (cg) (void)_cgroups->remove(id);  // a claimed spare goes back
            return remove_created(root, anon_names, dir);
        };
        co_await _workers.run(offload_reason::filesystem, std::move(job1));
        co_return made.err().wrap("create container");
    }
    // A generated name another create took meanwhile: pick another one
    // (and record it).
    if (name.empty() && _names.count(c->name)) {
        while (_names.count(c->name)) c->name = generate_name();
        if (pending) queue_record();
    }
    if (auto it = _names.find(c->name); it != _names.end()) {
        forget_record();
        // Another create took the name while the directories were made.
        if (!sandbox.empty()) {
            discard_sandbox(sandbox, true);
        } else {
            auto undo = [this, dir, anon_names, root = _opts.data_root, id = c->id, cg = prepared != nullptr] {
                if (cg) (void)_cgroups->remove(id);
                return remove_created(root, anon_names, dir);
            };
            co_await _workers.run(offload_reason::filesystem, std::move(undo));
        }
        co_return name_in_use(c->name, it->second);
    }
    _containers[c->id] = c;
    _names[c->name] = c->id;
    // Reply only once the record is durable; a batch's start waits for it
    // instead (container::create_commit), after its own preparation.
    status commit_status = ok();
    if (pending) c->create_commit = std::move(pending);
    else commit_status = co_await persist_durably(*c);
    if (!commit_status) {
        _containers.erase(c->id);
        _names.erase(c->name);
        if (!sandbox.empty()) {
            discard_sandbox(sandbox, true);
        } else {
            auto job2 = [this, dir, anon_names, root = _opts.data_root, id = c->id, cg = prepared != nullptr] {
                if (cg) (void)_cgroups->remove(id);
                return remove_created(root, anon_names, dir);
            };
            co_await _workers.run(offload_reason::filesystem, std::move(job2));
        }
        co_return commit_status.err();
    }
    c->prepared_cgroup = std::move(prepared);
    c->pristine = true;
    out.id = c->id;
    emit(*c, "create");
    co_return out;
}

namespace {

// berth-init is built and installed next to the berth binary.
result<std::string> find_init_binary() {
    char self[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    std::vector<std::string> candidates;
    if (n > 0) {
        std::string dir(self, std::size_t(n));
        dir = dir.substr(0, dir.rfind('/'));
        candidates.push_back(dir + "/berth-init");
        candidates.push_back(dir + "/../libexec/berth/berth-init");
    }
    candidates.push_back("/usr/libexec/berth/berth-init");
    for (auto& c : candidates)
        if (::access(c.c_str(), X_OK) == 0) return c;
    return make_error(errc::not_found, "--init: berth-init not found (looked next to the berth binary and in "
                                       "/usr/libexec/berth)");
}

}  // namespace

namespace {

// A container made under another remapping (or none) than this daemon's:
// its files belong to other ids, so it is not started (an exec into a
// running one joins its namespaces and needs no such check).
status check_userns_record(const container& c, const std::vector<runtime::id_range>& uid_map,
                           const std::vector<runtime::id_range>& gid_map) {
    const auto* rec = c.host_config.if_contains(userns_record_key);
    if (!rec || !rec->is_string()) return ok();  // made before berth recorded it
    const bool remapped = !uid_map.empty() && str_field(c.host_config, "UsernsMode") != "host";
    const std::string now = remapped ? runtime::id_map_text(uid_map) + "|" + runtime::id_map_text(gid_map) : "";
    if (rec->as_string() == now) return ok();
    return make_error(errc::conflict, "container " + c.id.substr(0, 12) + " was created " +
                                          (rec->as_string().empty() ? std::string("without --userns-remap")
                                                                    : std::string("under another --userns-remap")) +
                                          " than this daemon runs with: its files belong to other ids; start it "
                                          "with a daemon of the same remapping");
}

}  // namespace

result<runtime::launch_spec> engine::process_half(const container& c,
                                                   std::optional<std::string>* seccomp_profile) const {
    runtime::launch_spec spec;
    spec.id = c.id;
    spec.hostname = str_field(c.config, "Hostname");
    spec.args.push_back(c.path);
    spec.args.insert(spec.args.end(), c.args.begin(), c.args.end());
    spec.env = string_list(c.config.if_contains("Env"));
    if (std::none_of(spec.env.begin(), spec.env.end(), [](auto& e) { return env_key(e) == "HOSTNAME"; }))
        spec.env.push_back("HOSTNAME=" + spec.hostname);
    spec.cwd = str_field(c.config, "WorkingDir");
    if (spec.cwd.empty()) spec.cwd = "/";
    spec.user = str_field(c.config, "User");
    auto caps = runtime::effective_capabilities(string_list(c.host_config.if_contains("CapAdd")),
                                                string_list(c.host_config.if_contains("CapDrop")));
    if (!caps) return caps.err();
    spec.capabilities = *caps;
    // --privileged: every capability, CapDrop ignored (moby's TweakCapabilities).
    if (bool_field(c.host_config, "Privileged")) spec.capabilities = runtime::privileged_capabilities();
    // Never ask for more than the daemon's own hard limit (root here may
    // lack CAP_SYS_RESOURCE).
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    std::uint64_t nofile = std::min<std::uint64_t>(1048576, rl.rlim_max);
    spec.rlimits.push_back({RLIMIT_NOFILE, nofile, nofile});
    // --ulimit (checked against the same hard limits at create) replaces it.
    auto conf = confinement_of(c.host_config);
    if (!conf) return conf.err();
    for (const auto& u : conf->ulimits) {
        auto same = std::find_if(spec.rlimits.begin(), spec.rlimits.end(),
                                 [&](const auto& r) { return r.resource == u.resource; });
        if (same != spec.rlimits.end()) *same = u;
        else spec.rlimits.push_back(u);
    }
    spec.group_add = std::move(conf->group_add);
    spec.no_new_privs = conf->no_new_privs;
    if (seccomp_profile) *seccomp_profile = std::move(conf->seccomp);
    spec.time_offsets = conf->time_offsets;  // an exec joins the container's time namespace
    // --userns-remap, unless the container opted out: an exec joins its user namespace.
    const bool remapped = !_opts.uid_map.empty() && str_field(c.host_config, "UsernsMode") != "host";
    if (remapped) {
        spec.uid_map = _opts.uid_map;
        spec.gid_map = _opts.gid_map;
    }
    return spec;
}

awaitable<status> engine::add_seccomp(const std::optional<std::string>& profile, runtime::launch_spec& spec) {
    if (!profile) co_return ok();
    auto key = seccomp_cache::key_of(*profile, spec.capabilities);
    auto program = _seccomp->find(key);
    if (!program) {
        auto job = [this, key, profile = *profile, caps = spec.capabilities] {
            return _seccomp->load(key, profile, caps);
        };
        auto loaded = co_await _workers.run(offload_reason::seccomp, std::move(job));
        if (!loaded) co_return loaded.err();
        program = std::move(*loaded);
    }
    spec.seccomp_program = runtime::bpf_program(std::move(program));
    spec.seccomp_file = _seccomp->file_of(key);
    co_return ok();
}

std::vector<std::pair<std::string, std::string>> engine::remapped_layer_copies(const container& c) const {
    std::vector<std::pair<std::string, std::string>> out;
    const std::string copies = remap_copy_root(_opts.data_root, _opts.uid_map, _opts.gid_map);
    for (const auto& chain : c.chain_ids) {
        std::string layer = _store->layer_dir(chain);
        out.emplace_back(layer, copies + layer.substr(layer.rfind('/')));
    }
    return out;
}

result<runtime::launch_spec> engine::sandbox_half(const container& c, const cgroup::container_cgroup& cg,
                                                  std::vector<runtime::device_node> devices,
                                                  std::vector<runtime::bind_mount> binds,
                                                  std::vector<runtime::tmpfs_mount> tmpfs_mounts,
                                                  const std::string& init_binary) {
    runtime::launch_spec spec;
    spec.id = c.id;
    auto layout = container_layout(*this, c);
    spec.lower_dirs = std::move(layout.lower_dirs);
    spec.upper_dir = std::move(layout.upper_dir);
    spec.work_dir = std::move(layout.work_dir);
    spec.rootfs_dir = rootfs_mount_point();
    spec.new_network = str_field(c.host_config, "NetworkMode") != "host";
    // --privileged: no masked or read-only paths, /sys writable, every host
    // device (moby's WithDevices and WithMounts).
    const bool privileged = bool_field(c.host_config, "Privileged");
    if (!privileged) {
        spec.masked_paths = runtime::default_masked_paths();
        spec.readonly_paths = runtime::default_readonly_paths();
    }
    spec.writable_sys = privileged;
    spec.devices = std::move(devices);
    spec.cgroup2_dir = cg.v2_dir;
    spec.cgroup_v1_procs = cg.v1_procs();
    if (!cg.v1_memory_dir.empty()) spec.cgroup_v1_memory_procs = cg.v1_memory_dir + "/cgroup.procs";
    // --userns-remap, unless the container opted out.
    if (!_opts.uid_map.empty() && str_field(c.host_config, "UsernsMode") != "host") {
        spec.uid_map = _opts.uid_map;
        spec.gid_map = _opts.gid_map;
    }
    BERTH_ASSIGN(auto conf, confinement_of(c.host_config));
    spec.time_offsets = conf.time_offsets;
    spec.readonly_rootfs = conf.readonly_rootfs;
    spec.tmpfs = std::move(conf.tmpfs);
    spec.shm_size = conf.shm_size;
    spec.sysctls = std::move(conf.sysctls);
    spec.binds = std::move(binds);
    for (auto& t : tmpfs_mounts) spec.tmpfs.push_back(std::move(t));
    spec.init_binary = init_binary;
    return spec;
}

awaitable<status> engine::start_container(std::string ref, bool by_policy) {
    _busy++;
    auto idle = scope_exit([&] {
        _busy--;
        _last_busy = std::chrono::steady_clock::now();
    });
    auto found = find_container(ref);
    if (!found) co_return found.err();
    container_ptr c = *found;
    while (c->rootfs_writes > 0 && !c->removed) co_await c->changed->wait();
    if (c->running() || c->starting) co_return ok();
    if (!by_policy) {
        // A start by the user ends a stop's veto and any pending back-off.
        c->manual_stop = false;
        c->restarting = false;
        c->restart_count = 0;
        c->restart_delay_ms = 0;
    }
    if (c->status == "removing") co_return make_error(errc::conflict, "container is marked for removal and cannot be started");
    c->starting = true;
    auto clear = scope_exit([&] { c->starting = false; });

    std::string init_binary;
    if (bool_field(c->host_config, "Init")) {
        auto init = find_init_binary();
        if (!init) co_return init.err();
        init_binary = *init;
    }

    // Binds, volumes and --mount tmpfs. Named volumes (their driver
    // options) and shared or slave binds (Docker's check of the host mount)
    // need a look at files: on a worker, before the cgroup is made.
    std::vector<runtime::bind_mount> binds;
    std::vector<runtime::tmpfs_mount> tmpfs_mounts;
    {
        auto b = bind_mounts_of(c->host_config, _opts.data_root);
        if (!b) co_return b.err();
        binds = std::move(*b);
        auto t = tmpfs_mounts_of(c->host_config);
        if (!t) co_return t.err();
        tmpfs_mounts = std::move(*t);
    }
    // Nothing of its own mounted over the image (binds, volumes, tmpfs,
    // devices): a pristine container finds its command where the image has it.
    const json::value* tmpfs_option = c->host_config.if_contains("Tmpfs");
    const bool image_paths_only = binds.empty() && tmpfs_mounts.empty() &&
                                  !(tmpfs_option && tmpfs_option->is_object() && !tmpfs_option->as_object().empty());
    if (binds_need_preparing(binds)) {
        auto prep = [b = std::move(binds), root = _opts.data_root]() mutable -> result<std::vector<runtime::bind_mount>> {
            BERTH_TRY(prepare_binds(b, root));
            return std::move(b);
        };
        auto prepared = co_await _workers.run(offload_reason::filesystem, std::move(prep));
        if (!prepared) co_return prepared.err();
        binds = std::move(*prepared);
    }

    // Limits were checked (and those this host lacks dropped) at create.
    auto lim = limits_of(c->host_config);
    if (!lim) co_return lim.err();
    // The OOM eventfd (v1) is armed with the cgroup, before any process
    // runs, for a container with a memory limit: only a limit makes its
    // memory cgroup run out (berth's parents have none). The rest costs the
    // daemon no descriptor; their exits still read the oom_kill counter.
    unique_fd oom_efd;
    bool arm_oom = lim->memory > 0;
    // Devices (--privileged, --device, --device-cgroup-rule) are gathered
    // from the host in the same job, before the cgroup takes their rules;
    // a container without any gathers nothing.
    auto device_cfg = device_config_of(c->host_config);
    if (!device_cfg) co_return device_cfg.err();

    // The process half and its seccomp program before the cgroup: a failure
    // here leaves nothing to undo.
    if (auto u = check_userns_record(*c, _opts.uid_map, _opts.gid_map); !u) co_return u.err();
    // Created from a warm pool's sandbox (engine/pool.cc) and never started:
    // its cgroup, namespaces and rootfs are ready, and its parked child
    // takes only the process half. A later start is a cold one.
    const bool claim = c->parked;
    // A pristine container's cold start is told what its image has (its
    // child then neither searches PATH nor reads the account files
    // through its fresh overlay): engine::told_command, told_accounts.
    const bool tell_accounts = !claim && c->pristine && image_paths_only && !device_cfg->any() &&
                               _opts.uid_map.empty();
    const bool tell_command = tell_accounts && init_binary.empty();
    c->pristine = false;  // from this start on, what ran may have written its rootfs
    std::optional<std::string> seccomp_profile;
    auto process = process_half(*c, &seccomp_profile);
    if (!process) co_return process.err();
    // A pool's sandbox has its hostname set and its seccomp program loaded
    // already (the same, checked when the container took it).
    if (claim) {
        process->hostname.clear();
        process->exe = told_command(*c, *process, true);
    } else if (auto sc = co_await add_seccomp(seccomp_profile, *process); !sc) {
        co_return sc.err();
    }
    // --userns-remap without idmapped layers: copies removed meanwhile (a
    // GC racing a create) are made again, before the cgroup as well.
    const bool remap_copy = !process->uid_map.empty() && _opts.userns_copy;
    if (remap_copy) {
        auto job5 = [copies = remapped_layer_copies(*c), uid_map = process->uid_map, gid_map = process->gid_map] {
            return ensure_remapped_copies(copies, uid_map, gid_map);
        };
        auto copied = co_await _workers.run(offload_reason::filesystem, std::move(job5));
        if (!copied) co_return copied.err();
    }
    runtime::launch_spec spec;
    if (claim) {
        spec.id = c->id;
        if (!(*lim == cgroup::limits{}) || arm_oom) {
            auto job6 = [this, id = c->id, l = *lim, &oom_efd, arm_oom]() -> status {
                BERTH_ASSIGN(auto warnings, _cgroups->apply(id, l));
                for (auto& w : warnings) log::warn("container {}: {}", id.substr(0, 12), w);
                if (arm_oom) {
                    auto armed = _cgroups->oom_eventfd(id);
                    if (armed) oom_efd = std::move(*armed);
                    else log::warn("container {}: OOM notification: {}", id.substr(0, 12), armed.err().message);
                }
                return ok();
            };
            auto applied = co_await _workers.run(offload_reason::cgroup, std::move(job6));
            if (!applied) {
                // The sandbox's cgroup would not take them (v1 memory below
                // what its child holds): give it up and start cold.
                log::info("container {}: set the limits of the prepared sandbox: {}; starting it cold",
                          c->id.substr(0, 12), applied.err().message);
                if (c->parked) {
                    c->parked = false;
                    discard_sandbox(c->id, false);
                }
                c->stale_cgroup = true;
                c->starting = false;
                co_return co_await start_container(c->id, by_policy);
            }
        }
    } else {
        gathered_devices devices;
        status gathered;
        // A pool sandbox's cgroup left behind goes first (its child is dead),
        // and one made at create that no longer fits (updated since).
        auto prepared = std::exchange(c->prepared_cgroup, nullptr);
        const bool use_prepared = prepared && !c->stale_cgroup && *lim == cgroup::limits{} && !device_cfg->any();
        const bool stale = std::exchange(c->stale_cgroup, false) || (prepared && !use_prepared);
        const bool keepable = cgroup_keepable(c->host_config);
        auto job3 = [this, id = c->id, l = *lim, &oom_efd, arm_oom, cfg = std::move(*device_cfg), &devices,
                     &gathered, stale, keepable]() -> result<cgroup::container_cgroup> {
            if (cfg.any()) {
                auto g = gather_devices(cfg);
                if (!g) {
                    gathered = g.err();
                    return g.err();
                }
                devices = std::move(*g);
            }
            if (stale) (void)_cgroups->remove(id);
            auto made = _cgroups->create(id, l, devices.access, keepable);
            if (!made && made.err().sys_errno == EEXIST) {
                // A sandbox's, whose death has not been reported yet.
                (void)_cgroups->remove(id);
                made = _cgroups->create(id, l, devices.access, keepable);
            }
            if (made && arm_oom) {
                auto armed = _cgroups->oom_eventfd(id);
                if (armed) oom_efd = std::move(*armed);
                else log::warn("container {}: OOM notification: {}", id.substr(0, 12), armed.err().message);
            }
            return made;
        };
        co_await remove_exited_cgroup(c);  // its last run's cgroup, if still deferred
        while (c->cgroup_removals > 0) co_await c->changed->wait();  // or in flight
        result<cgroup::container_cgroup> cg = error{};
        if (use_prepared) cg = *prepared;
        else cg = co_await _workers.run(offload_reason::cgroup, std::move(job3));
        if (!gathered) co_return gathered.err();
        if (!cg) co_return cg.err().wrap("create cgroup");
        if (c->removed || c->status == "removing") {
            // Removed (rm -f) while the cgroup was being made: do not start.
            auto undo = [this, id = c->id] { return _cgroups->remove(id); };
            co_await _workers.run(offload_reason::cgroup, std::move(undo));
            co_return make_error(errc::conflict, "container " + c->id + " was removed while starting");
        }
        for (auto& w : cg->warnings) log::warn("container {}: {}", c->id.substr(0, 12), w);
        auto sandbox = sandbox_half(*c, *cg, std::move(devices.nodes), std::move(binds), std::move(tmpfs_mounts),
                                    init_binary);
        if (!sandbox) {
            auto undo = [this, id = c->id] { return _cgroups->remove(id); };
            co_await _workers.run(offload_reason::cgroup, std::move(undo));
            co_return sandbox.err();
        }
        spec = std::move(*sandbox);
        spec.userns_copy = remap_copy;
    }
    if (tell_command) process->exe = told_command(*c, *process, false);
    runtime::take_process_half(spec, std::move(*process));
    // Its /etc/passwd and /etc/group, as its image has them: its child
    // reads none through its fresh overlay.
    if (tell_accounts)
        if (auto accounts = told_accounts(*c)) {
            spec.accounts_told = true;
            spec.passwd = accounts->passwd;
            spec.group = accounts->group;
        }
    if (!init_binary.empty()) spec.args.insert(spec.args.begin(), {"/sbin/docker-init", "--"});
    if (auto pending = std::exchange(c->create_commit, nullptr)) {
        // A batch's create: its record is committed before its process runs.
        co_await pending->done.wait();
        if (!pending->outcome) {
            // As a create whose commit failed: nothing of it is left.
            auto undo = [this, id = c->id, dir = container_dir(c->id)] {
                (void)_cgroups->remove(id);
                return remove_all(dir);
            };
            co_await _workers.run(offload_reason::filesystem, std::move(undo));
            _containers.erase(c->id);
            _names.erase(c->name);
            c->removed = true;
            emit(*c, "destroy");
            c->changed->notify();
            co_return pending->outcome.err();
        }
    }

    bool open_stdin = c->config.contains("OpenStdin") && c->config["OpenStdin"].as_bool();
    auto& pending = _starts[c->id];
    pending.done = std::make_unique<async_event>(_loop.get_executor());
    pending.outcome = ok();
    monitor::message start_msg{monitor::msg::start,
                               {{"id", c->id}, {"spec", runtime::to_json(spec)}, {"log_path", log_path(*c)},
                                {"open_stdin", open_stdin}, {"tty", c->tty()}},
                               {}};
    if (claim) {
        // Its parked child died meanwhile (pool_start_failed): a cold start.
        if (!c->parked) {
            _starts.erase(c->id);
            c->starting = false;
            co_return co_await start_container(c->id, by_policy);
        }
        // Claimed or not, the sandbox is used up by this start.
        start_msg.header["claim"] = true;
        // Removed at its exit, so never started again on this upper
        // directory: the monitor may defer the namespaces' teardown.
        // (Not with a restart policy: a restart would mount that upper again.)
        if ((c->auto_remove() || c->batch_removes) && !has_restart_policy(c->host_config)) {
            start_msg.header["hold_namespaces"] = true;
            c->namespaces_held = true;
            _last_hold = std::chrono::steady_clock::now();
            drain_teardown_soon();
        }
        c->parked = false;
    }
    // --log-driver none: no file; json-file: Docker's rotation, if asked for.
    if (auto logs = json_log::settings_of(c->host_config); !logs.enabled) {
        start_msg.header["log_path"] = "";
    } else {
        if (logs.rot.max_size > 0) {
            start_msg.header["max_size"] = logs.rot.max_size;
            start_msg.header["max_file"] = logs.rot.max_file;
        }
        // Never started: its directory holds no log (nor a spare's: their
        // logs are deleted), so the monitor looks for none.
        if (c->exits == 0 && c->started_ns == 0) start_msg.header["log_new"] = true;
    }
    if (c->tty()) {
        // Docker's ConsoleSize (API 1.42+ sends it at create; older clients resize after start).
        auto* cs = c->host_config.if_contains("ConsoleSize");
        if (cs && cs->is_array() && cs->as_array().size() == 2 && cs->as_array()[0].is_int64() &&
            cs->as_array()[0].as_int64() > 0) {
            start_msg.header["rows"] = cs->as_array()[0].as_int64();
            start_msg.header["cols"] = cs->as_array()[1].to_number<std::int64_t>();
        }
    }
    // The monitor reads the OOM counter into the exit record (record_exit).
    if (auto oom_file = _cgroups->oom_counter_file(c->id); !oom_file.empty()) start_msg.header["oom_file"] = oom_file;
    c->start_sent_ns = now_ns();
    auto sent = _monitor->send(start_msg);
    if (sent && open_stdin) {
        // Messages to the monitor are ordered: stdin sent now reaches the box
        // the start message creates.
        c->stdin_direct = true;
        std::string held = std::move(c->stdin_held);
        c->stdin_held.clear();
        bool close = std::exchange(c->stdin_close_held, false);
        write_stdin(*c, std::move(held), close);
    }
    if (sent) co_await pending.done->wait();
    status outcome = sent ? _starts[c->id].outcome : sent;
    _starts.erase(c->id);
    if (outcome) {
        if (oom_efd || _cgroups->kind() == cgroup::layout::unified) watch_oom(c, std::move(oom_efd));
        emit(*c, "start");
        co_return ok();
    }

    if (claim && outcome.err().code == errc::unavailable && !c->removed && c->status != "removing") {
        // The sandbox was gone before its process ran: a cold start.
        log::info("container {}: {}; starting it cold", c->id.substr(0, 12), outcome.err().message);
        c->stale_cgroup = true;
        c->starting = false;
        co_return co_await start_container(c->id, by_policy);
    }
    auto job4 = [this, id = c->id] { return _cgroups->remove(id); };
    co_await _workers.run(offload_reason::cgroup, std::move(job4));
    // A failed start leaves the container "created" with Docker's exit codes.
    c->stdin_direct = false;
    const auto& e = outcome.err();
    c->exit_code = e.code == errc::command_not_found ? 127 : e.code == errc::cannot_execute ? 126 : 128;
    c->error = e.message;
    c->exits++;
    c->changed->notify();
    c->output->notify();
    if (!c->removed) persist(*c);
    if (c->auto_remove() && !c->removed) asio::co_spawn(_loop, finish_removal(c), asio::detached);
    co_return outcome;
}

void engine::on_monitor_started(const std::string& id, int pid) {
    auto it = _containers.find(id);
    if (it == _containers.end()) return;
    auto& c = *it->second;
    c.pid = pid;
    if (c.status == "removing") {
        // rm -f raced with this start: its kill may have reached the monitor
        // before the container existed there. Kill it now.
        (void)_monitor->send({monitor::msg::signal, {{"id", id}, {"signal", 9}}, {}});
        if (auto p = _starts.find(id); p != _starts.end()) p->second.done->set();
        return;
    }
    c.status = "running";
    c.restarting = false;
    c.started_ns = now_ns();
    c.finished_ns = 0;
    c.exit_code = 0;
    c.error.clear();
    c.oom_killed = false;
    c.oom_reported = false;
    persist(c, {}, false);
    c.changed->notify();
    start_health_checks(it->second);
    if (auto p = _starts.find(id); p != _starts.end()) p->second.done->set();
}

void engine::on_monitor_start_failed(const std::string& id, error e, bool unclaimed) {
    if (pool_start_failed(id, e, unclaimed)) return;
    if (auto p = _starts.find(id); p != _starts.end()) {
        p->second.outcome = std::move(e);
        p->second.done->set();
    }
}

void engine::on_monitor_output(const std::string& id, bool is_err, std::int64_t time_ns, std::uint64_t offset,
                               std::string text) {
    auto it = _containers.find(id);
    if (it == _containers.end()) return;
    auto& c = *it->second;
    c.recent_bytes += text.size();
    c.recent.push_back({c.next_seq++, is_err, time_ns, offset, std::move(text)});
    // Live streams keep a bounded window; the log file has everything.
    while (c.recent_bytes > 4 * 1024 * 1024 && c.recent.size() > 1) {
        c.recent_bytes -= c.recent.front().text.size();
        c.recent.pop_front();
    }
    c.output->notify();
}

void engine::on_monitor_exited(const std::string& id, int exit_code, std::int64_t finished_ns,
                               std::optional<std::uint64_t> oom_kills) {
    auto it = _containers.find(id);
    // Unknown container, or an exit record resent after a reconnect that this
    // daemon had already applied (same finish time): acknowledge only.
    // A record older than what this daemon knows (a run that finished
    // before the last recorded one, or before the current run started) is
    // a resend as well: the monitor's journal may repeat records whose
    // acknowledgement it lost.
    // A container marked lost (State.Error) takes the record that follows.
    const bool stale = it != _containers.end() &&
                       ((!it->second->running() && it->second->error.empty() && finished_ns < it->second->finished_ns) ||
                        (it->second->running() && finished_ns < it->second->start_sent_ns));
    if (it == _containers.end() || stale || (!it->second->running() && it->second->finished_ns == finished_ns)) {
        (void)_monitor->send({monitor::msg::ack_exit, {{"id", id}, {"finished", finished_ns}}, {}});
        return;
    }
    asio::co_spawn(_loop, record_exit(it->second, exit_code, finished_ns, oom_kills), asio::detached);
}

awaitable<void> engine::remove_exited_cgroup(container_ptr c) {
    if (!c->cgroup_deferred) co_return;  // taken over (a start, the drain)
    c->cgroup_deferred = false;
    auto job = [this, cid = c->id] { return _cgroups->remove(cid); };
    if (auto removed = co_await _workers.run(offload_reason::cgroup, std::move(job)); !removed)
        log::warn("{}", removed.err().message);
    c->cgroup_removals--;
    c->changed->notify();
}

void engine::drain_teardown_soon() {
    if (_teardown_draining) return;
    _teardown_draining = true;
    asio::co_spawn(_loop, drain_teardown(), asio::detached);
}

awaitable<void> engine::drain_teardown() {
    unsigned turns = 0;
    bool released = false;  // in this quiet spell
    for (;;) {
        const auto now = std::chrono::steady_clock::now();
        const bool is_quiet = quiet(now);
        // The monitor stops releasing at the next start: told again at
        // every quiet spell while it may hold any (k_max_cgroup_defer, its
        // own limit, after the last hold).
        const bool holds = now - _last_hold < k_max_cgroup_defer;
        if (!is_quiet) released = false;
        if (is_quiet && holds && !released) {
            released = true;
            (void)_monitor->send({monitor::msg::release, {}, {}});
            // A turn for the monitor to start before the cgroups go.
            co_await sleep_for(k_quiet);
            continue;
        }
        if (!_exited_cgroups.empty()) {
            const auto since = _exited_cgroups.front().first;
            container_ptr c = _exited_cgroups.front().second;
            if (is_quiet || !c->cgroup_deferred || now - since >= k_max_cgroup_defer ||
                _exited_cgroups.size() >= k_max_cgroup_backlog) {
                _exited_cgroups.pop_front();
                co_await remove_exited_cgroup(std::move(c));
                continue;
            }
        } else if (!holds && _teardown_waiters == 0) {
            break;
        }
        // Waiters look at their own age too: a turn at least every 100 ms.
        if (_teardown_waiters > 0 && (is_quiet || ++turns % 20 == 0)) _teardown_turn->notify();
        co_await sleep_for(k_quiet);
    }
    _teardown_draining = false;
}

awaitable<void> engine::yield_to_starts(std::chrono::steady_clock::time_point since) {
    if (!_teardown_turn) _teardown_turn = std::make_unique<async_signal>(_loop.get_executor());
    _teardown_waiters++;
    drain_teardown_soon();
    for (;;) {
        const auto now = std::chrono::steady_clock::now();
        if (quiet(now) || now - since >= k_max_cgroup_defer ||
            static_cast<std::size_t>(_teardown_waiters) > k_max_cgroup_backlog)
            break;
        co_await _teardown_turn->wait();
    }
    _teardown_waiters--;
}

void engine::finish_deferred() {
    for (auto& [since, c] : _exited_cgroups)
        if (c->cgroup_deferred) (void)_cgroups->remove(c->id);
    _exited_cgroups.clear();
    _cgroups->drop_spares();
}

awaitable<void> engine::record_exit(container_ptr c, int exit_code, std::int64_t finished_ns,
                                    std::optional<std::uint64_t> oom_kills) {
    // The cgroup's OOM counter is read before the exit becomes visible (a
    // waiter's next inspect shows OOMKilled): by the monitor, into the exit
    // record, or else here. The cgroup itself goes after, off the path of
    // whoever waits for this exit (a batch's next container, `run --rm`),
    // and a start of this container waits for it.
    bool oom = oom_kills && *oom_kills > 0;
    if (!oom_kills) {
        auto job5 = [this, cid = c->id] { return _cgroups->oom_killed(cid); };
        oom = co_await _workers.run(offload_reason::cgroup, std::move(job5));  // cgroupfs can stall
    }
    if (c->namespaces_held) {
        // After the monitor has released its namespaces (engine.h), which
        // it holds from now on (a claim's `release` may be long past).
        c->cgroup_removals++;
        c->cgroup_deferred = true;
        _last_hold = std::chrono::steady_clock::now();
        _exited_cgroups.emplace_back(std::chrono::steady_clock::now(), c);
        drain_teardown_soon();
    } else if ((!c->batch_removes && !c->auto_remove()) || c->removed) {
        c->cgroup_removals++;
        c->cgroup_deferred = true;
        asio::co_spawn(_loop, remove_exited_cgroup(c), asio::detached);
    }
    // (Removed next: destroy() removes the cgroup in the job that removes
    // the directory, one hand-off to a worker less. Already removed, after a
    // kill that outlasted its wait: the removal above.)
    std::string id = c->id;
    c->stdin_direct = false;
    if (c->removed) {
        // Removed meanwhile: nothing to record, but the monitor may drop its record.
        (void)_monitor->send({monitor::msg::ack_exit, {{"id", id}, {"finished", finished_ns}}, {}});
        co_return;
    }
    if (c->status != "removing") c->status = "exited";
    c->exit_code = exit_code;
    c->finished_ns = finished_ns;
    c->pid = 0;
    c->paused = false;
    c->error.clear();
    c->oom_killed = oom;
    c->exits++;
    // Acknowledge only once the exit is durable here; until then the
    // monitor's record is the truth.
    persist(
        *c,
        [this, id, finished_ns](status s) {
            if (s) (void)_monitor->send({monitor::msg::ack_exit, {{"id", id}, {"finished", finished_ns}}, {}});
        },
        false);
    c->changed->notify();
    c->output->notify();
    if (oom && !c->oom_reported) emit(*c, "oom");
    emit(*c, "die", {{"exitCode", std::to_string(exit_code)}});
    if (c->auto_remove() && c->status != "removing") asio::co_spawn(_loop, finish_removal(c), asio::detached);
    else if (should_restart(*c)) asio::co_spawn(_loop, restart_after_backoff(c), asio::detached);
}

void engine::on_monitor_lost(const std::set<std::string>* ids) {
    pool_monitor_lost(ids);
    for (auto& [id, p] : _starts) {
        if (ids && !ids->count(id)) continue;
        p.outcome = make_error(errc::unavailable, "the berth monitor went away while starting the container");
        p.done->set();
    }
    // Exec'd processes are not restored across a monitor connection: their
    // output had no other reader.
    for (auto& [id, e] : _execs)
        if (e->started && !e->exited && (!ids || ids->count(id)))
            on_monitor_exec_failed(id, make_error(errc::unavailable, "the berth monitor went away"));
}

void engine::on_monitor_state(const std::vector<std::pair<std::string, int>>& running,
                              const std::set<std::string>* judged) {
    std::map<std::string, int> live(running.begin(), running.end());
    std::set<std::string> lost;
    for (auto& [id, c] : _containers) {
        auto it = live.find(id);
        if (it != live.end()) {
            bool was_running = c->running();
            c->status = "running";
            c->pid = it->second;
            if (!was_running || !c->health) start_health_checks(c);
            auto lim = limits_of(c->host_config);
            if ((!was_running || !_booted) && lim && lim->memory > 0) watch_oom(c, {});
        } else if (c->running() && (!judged || judged->count(id))) {
            // Not running under the monitor and (so far) no exit record: the
            // exit record, if the monitor has one, follows and corrects this.
            lost.insert(id);
            c->status = "exited";
            c->paused = false;
            c->exit_code = 255;
            c->error = "the berth monitor lost track of this container";
            c->finished_ns = now_ns();
            c->exits++;
            persist(*c);
            c->changed->notify();
        }
    }
    if (!std::exchange(_booted, true)) {
        restart_at_boot(lost);
        sweep_stale_cgroups();
    }
}

void engine::sweep_stale_cgroups() {
    // Containers' cgroups are removed after their exit (or with the
    // container, or in the daemon's quiet time: record_exit); what is left after a
    // crash, and the cgroups of a previous daemon's pool sandboxes (killed
    // while no daemon listened), are removed once nothing runs in them.
    // Never a container's (a start may have made it just now: a leftover of
    // a container's goes at its next start, which removes a stale one).
    std::set<std::string> keep;
    for (auto& [id, c] : _containers) keep.insert(id);
    for (auto& [id, w] : _parks) keep.insert(id);
    for (auto& [id, c] : _dying_sandboxes) keep.insert(id);
    auto job = [this, keep]() -> status {
        std::set<std::string> ids;
        for (const auto& parent : _cgroups->parent_dirs()) {
            DIR* d = ::opendir(parent.c_str());
            if (!d) continue;
            while (auto* e = ::readdir(d)) {
                std::string name = e->d_name;
                if (name.size() == 64 && name.find_first_not_of("0123456789abcdef") == std::string::npos &&
                    !keep.count(name))
                    ids.insert(name);
            }
            ::closedir(d);
        }
        for (const auto& id : ids) {
            if (_cgroups->is_spare(id)) continue;  // named by a fresh id (manager::keep_as_spare)
            auto pids = _cgroups->pids(id);
            if (pids && !pids->empty()) continue;  // a sandbox about to be reported dead
            if (auto r = _cgroups->remove(id); !r) log::warn("remove stale cgroup: {}", r.err().message);
        }
        return ok();
    };
    asio::co_spawn(
        _loop,
        [this, job = std::move(job)]() mutable -> awaitable<void> {
            co_await _workers.run(offload_reason::cgroup, std::move(job));
        },
        asio::detached);
}

void engine::restart_at_boot(const std::set<std::string>& lost) {
    for (auto& [id, c] : _containers) {
        // Never started: a policy takes effect only after a successful start.
        if (c->started_ns == 0) continue;
        if (lost.count(id) || c->running() || c->starting || c->restarting || c->removed || c->status == "removing") continue;
        auto* rp = c->host_config.if_contains("RestartPolicy");
        std::string policy = rp && rp->is_object() ? str_field(rp->as_object(), "Name") : "";
        bool restart = policy == "always" || (policy == "unless-stopped" && !c->manual_stop) ||
                       (policy == "on-failure" && !c->manual_stop && should_restart(*c));
        if (!restart) continue;
        c->manual_stop = false;
        auto start = [](engine* self, container_ptr c) -> awaitable<void> {
            auto s = co_await self->start_container(c->id, true);
            if (!s) log::warn("restart of {} at daemon start: {}", c->id.substr(0, 12), s.err().message);
        };
        asio::co_spawn(_loop, start(this, c), asio::detached);
    }
}

awaitable<result<int>> engine::wait_container(container_ptr c, std::string condition) {
    if (condition.empty()) condition = "not-running";
    if (condition != "not-running" && condition != "next-exit" && condition != "removed")
        co_return make_error(errc::invalid_argument, "invalid condition: \"" + condition + "\"");
    std::uint64_t target = c->exits + 1;
    for (;;) {
        if (condition == "removed" && c->removed) break;
        if (condition == "next-exit" && (c->exits >= target || c->removed)) break;
        if (condition == "not-running" && !c->running() && !c->starting) break;
        co_await c->changed->wait();
        if (co_await cancelled()) co_return make_error(errc::unavailable, "wait cancelled");
    }
    co_return c->exit_code;
}

awaitable<status> engine::kill_container(std::string ref, int signal) {
    auto found = find_container(ref);
    if (!found) co_return found.err();
    auto& c = **found;
    if (!c.running()) co_return make_error(errc::conflict, "Container " + c.id + " is not running");
    auto sent = _monitor->send({monitor::msg::signal, {{"id", c.id}, {"signal", signal}}, {}});
    if (!sent) co_return sent;
    emit(c, "kill", {{"signal", std::to_string(signal)}});
    // As Docker: SIGKILL or the stop signal to a paused container thaws it,
    // so that the signal is delivered.
    if (c.paused) {
        int stop_signal = SIGTERM;
        if (std::string ss = str_field(c.config, "StopSignal"); !ss.empty()) stop_signal = parse_signal(ss);
        if (signal == SIGKILL || signal == stop_signal) co_await thaw_after_signal(*found);
    }
    co_return sent;
}

awaitable<bool> engine::wait_exits(container_ptr c, std::uint64_t target, std::chrono::milliseconds timeout) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer deadline(_loop, timeout);
    while (c->exits < target && !c->removed) {
        auto r = co_await (c->changed->wait() || deadline.async_wait(use_awaitable));
        if (r.index() == 1) co_return c->exits >= target;
    }
    co_return true;
}

awaitable<result<bool>> engine::stop_container(std::string ref, std::optional<int> timeout_s, int signal) {
    auto found = find_container(ref);
    if (!found) co_return found.err();
    container_ptr c = *found;
    c->manual_stop = true;  // no restart policy brings it back
    // A start in flight (a policy's restart, say) finishes first: the stop
    // then applies to what it started.
    while (c->starting) {
        asio::steady_timer t(_loop, std::chrono::milliseconds(5));
        co_await t.async_wait(use_awaitable);
    }
    if (!c->running()) {
        bool was_restarting = std::exchange(c->restarting, false);
        if (!c->removed) persist(*c);
        co_return was_restarting;
    }
    if (std::string ss = str_field(c->config, "StopSignal"); signal <= 0 && !ss.empty()) signal = parse_signal(ss);
    if (signal <= 0) signal = SIGTERM;
    int timeout = 10;
    if (auto* t = c->config.if_contains("StopTimeout"); t && t->is_number()) timeout = t->to_number<int>();
    if (timeout_s) timeout = *timeout_s;
    std::uint64_t target = c->exits + 1;
    auto sent = co_await kill_container(c->id, signal);
    if (!sent) co_return sent.err();
    // Any stop signal (also one given with the request) reaches a paused container.
    if (c->paused) co_await thaw_after_signal(c);
    // timeout < 0 waits forever, as Docker's -t -1.
    auto wait_for = timeout < 0 ? std::chrono::milliseconds(std::chrono::hours(24 * 365)) : std::chrono::milliseconds(timeout * 1000);
    if (!co_await wait_exits(c, target, wait_for)) {
        log::info("container {} did not stop within {} s after signal {}; killing it", c->id.substr(0, 12), timeout, signal);
        if (c->running()) {
            auto killed = co_await kill_container(c->id, SIGKILL);
            if (!killed) co_return killed.err();
        }
        // PID 1 dying takes its pid namespace with it; the cgroup is killed
        // as well where the kernel has cgroup.kill, for processes that left it.
        auto job = [this, id = c->id] { return _cgroups->kill(id); };
        co_await _workers.run(offload_reason::cgroup, std::move(job));
        co_await wait_exits(c, target, std::chrono::seconds(30));
    }
    emit(*c, "stop");
    co_return true;
}

awaitable<status> engine::restart_container(std::string ref, std::optional<int> timeout_s, int signal) {
    auto found = find_container(ref);
    if (!found) co_return found.err();
    container_ptr c = *found;
    auto stopped = co_await stop_container(c->id, timeout_s, signal);
    if (!stopped) co_return stopped.err();
    auto started = co_await start_container(c->id);
    if (!started) co_return started.err();
    emit(*c, "restart");
    co_return ok();
}

awaitable<status> engine::pause_container(std::string ref) {
    auto found = find_container(ref);
    if (!found) co_return found.err();
    container_ptr c = *found;
    if (!c->running()) co_return make_error(errc::conflict, "Container " + c->id + " is not running");
    if (c->paused) co_return make_error(errc::conflict, "Container " + c->id + " is already paused");
    // Marked before the freeze so that a second pause meanwhile is refused.
    c->paused = true;
    auto job = [this, id = c->id] { return _cgroups->freeze(id, true); };
    auto frozen = co_await _workers.run(offload_reason::cgroup, std::move(job));
    if (!frozen) {
        c->paused = false;
        auto undo = [this, id = c->id] { return _cgroups->freeze(id, false); };
        co_await _workers.run(offload_reason::cgroup, std::move(undo));
        co_return frozen.err().wrap("pause container " + c->id);
    }
    if (!c->running() || c->removed) {
        // It exited while freezing: nothing is paused.
        c->paused = false;
        co_return ok();
    }
    persist(*c);
    c->changed->notify();
    emit(*c, "pause");
    co_return ok();
}

awaitable<status> engine::unpause_container(std::string ref) {
    auto found = find_container(ref);
    if (!found) co_return found.err();
    container_ptr c = *found;
    if (!c->paused || !c->running()) co_return make_error(errc::conflict, "Container " + c->id + " is not paused");
    c->paused = false;
    auto job = [this, id = c->id] { return _cgroups->freeze(id, false); };
    auto thawed = co_await _workers.run(offload_reason::cgroup, std::move(job));
    if (!thawed) {
        if (c->running()) c->paused = true;
        co_return thawed.err().wrap("unpause container " + c->id);
    }
    if (!c->removed) persist(*c);
    c->changed->notify();
    emit(*c, "unpause");
    co_return ok();
}

awaitable<void> engine::thaw_after_signal(container_ptr c) {
    if (!c->paused) co_return;
    c->paused = false;
    auto job = [this, id = c->id] { return _cgroups->freeze(id, false); };
    auto thawed = co_await _workers.run(offload_reason::cgroup, std::move(job));
    // A cgroup already gone (the container exited) is not worth a warning.
    if (!thawed && c->running()) log::warn("thaw container {}: {}", c->id.substr(0, 12), thawed.err().message);
    if (!c->removed && c->status != "removing") persist(*c);
    c->changed->notify();
}

awaitable<status> engine::rename_container(std::string ref, std::string new_name) {
    auto found = find_container(ref);
    if (!found) co_return found.err();
    container_ptr c = *found;
    if (!new_name.empty() && new_name[0] == '/') new_name.erase(0, 1);
    if (new_name.empty()) co_return make_error(errc::invalid_argument, "Neither old nor new names may be empty");
    if (new_name == c->name)
        co_return make_error(errc::invalid_argument, "Renaming a container with the same name as its current name");
    if (c->status == "removing" || c->removed)
        co_return make_error(errc::conflict, "removal of container " + c->id + " is already in progress");
    if (auto checked = check_container_name(new_name, _names); !checked) co_return checked.err();
    std::string old_name = c->name;
    _names.erase(old_name);
    _names[new_name] = c->id;
    c->name = new_name;
    // Reply only once the new name is durable.
    status commit_status = co_await persist_durably(*c);
    if (!commit_status) {
        if (!c->removed && c->name == new_name && !_names.count(old_name)) {
            _names.erase(new_name);
            _names[old_name] = c->id;
            c->name = old_name;
        }
        co_return commit_status.err().wrap("rename container " + c->id);
    }
    emit(*c, "rename", {{"oldName", "/" + old_name}});
    co_return ok();
}

void engine::emit(const container& c, std::string action, std::map<std::string, std::string> extra) {
    event e;
    e.action = std::move(action);
    e.id = c.id;
    e.time_ns = now_ns();
    if (auto* l = c.config.if_contains("Labels"); l && l->is_object())
        for (auto& [k, v] : l->as_object())
            if (v.is_string()) e.attributes[std::string(k)] = std::string(v.as_string());
    e.attributes["image"] = c.image_ref;
    e.attributes["name"] = c.name;
    for (auto& [k, v] : extra) e.attributes[k] = v;
    _events.publish(std::move(e));
}

void engine::write_stdin(container& c, std::string data, bool close) {
    if (!c.stdin_direct) {
        if (c.stdin_held.size() < (64u << 20)) c.stdin_held += data;
        c.stdin_close_held = c.stdin_close_held || close;
        return;
    }
    // One packet each: a SOCK_SEQPACKET message must fit the socket buffer.
    constexpr std::size_t chunk = 64 * 1024;
    for (std::size_t off = 0; off < data.size(); off += chunk)
        (void)_monitor->send({monitor::msg::stdin_data, {{"id", c.id}}, data.substr(off, chunk)});
    if (close) (void)_monitor->send({monitor::msg::stdin_close, {{"id", c.id}}, {}});
}

std::size_t engine::monitor_backlog() const { return _monitor->backlog(); }

awaitable<status> engine::remove_container(std::string ref, bool force, bool remove_volumes) {
    auto found = find_container(ref);
    if (!found) co_return found.err();
    container_ptr c = *found;
    if (c->status == "removing") co_return make_error(errc::conflict, "removal of container " + c->id + " is already in progress");
    if (force || !c->running()) c->manual_stop = true;
    if (c->running() || c->starting) {
        if (!force)
            co_return make_error(errc::conflict, "You cannot remove a running container " + c->id +
                                                     ". Stop the container before attempting removal or force remove");
        std::uint64_t target = c->exits + 1;
        bool was_starting = c->starting && !c->running();
        c->status = "removing";
        (void)_monitor->send({monitor::msg::signal, {{"id", c->id}, {"signal", 9}}, {}});
        if (c->paused) co_await thaw_after_signal(c);
        // A start in flight ends as a failed start or an exit; both count.
        if (!co_await wait_exits(c, target, std::chrono::seconds(was_starting ? 30 : 60)))
            log::warn("container {} did not report its exit after SIGKILL; removing it anyway", c->id.substr(0, 12));
    }
    co_return co_await destroy_with_volumes(c, remove_volumes);
}

awaitable<status> engine::destroy_with_volumes(container_ptr c, bool remove_volumes) {
    // A --rm container removes its anonymous volumes itself (as Docker does).
    auto anon = removable_volumes_of(c->host_config);
    auto s = co_await destroy(c);
    if (s && (remove_volumes || c->auto_remove()) && !anon.empty()) co_await remove_anonymous_volumes(std::move(anon));
    co_return s;
}

awaitable<void> engine::remove_anonymous_volumes(std::vector<std::string> names) {
    for (const auto& [id, other] : _containers)
        for (const auto& n : volume_names_of(other->host_config)) std::erase(names, n);
    auto job = [root = _opts.data_root, names]() -> status {
        for (const auto& n : names)
            if (auto r = volumes::remove(root, n); !r && r.err().code != errc::not_found)
                log::warn("remove anonymous volume {}: {}", n, r.err().message);
        return ok();
    };
    co_await _workers.run(offload_reason::filesystem, std::move(job));
}

awaitable<status> engine::persist_durably(const container& c) {
    // Shared with the callback: a waiter cancelled before the commit
    // leaves it nothing of its frame to write into.
    auto commit = std::make_shared<container::pending_commit>(_loop.get_executor());
    persist(c, [commit](status s) {
        commit->outcome = s;
        commit->done.set();
    });
    co_await commit->done.wait();
    if (!commit->done.is_set()) co_return make_error(errc::unavailable, "cancelled before the commit");
    co_return commit->outcome;
}

bool engine::should_restart(const container& c) const {
    if (c.manual_stop || c.removed || c.status != "exited") return false;
    auto* rp = c.host_config.if_contains("RestartPolicy");
    if (!rp || !rp->is_object()) return false;
    std::string policy = str_field(rp->as_object(), "Name");
    if (policy == "always" || policy == "unless-stopped") return true;
    if (policy != "on-failure" || c.exit_code == 0) return false;
    auto* m = rp->as_object().if_contains("MaximumRetryCount");
    std::int64_t max = m && m->is_number() ? m->to_number<std::int64_t>() : 0;
    return max == 0 || c.restart_count < max;
}

awaitable<void> engine::restart_after_backoff(container_ptr c) {
    // Docker's back-off: 100 ms, doubling at each restart up to a minute;
    // a container that ran 10 s or more starts over at 100 ms.
    bool ran_long = c->finished_ns - c->started_ns >= std::int64_t(10) * 1000000000;
    c->restart_delay_ms = (ran_long || c->restart_delay_ms == 0) ? 100 : std::min(c->restart_delay_ms * 2, 60000);
    c->restarting = true;
    c->changed->notify();
    asio::steady_timer t(_loop, std::chrono::milliseconds(c->restart_delay_ms));
    co_await t.async_wait(use_awaitable);
    // A stop, rm or user start during the back-off cancels this restart.
    if (!c->restarting || c->manual_stop || c->removed || c->status != "exited") co_return;
    c->restart_count++;
    persist(*c);
    // Still "restarting" while the start is in flight (as Docker): no
    // client sees the old exit with the new count.
    auto s = co_await start_container(c->id, true);
    c->restarting = false;
    c->changed->notify();
    if (!s) log::warn("restart policy: start {}: {}", c->id.substr(0, 12), s.err().message);
}

awaitable<std::vector<std::string>> engine::prune_containers() {
    std::vector<container_ptr> victims;
    for (auto& [id, c] : _containers)
        if (!c->running() && !c->starting && !c->restarting && c->status != "removing") victims.push_back(c);
    std::vector<std::string> removed;
    for (auto& c : victims) {
        if (c->removed || c->running() || c->starting) continue;  // changed meanwhile
        auto s = co_await destroy(c);
        if (s) removed.push_back(c->id);
        else log::warn("prune {}: {}", c->id.substr(0, 12), s.err().message);
    }
    emit_prune(removed.size());
    co_return removed;
}

void engine::emit_prune(std::size_t count) {
    event e;
    e.action = "prune";
    e.time_ns = now_ns();
    e.attributes["reclaimed"] = "0";
    e.attributes["count"] = std::to_string(count);
    _events.publish(std::move(e));
}

awaitable<void> engine::finish_removal(container_ptr c) {
    if (c->removed || c->status == "removing") co_return;
    auto anon = removable_volumes_of(c->host_config);
    auto s = co_await destroy(c);
    if (!s) log::warn("auto-remove {}: {}", c->id, s.err().message);
    else if (!anon.empty()) co_await remove_anonymous_volumes(std::move(anon));
}

awaitable<status> engine::destroy(container_ptr c) {
    c->status = "removing";
    // Created from a pool and never started: its parked child goes first
    // (the cgroup follows once its death is reported).
    const bool sandbox_alive = c->parked;
    if (c->parked) {
        c->parked = false;
        discard_sandbox(c->id, false);
    }
    std::string dir = container_dir(c->id);
    // The cgroup goes here unless a removal of it is queued or in flight
    // (record_exit, drain_teardown): a container removed at its exit (--rm,
    // a batch's), a failed start's, one whose removal after its exit failed.
    // The directory is kept as a spare if untouched (engine/container_dirs.h)
    // only when nothing can still have its overlay mounted: no parked child
    // (killed, not yet reaped), no namespaces the monitor holds, and the
    // cgroup removed here, so known empty (not a process that outlived a
    // SIGKILL, nor one of a monitor that was lost).
    const bool cgroup = c->cgroup_removals == 0;
    spare_dirs* spares = sandbox_alive || c->namespaces_held || !cgroup ? nullptr : _spare_dirs.get();
    // A batch's container: its spare cgroup and spare directory go under one
    // name (a fresh container id), published only once both are, so that
    // the batch's create that claims it finds everything made
    // (create_container). Others' spares are taken by renames.
    const bool together = spares && c->batch_removes;
    auto job6 = [this, dir, id = c->id, cgroup, spares, together]() -> status {
        std::string kept;
        const bool emptied = cgroup && _cgroups->remove(id, together ? &kept : nullptr);
        auto publish = scope_exit([&] {
            if (!kept.empty()) _cgroups->publish_spare(kept);
        });
        if (spares && emptied && spares->give(dir, kept)) return ok();
        return remove_all(dir);
    };
    auto s = co_await _workers.run(offload_reason::filesystem, std::move(job6));
    if (!s) {
        c->status = "exited";
        co_return s.err().wrap("remove container " + c->id);
    }
    _db->erase("container", c->id, {}, false);
    wake_db_soon();
    _containers.erase(c->id);
    _names.erase(c->name);
    std::erase_if(_execs, [&](const auto& kv) { return kv.second->container_id == c->id; });
    c->removed = true;
    emit(*c, "destroy");
    c->changed->notify();
    c->output->notify();
    co_return ok();
}

std::vector<log_entry> engine::entries_after(const container& c, std::uint64_t after) const {
    std::vector<log_entry> out;
    for (auto it = c.recent.rbegin(); it != c.recent.rend() && it->seq > after; ++it) out.push_back(*it);
    std::reverse(out.begin(), out.end());
    return out;
}

result<std::vector<log_entry>> engine::read_log_file(const std::string& path, std::uint64_t* end_offset) {
    // The rotated files too, oldest first; offsets as the monitor reports
    // them (engine/monitor/json_log.h).
    BERTH_ASSIGN(std::vector<json_log::chunk> chunks, json_log::read_json_log(path));
    std::vector<log_entry> out;
    std::uint64_t off = 0;
    for (auto& chunk : chunks) {
        off = chunk.start;
        std::string_view all = chunk.data;
        while (!all.empty()) {
            auto nl = all.find('\n');
            if (nl == std::string_view::npos) break;  // a partial line still being written
            std::string_view line = all.substr(0, nl);
            all.remove_prefix(nl + 1);
            off += nl + 1;
            boost::system::error_code ec;
            auto v = json::parse(line, ec);
            if (ec || !v.is_object()) continue;
            auto& o = v.as_object();
            log_entry e;
            e.text = str_field(o, "log");
            e.is_err = str_field(o, "stream") == "stderr";
            e.time_ns = parse_rfc3339(str_field(o, "time")).value_or(0);
            e.offset = off;
            out.push_back(std::move(e));
        }
    }
    if (end_offset) *end_offset = off;
    return out;
}

}  // namespace berth
