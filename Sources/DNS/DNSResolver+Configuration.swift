import Foundation
public import NIOCore

extension DNSResolver {
    /// Which DNS servers to ask and how patiently.
    ///
    /// Servers are recursive resolvers given by IP address (a resolver cannot
    /// be found by name without a resolver). Each is tried `attempts` times,
    /// each try waiting at most `timeout`, before the next server is asked.
    public struct Configuration: Sendable, Hashable {
        /// The default DNS port.
        public static let defaultPort = 53
        /// Where `system()` looks for servers.
        public static let resolvConfPath = "/etc/resolv.conf"
        /// The server `system()` falls back to when resolv.conf names none
        /// (what the C library does too).
        public static let fallbackServer = try! SocketAddress(ipAddress: "127.0.0.1", port: 53)

        /// The servers, asked in order.
        public var servers: [SocketAddress]
        /// How long one try waits for an answer (over UDP, then TCP if the
        /// answer was truncated).
        public var timeout: Duration
        /// How many tries each server gets (at least 1).
        public var attempts: Int

        /// - Throws: ``DNSError`` `invalid_configuration` when `servers` is
        ///   empty or holds a non-IP address, or `timeout` or `attempts` is
        ///   not positive.
        public init(servers: [SocketAddress], timeout: Duration = .seconds(2), attempts: Int = 2) throws {
            guard !servers.isEmpty else {
                throw DNSError.invalidConfiguration("no DNS server is configured: set SLIPWAY_DNS_RESOLVERS")
            }
            for server in servers {
                switch server {
                case .v4, .v6: break
                case .unixDomainSocket:
                    throw DNSError.invalidConfiguration(
                        "the DNS server \(server) is not an IP address: DNS servers are reached over UDP and TCP")
                }
            }
            guard timeout > .zero else {
                throw DNSError.invalidConfiguration("the DNS timeout must be positive, not \(timeout)")
            }
            guard attempts >= 1 else {
                throw DNSError.invalidConfiguration("DNS servers need at least 1 attempt, not \(attempts)")
            }
            self.servers = servers
            self.timeout = timeout
            self.attempts = attempts
        }

        /// Servers from a comma-separated list such as
        /// `127.0.0.1:8053,[::1]:53, 192.0.2.53` (the form of
        /// SLIPWAY_DNS_RESOLVERS). See ``parseServers(_:)``.
        public init(servers: String, timeout: Duration = .seconds(2), attempts: Int = 2) throws {
            try self.init(servers: Self.parseServers(servers), timeout: timeout, attempts: attempts)
        }

        /// The system's servers: the `nameserver` lines of /etc/resolv.conf
        /// (or `path`), or 127.0.0.1:53 when there are none or the file cannot
        /// be read.
        public static func system(
            path: String = resolvConfPath, timeout: Duration = .seconds(2), attempts: Int = 2
        ) throws -> Configuration {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            let servers = parseResolvConf(text)
            return try Configuration(
                servers: servers.isEmpty ? [fallbackServer] : servers, timeout: timeout, attempts: attempts)
        }

        /// The servers of resolv.conf text (resolv.conf(5)): every
        /// `nameserver ADDRESS` line, in order, on port 53. Comments (`#`,
        /// `;`), other options and addresses that are not IP addresses are
        /// skipped; an IPv6 zone (`fe80::1%eth0`) is not supported and its
        /// line is skipped too.
        public static func parseResolvConf(_ text: String) -> [SocketAddress] {
            var servers: [SocketAddress] = []
            for line in text.split(whereSeparator: \.isNewline) {
                let content = line.prefix { $0 != "#" && $0 != ";" }
                let fields = content.split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard fields.count >= 2, fields[0] == "nameserver", !fields[1].contains("%") else { continue }
                if let address = try? SocketAddress(ipAddress: String(fields[1]), port: defaultPort) {
                    servers.append(address)
                }
            }
            return servers
        }

        /// Parses a comma-separated list of servers: `IPv4`, `IPv4:port`,
        /// `IPv6`, `[IPv6]` or `[IPv6]:port`; the port defaults to 53.
        /// Spaces around entries are ignored.
        /// - Throws: ``DNSError`` `invalid_configuration` naming the entry
        ///   that is not an address, and what a good one looks like.
        public static func parseServers(_ list: String) throws -> [SocketAddress] {
            let entries = list.split(separator: ",", omittingEmptySubsequences: false).map {
                String($0.trimmingSpacesAndTabs())
            }
            guard entries.contains(where: { !$0.isEmpty }) else {
                throw DNSError.invalidConfiguration(
                    "the list of DNS servers is empty: give IP addresses with optional ports, such as "
                        + "127.0.0.1:8053,[::1]:53")
            }
            return try entries.map { entry in
                guard !entry.isEmpty else {
                    throw DNSError.invalidConfiguration(
                        "the list of DNS servers \"\(list)\" has an empty entry: separate addresses with single commas")
                }
                return try parseServer(entry)
            }
        }

        /// One server: `IPv4[:port]`, `[IPv6][:port]` or a bare IPv6 address.
        static func parseServer(_ entry: String) throws -> SocketAddress {
            func invalid(_ reason: String) -> DNSError {
                DNSError.invalidConfiguration(
                    "\"\(entry)\" is not a DNS server address: \(reason); write an IP address with an optional "
                        + "port, such as 127.0.0.1:8053 or [::1]:53 (names are not accepted)")
            }
            var host = Substring(entry)
            var portText: Substring? = nil
            if host.hasPrefix("[") {
                guard let close = host.firstIndex(of: "]") else { throw invalid("the \"[\" is never closed") }
                let rest = host[host.index(after: close)...]
                host = host[host.index(after: host.startIndex)..<close]
                if !rest.isEmpty {
                    guard rest.hasPrefix(":") else { throw invalid("unexpected \"\(rest)\" after \"]\"") }
                    portText = rest.dropFirst()
                }
            } else if host.filter({ $0 == ":" }).count == 1, let colon = host.firstIndex(of: ":") {
                portText = host[host.index(after: colon)...]
                host = host[..<colon]
            }
            // More than one colon without brackets: a bare IPv6 address.
            var port = defaultPort
            if let portText {
                guard let value = Int(portText), (1...65535).contains(value) else {
                    throw invalid("the port \"\(portText)\" is not a number from 1 to 65535")
                }
                port = value
            }
            guard !host.isEmpty else { throw invalid("the address is missing") }
            do {
                return try SocketAddress(ipAddress: String(host), port: port)
            } catch {
                throw invalid("\"\(host)\" is not an IPv4 or IPv6 address")
            }
        }
    }
}
