import Foundation
import Logging
import Synchronization

/// The operator's certificate and key files (`SLIPWAY_TLS_CERT_FILE`,
/// `SLIPWAY_TLS_KEY_FILE`): loaded at start, where a file that cannot be
/// used stops the start, and again whenever either changes on disk (a
/// renewal writing new files, in place or by rename), where it does not:
/// the certificate in use is kept and the problem logged until the files
/// are usable again. A renewal that writes the certificate and the key one
/// after the other is so picked up once both are there.
final class CertificateFiles: Sendable {
    /// What the files were when last read: a change to either is a reload.
    private struct Stamp: Equatable {
        var certificate: [String]
        var key: [String]
    }

    static let source = "files"

    let certificateFile: String
    let keyFile: String
    private let certificates: EdgeCertificates
    private let seen = Mutex<Stamp?>(nil)
    private let logger: Logger

    init(certificateFile: String, keyFile: String, certificates: EdgeCertificates, logger: Logger) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.certificates = certificates
        self.logger = logger
    }

    /// Loads the files and puts their certificate in use.
    /// - Returns: the certificate.
    /// - Throws: ``EdgeTLSError`` when they cannot be used.
    @discardableResult
    func load() throws(EdgeTLSError) -> EdgeCertificate {
        let stamp = self.stamp()
        let certificate = try EdgeCertificate(certificateFile: certificateFile, keyFile: keyFile)
        certificates.replace(source: Self.source, with: certificate)
        seen.withLock { $0 = stamp }
        logger.info(
            "TLS certificate loaded",
            metadata: [
                "file": "\(certificateFile)", "names": "\(certificate.names.joined(separator: ","))",
                "serial": "\(certificate.serial)", "not_after": "\(certificate.notValidAfter)",
            ])
        return certificate
    }

    /// Loads the files again if either changed since they were last read.
    /// - Returns: whether a new certificate is in use.
    @discardableResult
    func reloadIfChanged() -> Bool {
        let stamp = self.stamp()
        guard seen.withLock({ $0 != stamp }) else { return false }
        do {
            try load()
            return true
        } catch {
            // Remember what was seen, so the same unusable files are
            // reported once, not on every check.
            seen.withLock { $0 = stamp }
            logger.error(
                "cannot use the changed TLS certificate files; the certificate in use is kept",
                metadata: ["file": "\(certificateFile)", "key_file": "\(keyFile)", "error": "\(error)"])
            return false
        }
    }

    /// Checks the files every `interval` until cancelled.
    func watch(every interval: Duration) async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
            reloadIfChanged()
        }
    }

    private func stamp() -> Stamp {
        Stamp(certificate: Self.stamp(of: certificateFile), key: Self.stamp(of: keyFile))
    }

    /// A file's identity, size and modification time (empty when it cannot be read).
    private static func stamp(of path: String) -> [String] {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return [] }
        return [
            "\(attributes[.systemFileNumber] ?? "")", "\(attributes[.size] ?? "")",
            "\((attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)",
        ]
    }
}
