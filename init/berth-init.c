/* berth-init: the tiny init `run --init` puts at PID 1 of a container
 * (mounted at /sbin/docker-init, where Docker puts tini).
 *
 *   docker-init -- COMMAND [ARG...]
 *
 * Runs COMMAND as its only direct child, forwards every signal it can catch
 * to it (the process group of the child when it is a group leader), reaps
 * every zombie the container makes (orphans are re-parented to PID 1), and
 * exits with COMMAND's status (128+N when a signal N killed it).
 *
 * Linked -static: it runs in any image, libc or not. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
    int first = 1;
    if (first < argc && strcmp(argv[first], "--") == 0) first++;
    if (first >= argc) {
        fprintf(stderr, "docker-init: usage: docker-init -- COMMAND [ARG...]\n");
        return 2;
    }

    /* Every catchable signal waits in a signalfd instead of being handled. */
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    int sfd = signalfd(-1, &all, SFD_CLOEXEC);
    if (sfd < 0) {
        perror("docker-init: signalfd");
        return 2;
    }

    pid_t child = fork();
    if (child < 0) {
        perror("docker-init: fork");
        return 2;
    }
    if (child == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        /* Its own process group, the foreground one when there is a
         * terminal: job control and ^C reach it as with a shell. */
        setpgid(0, 0);
        if (isatty(0)) {
            signal(SIGTTOU, SIG_IGN);
            tcsetpgrp(0, getpid());
            signal(SIGTTOU, SIG_DFL);
        }
        execvp(argv[first], argv + first);
        fprintf(stderr, "docker-init: exec %s: %s\n", argv[first], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }

    for (;;) {
        struct signalfd_siginfo si;
        ssize_t n = read(sfd, &si, sizeof si);
        if (n != sizeof si) {
            if (n < 0 && errno == EINTR) continue;
            perror("docker-init: read signalfd");
            return 2;
        }
        if (si.ssi_signo != SIGCHLD) {
            /* Forward; the child may have made itself a group leader. */
            if (kill(-child, (int)si.ssi_signo) != 0) kill(child, (int)si.ssi_signo);
            continue;
        }
        for (;;) {
            int ws;
            pid_t p = waitpid(-1, &ws, WNOHANG);
            if (p <= 0) break;
            if (p != child) continue; /* a reaped orphan */
            /* The kernel kills what is left of the pid namespace when we exit. */
            if (WIFEXITED(ws)) return WEXITSTATUS(ws);
            if (WIFSIGNALED(ws)) return 128 + WTERMSIG(ws);
            return 1;
        }
    }
}
