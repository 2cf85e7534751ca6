// Import and load against the real layer unpacker: needs root, because
// unpacking keeps owners and creates whiteout devices and trusted.* xattrs.
// The archives are built here with libarchive's writer.
#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/sha256.h"
#include "base/util.h"
#include "storage/images.h"
#include "tests/support/archive_builder.h"

namespace berth::storage {
namespace {

// ---------------------------------------------------------------------------
// Archive building

struct entry {
    std::string name;
    std::string data;
    char type = 'f';  // 'f' file, 'd' directory, 'l' symlink (data is the target)
};

std::string make_tar(const std::vector<entry>& entries) {
    std::string out;
    struct archive* a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_open(a, &out, nullptr, test::append_to_string, nullptr);
    for (auto& e : entries) {
        struct archive_entry* ae = archive_entry_new();
        archive_entry_set_pathname(ae, e.name.c_str());
        archive_entry_set_mtime(ae, 1700000000, 0);
        archive_entry_set_uid(ae, 0);
        archive_entry_set_gid(ae, 0);
        switch (e.type) {
        case 'd':
            archive_entry_set_filetype(ae, AE_IFDIR);
            archive_entry_set_perm(ae, 0755);
            break;
        case 'l':
            archive_entry_set_filetype(ae, AE_IFLNK);
            archive_entry_set_perm(ae, 0777);
            archive_entry_set_symlink(ae, e.data.c_str());
            break;
        default:
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_perm(ae, 0644);
            archive_entry_set_size(ae, static_cast<la_int64_t>(e.data.size()));
        }
        EXPECT_EQ(archive_write_header(a, ae), ARCHIVE_OK) << archive_error_string(a);
        if (e.type == 'f' && !e.data.empty()) archive_write_data(a, e.data.data(), e.data.size());
        archive_entry_free(ae);
    }
    archive_write_close(a);
    archive_write_free(a);
    return out;
}

std::string hex_of(const std::string& digest) { return digest.substr(7); }

std::string image_config(const std::vector<std::string>& diff_ids) {
    boost::json::array ids;
    for (auto& d : diff_ids) ids.emplace_back(d);
    return boost::json::serialize(boost::json::object{
        {"architecture", "amd64"},
        {"os", "linux"},
        {"created", "2024-01-02T03:04:05.123456789Z"},
        {"config", boost::json::object{{"Cmd", boost::json::array{"/bin/sh"}}}},
        {"rootfs", boost::json::object{{"type", "layers"}, {"diff_ids", ids}}},
    });
}

// Layer 1 holds a, b and d/x; layer 2 deletes a (whiteout), makes d opaque and adds d/y.
const std::string layer1 = make_tar({{"a", "A"}, {"b", "B"}, {"d", "", 'd'}, {"d/x", "X"}});
const std::string layer2 = make_tar({{".wh.a", ""}, {"d", "", 'd'}, {"d/.wh..wh..opq", ""}, {"d/y", "Y"}});

// ---------------------------------------------------------------------------

class ImagesRoot : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root (unpacking creates whiteout devices and trusted xattrs)";
        char tmpl[] = "/tmp/berth-images-root-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir = tmpl;
        store = std::make_unique<image_store>(dir + "/store");
        ASSERT_TRUE(store->init());
    }
    void TearDown() override {
        if (!dir.empty()) (void)remove_all(dir);
    }

    std::string put(const std::string& name, const std::string& data) {
        std::string path = dir + "/" + name;
        EXPECT_TRUE(write_file(path, data));
        return path;
    }

    static std::vector<std::string> entries(const std::string& path) { return test::list_dir(path, {"<missing>"}); }

    // Nothing half-done is left in the store's scratch areas.
    void expect_no_debris() {
        EXPECT_TRUE(entries(dir + "/store/tmp").empty());
        EXPECT_TRUE(entries(dir + "/store/content/ingest").empty());
        for (auto& n : entries(dir + "/store/layers")) EXPECT_EQ(n.find(".staging"), std::string::npos) << n;
    }

    std::string dir;
    std::unique_ptr<image_store> store;
};

std::string chain2(const std::string& d1, const std::string& d2) { return sha256::of(d1 + " " + d2); }

TEST_F(ImagesRoot, ImportGzipTarball) {
    const std::string tar = make_tar({{"hello.txt", "hello world\n"}, {"bin", "", 'd'}, {"bin/tool", "#!/bin/sh\n"}});
    const std::string gz = test::compress(tar, ARCHIVE_FILTER_GZIP);
    const std::string diff_id = sha256::of(tar);
    std::string path = put("rootfs.tar.gz", gz);

    auto rec = store->import_tarball(path, "docker.io/library/imported:v1", {R"(CMD ["/bin/tool"])", "ENV A=1"});
    ASSERT_TRUE(rec) << rec.err().message;
    EXPECT_EQ(rec->repo_tags, std::vector<std::string>{"imported:v1"});
    EXPECT_EQ(rec->diff_ids, std::vector<std::string>{diff_id});
    EXPECT_EQ(rec->chain_ids, std::vector<std::string>{diff_id});
    EXPECT_EQ(rec->id, sha256::of(rec->config_json));
    EXPECT_EQ(rec->size, 12u + 10u);
    EXPECT_GT(rec->created_ns, 0);

    auto cfg = boost::json::parse(rec->config_json).as_object();
    EXPECT_EQ(cfg.at("rootfs").at("diff_ids").as_array().at(0), diff_id.c_str());
    EXPECT_EQ(cfg.at("config").at("Cmd"), boost::json::value(boost::json::array{"/bin/tool"}));
    EXPECT_EQ(cfg.at("config").at("Env"), boost::json::value(boost::json::array{"A=1"}));
    EXPECT_EQ(parse_rfc3339(cfg.at("created").as_string()), rec->created_ns);

    // The config and the tarball itself (by its compressed digest) are blobs.
    EXPECT_EQ(*store->content().read(rec->id), rec->config_json);
    EXPECT_TRUE(store->content().has(sha256::of(gz)));

    std::string layer = store->layer_dir(diff_id);
    EXPECT_TRUE(store->has_layer(diff_id));
    EXPECT_EQ(*read_file(layer + "/hello.txt"), "hello world\n");
    EXPECT_EQ(*read_file(layer + "/bin/tool"), "#!/bin/sh\n");
    struct stat before;
    ASSERT_EQ(::stat(layer.c_str(), &before), 0);

    // The same tarball again: a new image (new created time) on the same layer,
    // which is not unpacked a second time.
    auto again = store->import_tarball(path, "", {});
    ASSERT_TRUE(again) << again.err().message;
    EXPECT_TRUE(again->repo_tags.empty());
    EXPECT_EQ(again->chain_ids, rec->chain_ids);
    EXPECT_EQ(again->size, rec->size);
    struct stat after;
    ASSERT_EQ(::stat(layer.c_str(), &after), 0);
    EXPECT_EQ(before.st_ino, after.st_ino);
    EXPECT_EQ(entries(dir + "/store/layers"), std::vector<std::string>{hex_of(diff_id)});
    expect_no_debris();
}

TEST_F(ImagesRoot, ImportFailuresLeaveNothing) {
    std::string path = put("rootfs.tar", make_tar({{"f", "x"}}));
    auto bad_change = store->import_tarball(path, "x:1", {"FROM scratch"});
    ASSERT_FALSE(bad_change);
    EXPECT_EQ(bad_change.err().code, errc::invalid_argument);
    EXPECT_NE(bad_change.err().message.find("FROM scratch"), std::string::npos) << bad_change.err().message;

    auto bad_ref = store->import_tarball(path, "Upper:1", {});
    ASSERT_FALSE(bad_ref);
    EXPECT_EQ(bad_ref.err().code, errc::invalid_argument);

    auto not_tar = store->import_tarball(put("junk", std::string(3000, '\x01')), "", {});
    ASSERT_FALSE(not_tar);
    EXPECT_TRUE(entries(dir + "/store/content/blobs/sha256").empty());
    EXPECT_TRUE(entries(dir + "/store/layers").empty());
    expect_no_debris();
}

// A `docker save` archive: two layers with a whiteout and an opaque dir, and
// a second image whose layer is a symlink to the first image's (as old
// Docker versions write duplicate layers).
TEST_F(ImagesRoot, LoadDockerSave) {
    const std::string d1 = sha256::of(layer1), d2 = sha256::of(layer2);
    const std::string config = image_config({d1, d2});
    const std::string config_hex = hex_of(sha256::of(config));
    const std::string small_config = image_config({d1});
    const std::string small_hex = hex_of(sha256::of(small_config));
    boost::json::array manifest{
        boost::json::object{{"Config", config_hex + ".json"},
                            {"RepoTags", boost::json::array{"multi:1"}},
                            {"Layers", boost::json::array{"l1/layer.tar", "l2/layer.tar"}}},
        boost::json::object{{"Config", small_hex + ".json"},
                            {"RepoTags", boost::json::array{"docker.io/library/small:2", "example.com/x/small:3"}},
                            {"Layers", boost::json::array{"l3/layer.tar"}}},
    };
    std::string archive = put("save.tar", make_tar({
                                              {"l1", "", 'd'},
                                              {"l1/layer.tar", layer1},
                                              {"l2/layer.tar", layer2},
                                              {"l3", "", 'd'},
                                              {"l3/layer.tar", "../l1/layer.tar", 'l'},
                                              {config_hex + ".json", config},
                                              {small_hex + ".json", small_config},
                                              {"manifest.json", boost::json::serialize(manifest)},
                                              {"repositories", "{}"},
                                          }));

    auto r = store->load_archive(archive);
    ASSERT_TRUE(r) << r.err().message;
    ASSERT_EQ(r->size(), 2u);
    auto& multi = (*r)[0];
    EXPECT_EQ(multi.id, "sha256:" + config_hex);
    EXPECT_EQ(multi.repo_tags, std::vector<std::string>{"multi:1"});
    EXPECT_EQ(multi.config_json, config);
    EXPECT_EQ(multi.diff_ids, (std::vector<std::string>{d1, d2}));
    EXPECT_EQ(multi.chain_ids, (std::vector<std::string>{d1, chain2(d1, d2)}));
    EXPECT_EQ(multi.created_ns, *parse_rfc3339("2024-01-02T03:04:05.123456789Z"));
    EXPECT_EQ(multi.size, 4u);  // A, B, X, Y

    auto& small = (*r)[1];
    EXPECT_EQ(small.repo_tags, (std::vector<std::string>{"small:2", "example.com/x/small:3"}));
    EXPECT_EQ(small.chain_ids, std::vector<std::string>{d1});
    EXPECT_EQ(small.size, 3u);

    std::string l1 = store->layer_dir(d1), l2 = store->layer_dir(chain2(d1, d2));
    EXPECT_EQ(*read_file(l1 + "/a"), "A");
    EXPECT_EQ(*read_file(l1 + "/d/x"), "X");
    EXPECT_EQ(*read_file(l2 + "/d/y"), "Y");
    struct stat st;
    ASSERT_EQ(::lstat((l2 + "/a").c_str(), &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode));
    EXPECT_EQ(st.st_rdev, makedev(0, 0));
    EXPECT_NE(::lstat((l2 + "/.wh.a").c_str(), &st), 0);
    char val[8] = {};
    EXPECT_EQ(::lgetxattr((l2 + "/d").c_str(), "trusted.overlay.opaque", val, sizeof val), 1);
    EXPECT_EQ(val[0], 'y');
    EXPECT_TRUE(store->content().has(multi.id));
    EXPECT_TRUE(store->content().has(small.id));
    expect_no_debris();

    // Loading again finds every layer in place.
    struct stat before;
    ASSERT_EQ(::stat(l2.c_str(), &before), 0);
    auto again = store->load_archive(archive);
    ASSERT_TRUE(again) << again.err().message;
    EXPECT_EQ((*again)[0].size, 4u);
    ASSERT_EQ(::stat(l2.c_str(), &st), 0);
    EXPECT_EQ(st.st_ino, before.st_ino);
    EXPECT_EQ(entries(dir + "/store/layers").size(), 2u);
    expect_no_debris();
}

struct oci_blobs {
    std::vector<entry> files{{"oci-layout", R"({"imageLayoutVersion":"1.0.0"})"}};
    boost::json::object add(const std::string& media_type, const std::string& data) {
        std::string digest = sha256::of(data);
        files.push_back({"blobs/sha256/" + hex_of(digest), data});
        return {{"mediaType", media_type}, {"digest", digest}, {"size", data.size()}};
    }
};

constexpr const char* oci_manifest_type = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* oci_index_type = "application/vnd.oci.image.index.v1+json";
constexpr const char* oci_config_type = "application/vnd.oci.image.config.v1+json";

// An OCI manifest for layer1 (gzip) and layer2 (zstd); returns its descriptor.
boost::json::object add_two_layer_image(oci_blobs& b, std::string* config_out = nullptr) {
    const std::string config = image_config({sha256::of(layer1), sha256::of(layer2)});
    if (config_out) *config_out = config;
    boost::json::object manifest{
        {"schemaVersion", 2},
        {"mediaType", oci_manifest_type},
        {"config", b.add(oci_config_type, config)},
        {"layers", boost::json::array{
                       b.add("application/vnd.oci.image.layer.v1.tar+gzip", test::compress(layer1, ARCHIVE_FILTER_GZIP)),
                       b.add("application/vnd.oci.image.layer.v1.tar+zstd", test::compress(layer2, ARCHIVE_FILTER_ZSTD)),
                   }},
    };
    return b.add(oci_manifest_type, boost::json::serialize(manifest));
}

std::string index_json(boost::json::array manifests) {
    return boost::json::serialize(boost::json::object{{"schemaVersion", 2}, {"manifests", manifests}});
}

TEST_F(ImagesRoot, LoadOciLayout) {
    oci_blobs b;
    std::string config;
    auto desc = add_two_layer_image(b, &config);
    desc["annotations"] = boost::json::object{
        {"org.opencontainers.image.ref.name", "v1"},
        {"io.containerd.image.name", "docker.io/library/ocitest:v1"},
    };
    b.files.push_back({"index.json", index_json({desc})});
    // The outer archive itself may be compressed too.
    std::string archive = put("oci.tar.gz", test::compress(make_tar(b.files), ARCHIVE_FILTER_GZIP));

    auto r = store->load_archive(archive);
    ASSERT_TRUE(r) << r.err().message;
    ASSERT_EQ(r->size(), 1u);
    auto& img = (*r)[0];
    const std::string d1 = sha256::of(layer1), d2 = sha256::of(layer2);
    EXPECT_EQ(img.repo_tags, std::vector<std::string>{"ocitest:v1"});
    EXPECT_EQ(img.id, sha256::of(config));
    EXPECT_EQ(img.chain_ids, (std::vector<std::string>{d1, chain2(d1, d2)}));
    EXPECT_TRUE(store->has_layer(d1));
    EXPECT_TRUE(store->has_layer(chain2(d1, d2)));
    EXPECT_EQ(*read_file(store->layer_dir(chain2(d1, d2)) + "/d/y"), "Y");
    EXPECT_EQ(img.size, 4u);
    expect_no_debris();
}

// index.json -> an index of platforms -> the linux/amd64 manifest; the
// other platform's manifest is never read (its blob is not even there).
TEST_F(ImagesRoot, LoadOciNestedIndex) {
    oci_blobs b;
    auto amd64 = add_two_layer_image(b);
    amd64["platform"] = boost::json::object{{"os", "linux"}, {"architecture", "amd64"}};
    boost::json::object arm64{{"mediaType", oci_manifest_type},
                              {"digest", "sha256:" + std::string(64, 'e')},
                              {"size", 100},
                              {"platform", boost::json::object{{"os", "linux"}, {"architecture", "arm64"}}}};
    boost::json::object nested{{"schemaVersion", 2}, {"mediaType", oci_index_type},
                               {"manifests", boost::json::array{arm64, amd64}}};
    auto desc = b.add(oci_index_type, boost::json::serialize(nested));
    desc["annotations"] = boost::json::object{{"org.opencontainers.image.ref.name", "registry.example.com/team/app:2.0"}};
    auto untagged = add_two_layer_image(b);  // the same image again, without a name
    b.files.push_back({"index.json", index_json({desc, untagged})});
    std::string archive = put("nested.tar", make_tar(b.files));

    auto r = store->load_archive(archive);
    ASSERT_TRUE(r) << r.err().message;
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ((*r)[0].repo_tags, std::vector<std::string>{"registry.example.com/team/app:2.0"});
    EXPECT_TRUE((*r)[1].repo_tags.empty());
    EXPECT_EQ((*r)[0].chain_ids, (*r)[1].chain_ids);
    EXPECT_EQ(entries(dir + "/store/layers").size(), 2u);
    expect_no_debris();
}

TEST_F(ImagesRoot, DiffIdMismatchFailsCleanly) {
    // The config claims layer2's diff id for an archive that holds layer1.
    const std::string config = image_config({sha256::of(layer2)});
    const std::string config_hex = hex_of(sha256::of(config));
    boost::json::array manifest{boost::json::object{{"Config", config_hex + ".json"},
                                                    {"RepoTags", boost::json::array{"bad:1"}},
                                                    {"Layers", boost::json::array{"l1/layer.tar"}}}};
    std::string archive = put("bad.tar", make_tar({{"l1/layer.tar", layer1},
                                                   {config_hex + ".json", config},
                                                   {"manifest.json", boost::json::serialize(manifest)}}));
    auto r = store->load_archive(archive);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, errc::invalid_argument);
    EXPECT_NE(r.err().message.find("layer l1/layer.tar: diff id " + sha256::of(layer1)), std::string::npos)
        << r.err().message;
    EXPECT_NE(r.err().message.find(sha256::of(layer2)), std::string::npos) << r.err().message;
    EXPECT_TRUE(entries(dir + "/store/layers").empty());
    EXPECT_TRUE(entries(dir + "/store/layerinfo").empty());
    EXPECT_TRUE(entries(dir + "/store/content/blobs/sha256").empty());
    expect_no_debris();
}

TEST_F(ImagesRoot, CorruptOciBlobFails) {
    oci_blobs b;
    auto desc = add_two_layer_image(b);
    desc["annotations"] = boost::json::object{{"org.opencontainers.image.ref.name", "corrupt.example.com/x:1"}};
    b.files.push_back({"index.json", index_json({desc})});
    // Flip a byte in the zstd layer blob: its name no longer matches its content.
    std::string corrupted_digest;
    for (auto& f : b.files)
        if (f.data.size() > 4 && f.data.compare(0, 4, "\x28\xb5\x2f\xfd") == 0) {
            f.data[f.data.size() / 2] ^= 0x55;
            corrupted_digest = "sha256:" + f.name.substr(std::string("blobs/sha256/").size());
        }
    ASSERT_FALSE(corrupted_digest.empty());
    std::string archive = put("corrupt.tar", make_tar(b.files));

    auto r = store->load_archive(archive);
    ASSERT_FALSE(r);
    EXPECT_NE(r.err().message.find("blob " + corrupted_digest + ": digest mismatch (got sha256:"), std::string::npos)
        << r.err().message;
    EXPECT_TRUE(entries(dir + "/store/content/blobs/sha256").empty());
    expect_no_debris();
}

TEST_F(ImagesRoot, OuterArchiveCannotEscape) {
    for (std::string name : {"../evil", "/abs/evil", "a/../../evil"}) {
        std::string archive = put("escape.tar", make_tar({{"manifest.json", "[]"}, {name, "x"}}));
        auto r = store->load_archive(archive);
        ASSERT_FALSE(r) << name;
        EXPECT_EQ(r.err().code, errc::invalid_argument);
        EXPECT_NE(r.err().message.find("path escapes the archive"), std::string::npos) << r.err().message;
        EXPECT_FALSE(path_exists(dir + "/store/evil"));
        EXPECT_FALSE(path_exists(dir + "/evil"));
        expect_no_debris();
    }
}

TEST_F(ImagesRoot, GarbageCollectAfterImports) {
    auto a = store->import_tarball(put("a.tar", make_tar({{"a", "1"}})), "a:1", {});
    auto b = store->import_tarball(put("b.tar", make_tar({{"b", "2"}})), "b:1", {});
    ASSERT_TRUE(a && b);
    ASSERT_TRUE(store->garbage_collect({*a}));
    EXPECT_TRUE(store->has_layer(a->chain_ids[0]));
    EXPECT_FALSE(store->has_layer(b->chain_ids[0]));
    EXPECT_EQ(*store->content().list(), std::vector<std::string>{a->id});
}

}  // namespace
}  // namespace berth::storage
