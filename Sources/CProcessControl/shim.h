#ifndef SLIPWAY_CPROCESSCONTROL_SHIM_H
#define SLIPWAY_CPROCESSCONTROL_SHIM_H
// Linux process control for the build supervisor (`slipway supervise`):
// prctl is variadic (Swift cannot call it), and the child side of a fork
// must only make system calls, so it is written here. Elsewhere every
// function fails with ENOSYS.
#include <errno.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>
#ifdef __linux__
#include <grp.h>
#include <string.h>
#include <sys/prctl.h>
#endif

/// Makes this process a child subreaper; 0 or -1 (errno).
static inline int slipway_become_subreaper(void) {
#ifdef __linux__
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

/// Asks for `signal` when the parent dies; 0 or -1 (errno).
static inline int slipway_set_parent_death_signal(int signal) {
#ifdef __linux__
    return prctl(PR_SET_PDEATHSIG, signal, 0, 0, 0);
#else
    (void)signal;
    errno = ENOSYS;
    return -1;
#endif
}

/// Forks; the child restores `mask`, switches to uid:gid with no
/// supplementary groups when `switch_user` (and checks it cannot switch
/// back), then execs `path` with `argv`. Exits 126 when the switch fails,
/// 127 when the exec does, saying so on stderr. Returns the child's pid,
/// or -1 (errno).
static inline pid_t slipway_spawn(
    const char *path, char *const argv[], const sigset_t *mask, int switch_user, uid_t uid, gid_t gid) {
#ifdef __linux__
    pid_t pid = fork();
    if (pid != 0) return pid;
    sigprocmask(SIG_SETMASK, mask, NULL);
    if (switch_user) {
        if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0
            || (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0 || getuid() != uid || geteuid() != uid))) {
            static const char message[] = "slipway supervise: cannot switch to the build user\n";
            (void)!write(2, message, sizeof message - 1);
            _exit(126);
        }
    }
    execvp(path, argv);
    static const char message[] = "slipway supervise: cannot run the command\n";
    (void)!write(2, message, sizeof message - 1);
    _exit(127);
#else
    (void)path, (void)argv, (void)mask, (void)switch_user, (void)uid, (void)gid;
    errno = ENOSYS;
    return -1;
#endif
}
#endif
