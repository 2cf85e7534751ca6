// Local images: the content store, layers unpacked once, import and load.
//
// Layout under the storage root (the daemon's data root):
//   content/blobs/sha256/<hex>   verified blobs (configs, manifests, layer archives)
//   content/ingest/              staging for blobs being written
//   layers/<chain-id hex>/       one unpacked layer, shared by every image and
//                                container that uses it (an overlay lowerdir)
//   layerinfo/<chain-id hex>     {"diff_id","size"} of that layer, written before
//                                the layer dir is renamed into place
//   tmp/                         scratch for archives being read
//
// A blob is verified as it is written, staged in ingest/ and renamed into
// place: a half-written blob is never visible. A layer is unpacked exactly
// once (keyed by chain id); unpacking is staged the same way
// (layers/<hex>.staging-<random>) and the layer's diff id checked before the
// rename: a layer dir that exists holds exactly what its chain id names.
// Imports and loads may run concurrently with each other; garbage_collect
// must not run concurrently with them (the daemon serializes it).
//
// The image records themselves (tags, configs) are the daemon's metadata:
// this module returns them and the caller persists them. Everything here
// blocks: call it from the worker pool.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "storage/content.h"

namespace berth::storage {

struct image_record {
    std::string id;                       // "sha256:<hex>" digest of config_json
    std::vector<std::string> repo_tags;   // normalized "name:tag", e.g. "busybox:latest"
    std::vector<std::string> repo_digests;
    std::string config_json;              // the OCI/Docker image config, verbatim
    std::vector<std::string> diff_ids;    // bottom layer first
    std::vector<std::string> chain_ids;   // bottom layer first
    std::int64_t created_ns = 0;          // from config "created"
    std::uint64_t size = 0;               // sum of unpacked layer sizes
};

// Docker's reference normalization: "busybox" -> "busybox:latest",
// "docker.io/library/busybox:1" -> "busybox:1",
// "127.0.0.1:5000/a/b" -> "127.0.0.1:5000/a/b:latest". A digest reference
// ("name@sha256:…") is kept. invalid_argument for malformed references
// (upper case in the repository, empty parts, bad tag characters).
result<std::string> normalize_reference(std::string_view ref);

// chain_id(n) = diff_id(0) for n == 0, else sha256(chain_id(n-1) + " " + diff_id(n)).
std::vector<std::string> chain_ids(const std::vector<std::string>& diff_ids);

// The image config `import_tarball` writes for a one-layer image with
// `diff_id`, created at `created_ns`, with Dockerfile-style `changes` applied
// (CMD, ENTRYPOINT, ENV, LABEL, WORKDIR, USER, EXPOSE, VOLUME, STOPSIGNAL,
// ONBUILD). invalid_argument for any other instruction or a malformed one.
result<std::string> build_import_config(const std::vector<std::string>& changes, const std::string& diff_id,
                                        std::int64_t created_ns);

class image_store {
public:
    explicit image_store(std::string root);

    // Creates the directories of the layout; removes leftover staging dirs
    // (ingest/, tmp/, layers/*.staging-*): call it before any other operation.
    status init();

    // `docker import`: a (possibly gzip/zstd compressed) tar of a root
    // filesystem becomes a one-layer image tagged `reference` (may be empty:
    // untagged). `changes` are Dockerfile-style instructions ("CMD [..]",
    // "ENV K=V", "ENTRYPOINT …", "WORKDIR …", "USER …") applied to the config.
    result<image_record> import_tarball(const std::string& tar_path, const std::string& reference,
                                        const std::vector<std::string>& changes = {});

    // `docker load`: an archive written by `docker save` (manifest.json) or an
    // OCI image layout archive (oci-layout, index.json; tags from the
    // org.opencontainers.image.ref.name / io.containerd.image.name
    // annotations). Multi-layer. Every blob is verified against its digest and
    // every layer's diff id against the config.
    result<std::vector<image_record>> load_archive(const std::string& archive_path);

    // Directory of an unpacked layer (whether or not it exists).
    std::string layer_dir(const std::string& chain_id) const;
    bool has_layer(const std::string& chain_id) const;

    // Removes the unpacked layers no image in `keep` uses and every blob but
    // the kept images' configs (a layer archive is not needed once unpacked).
    // Staging dirs are left alone. Must not run concurrently with an import
    // or a load: their layers are not in `keep` until they return.
    status garbage_collect(const std::vector<image_record>& keep);

    const std::string& root() const { return _root; }
    content_store& content() { return _content; }

private:
    std::string _root;
    content_store _content;
};

}  // namespace berth::storage
