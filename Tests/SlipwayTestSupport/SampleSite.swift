/// A small site for publishing tests, as path → text.
public enum SampleSite {
    /// 30 files: 20 pages and 8 hashed scripts (all compressible, so each
    /// gets a gzip variant), and two binaries with the same bytes.
    public static let thirtyFiles: [String: String] = {
        var files: [String: String] = [:]
        for index in 0..<20 {
            files["page-\(index).html"] =
                "<!doctype html><title>Page \(index)</title>" + String(repeating: "<p>hello \(index)</p>", count: 40)
        }
        for index in 0..<8 {
            files["assets/chunk-\(index)-a1b2c3d4.js"] =
                "export const chunk = \(index);\n"
                + String(repeating: "console.log('chunk \(index)');\n", count: 30)
        }
        files["data.bin"] = "version 1"
        files["copy.bin"] = "version 1"
        return files
    }()
}
