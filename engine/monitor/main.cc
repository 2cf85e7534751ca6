// berth-zygote: the zygote's own small executable (engine/monitor/zygote.h).
// The monitor forks and execs it with the zygote's socket on fd 3.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "engine/monitor/zygote.h"

int main() {
    // The monitor forked us: if it died between the fork and here, go too.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() == 1) return 1;
    // Its socket is not for the containers it clones: closed at their exec.
    ::fcntl(3, F_SETFD, FD_CLOEXEC);
    berth::monitor::install_child_heap();
    berth::monitor::run_zygote(3);
}
