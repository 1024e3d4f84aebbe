#ifndef SLIPWAY_CTESTSPAWN_SHIM_H
#define SLIPWAY_CTESTSPAWN_SHIM_H
// posix_spawn file actions that glibc declares only for _GNU_SOURCE, for the
// tests' child processes (Tests/SlipwayTestSupport/TestProcess.swift).
#include <errno.h>
#include <spawn.h>

#ifdef __linux__
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);
extern int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *actions, const char *path);
#endif

/// The child closes every descriptor from `from` up; 0 or an errno.
static inline int slipway_test_spawn_closefrom(posix_spawn_file_actions_t *actions, int from) {
#ifdef __linux__
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
#else
    (void)actions, (void)from;
    return ENOSYS;
#endif
}

/// The child changes to `path` before it execs; 0 or an errno.
static inline int slipway_test_spawn_chdir(posix_spawn_file_actions_t *actions, const char *path) {
#ifdef __linux__
    return posix_spawn_file_actions_addchdir_np(actions, path);
#else
    (void)actions, (void)path;
    return ENOSYS;
#endif
}
#endif
