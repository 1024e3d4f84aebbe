import Foundation

/// A new, empty directory under the system's temporary directory
/// (`slipway-serve-<UUID>`); its path.
public func temporaryDirectory() -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("slipway-serve-\(UUID().uuidString)").path
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
