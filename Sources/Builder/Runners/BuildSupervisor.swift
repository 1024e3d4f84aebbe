import CProcessControl
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The parent of every local build command: `slipway supervise [--uid U
/// --gid G] -- <command>…` (a hidden subcommand).
///
/// It is a child subreaper (`PR_SET_CHILD_SUBREAPER`): every process the
/// command starts, even one that detaches itself (`&`, `nohup`, `setsid`,
/// double forks), is reparented to it when its own parent dies. It starts
/// the command (as `uid:gid` when given, with no supplementary groups),
/// waits for it, then kills with `SIGKILL` and reaps every descendant left,
/// and exits with the command's status (128 + the signal when it was
/// killed). `SIGINT`, `SIGHUP`, `SIGTERM` and the death of its parent
/// (`PR_SET_PDEATHSIG`) do the same at once: nothing outlives the build.
public enum BuildSupervisor {
    /// The subcommand's name.
    public static let subcommand = "supervise"

    /// The arguments that run `command` under the supervisor.
    static func arguments(command: [String], user: BuilderConfiguration.BuildUser?) -> [String] {
        var arguments = [subcommand]
        if let user { arguments += ["--uid", String(user.uid), "--gid", String(user.gid)] }
        return arguments + ["--"] + command
    }

    /// Runs `command` supervised; never returns. Linux only.
    public static func run(command: [String], user: BuilderConfiguration.BuildUser?) -> Never {
        #if os(Linux)
            supervise(command: command, user: user)
        #else
            fail("supervising a build needs Linux")
        #endif
    }

    #if os(Linux)
        private static func supervise(command: [String], user: BuilderConfiguration.BuildUser?) -> Never {
            guard let executable = command.first else { fail("no command to run") }
            let parent = getppid()
            guard slipway_become_subreaper() == 0 else { fail("cannot become a subreaper: \(errorText())") }
            guard slipway_set_parent_death_signal(SIGTERM) == 0 else {
                fail("cannot ask for the parent's death signal: \(errorText())")
            }
            // The parent died before the death signal was armed.
            if getppid() != parent { exit(128 + SIGTERM) }

            // Signals are taken synchronously (sigwaitinfo); the command gets them unblocked.
            var watched = sigset_t()
            sigemptyset(&watched)
            for signal in [SIGCHLD, SIGTERM, SIGINT, SIGHUP] { sigaddset(&watched, signal) }
            var previous = sigset_t()
            pthread_sigmask(SIG_BLOCK, &watched, &previous)

            // Everything the child needs is prepared before the fork: it only makes
            // system calls. (Never freed: this process ends with `exit`.)
            let argv = command.map { strdup($0) } + [nil]
            let path = strdup(executable)

            let child = slipway_spawn(path, argv, &previous, user == nil ? 0 : 1, user?.uid ?? 0, user?.gid ?? 0)
            if child < 0 { fail("cannot start \(executable): \(errorText())") }

            var status: Int32?
            while status == nil {
                var info = siginfo_t()
                let signal = sigwaitinfo(&watched, &info)
                if signal == SIGCHLD {
                    status = reap(until: child)
                } else if signal == SIGTERM && getppid() == parent && info._sifields._kill.si_pid == parent {
                    // The parent's spawning thread ended (the death signal follows
                    // the thread, not the process): the parent lives on.
                    continue
                } else if signal > 0 {
                    killDescendants()
                    exit(128 + signal)
                }
            }
            killDescendants()
            exit(status ?? 1)
        }

        /// Reaps every child that ended; returns the status of `child` when it is one of them.
        private static func reap(until child: pid_t) -> Int32? {
            var result: Int32?
            while true {
                var status: Int32 = 0
                let pid = waitpid(-1, &status, WNOHANG)
                if pid <= 0 { return result }
                if pid == child { result = exitCode(status) }
            }
        }

        private static func exitCode(_ status: Int32) -> Int32 {
            let signal = status & 0x7f
            return signal == 0 ? (status >> 8) & 0xff : 128 + signal
        }

        /// Kills and reaps every descendant: each is a child of this process
        /// once its parent is dead, so the loop ends when no child is left.
        static func killDescendants() {
            let me = getpid()
            while true {
                for pid in children(of: me) { kill(pid, SIGKILL) }
                var status: Int32 = 0
                let pid = waitpid(-1, &status, WNOHANG)
                if pid < 0 && errno == ECHILD { return }
                if pid <= 0 { usleep(1000) }
            }
        }

        /// The processes whose parent is `parent`, from `/proc/<pid>/stat`.
        static func children(of parent: pid_t) -> [pid_t] {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
            return names.compactMap { name -> pid_t? in
                guard let pid = pid_t(name),
                    let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8)
                else { return nil }
                // "pid (comm) state ppid …": comm may hold spaces and parentheses.
                guard let close = stat.lastIndex(of: ")") else { return nil }
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                guard fields.count > 1, pid_t(fields[1]) == parent else { return nil }
                return pid
            }
        }

    #endif

    private static func errorText() -> String { String(cString: strerror(errno)) }

    private static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("slipway supervise: \(message)\n".utf8))
        exit(125)
    }
}
