/// A test's own failure: something the test waited for did not happen, or a
/// peer answered with something unusable. Its description says which.
public struct TestFailure: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}
