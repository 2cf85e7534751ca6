// GET /containers/json: Docker's all, limit, size, before, since and filters
// (engine/container_filter.h has the rules).
#include <charconv>

#include "base/util.h"
#include "daemon/handlers.h"
#include "engine/container_filter.h"

namespace berth::api {

namespace json = boost::json;

awaitable<bool> containers_list(socket_t& s, request& req, engine& eng) {
    container_list_options o;
    o.all = req.flag("all");
    o.before = req.get("before");
    o.since = req.get("since");
    if (std::string limit = req.get("limit"); !limit.empty()) {
        auto [end, ec] = std::from_chars(limit.data(), limit.data() + limit.size(), o.limit);
        if (ec != std::errc() || end != limit.data() + limit.size())
            co_return co_await reply_error(s, req, http::status::bad_request,
                                           "strconv.Atoi: parsing \"" + limit + "\": invalid syntax");
    }
    auto args = parse_filter_args(req.get("filters"));
    if (!args) co_return co_await reply_error(s, req, args.err());
    o.filters = std::move(*args);

    std::vector<container_ptr> all = eng.containers();  // newest first
    auto resolve = [&eng](std::string_view ref) -> result<std::string> {
        BERTH_ASSIGN(storage::image_record img, eng.find_image(ref));
        return img.id;
    };
    auto filter = container_filter::make(o, all, resolve);
    if (!filter) co_return co_await reply_error(s, req, filter.err());
    std::vector<container_ptr> picked = filter->select(all);

    json::array out;
    for (auto& c : picked) out.push_back(eng.list_json(*c));
    if (req.flag("size")) {
        // SizeRw: what the container wrote (its overlay upper dir);
        // SizeRootFs: that plus its image. Walking the trees blocks.
        std::vector<std::string> uppers;
        for (auto& c : picked) uppers.push_back(eng.container_dir(c->id) + "/upper");
        auto job = [uppers = std::move(uppers)] {
            std::vector<std::uint64_t> sizes;
            for (auto& dir : uppers) sizes.push_back(disk_usage(dir).value_or(0));
            return sizes;
        };
        std::vector<std::uint64_t> sizes = co_await eng.workers().run(offload_reason::filesystem, std::move(job));
        for (std::size_t i = 0; i < out.size(); ++i) {
            std::uint64_t rw = i < sizes.size() ? sizes[i] : 0;
            std::uint64_t image = 0;
            if (auto img = eng.find_image(picked[i]->image_id)) image = img->size;
            auto& obj = out[i].as_object();
            obj["SizeRw"] = rw;
            obj["SizeRootFs"] = rw + image;
        }
    }
    co_return co_await reply_json(s, req, http::status::ok, out);
}

}  // namespace berth::api
