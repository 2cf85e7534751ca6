// berth images [-a] [-q] [--no-trunc] [REPOSITORY[:TAG]]
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <memory>
#include <set>

#include "cli/api.h"
#include "cli/command.h"
#include "cli/common.h"

namespace berth::cli {

namespace json = boost::json;

namespace {

struct options {
    bool all = false;
    bool quiet = false;
    bool no_trunc = false;
    std::string reference;
};

std::vector<std::string> strings_of(const json::value& obj, std::string_view key) {
    std::vector<std::string> out;
    const auto* o = obj.if_object();
    const auto* a = o ? o->if_contains(key) : nullptr;
    if (!a || !a->is_array()) return out;
    for (const auto& s : a->get_array())
        if (s.is_string()) out.emplace_back(s.get_string());
    return out;
}

// One row per tag; repositories known only by digest show tag <none>; an
// image with neither shows <none> <none>.
std::vector<std::pair<std::string, std::string>> repo_tags_of(const json::value& image) {
    std::vector<std::pair<std::string, std::string>> rows;
    std::set<std::string> tagged_repos;
    for (const auto& rt : strings_of(image, "RepoTags")) {
        if (rt == "<none>:<none>") continue;
        auto [repo, tag] = split_reference(rt);
        tagged_repos.insert(repo);
        rows.emplace_back(repo, tag.empty() ? "<none>" : tag);
    }
    for (const auto& rd : strings_of(image, "RepoDigests")) {
        if (rd == "<none>@<none>") continue;
        std::string repo = rd.substr(0, rd.find('@'));
        if (tagged_repos.insert(repo).second) rows.emplace_back(repo, "<none>");
    }
    if (rows.empty()) rows.emplace_back("<none>", "<none>");
    return rows;
}

int images(context& ctx, const options& o) {
    std::string query;
    if (o.all) query += "&all=1";
    if (!o.reference.empty())
        query += "&filters=" + escape_query(json::serialize(json::object{{"reference", json::object{{o.reference, true}}}}));
    auto list = get_list(ctx, "/images/json", query);
    if (!list) return fail(list.err(), 1);

    std::vector<std::vector<std::string>> rows = {{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"}};
    std::int64_t now = now_unix();
    for (const auto& image : list->get_array()) {
        std::string id = json_string(image, "Id");
        if (!o.no_trunc) id = short_id(id);
        for (const auto& [repo, tag] : repo_tags_of(image)) {
            if (o.quiet) {
                std::printf("%s\n", id.c_str());
                continue;
            }
            rows.push_back({repo, tag, id, time_ago(json_int(image, "Created"), now),
                            human_size(static_cast<double>(json_int(image, "Size")))});
        }
    }
    if (!o.quiet) std::fputs(format_table(rows).c_str(), stdout);
    return 0;
}

action setup(CLI::App& sub) {
    auto o = std::make_shared<options>();
    sub.add_flag("-a,--all", o->all, "Show all images (default hides intermediate images)");
    sub.add_flag("-q,--quiet", o->quiet, "Only show image IDs");
    sub.add_flag("--no-trunc", o->no_trunc, "Don't truncate output");
    sub.add_option("REPOSITORY", o->reference, "Only images matching this reference");
    return [o](context& ctx) { return images(ctx, *o); };
}

}  // namespace

command images_command() { return {"images", "List images", 1, setup}; }

}  // namespace berth::cli
