/// The limits of the webhook deliveries a catalog remembers
/// (``Catalog/recordWebhookDelivery(id:siteID:window:)``).
public enum WebhookDeliveries {
    /// How long a delivery id is remembered by default: a copy of a delivery
    /// sent again within this time queues nothing.
    public static let defaultWindow: Duration = .seconds(24 * 60 * 60)

    /// The longest window a catalog accepts.
    public static let maxWindow: Duration = .seconds(365 * 24 * 60 * 60)

    /// The longest delivery id accepted, in bytes (GitHub's are 36-character GUIDs).
    public static let maxIDLength = 128

    /// What is wrong with `id` as a delivery id; nil when it is 1 to
    /// ``maxIDLength`` visible ASCII characters.
    public static func problem(with id: String) -> String? {
        guard !id.isEmpty else { return "the delivery id is empty" }
        guard id.utf8.count <= maxIDLength else {
            return "the delivery id is longer than \(maxIDLength) characters"
        }
        guard id.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            return "the delivery id may only hold visible ASCII characters (no spaces)"
        }
        return nil
    }
}
