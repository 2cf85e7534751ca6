// GET /system/df: what `docker system df` shows, in moby's shape (API
// 1.41): LayersSize, Images (Containers using each, SharedSize: its layers
// that another image also uses), Containers (SizeRw, SizeRootFs), Volumes
// (UsageData: Size of _data, RefCount: containers naming it), BuildCache
// (berth has no builder: empty) and BuilderSize. Sizes walk directories on
// a worker.
#include <map>
#include <set>

#include "base/util.h"
#include "daemon/handlers.h"
#include "engine/config_util.h"
#include "engine/mount_config.h"
#include "engine/volumes.h"

namespace berth::api {

namespace json = boost::json;

namespace {

struct df_sizes {
    std::map<std::string, std::uint64_t> layers;  // chain id -> unpacked size
    std::vector<std::uint64_t> uppers;            // per container, in order
    std::vector<volumes::volume> vols;
    std::vector<std::uint64_t> vol_sizes;
};

// layerinfo/<chain hex>: {"diff_id", "size"} (storage/images.h).
std::uint64_t layer_size(const std::string& store_root, const std::string& chain_id) {
    auto colon = chain_id.find(':');
    auto text = read_file(store_root + "/layerinfo/" + chain_id.substr(colon == std::string::npos ? 0 : colon + 1));
    if (!text) return 0;
    boost::system::error_code ec;
    auto v = json::parse(*text, ec);
    if (ec || !v.is_object()) return 0;
    auto* s = v.as_object().if_contains("size");
    return s && s->is_number() ? s->to_number<std::uint64_t>() : 0;
}

}  // namespace

awaitable<bool> system_df(socket_t& s, request& req, engine& eng) {
    auto images = eng.images();
    std::sort(images.begin(), images.end(), [](auto& a, auto& b) { return a.created_ns > b.created_ns; });
    auto containers = eng.containers();
    std::set<std::string> chains;
    for (const auto& img : images) chains.insert(img.chain_ids.begin(), img.chain_ids.end());
    std::vector<std::string> uppers;
    for (const auto& c : containers) uppers.push_back(eng.container_dir(c->id) + "/upper");
    auto job = [store_root = eng.store().root(), data_root = eng.options().data_root, chains,
                uppers = std::move(uppers)]() -> result<df_sizes> {
        df_sizes out;
        for (const auto& id : chains) out.layers[id] = layer_size(store_root, id);
        for (const auto& dir : uppers) out.uppers.push_back(disk_usage(dir).value_or(0));
        BERTH_ASSIGN(out.vols, volumes::list(data_root));
        for (const auto& v : out.vols) out.vol_sizes.push_back(disk_usage(volumes::data_path(data_root, v.name)).value_or(0));
        return out;
    };
    auto sizes = co_await eng.workers().run(offload_reason::filesystem, std::move(job));
    if (!sizes) co_return co_await reply_error(s, req, sizes.err());

    std::map<std::string, int> layer_users;  // images per layer
    for (const auto& img : images)
        for (const auto& id : std::set<std::string>(img.chain_ids.begin(), img.chain_ids.end())) layer_users[id]++;
    std::uint64_t layers_size = 0;
    for (const auto& [id, size] : sizes->layers) layers_size += size;

    json::array image_list;
    for (const auto& img : images) {
        json::object o = eng.image_json(img, false);
        std::int64_t users = 0;
        for (const auto& c : containers) users += c->image_id == img.id;
        std::uint64_t shared = 0;
        for (const auto& id : std::set<std::string>(img.chain_ids.begin(), img.chain_ids.end()))
            if (layer_users[id] > 1) shared += sizes->layers[id];
        o["Containers"] = users;
        o["SharedSize"] = shared;
        image_list.push_back(std::move(o));
    }

    json::array container_list;
    for (std::size_t i = 0; i < containers.size(); ++i) {
        json::object o = eng.list_json(*containers[i]);
        std::uint64_t image = 0;
        if (auto img = eng.find_image(containers[i]->image_id)) image = img->size;
        o["SizeRw"] = sizes->uppers[i];
        o["SizeRootFs"] = sizes->uppers[i] + image;
        container_list.push_back(std::move(o));
    }

    std::map<std::string, std::int64_t> refs;
    for (const auto& c : containers) {
        const auto names = volume_names_of(c->host_config);
        for (const auto& n : std::set<std::string>(names.begin(), names.end())) refs[n]++;
    }
    json::array volume_list;
    for (std::size_t i = 0; i < sizes->vols.size(); ++i) {
        const auto& v = sizes->vols[i];
        json::object o = volumes::to_json(eng.options().data_root, v);
        o["UsageData"] = json::object{{"Size", sizes->vol_sizes[i]}, {"RefCount", refs[v.name]}};
        volume_list.push_back(std::move(o));
    }

    json::object body{{"LayersSize", layers_size},
                      {"Images", std::move(image_list)},
                      {"Containers", std::move(container_list)},
                      {"Volumes", std::move(volume_list)},
                      {"BuildCache", json::array{}},
                      {"BuilderSize", 0}};
    co_return co_await reply_json(s, req, http::status::ok, body);
}

}  // namespace berth::api
