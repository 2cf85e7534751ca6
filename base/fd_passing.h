// Descriptors over UNIX sockets (SCM_RIGHTS): the monitor protocol, the
// zygote's replies, a container's pty master on its way to the monitor.
#pragma once

#include <string_view>
#include <vector>

#include <sys/socket.h>

#include "base/error.h"
#include "base/fd.h"

namespace berth {

// One message with `fds` attached; retries on EINTR. flags: MSG_NOSIGNAL by default.
status send_with_fds(int sock, std::string_view data, const std::vector<int>& fds, int flags = MSG_NOSIGNAL);
// One message into buf (its size; 0 at EOF); descriptors that came with it
// are appended to fds (close-on-exec), or closed when fds is null. Up to 16.
// EAGAIN with MSG_DONTWAIT is returned as an error with sys_errno EAGAIN.
result<std::size_t> recv_with_fds(int sock, char* buf, std::size_t len, std::vector<unique_fd>* fds, int flags = 0);

}  // namespace berth
