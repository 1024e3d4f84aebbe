import ACME
import AsyncHTTPClient
import Crypto
import DNS
import Domains
import Foundation
import Logging
import Model
import NIOCore
import NIOSSL
import ServiceLifecycle
import Storage

extension Server {
    /// The custom-domain checker and certificate issuer of a node with the
    /// admin role (one node of a fleet works at a time, under a lease),
    /// as a service of the group; its HTTP clients close with it.
    func domainService(
        keyring: SecretKeyring, catalog: any Catalog, bus: any EventBus, store: any ObjectStore
    ) throws -> any Service {
        let settings = configuration.domains
        let logger = Logger(label: "slipway.domains")
        let resolvers: DNSResolver.Configuration
        do {
            resolvers = try settings.resolvers.map { try DNSResolver.Configuration(servers: $0) } ?? .system()
        } catch {
            throw ServeError("cannot set up the DNS resolvers for custom domains: \(error); set SLIPWAY_DNS_RESOLVERS")
        }
        var probeConfiguration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        probeConfiguration.timeout = .init(connect: .seconds(5), read: .seconds(10))
        let probeClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: probeConfiguration)
        let verifier = DomainVerifier(
            resolver: DNSResolver(configuration: resolvers, logger: logger), httpClient: probeClient,
            probePort: settings.probePort,
            probeKeys: DomainProbe.keys(keyring).map { $0.withUnsafeBytes { Data($0) } })
        var acmeClient: HTTPClient?
        var issuer: CertificateIssuer?
        if let directory = settings.acmeDirectory {
            var acmeConfiguration = HTTPClient.Configuration(redirectConfiguration: .disallow)
            acmeConfiguration.timeout = .init(connect: .seconds(10), read: .seconds(30))
            if let file = settings.acmeCAFile {
                var tls = TLSConfiguration.makeClientConfiguration()
                do { tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(file)) } catch {
                    throw ServeError("SLIPWAY_ACME_CA_FILE: \(file) holds no PEM certificate: \(error)")
                }
                acmeConfiguration.tlsConfiguration = tls
            }
            let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: acmeConfiguration)
            acmeClient = http
            let client = ACMEClient(
                directoryURL: directory, accountKey: ACMEAccountKeys.derive(keyring: keyring),
                httpClient: http, logger: logger, contact: settings.acmeEmail.map { ["mailto:\($0)"] } ?? [])
            issuer = CertificateIssuer(
                client: client, objects: DomainCertificateObjects(store: store, keyring: keyring), catalog: catalog,
                logger: logger)
        }
        let acmeHTTP = acmeClient
        var serviceConfiguration = CustomDomainService.Configuration(
            nodeID: "\(ProcessInfo.processInfo.hostName)-\(getpid())-\(UUID().uuidString.prefix(8))")
        serviceConfiguration.tick = settings.checkInterval
        let service = CustomDomainService(
            configuration: serviceConfiguration, catalog: catalog, bus: bus, verifier: verifier, issuer: issuer,
            logger: logger)
        return LifecycleService(
            description: "custom domains",
            start: { service.start() },
            stop: {
                await service.shutdown()
                try? await probeClient.shutdown()
                try? await acmeHTTP?.shutdown()
            })
    }
}
