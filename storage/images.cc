#include "storage/images.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <simdjson.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "base/fd.h"
#include "base/sha256.h"
#include "base/sys.h"
#include "base/util.h"
#include "storage/unpack.h"

namespace berth::storage {

namespace sj = simdjson::ondemand;

namespace {

#if defined(__aarch64__)
constexpr std::string_view host_arch = "arm64";
#else
constexpr std::string_view host_arch = "amd64";
#endif

constexpr std::string_view media_oci_index = "application/vnd.oci.image.index.v1+json";
constexpr std::string_view media_docker_list = "application/vnd.docker.distribution.manifest.list.v2+json";
constexpr std::string_view media_oci_manifest = "application/vnd.oci.image.manifest.v1+json";
constexpr std::string_view media_docker_manifest = "application/vnd.docker.distribution.manifest.v2+json";
constexpr std::string_view media_oci_config = "application/vnd.oci.image.config.v1+json";
constexpr std::string_view media_docker_config = "application/vnd.docker.container.image.v1+json";

constexpr std::string_view annotation_ref_name = "org.opencontainers.image.ref.name";
constexpr std::string_view annotation_image_name = "io.containerd.image.name";

// Nesting of indexes followed before giving up (an index of indexes is rare).
constexpr int max_index_depth = 4;
// Symlinks followed while resolving one path inside a loaded archive.
constexpr int max_link_hops = 40;

// ---------------------------------------------------------------------------
// JSON in (simdjson On-Demand). Every parse copies what it keeps into plain
// structs before the parser goes away.

error json_error(std::string_view what, simdjson::error_code e) {
    std::string msg = simdjson::error_message(e);
    if (!msg.empty() && msg.back() == '.') msg.pop_back();
    for (auto& c : msg) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return make_error(errc::invalid_argument, std::string(what) + ": invalid json: " + msg);
}

#define JSON_TRY(what, expr)                              \
    do {                                                  \
        if (auto _berth_e = (expr); _berth_e)             \
            return json_error(what, _berth_e);            \
    } while (0)

struct json_input {
    explicit json_input(std::string_view text) : padded(text) {}
    simdjson::padded_string padded;
    sj::parser parser;
    sj::document doc;
};

simdjson::error_code is_null(sj::value& v, bool& out) {
    sj::json_type t;
    if (auto e = v.type().get(t)) return e;
    out = t == sj::json_type::null;
    return simdjson::SUCCESS;
}

simdjson::error_code get_string(sj::value& v, std::string& out) {
    std::string_view s;
    if (auto e = v.get_string().get(s)) return e;
    out = s;
    return simdjson::SUCCESS;
}

// An array of strings; null is an empty array.
simdjson::error_code get_strings(sj::value& v, std::vector<std::string>& out) {
    bool null = false;
    if (auto e = is_null(v, null)) return e;
    if (null) return simdjson::SUCCESS;
    sj::array arr;
    if (auto e = v.get_array().get(arr)) return e;
    for (auto el : arr) {
        std::string_view s;
        if (auto e = el.get_string().get(s)) return e;
        out.emplace_back(s);
    }
    return simdjson::SUCCESS;
}

// An object of strings; null is an empty object.
simdjson::error_code get_string_map(sj::value& v, std::map<std::string, std::string>& out) {
    bool null = false;
    if (auto e = is_null(v, null)) return e;
    if (null) return simdjson::SUCCESS;
    sj::object obj;
    if (auto e = v.get_object().get(obj)) return e;
    for (auto field : obj) {
        std::string_view key, val;
        if (auto e = field.unescaped_key().get(key)) return e;
        std::string k(key);
        if (auto e = field.value().get_string().get(val)) return e;
        out[std::move(k)] = std::string(val);
    }
    return simdjson::SUCCESS;
}

// Calls fn(key, value) for each field of the object json (a document or a
// value), in order; the first error, the document's or fn's, ends the walk.
template <class Json, class Fn>
status for_each_field(Json&& json, std::string_view what, Fn&& fn) {
    sj::object obj;
    JSON_TRY(what, json.get_object().get(obj));
    for (auto field : obj) {
        std::string_view key;
        JSON_TRY(what, field.unescaped_key().get(key));
        sj::value val;
        JSON_TRY(what, field.value().get(val));
        BERTH_TRY(fn(key, val));
    }
    return ok();
}

// An OCI content descriptor (the fields berth uses).
struct descriptor {
    std::string media_type;
    std::string digest;
    std::int64_t size = -1;
    std::map<std::string, std::string> annotations;
    bool has_platform = false;
    std::string os;
    std::string architecture;
};

result<descriptor> parse_descriptor(sj::value v, std::string_view what) {
    descriptor d;
    BERTH_TRY(for_each_field(v, what, [&](std::string_view key, sj::value& val) -> status {
        if (key == "mediaType") {
            JSON_TRY(what, get_string(val, d.media_type));
        } else if (key == "digest") {
            JSON_TRY(what, get_string(val, d.digest));
        } else if (key == "size") {
            JSON_TRY(what, val.get_int64().get(d.size));
        } else if (key == "annotations") {
            JSON_TRY(what, get_string_map(val, d.annotations));
        } else if (key == "platform") {
            BERTH_TRY(for_each_field(val, what, [&](std::string_view pkey, sj::value& pval) -> status {
                if (pkey == "os") JSON_TRY(what, get_string(pval, d.os));
                else if (pkey == "architecture") JSON_TRY(what, get_string(pval, d.architecture));
                return ok();
            }));
            d.has_platform = true;
        }
        return ok();
    }));
    if (!is_digest(d.digest))
        return make_error(errc::invalid_argument,
                          std::string(what) + ": unsupported or invalid digest \"" + d.digest + "\"");
    return d;
}

// An OCI index or image manifest: which one it is depends on the fields present.
struct oci_document {
    std::string media_type;
    bool has_manifests = false;
    std::vector<descriptor> manifests;
    bool has_config = false;
    descriptor config;
    std::vector<descriptor> layers;
};

result<oci_document> parse_oci_document(std::string_view text, std::string_view what) {
    json_input in(text);
    JSON_TRY(what, in.parser.iterate(in.padded).get(in.doc));
    oci_document out;
    BERTH_TRY(for_each_field(in.doc, what, [&](std::string_view key, sj::value& val) -> status {
        if (key == "mediaType") {
            JSON_TRY(what, get_string(val, out.media_type));
        } else if (key == "manifests" || key == "layers") {
            bool manifests = key == "manifests";
            sj::array arr;
            JSON_TRY(what, val.get_array().get(arr));
            for (auto el : arr) {
                sj::value ev;
                JSON_TRY(what, el.get(ev));
                BERTH_ASSIGN(descriptor d, parse_descriptor(ev, what));
                (manifests ? out.manifests : out.layers).push_back(std::move(d));
            }
            if (manifests) out.has_manifests = true;
        } else if (key == "config") {
            BERTH_ASSIGN(out.config, parse_descriptor(val, what));
            out.has_config = true;
        }
        return ok();
    }));
    return out;
}

// One entry of a `docker save` manifest.json.
struct docker_manifest_entry {
    std::string config;
    std::vector<std::string> repo_tags;
    std::vector<std::string> layers;
};

result<std::vector<docker_manifest_entry>> parse_docker_manifest(std::string_view text, std::string_view what) {
    json_input in(text);
    JSON_TRY(what, in.parser.iterate(in.padded).get(in.doc));
    sj::array arr;
    JSON_TRY(what, in.doc.get_array().get(arr));
    std::vector<docker_manifest_entry> out;
    for (auto el : arr) {
        docker_manifest_entry entry;
        BERTH_TRY(for_each_field(el, what, [&](std::string_view key, sj::value& val) -> status {
            if (key == "Config") JSON_TRY(what, get_string(val, entry.config));
            else if (key == "RepoTags") JSON_TRY(what, get_strings(val, entry.repo_tags));
            else if (key == "Layers") JSON_TRY(what, get_strings(val, entry.layers));
            return ok();
        }));
        if (entry.config.empty())
            return make_error(errc::invalid_argument, std::string(what) + ": entry without Config");
        out.push_back(std::move(entry));
    }
    return out;
}

// What berth reads from an image config.
struct config_summary {
    std::vector<std::string> diff_ids;
    std::string created;
};

result<config_summary> parse_image_config(std::string_view text, std::string_view what) {
    json_input in(text);
    JSON_TRY(what, in.parser.iterate(in.padded).get(in.doc));
    config_summary out;
    bool has_diff_ids = false;
    BERTH_TRY(for_each_field(in.doc, what, [&](std::string_view key, sj::value& val) -> status {
        if (key == "created") {
            bool null = false;
            JSON_TRY(what, is_null(val, null));
            if (!null) JSON_TRY(what, get_string(val, out.created));
        } else if (key == "rootfs") {
            BERTH_TRY(for_each_field(val, what, [&](std::string_view rkey, sj::value& rval) -> status {
                if (rkey != "diff_ids") return ok();
                JSON_TRY(what, get_strings(rval, out.diff_ids));
                has_diff_ids = true;
                return ok();
            }));
        }
        return ok();
    }));
    if (!has_diff_ids) return make_error(errc::invalid_argument, std::string(what) + ": no rootfs.diff_ids");
    for (auto& d : out.diff_ids)
        if (!is_digest(d))
            return make_error(errc::invalid_argument, std::string(what) + ": invalid diff id \"" + d + "\"");
    return out;
}

// ---------------------------------------------------------------------------
// Layers.

std::string layer_info_path(const image_store& store, std::string_view chain_id) {
    return store.root() + "/layerinfo/" + std::string(digest_hex(chain_id));
}

// Writes path through a uniquely named temporary file: concurrent writers of
// the same path never share a temporary.
status write_file_replace(const std::string& path, std::string_view data) {
    std::string tmp = path + ".tmp-" + random_id().substr(0, 16);
    if (auto st = write_file(tmp, data); !st) {
        ::unlink(tmp.c_str());
        return st;
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        error e = sys_error("rename " + tmp);
        ::unlink(tmp.c_str());
        return e;
    }
    return ok();
}

// Bytes of regular file content under dir, each inode once (the fallback
// when a layer's info file is missing).
std::uint64_t walk_size(const std::string& dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    std::set<std::pair<dev_t, ino_t>> seen;
    std::uint64_t total = 0;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        struct stat st;
        if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (seen.emplace(st.st_dev, st.st_ino).second) total += static_cast<std::uint64_t>(st.st_size);
    }
    return total;
}

std::uint64_t layer_size(const image_store& store, const std::string& chain_id) {
    if (auto text = read_file(layer_info_path(store, chain_id))) {
        json_input in(*text);
        sj::object obj;
        std::uint64_t size = 0;
        if (!in.parser.iterate(in.padded).get(in.doc) && !in.doc.get_object().get(obj) &&
            !obj["size"].get_uint64().get(size))
            return size;
    }
    return walk_size(store.layer_dir(chain_id));
}

// Diff ids already computed during one operation, by archive path.
using diff_id_memo = std::map<std::string, std::string>;

error diff_id_mismatch(std::string_view label, std::string_view expected, std::string_view got) {
    return make_error(errc::invalid_argument, "layer " + std::string(label) + ": diff id " + std::string(got) +
                                                  " does not match the image config (" + std::string(expected) +
                                                  ")");
}

// Makes sure layers/<chain hex> holds the layer in archive_path, whose
// uncompressed stream must have `diff_id`; returns the layer's size. The
// unpack is staged and its diff id checked before the rename, so a wrong
// archive never becomes a layer dir.
result<std::uint64_t> ensure_layer(image_store& store, const std::string& archive_path, const std::string& diff_id,
                                   const std::string& chain_id, const std::string& label, diff_id_memo& memo) {
    std::string dest = store.layer_dir(chain_id);
    if (store.has_layer(chain_id)) {
        // Already unpacked: only check that this archive is that layer.
        auto known = memo.find(archive_path);
        std::string got;
        if (known != memo.end()) {
            got = known->second;
        } else {
            auto r = compute_diff_id(archive_path);
            if (!r) return r.err().wrap("layer " + label);
            got = *r;
            memo[archive_path] = got;
        }
        if (got != diff_id) return diff_id_mismatch(label, diff_id, got);
        return layer_size(store, chain_id);
    }

    std::string staging = dest + ".staging-" + random_id().substr(0, 16);
    scope_exit drop([&] { (void)remove_all(staging); });
    auto unpacked = unpack_layer(archive_path, staging);
    if (!unpacked) return unpacked.err().wrap("layer " + label);
    memo[archive_path] = unpacked->diff_id;
    if (unpacked->diff_id != diff_id) return diff_id_mismatch(label, diff_id, unpacked->diff_id);

    boost::json::object info;
    info["diff_id"] = diff_id;
    info["size"] = unpacked->size;
    BERTH_TRY(write_file_replace(layer_info_path(store, chain_id), boost::json::serialize(info)));
    if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, dest.c_str(), RENAME_NOREPLACE) != 0) {
        // Another unpack of the same layer won the race: its copy is as good.
        if (errno != EEXIST && errno != ENOTEMPTY) return sys_error("commit layer " + chain_id);
        return layer_size(store, chain_id);
    }
    drop.dismiss();
    return unpacked->size;
}

struct layer_source {
    std::string path;   // the layer archive on disk
    std::string label;  // how errors name it
};

// Unpacks (or finds) every layer, stores the config blob and returns the record.
result<image_record> make_image(image_store& store, std::string config_json, const config_summary& config,
                                const std::vector<layer_source>& layers, std::vector<std::string> tags,
                                diff_id_memo& memo) {
    image_record rec;
    rec.diff_ids = config.diff_ids;
    rec.chain_ids = chain_ids(rec.diff_ids);
    for (std::size_t i = 0; i < layers.size(); ++i) {
        BERTH_ASSIGN(std::uint64_t size,
                     ensure_layer(store, layers[i].path, rec.diff_ids[i], rec.chain_ids[i], layers[i].label, memo));
        rec.size += size;
    }
    rec.id = sha256::of(config_json);
    BERTH_TRY(store.content().write_bytes(config_json, rec.id));
    rec.created_ns = parse_rfc3339(config.created).value_or(0);
    rec.config_json = std::move(config_json);
    rec.repo_tags = std::move(tags);
    return rec;
}

// ---------------------------------------------------------------------------
// The outer archive of `docker load`, unpacked into tmp/: regular files and
// directories only. Links are not created on disk; they are remembered and
// followed lexically when the manifests name a path, never leaving the
// archive.

// Components of a path, without "" and "."; ".." pops one, and popping past
// the start is nullopt.
std::optional<std::vector<std::string>> lexical_components(std::string_view path, std::vector<std::string> base = {}) {
    for (auto& c : split(path, '/')) {
        if (c.empty() || c == ".") continue;
        if (c == "..") {
            if (base.empty()) return std::nullopt;
            base.pop_back();
            continue;
        }
        base.push_back(c);
    }
    return base;
}

std::string join(const std::vector<std::string>& comps, std::size_t from = 0, std::size_t to = std::string::npos) {
    std::string out;
    for (std::size_t i = from; i < comps.size() && i < to; ++i) {
        if (!out.empty()) out += '/';
        out += comps[i];
    }
    return out;
}

struct extracted_archive {
    std::string root;
    std::map<std::string, std::string> links;  // entry name -> target, both archive-relative

    bool contains(std::string_view name) const {
        auto p = path(name);
        return p && path_exists(*p);
    }

    // The file a name in the archive refers to, links followed.
    result<std::string> path(std::string_view name) const {
        auto comps = lexical_components(name);
        if (!comps || comps->empty())
            return make_error(errc::invalid_argument, "path \"" + std::string(name) + "\" is outside the archive");
        for (int hop = 0; hop <= max_link_hops; ++hop) {
            bool replaced = false;
            for (std::size_t i = 1; i <= comps->size() && !replaced; ++i) {
                auto link = links.find(join(*comps, 0, i));
                if (link == links.end()) continue;
                std::vector<std::string> next = *lexical_components(link->second);
                next.insert(next.end(), comps->begin() + static_cast<std::ptrdiff_t>(i), comps->end());
                *comps = std::move(next);
                replaced = true;
            }
            if (!replaced) return root + "/" + join(*comps);
        }
        return make_error(errc::invalid_argument, "path \"" + std::string(name) + "\": too many levels of links");
    }

    // The content of a file the manifests are read from (manifest.json,
    // index.json), links followed.
    result<std::string> read_text(std::string_view name) const {
        BERTH_ASSIGN(std::string p, path(name));
        auto text = read_file(p);
        if (!text) return make_error(errc::invalid_argument, std::string(name) + ": not a regular file");
        return text;
    }
};

using archive_ptr = std::unique_ptr<struct archive, decltype(&archive_read_free)>;

error archive_failure(struct archive* a, std::string_view what) {
    int err = archive_errno(a);
    // A failed open or read is the system's error; anything else is the
    // archive's (libarchive reports bad formats as EILSEQ, misuse as EINVAL).
    if (err > 0 && err != EILSEQ && err != EINVAL) return sys_error(what, err);
    const char* raw = archive_error_string(a);
    std::string msg = raw && *raw ? raw : "unreadable archive";
    msg[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(msg[0])));
    if (msg.back() == '.') msg.pop_back();
    return {errc::invalid_argument, std::string(what) + ": " + msg, 0};
}

// mkdir -p of every directory above rel (and rel itself when with_self).
status make_parents_at(int rootfd, const std::string& rel, bool with_self, const std::string& shown) {
    for (std::size_t i = 0; i <= rel.size(); ++i) {
        bool end = i == rel.size();
        if (!(end ? with_self : rel[i] == '/')) continue;
        std::string dir = rel.substr(0, i);
        if (::mkdirat(rootfd, dir.c_str(), 0700) != 0 && errno != EEXIST)
            return sys_error("mkdir " + shown + "/" + dir);
    }
    return ok();
}

status extract_regular(struct archive* a, int rootfd, const std::string& rel, const std::string& shown) {
    BERTH_TRY(make_parents_at(rootfd, rel, false, shown));
    unique_fd fd(sys::openat2(rootfd, rel.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                              RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, 0600));
    if (!fd) return sys_error("create " + shown + "/" + rel);
    constexpr std::size_t chunk = 1 << 20;
    auto buf = std::make_unique<char[]>(chunk);
    for (;;) {
        la_ssize_t n = archive_read_data(a, buf.get(), chunk);
        if (n < 0) return archive_failure(a, "read entry " + rel);
        if (n == 0) return ok();
        const char* p = buf.get();
        std::size_t left = static_cast<std::size_t>(n);
        while (left > 0) {
            ssize_t w = ::write(fd.get(), p, left);
            if (w < 0) {
                if (errno == EINTR) continue;
                return sys_error("write " + shown + "/" + rel);
            }
            p += w;
            left -= static_cast<std::size_t>(w);
        }
    }
}

result<extracted_archive> extract_outer(const std::string& archive_path, const std::string& dir) {
    extracted_archive out;
    out.root = dir;
    unique_fd rootfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!rootfd) return sys_error("open " + dir);

    archive_ptr a(archive_read_new(), archive_read_free);
    archive_read_support_format_tar(a.get());
    archive_read_support_filter_gzip(a.get());
    archive_read_support_filter_zstd(a.get());
    archive_read_support_filter_xz(a.get());
    archive_read_support_filter_bzip2(a.get());
    if (archive_read_open_filename(a.get(), archive_path.c_str(), 1 << 16) != ARCHIVE_OK)
        return archive_failure(a.get(), "open " + archive_path);

    for (;;) {
        struct archive_entry* entry = nullptr;
        int r = archive_read_next_header(a.get(), &entry);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) return archive_failure(a.get(), "read " + archive_path);
        const char* raw = archive_entry_pathname(entry);
        if (!raw) raw = archive_entry_pathname_utf8(entry);
        if (!raw) return make_error(errc::invalid_argument, "read " + archive_path + ": entry without a name");
        std::string_view name(raw);
        auto comps = lexical_components(name);
        bool dotdot = false;
        for (auto& c : split(name, '/')) dotdot = dotdot || c == "..";
        if (name.empty() || name.front() == '/' || dotdot || !comps)
            return make_error(errc::invalid_argument,
                              "entry \"" + std::string(name) + "\" in " + archive_path + ": path escapes the archive");
        if (comps->empty()) continue;  // "./"
        std::string rel = join(*comps);

        if (const char* hard = archive_entry_hardlink(entry)) {
            auto target = lexical_components(hard);
            if (target && !target->empty()) out.links[rel] = join(*target);
            continue;
        }
        switch (archive_entry_filetype(entry)) {
        case AE_IFREG:
            out.links.erase(rel);
            BERTH_TRY(extract_regular(a.get(), rootfd.get(), rel, dir));
            break;
        case AE_IFDIR:
            BERTH_TRY(make_parents_at(rootfd.get(), rel, true, dir));
            break;
        case AE_IFLNK: {
            const char* target = archive_entry_symlink(entry);
            if (!target || !*target) break;
            std::vector<std::string> base;
            if (target[0] != '/') base.assign(comps->begin(), comps->end() - 1);
            // A link that points outside the archive is not followed.
            if (auto t = lexical_components(target, std::move(base)); t && !t->empty()) out.links[rel] = join(*t);
            break;
        }
        default:
            break;  // devices, fifos: nothing a loadable archive needs
        }
    }
    return out;
}

// ---------------------------------------------------------------------------
// `docker save` archives: manifest.json.

// "blobs/sha256/<hex>" names its own digest (Docker 25+ writes these).
std::optional<std::string> digest_of_blob_path(std::string_view name) {
    auto comps = lexical_components(name);
    if (!comps || comps->size() != 3 || (*comps)[0] != "blobs" || (*comps)[1] != "sha256") return std::nullopt;
    std::string d = "sha256:" + (*comps)[2];
    if (!is_digest(d)) return std::nullopt;
    return d;
}

error blob_mismatch(std::string_view expected, std::string_view got) {
    return make_error(errc::invalid_argument,
                      "blob " + std::string(expected) + ": digest mismatch (got " + std::string(got) + ")");
}

status check_blob_file(const std::string& path, const std::string& expected, std::int64_t size) {
    BERTH_ASSIGN(blob_info info, digest_file(path));
    if (info.digest != expected) return blob_mismatch(expected, info.digest);
    if (size >= 0 && info.size != static_cast<std::uint64_t>(size))
        return make_error(errc::invalid_argument, "blob " + expected + ": size " + std::to_string(info.size) +
                                                      " does not match the descriptor (" + std::to_string(size) + ")");
    return ok();
}

result<std::vector<std::string>> normalize_tags(const std::vector<std::string>& tags) {
    std::vector<std::string> out;
    for (auto& t : tags) {
        BERTH_ASSIGN(std::string n, normalize_reference(t));
        if (n.find('@') != std::string::npos)
            return make_error(errc::invalid_argument, "tag \"" + t + "\": a digest reference is not a tag");
        out.push_back(std::move(n));
    }
    return out;
}

result<std::vector<image_record>> load_docker_save(image_store& store, const extracted_archive& ex) {
    BERTH_ASSIGN(std::string text, ex.read_text("manifest.json"));
    BERTH_ASSIGN(auto entries, parse_docker_manifest(text, "manifest.json"));
    std::vector<image_record> out;
    diff_id_memo memo;
    std::set<std::string> verified;  // layer blobs whose digest was checked
    for (auto& entry : entries) {
        BERTH_ASSIGN(std::string config_path, ex.path(entry.config));
        if (!path_exists(config_path))
            return make_error(errc::not_found, "config " + entry.config + ": missing from the archive");
        auto config_json = read_file(config_path);
        if (!config_json) return config_json.err().wrap("config " + entry.config);
        if (auto want = digest_of_blob_path(entry.config)) {
            std::string got = sha256::of(*config_json);
            if (got != *want) return blob_mismatch(*want, got);
        }
        BERTH_ASSIGN(config_summary config, parse_image_config(*config_json, "config " + entry.config));
        if (config.diff_ids.size() != entry.layers.size())
            return make_error(errc::invalid_argument,
                              "config " + entry.config + ": " + std::to_string(config.diff_ids.size()) +
                                  " diff ids for " + std::to_string(entry.layers.size()) + " layers");
        std::vector<layer_source> layers;
        for (auto& name : entry.layers) {
            BERTH_ASSIGN(std::string layer_path, ex.path(name));
            if (!path_exists(layer_path))
                return make_error(errc::not_found, "layer " + name + ": missing from the archive");
            if (auto want = digest_of_blob_path(name); want && verified.insert(layer_path).second)
                BERTH_TRY(check_blob_file(layer_path, *want, -1));
            layers.push_back({layer_path, name});
        }
        BERTH_ASSIGN(auto tags, normalize_tags(entry.repo_tags));
        BERTH_ASSIGN(image_record rec,
                     make_image(store, std::move(*config_json), config, layers, std::move(tags), memo));
        out.push_back(std::move(rec));
    }
    return out;
}

// ---------------------------------------------------------------------------
// OCI image layouts: oci-layout, index.json, blobs/sha256/<hex>.

bool is_index_type(std::string_view t) { return t == media_oci_index || t == media_docker_list; }
bool is_manifest_type(std::string_view t) { return t == media_oci_manifest || t == media_docker_manifest; }
bool is_host_platform(const descriptor& d) { return d.os == "linux" && d.architecture == host_arch; }

result<std::string> blob_file(const extracted_archive& ex, const descriptor& d) {
    std::string name = "blobs/sha256/" + std::string(digest_hex(d.digest));
    BERTH_ASSIGN(std::string path, ex.path(name));
    if (!path_exists(path)) return make_error(errc::not_found, "blob " + d.digest + ": missing from the archive");
    return path;
}

// A small blob (index, manifest, config), verified against its descriptor.
result<std::string> read_blob(const extracted_archive& ex, const descriptor& d) {
    BERTH_ASSIGN(std::string path, blob_file(ex, d));
    BERTH_ASSIGN(std::string text, read_file(path));
    std::string got = sha256::of(text);
    if (got != d.digest) return blob_mismatch(d.digest, got);
    if (d.size >= 0 && text.size() != static_cast<std::size_t>(d.size))
        return make_error(errc::invalid_argument, "blob " + d.digest + ": size " + std::to_string(text.size()) +
                                                      " does not match the descriptor (" + std::to_string(d.size) + ")");
    return text;
}

// The tag of an OCI layout entry: ref.name when it is a full reference; a
// bare tag ("v1") combined with io.containerd.image.name when that is given.
result<std::vector<std::string>> oci_tags(const descriptor& d) {
    auto get = [&](std::string_view key) {
        auto it = d.annotations.find(std::string(key));
        return it == d.annotations.end() ? std::string() : it->second;
    };
    std::string ref = get(annotation_ref_name);
    std::string image = get(annotation_image_name);
    bool bare_tag = !ref.empty() && ref.find_first_of("/:@") == std::string::npos;
    std::string chosen;
    if (!ref.empty() && !bare_tag) {
        chosen = ref;
    } else if (!image.empty()) {
        chosen = image;
        std::size_t slash = image.rfind('/');
        bool tagged = image.find('@') != std::string::npos ||
                      image.find(':', slash == std::string::npos ? 0 : slash + 1) != std::string::npos;
        if (!tagged && bare_tag) chosen += ":" + ref;
    } else {
        return std::vector<std::string>{};  // a bare tag without a repository names nothing
    }
    return normalize_tags({chosen});
}

struct oci_image {
    descriptor manifest;
    oci_document doc;
};

// Follows a descriptor through indexes to the host platform's image
// manifest; nullopt when the descriptor is not an image (an artifact).
result<std::optional<oci_image>> resolve_manifest(const extracted_archive& ex, const descriptor& d, int depth) {
    if (depth > max_index_depth) return make_error(errc::invalid_argument, "index " + d.digest + ": nested too deep");
    bool known = d.media_type.empty() || is_index_type(d.media_type) || is_manifest_type(d.media_type);
    if (!known) return std::optional<oci_image>();
    BERTH_ASSIGN(std::string text, read_blob(ex, d));
    BERTH_ASSIGN(oci_document doc, parse_oci_document(text, "manifest " + d.digest));
    std::string type = !d.media_type.empty() ? d.media_type : doc.media_type;
    bool index = is_index_type(type) || (type.empty() && doc.has_manifests);
    if (index) {
        const descriptor* pick = nullptr;
        for (auto& m : doc.manifests)
            if (m.has_platform && is_host_platform(m)) {
                pick = &m;
                break;
            }
        if (!pick && doc.manifests.size() == 1 && !doc.manifests[0].has_platform) pick = &doc.manifests[0];
        if (!pick)
            return make_error(errc::not_found,
                              "index " + d.digest + ": no linux/" + std::string(host_arch) + " manifest");
        return resolve_manifest(ex, *pick, depth + 1);
    }
    if (!doc.has_config) return std::optional<oci_image>();
    auto& ct = doc.config.media_type;
    if (!ct.empty() && ct != media_oci_config && ct != media_docker_config) return std::optional<oci_image>();
    return std::optional<oci_image>(oci_image{d, std::move(doc)});
}

result<std::vector<image_record>> load_oci_layout(image_store& store, const extracted_archive& ex) {
    if (ex.contains("oci-layout")) {
        BERTH_ASSIGN(std::string path, ex.path("oci-layout"));
        BERTH_ASSIGN(std::string text, read_file(path));
        json_input in(text);
        sj::object obj;
        std::string_view version;
        JSON_TRY("oci-layout", in.parser.iterate(in.padded).get(in.doc));
        JSON_TRY("oci-layout", in.doc.get_object().get(obj));
        JSON_TRY("oci-layout", obj["imageLayoutVersion"].get_string().get(version));
        if (version.substr(0, 2) != "1.")
            return make_error(errc::invalid_argument,
                              "oci-layout: unsupported image layout version \"" + std::string(version) + "\"");
    }
    BERTH_ASSIGN(std::string index_text, ex.read_text("index.json"));
    BERTH_ASSIGN(oci_document index, parse_oci_document(index_text, "index.json"));

    std::vector<image_record> out;
    diff_id_memo memo;
    std::set<std::string> verified;  // layer blobs whose digest was checked
    for (auto& d : index.manifests) {
        if (d.has_platform && !is_host_platform(d)) continue;
        BERTH_ASSIGN(std::optional<oci_image> image, resolve_manifest(ex, d, 0));
        if (!image) continue;
        const oci_document& m = image->doc;
        BERTH_ASSIGN(std::string config_json, read_blob(ex, m.config));
        BERTH_ASSIGN(config_summary config, parse_image_config(config_json, "config " + m.config.digest));
        if (config.diff_ids.size() != m.layers.size())
            return make_error(errc::invalid_argument,
                              "manifest " + image->manifest.digest + ": " + std::to_string(m.layers.size()) +
                                  " layers for " + std::to_string(config.diff_ids.size()) + " diff ids in the config");
        std::vector<layer_source> layers;
        for (auto& l : m.layers) {
            BERTH_ASSIGN(std::string path, blob_file(ex, l));
            if (verified.insert(path).second) BERTH_TRY(check_blob_file(path, l.digest, l.size));
            layers.push_back({path, l.digest});
        }
        BERTH_ASSIGN(auto tags, oci_tags(d));
        BERTH_ASSIGN(image_record rec, make_image(store, std::move(config_json), config, layers, std::move(tags), memo));
        out.push_back(std::move(rec));
    }
    if (out.empty())
        return make_error(errc::not_found, "no linux/" + std::string(host_arch) + " image in the archive");
    return out;
}

// ---------------------------------------------------------------------------
// `docker import`: Dockerfile-style changes.

// Splits words at blanks; quotes group and are removed, a backslash escapes
// the next character outside single quotes.
result<std::vector<std::string>> split_words(std::string_view s, std::string_view change) {
    std::vector<std::string> out;
    std::string word;
    bool in_word = false;
    char quote = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (quote) {
            if (c == quote) {
                quote = 0;
            } else if (c == '\\' && quote == '"' && i + 1 < s.size()) {
                word += s[++i];
            } else {
                word += c;
            }
        } else if (c == ' ' || c == '\t') {
            if (in_word) out.push_back(std::move(word));
            word.clear();
            in_word = false;
        } else {
            in_word = true;
            if (c == '"' || c == '\'') quote = c;
            else if (c == '\\' && i + 1 < s.size()) word += s[++i];
            else word += c;
        }
    }
    if (quote)
        return make_error(errc::invalid_argument, "change \"" + std::string(change) + "\": unterminated quote");
    if (in_word) out.push_back(std::move(word));
    return out;
}

// "K=V K2=V2" or the legacy "K V with spaces".
result<std::vector<std::pair<std::string, std::string>>> parse_pairs(std::string_view args, std::string_view change) {
    std::vector<std::pair<std::string, std::string>> out;
    std::size_t blank = args.find_first_of(" \t");
    std::string_view first = args.substr(0, blank);
    if (first.find('=') == std::string_view::npos) {
        if (blank == std::string_view::npos)
            return make_error(errc::invalid_argument, "change \"" + std::string(change) + "\": missing value");
        out.emplace_back(std::string(first), trim(args.substr(blank)));
        return out;
    }
    BERTH_ASSIGN(auto words, split_words(args, change));
    for (auto& w : words) {
        std::size_t eq = w.find('=');
        if (eq == std::string::npos || eq == 0)
            return make_error(errc::invalid_argument,
                              "change \"" + std::string(change) + "\": \"" + w + "\" is not key=value");
        out.emplace_back(w.substr(0, eq), w.substr(eq + 1));
    }
    return out;
}

// The JSON form of an instruction's arguments: a JSON array of strings.
std::optional<boost::json::array> json_form(std::string_view args) {
    if (args.empty() || args.front() != '[') return std::nullopt;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(args, ec);
    if (ec || !v.is_array()) return std::nullopt;
    for (auto& e : v.as_array())
        if (!e.is_string()) return std::nullopt;
    return std::move(v.as_array());
}

// ["a","b"] in JSON form, else the shell form ["/bin/sh","-c",args].
boost::json::array command_form(std::string_view args) {
    if (auto form = json_form(args)) return std::move(*form);
    boost::json::array shell;
    shell.emplace_back("/bin/sh");
    shell.emplace_back("-c");
    shell.emplace_back(args);
    return shell;
}

status apply_change(boost::json::object& cfg, std::string_view change) {
    std::string line = trim(change);
    std::size_t blank = line.find_first_of(" \t");
    std::string instr = line.substr(0, blank);
    for (auto& c : instr) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::string args = blank == std::string::npos ? std::string() : trim(std::string_view(line).substr(blank));
    auto bad = [&](std::string_view why) {
        return make_error(errc::invalid_argument, "change \"" + std::string(change) + "\": " + std::string(why));
    };
    if (instr.empty()) return bad("empty");
    if (args.empty()) return bad("missing argument");

    if (instr == "CMD") {
        cfg["Cmd"] = command_form(args);
    } else if (instr == "ENTRYPOINT") {
        cfg["Entrypoint"] = command_form(args);
    } else if (instr == "ENV") {
        BERTH_ASSIGN(auto pairs, parse_pairs(args, change));
        if (!cfg.contains("Env")) cfg["Env"] = boost::json::array();
        auto& env = cfg["Env"].as_array();
        for (auto& [k, v] : pairs) {
            std::string entry = k + "=" + v;
            bool replaced = false;
            for (auto& e : env)
                if (starts_with(e.as_string(), k + "=")) {
                    e = entry;
                    replaced = true;
                }
            if (!replaced) env.emplace_back(entry);
        }
    } else if (instr == "LABEL") {
        BERTH_ASSIGN(auto pairs, parse_pairs(args, change));
        if (!cfg.contains("Labels")) cfg["Labels"] = boost::json::object();
        for (auto& [k, v] : pairs) cfg["Labels"].as_object()[k] = v;
    } else if (instr == "WORKDIR") {
        std::string dir = args;
        if (dir.front() != '/') {
            std::string base = cfg.contains("WorkingDir") ? std::string(cfg["WorkingDir"].as_string()) : "/";
            dir = (base.back() == '/' ? base : base + "/") + dir;
        }
        cfg["WorkingDir"] = dir;
    } else if (instr == "USER") {
        cfg["User"] = args;
    } else if (instr == "STOPSIGNAL") {
        cfg["StopSignal"] = args;
    } else if (instr == "ONBUILD") {
        if (!cfg.contains("OnBuild")) cfg["OnBuild"] = boost::json::array();
        cfg["OnBuild"].as_array().emplace_back(args);
    } else if (instr == "EXPOSE") {
        BERTH_ASSIGN(auto words, split_words(args, change));
        if (!cfg.contains("ExposedPorts")) cfg["ExposedPorts"] = boost::json::object();
        for (auto& w : words) {
            std::size_t slash = w.find('/');
            std::string port = w.substr(0, slash);
            std::string proto = slash == std::string::npos ? "tcp" : w.substr(slash + 1);
            for (auto& c : proto) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (proto != "tcp" && proto != "udp" && proto != "sctp") return bad("invalid protocol \"" + proto + "\"");
            std::size_t dash = port.find('-');
            auto number = [](std::string_view s) -> int {
                if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string_view::npos)
                    return -1;
                int n = std::stoi(std::string(s));
                return n >= 1 && n <= 65535 ? n : -1;
            };
            int lo = number(std::string_view(port).substr(0, dash));
            int hi = dash == std::string::npos ? lo : number(std::string_view(port).substr(dash + 1));
            if (lo < 0 || hi < lo) return bad("invalid port \"" + w + "\"");
            for (int p = lo; p <= hi; ++p)
                cfg["ExposedPorts"].as_object()[std::to_string(p) + "/" + proto] = boost::json::object();
        }
    } else if (instr == "VOLUME") {
        std::vector<std::string> paths;
        if (auto form = json_form(args)) {
            for (auto& p : *form) paths.emplace_back(p.as_string());
        } else {
            BERTH_ASSIGN(paths, split_words(args, change));
        }
        if (!cfg.contains("Volumes")) cfg["Volumes"] = boost::json::object();
        for (auto& p : paths) {
            if (p.empty()) return bad("empty volume path");
            cfg["Volumes"].as_object()[p] = boost::json::object();
        }
    } else {
        return bad("unsupported instruction " + instr);
    }
    return ok();
}

result<boost::json::object> config_from_changes(const std::vector<std::string>& changes) {
    boost::json::object cfg;
    for (auto& c : changes) BERTH_TRY(apply_change(cfg, c));
    return cfg;
}

std::string import_config_json(boost::json::object container_config, const std::string& diff_id,
                               std::int64_t created_ns) {
    std::string created = format_rfc3339_nano(created_ns);
    boost::json::object cfg;
    cfg["architecture"] = host_arch;
    cfg["os"] = "linux";
    cfg["created"] = created;
    cfg["config"] = std::move(container_config);
    boost::json::object rootfs;
    rootfs["type"] = "layers";
    rootfs["diff_ids"] = boost::json::array{boost::json::value(diff_id)};
    cfg["rootfs"] = std::move(rootfs);
    boost::json::object history;
    history["created"] = created;
    history["created_by"] = "berth import";
    history["comment"] = "Imported from -";
    cfg["history"] = boost::json::array{history};
    return boost::json::serialize(cfg);
}

status clear_dir(const std::string& dir, std::string_view only_containing = {}) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return sys_error("open " + dir);
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n == "." || n == "..") continue;
        if (!only_containing.empty() && n.find(only_containing) == std::string_view::npos) continue;
        names.emplace_back(n);
    }
    ::closedir(d);
    for (auto& n : names) BERTH_TRY(remove_all(dir + "/" + n));
    return ok();
}

}  // namespace

// ---------------------------------------------------------------------------

std::vector<std::string> chain_ids(const std::vector<std::string>& diff_ids) {
    std::vector<std::string> out;
    out.reserve(diff_ids.size());
    for (auto& d : diff_ids) out.push_back(out.empty() ? d : sha256::of(out.back() + " " + d));
    return out;
}

result<std::string> build_import_config(const std::vector<std::string>& changes, const std::string& diff_id,
                                        std::int64_t created_ns) {
    BERTH_ASSIGN(boost::json::object cfg, config_from_changes(changes));
    return import_config_json(std::move(cfg), diff_id, created_ns);
}

image_store::image_store(std::string root) : _root(std::move(root)), _content(_root + "/content") {}

status image_store::init() {
    BERTH_TRY(_content.init());
    for (auto* dir : {"/layers", "/layerinfo", "/tmp"}) BERTH_TRY(make_dirs(_root + dir, 0700));
    BERTH_TRY(clear_dir(_root + "/tmp"));
    BERTH_TRY(clear_dir(_root + "/layers", ".staging-"));
    BERTH_TRY(clear_dir(_root + "/layerinfo", ".tmp-"));
    return ok();
}

std::string image_store::layer_dir(const std::string& chain_id) const {
    return _root + "/layers/" + std::string(digest_hex(chain_id));
}

bool image_store::has_layer(const std::string& chain_id) const {
    if (!is_digest(chain_id)) return false;
    struct stat st;
    return ::lstat(layer_dir(chain_id).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

result<image_record> image_store::import_tarball(const std::string& tar_path, const std::string& reference,
                                                 const std::vector<std::string>& changes) {
    std::string what = "import " + tar_path;
    std::vector<std::string> tags;
    if (!reference.empty()) {
        auto t = normalize_tags({reference});
        if (!t) return t.err().wrap(what);
        tags = std::move(*t);
    }
    auto container_config = config_from_changes(changes);
    if (!container_config) return container_config.err().wrap(what);

    auto blob = _content.write_file(tar_path);
    if (!blob) return blob.err().wrap(what);
    // A failed import leaves no blob behind (unless it was there before).
    scope_exit drop([&] {
        if (blob->created) (void)_content.remove(blob->digest);
    });
    std::string blob_path = _content.blob_path(blob->digest);
    auto diff_id = compute_diff_id(blob_path);
    if (!diff_id) return diff_id.err().wrap(what);

    diff_id_memo memo{{blob_path, *diff_id}};
    std::int64_t now = now_ns();
    std::string config_json = import_config_json(std::move(*container_config), *diff_id, now);
    config_summary summary{{*diff_id}, format_rfc3339_nano(now)};
    std::vector<layer_source> layers{layer_source{blob_path, blob->digest}};
    auto rec = make_image(*this, std::move(config_json), summary, layers, std::move(tags), memo);
    if (!rec) return rec.err().wrap(what);
    drop.dismiss();
    return rec;
}

result<std::vector<image_record>> image_store::load_archive(const std::string& archive_path) {
    std::string what = "load " + archive_path;
    std::string dir = _root + "/tmp/load-" + random_id().substr(0, 16);
    if (::mkdir(dir.c_str(), 0700) != 0) return sys_error("mkdir " + dir).wrap(what);
    scope_exit cleanup([&] { (void)remove_all(dir); });

    auto ex = extract_outer(archive_path, dir);
    if (!ex) return ex.err().wrap(what);
    result<std::vector<image_record>> images = make_error(errc::invalid_argument, "");
    if (ex->contains("manifest.json")) {
        images = load_docker_save(*this, *ex);
    } else if (ex->contains("index.json")) {
        images = load_oci_layout(*this, *ex);
    } else {
        return make_error(errc::invalid_argument, what + ": neither manifest.json nor index.json in the archive");
    }
    if (!images) return images.err().wrap(what);

    // A tag names one image: a later entry takes it from an earlier one.
    for (std::size_t i = 0; i < images->size(); ++i)
        for (auto& tag : (*images)[i].repo_tags)
            for (std::size_t j = 0; j < i; ++j) std::erase((*images)[j].repo_tags, tag);
    return images;
}

status image_store::garbage_collect(const std::vector<image_record>& keep) {
    std::set<std::string> keep_layers, keep_blobs;
    for (auto& img : keep) {
        keep_blobs.insert(img.id);
        for (auto& c : img.chain_ids) keep_layers.insert(std::string(digest_hex(c)));
    }

    for (auto* sub : {"/layers", "/layerinfo"}) {
        std::string dir = _root + sub;
        DIR* d = ::opendir(dir.c_str());
        if (!d) return sys_error("open " + dir);
        std::vector<std::string> names;
        while (dirent* e = ::readdir(d)) {
            std::string name = e->d_name;
            // Only finished layers: staging dirs belong to unpacks in progress.
            if (is_digest("sha256:" + name) && !keep_layers.count(name)) names.push_back(std::move(name));
        }
        ::closedir(d);
        for (auto& n : names) BERTH_TRY(remove_all(dir + "/" + n));
    }
    // The layers' shifted copies for user namespaces (engine/userns_copy.h),
    // layers-remap/<uid>.<gid>/<chain hex>: they go with their layer.
    if (DIR* remaps = ::opendir((_root + "/layers-remap").c_str())) {
        std::vector<std::string> dirs;
        while (dirent* e = ::readdir(remaps))
            if (e->d_name[0] != '.') dirs.push_back(_root + "/layers-remap/" + e->d_name);
        ::closedir(remaps);
        for (const auto& dir : dirs) {
            DIR* d = ::opendir(dir.c_str());
            if (!d) continue;
            std::vector<std::string> names;
            while (dirent* e = ::readdir(d)) {
                std::string name = e->d_name;
                if (is_digest("sha256:" + name) && !keep_layers.count(name)) names.push_back(std::move(name));
            }
            ::closedir(d);
            for (auto& n : names) BERTH_TRY(remove_all(dir + "/" + n));
        }
    }

    BERTH_ASSIGN(auto blobs, _content.list());
    for (auto& b : blobs)
        if (!keep_blobs.count(b)) BERTH_TRY(_content.remove(b));
    return ok();
}

}  // namespace berth::storage
