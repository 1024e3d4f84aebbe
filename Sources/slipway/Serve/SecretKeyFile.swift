import Model

/// The keys that seal secrets at rest (``SecretKeyring``):
/// `SLIPWAY_SECRET_KEY` when set, else the key generated into
/// `<data>/secret-key` (mode 0600) on the first start of a single node.
/// Lose that file and the sealed values in the catalog are lost with it:
/// back it up with the catalog.
enum SecretKeyFile {
    static func path(in dataDirectory: String) -> String { dataDirectory + "/secret-key" }

    static func resolve(configured: SecretKeyring?, dataDirectory: String) throws -> SecretKeyring {
        if let configured { return configured }
        do { return try SecretKeyring.loadOrCreate(keyFile: path(in: dataDirectory)) } catch {
            throw ServeError("\(error); or set SLIPWAY_SECRET_KEY")
        }
    }
}
