// Filling a new, empty named volume from the image's content at its target,
// as Docker does on first mount. Runs in the container child, after
// pivot_root (the container's own tree), before the volume is attached.
#pragma once

#include "base/error.h"

namespace berth::runtime {

// Copies the tree under `from` (a directory fd in the container's root)
// into `to` (the volume's detached mount) when `to` is empty: regular files,
// directories, symlinks, fifos and device nodes with their modes, owners and
// times; the top directory's mode and owner too. Never follows a symlink.
status populate_volume(int from, int to);

}  // namespace berth::runtime
