import NIOHTTP1

/// Step 1 of the serving pipeline: sites answer GET and HEAD only (and
/// protected sites' sign-in forms a POST, ``ReservedPaths/takesPost(target:)``).
enum MethodCheck {
    /// The value of `Allow` on a 405.
    static let allowHeader = "GET, HEAD"

    /// Whether a site serves `method`.
    static func isAllowed(_ method: HTTPMethod) -> Bool {
        method == .GET || method == .HEAD
    }
}
