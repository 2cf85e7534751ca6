// A fresh directory under /tmp for one test, removed with everything in it
// when the test is done.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace berth::test {

struct temp_dir {
    std::string path;
    explicit temp_dir(const char* prefix = "berth-unit") {
        std::string tmpl = std::string("/tmp/") + prefix + "-XXXXXX";
        if (::mkdtemp(tmpl.data())) path = tmpl;
    }
    ~temp_dir() {
        if (!path.empty()) std::filesystem::remove_all(path);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
};

}  // namespace berth::test
