import Testing

@testable import DNS

/// The ``DNSError`` `body` throws; records an issue (and returns nil) when it
/// throws nothing or something else.
func dnsError(_ body: () async throws -> Void) async -> DNSError? {
    do {
        try await body()
        Issue.record("no error was thrown")
    } catch let error as DNSError {
        return error
    } catch {
        Issue.record("unexpected \(error)")
    }
    return nil
}

/// Expects `body` to throw a ``DNSError`` labelled `label` whose message
/// contains `text`.
func expectDNSError(_ label: String, containing text: String, _ body: () async throws -> Void) async {
    let error = await dnsError(body)
    #expect(error?.label == label)
    #expect(error?.message.contains(text) == true, "\(String(describing: error))")
}
