// berth-zygote: the zygote's own small executable (engine/monitor/zygote.h).
// The monitor forks and execs it with the zygote's socket on fd 3.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "engine/monitor/zygote.h"

int main() {
    // The monitor forked us: if it died between the fork and here, go too.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() == 1) return 1;
    berth::monitor::run_zygote(3);
}
