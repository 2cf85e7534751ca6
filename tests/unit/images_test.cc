// Image references, chain ids, import configs, the content store and the
// image store's bookkeeping: everything that needs no root.
#include <stdlib.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/sha256.h"
#include "base/util.h"
#include "storage/content.h"
#include "storage/images.h"
#include "tests/support/archive_builder.h"

namespace berth::storage {
namespace {

// ---------------------------------------------------------------------------
// normalize_reference

const std::string digest64 = "sha256:" + std::string(64, 'a');

TEST(NormalizeReference, DockerHubShortNames) {
    EXPECT_EQ(*normalize_reference("busybox"), "busybox:latest");
    EXPECT_EQ(*normalize_reference("busybox:1.36"), "busybox:1.36");
    EXPECT_EQ(*normalize_reference("library/busybox"), "busybox:latest");
    EXPECT_EQ(*normalize_reference("docker.io/library/busybox:1"), "busybox:1");
    EXPECT_EQ(*normalize_reference("index.docker.io/library/busybox"), "busybox:latest");
    EXPECT_EQ(*normalize_reference("docker.io/fx/tagged:v1"), "fx/tagged:v1");
    EXPECT_EQ(*normalize_reference("fx/tagged"), "fx/tagged:latest");
    EXPECT_EQ(*normalize_reference("docker.io/library/a/b"), "library/a/b:latest");
}

TEST(NormalizeReference, RegistryHosts) {
    EXPECT_EQ(*normalize_reference("127.0.0.1:5000/a/b"), "127.0.0.1:5000/a/b:latest");
    EXPECT_EQ(*normalize_reference("localhost/foo"), "localhost/foo:latest");
    EXPECT_EQ(*normalize_reference("localhost:5000/foo:bar"), "localhost:5000/foo:bar");
    EXPECT_EQ(*normalize_reference("registry.example.com/team/app:2.0"), "registry.example.com/team/app:2.0");
    EXPECT_EQ(*normalize_reference("[::1]:5000/x"), "[::1]:5000/x:latest");
    // Without a '/', "localhost:5000" is the repository localhost, tag 5000.
    EXPECT_EQ(*normalize_reference("localhost:5000"), "localhost:5000");
    // An upper-case first component can only be a host (Docker's rule).
    EXPECT_EQ(*normalize_reference("Example/app"), "Example/app:latest");
}

TEST(NormalizeReference, Separators) {
    EXPECT_EQ(*normalize_reference("ab/a_b__c--d.e"), "ab/a_b__c--d.e:latest");
    // A first component with a dot is a host, where "_" is not allowed.
    EXPECT_FALSE(normalize_reference("a.b_c/d"));
    EXPECT_EQ(*normalize_reference("x:Tag_1.0-rc"), "x:Tag_1.0-rc");
    EXPECT_EQ(*normalize_reference("x:" + std::string(128, 't')), "x:" + std::string(128, 't'));
}

TEST(NormalizeReference, Digests) {
    EXPECT_EQ(*normalize_reference("busybox@" + digest64), "busybox@" + digest64);
    EXPECT_EQ(*normalize_reference("docker.io/library/busybox:1@" + digest64), "busybox:1@" + digest64);
    EXPECT_EQ(*normalize_reference("localhost:5000/x@" + digest64), "localhost:5000/x@" + digest64);
}

TEST(NormalizeReference, Invalid) {
    const std::vector<std::string> bad = {
        "",
        "Busybox",
        "busybox:",
        "busybox:-x",
        "busybox:.x",
        "busybox:" + std::string(129, 't'),
        "busybox:a:b",
        "a//b",
        "/a",
        "a/",
        "-a",
        "a-",
        "a..b",
        "a___b",
        "a b",
        "busybox@sha256:abc",
        "busybox@md5:" + std::string(32, 'a'),
        "busybox@" + digest64 + "x",
        std::string(64, 'a'),
        "ex ample.com/a",
        "example.com:/a",
        "example.com:port/a",
        "-example.com/a",
        std::string(250, 'a') + "/bbbbbbbb",
    };
    for (auto& ref : bad) {
        auto r = normalize_reference(ref);
        ASSERT_FALSE(r) << ref << " -> " << (r ? *r : "");
        EXPECT_EQ(r.err().code, errc::invalid_argument) << ref;
        EXPECT_NE(r.err().message.find("\"" + ref + "\""), std::string::npos) << r.err().message;
        EXPECT_NE(r.err().message.back(), '.') << r.err().message;
    }
}

// ---------------------------------------------------------------------------
// chain ids (expected values computed independently with sha256sum)

TEST(ChainIds, FollowTheOciDefinition) {
    const std::string a = "sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb";
    const std::string b = "sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d";
    const std::string c = "sha256:2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6";
    EXPECT_TRUE(chain_ids({}).empty());
    EXPECT_EQ(chain_ids({a}), std::vector<std::string>{a});
    auto ids = chain_ids({a, b, c});
    ASSERT_EQ(ids.size(), 3u);
    EXPECT_EQ(ids[0], a);
    EXPECT_EQ(ids[1], "sha256:51c0c8ace48498d6f5fee6b0592cc06f2da0f3cbe09c5a34a97dce85c3889676");
    EXPECT_EQ(ids[2], "sha256:2fce7f8ce91bcf0a1428b36e1024639fdbd9469eea762dba98aa749631885106");
}

// ---------------------------------------------------------------------------
// import configs

const std::string diff = "sha256:" + std::string(64, 'd');

boost::json::object import_config(const std::vector<std::string>& changes) {
    auto text = build_import_config(changes, diff, 1700000000123456789);
    EXPECT_TRUE(text) << text.err().message;
    if (!text) return {};
    return boost::json::parse(*text).as_object();
}

TEST(ImportConfig, LikeDockerImport) {
    auto cfg = import_config({});
    EXPECT_EQ(cfg.at("architecture"), "amd64");
    EXPECT_EQ(cfg.at("os"), "linux");
    EXPECT_EQ(cfg.at("created"), "2023-11-14T22:13:20.123456789Z");
    EXPECT_TRUE(cfg.at("config").as_object().empty());  // no Env unless asked for
    EXPECT_EQ(cfg.at("rootfs").at("type"), "layers");
    EXPECT_EQ(cfg.at("rootfs").at("diff_ids"), boost::json::array{boost::json::value(diff)});
    auto& history = cfg.at("history").as_array();
    ASSERT_EQ(history.size(), 1u);
    EXPECT_EQ(history[0].at("created"), "2023-11-14T22:13:20.123456789Z");
    EXPECT_EQ(history[0].at("created_by"), "berth import");
    EXPECT_EQ(history[0].at("comment"), "Imported from -");
}

TEST(ImportConfig, Changes) {
    auto cfg = import_config({
        R"(CMD ["/bin/echo", "hi there"])",
        "ENTRYPOINT /entry.sh --flag",
        "ENV A=1 B=\"two words\" C=x\\ y",
        "ENV LEGACY value with spaces",
        "env A=3",
        "WORKDIR /app",
        "WORKDIR sub",
        "USER nobody:nogroup",
        "LABEL org.example.k=v other=\"x y\"",
        "EXPOSE 80 53/udp 8000-8001",
        "VOLUME [\"/data\"]",
        "STOPSIGNAL SIGTERM",
    });
    auto& c = cfg.at("config").as_object();
    EXPECT_EQ(c.at("Cmd"), (boost::json::array{"/bin/echo", "hi there"}));
    EXPECT_EQ(c.at("Entrypoint"), (boost::json::array{"/bin/sh", "-c", "/entry.sh --flag"}));
    EXPECT_EQ(c.at("Env"), (boost::json::array{"A=3", "B=two words", "C=x y", "LEGACY=value with spaces"}));
    EXPECT_EQ(c.at("WorkingDir"), "/app/sub");
    EXPECT_EQ(c.at("User"), "nobody:nogroup");
    EXPECT_EQ(c.at("Labels"), (boost::json::object{{"org.example.k", "v"}, {"other", "x y"}}));
    auto& ports = c.at("ExposedPorts").as_object();
    EXPECT_EQ(ports.size(), 4u);
    for (auto* p : {"80/tcp", "53/udp", "8000/tcp", "8001/tcp"}) EXPECT_TRUE(ports.contains(p)) << p;
    EXPECT_TRUE(c.at("Volumes").as_object().contains("/data"));
    EXPECT_EQ(c.at("StopSignal"), "SIGTERM");
}

TEST(ImportConfig, MalformedJsonFormIsShellForm) {
    auto cfg = import_config({"CMD [not json"});
    EXPECT_EQ(cfg.at("config").at("Cmd"), (boost::json::array{"/bin/sh", "-c", "[not json"}));
}

TEST(ImportConfig, BadChanges) {
    for (std::string change : {"FROM busybox", "RUN true", "CMD", "ENV", "ENV A", "ENV =x", "EXPOSE 80/xyz",
                               "EXPOSE 99999", "LABEL \"unterminated"}) {
        auto r = build_import_config({change}, diff, 1);
        ASSERT_FALSE(r) << change;
        EXPECT_EQ(r.err().code, errc::invalid_argument) << change;
        EXPECT_NE(r.err().message.find(change), std::string::npos) << r.err().message;
        EXPECT_NE(r.err().message.back(), '.');
    }
}

// ---------------------------------------------------------------------------
// content store and image store bookkeeping, in a temp dir

class temp_dir_test : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/berth-images-unit-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir = tmpl;
    }
    void TearDown() override { (void)remove_all(dir); }

    static std::vector<std::string> entries(const std::string& path) { return test::list_dir(path, {"<missing>"}); }

    std::string dir;
};

using ContentStore = temp_dir_test;

TEST_F(ContentStore, WritesVerifiedBlobs) {
    content_store cs(dir + "/content");
    ASSERT_TRUE(cs.init());
    auto b = cs.write_bytes("hello");
    ASSERT_TRUE(b) << b.err().message;
    EXPECT_EQ(b->digest, sha256::of("hello"));
    EXPECT_EQ(b->size, 5u);
    EXPECT_TRUE(b->created);
    EXPECT_TRUE(cs.has(b->digest));
    EXPECT_EQ(*read_file(cs.blob_path(b->digest)), "hello");
    EXPECT_EQ(*cs.read(b->digest), "hello");

    auto again = cs.write_bytes("hello", sha256::of("hello"));
    ASSERT_TRUE(again);
    EXPECT_FALSE(again->created);

    ASSERT_TRUE(write_file(dir + "/src", "file content"));
    auto f = cs.write_file(dir + "/src", sha256::of("file content"));
    ASSERT_TRUE(f) << f.err().message;
    EXPECT_EQ(*cs.read(f->digest), "file content");
    auto listed = *cs.list();
    EXPECT_EQ(listed.size(), 2u);
    EXPECT_TRUE(entries(dir + "/content/ingest").empty());
}

TEST_F(ContentStore, DigestMismatchLeavesNothing) {
    content_store cs(dir + "/content");
    ASSERT_TRUE(cs.init());
    const std::string wrong = "sha256:" + std::string(64, '0');
    auto r = cs.write_bytes("payload", wrong);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().message, "blob " + wrong + ": digest mismatch (got " + sha256::of("payload") + ")");
    EXPECT_TRUE(entries(dir + "/content/blobs/sha256").empty());
    EXPECT_TRUE(entries(dir + "/content/ingest").empty());

    // A file that claims to be a blob the store already holds is still checked.
    ASSERT_TRUE(cs.write_bytes("real"));
    ASSERT_TRUE(write_file(dir + "/fake", "fake"));
    auto f = cs.write_file(dir + "/fake", sha256::of("real"));
    ASSERT_FALSE(f);
    EXPECT_NE(f.err().message.find("digest mismatch"), std::string::npos);

    auto bad = cs.write_bytes("x", "sha256:short");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.err().code, errc::invalid_argument);
}

TEST_F(ContentStore, InitRemovesIngestLeftovers) {
    ASSERT_TRUE(make_dirs(dir + "/content/ingest"));
    ASSERT_TRUE(write_file(dir + "/content/ingest/partial", "half"));
    content_store cs(dir + "/content");
    ASSERT_TRUE(cs.init());
    EXPECT_TRUE(entries(dir + "/content/ingest").empty());
}

using ImageStore = temp_dir_test;

TEST_F(ImageStore, InitCreatesLayoutAndRemovesDebris) {
    ASSERT_TRUE(make_dirs(dir + "/tmp/load-old/x"));
    ASSERT_TRUE(make_dirs(dir + "/layers/" + std::string(64, 'a') + ".staging-1234"));
    ASSERT_TRUE(make_dirs(dir + "/layers/" + std::string(64, 'b')));
    image_store store(dir);
    ASSERT_TRUE(store.init());
    for (auto* sub : {"/content/blobs/sha256", "/content/ingest", "/layers", "/layerinfo", "/tmp"}) {
        struct stat st;
        EXPECT_EQ(::stat((dir + sub).c_str(), &st), 0) << sub;
    }
    EXPECT_TRUE(entries(dir + "/tmp").empty());
    EXPECT_EQ(entries(dir + "/layers"), std::vector<std::string>{std::string(64, 'b')});
    EXPECT_TRUE(store.has_layer("sha256:" + std::string(64, 'b')));
    EXPECT_FALSE(store.has_layer("sha256:" + std::string(64, 'a')));
    EXPECT_EQ(store.layer_dir("sha256:" + std::string(64, 'b')), dir + "/layers/" + std::string(64, 'b'));
}

TEST_F(ImageStore, GarbageCollectKeepsWhatImagesUse) {
    image_store store(dir);
    ASSERT_TRUE(store.init());
    const std::string l1 = "sha256:" + std::string(64, '1'), l2 = "sha256:" + std::string(64, '2');
    ASSERT_TRUE(make_dirs(store.layer_dir(l1) + "/etc"));
    ASSERT_TRUE(make_dirs(store.layer_dir(l2)));
    ASSERT_TRUE(write_file(dir + "/layerinfo/" + std::string(64, '2'), "{}"));
    ASSERT_TRUE(make_dirs(dir + "/layers/" + std::string(64, '3') + ".staging-x"));  // in progress
    auto kept_config = *store.content().write_bytes("{\"kept\":true}");
    auto other_config = *store.content().write_bytes("{\"kept\":false}");
    auto layer_blob = *store.content().write_bytes("layer bytes");

    image_record keep;
    keep.id = kept_config.digest;
    keep.diff_ids = {l1};
    keep.chain_ids = {l1};
    ASSERT_TRUE(store.garbage_collect({keep}));
    EXPECT_TRUE(store.has_layer(l1));
    EXPECT_FALSE(store.has_layer(l2));
    EXPECT_TRUE(entries(dir + "/layerinfo").empty());
    EXPECT_EQ(entries(dir + "/layers").size(), 2u);  // l1 and the staging dir
    EXPECT_TRUE(store.content().has(kept_config.digest));
    EXPECT_FALSE(store.content().has(other_config.digest));
    EXPECT_FALSE(store.content().has(layer_blob.digest));
}

TEST_F(ImageStore, LoadRejectsArchivesWithoutManifests) {
    image_store store(dir);
    ASSERT_TRUE(store.init());
    ASSERT_TRUE(write_file(dir + "/garbage.tar", std::string(4096, 'x')));
    auto r = store.load_archive(dir + "/garbage.tar");
    ASSERT_FALSE(r);
    EXPECT_NE(r.err().message.find("load " + dir + "/garbage.tar"), std::string::npos) << r.err().message;
    EXPECT_TRUE(entries(dir + "/tmp").empty());

    auto missing = store.load_archive(dir + "/missing.tar");
    ASSERT_FALSE(missing);
    EXPECT_TRUE(entries(dir + "/tmp").empty());
}

}  // namespace
}  // namespace berth::storage
