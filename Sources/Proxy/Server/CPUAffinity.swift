import Foundation

/// The CPU affinity of this process, as Linux reports it in
/// `/proc/thread-self/status` (`Cpus_allowed_list`).
enum CPUAffinity {
    /// How many cores the calling thread (at startup: the process) may be
    /// scheduled on, or nil where the system does not say.
    static func allowedCoreCount() -> Int? {
        #if os(Linux)
            guard let status = try? String(contentsOfFile: "/proc/thread-self/status", encoding: .utf8) else {
                return nil
            }
            return allowedCoreCount(status: status)
        #else
            return nil
        #endif
    }

    /// The count in a `/proc/<pid>/status` text: `Cpus_allowed_list` is a
    /// comma-separated list of cores and ranges (`0-3,8,10-11`).
    static func allowedCoreCount(status: String) -> Int? {
        let prefix = "Cpus_allowed_list:"
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return nil }
        var count = 0
        for item in line.dropFirst(prefix.count).split(separator: ",") {
            let bounds = item.trimmingCharacters(in: .whitespaces).split(
                separator: "-", omittingEmptySubsequences: false)
            guard let first = bounds.first.flatMap({ Int($0) }), let last = bounds.last.flatMap({ Int($0) }),
                bounds.count <= 2, first >= 0, last >= first
            else { return nil }
            count += last - first + 1
        }
        return count > 0 ? count : nil
    }
}
