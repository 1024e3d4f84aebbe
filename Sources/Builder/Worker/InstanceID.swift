import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Names for the parts of this process that hold catalog leases (build
/// workers, notification senders): `<host>-<pid>-<random>`, unique among
/// the processes sharing a catalog and readable in its rows.
enum InstanceID {
    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let random = String(generator.next(upperBound: UInt32(1 << 24)), radix: 36)
        return "\(ProcessInfo.processInfo.hostName.prefix(60))-\(getpid())-\(random)"
    }
}
