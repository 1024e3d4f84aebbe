import NIOCore
import NIOHTTP1

extension S3ObjectStore {
    /// Creates the configured bucket (setup tooling and tests). A bucket that
    /// already exists and that these credentials can use is not an error.
    /// - Throws: `ObjectStoreError`, e.g. `rejected` (409) when the name is
    ///   taken by someone else.
    public func createBucket() async throws {
        var request = S3Request(operation: "CreateBucket", method: .PUT, key: nil)
        // us-east-1 (AWS's default) and R2's `auto` take no location; any
        // other AWS region must be named or the bucket lands in us-east-1.
        if configuration.region != "us-east-1" && configuration.region != "auto" {
            request.body = ByteBuffer(
                string:
                    #"<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>"#
                    + S3XML.escape(configuration.region) + "</LocationConstraint></CreateBucketConfiguration>"
            )
            request.headers = [("content-type", "application/xml")]
        }
        do {
            _ = try await sendAndCollect(request, limit: 64 << 10)
        } catch let error as ObjectStoreError where error.status == 409 {
            // BucketAlreadyOwnedByYou or BucketAlreadyExists: fine if we can use it.
            guard (try? await bucketExists()) == true else { throw error }
        }
    }

    /// Whether the configured bucket exists and these credentials may use it.
    /// - Throws: `ObjectStoreError` for anything but "exists" (200) and
    ///   "does not exist" (404).
    public func bucketExists() async throws -> Bool {
        do {
            _ = try await sendAndCollect(S3Request(operation: "HeadBucket", method: .HEAD, key: nil), limit: 0)
            return true
        } catch let error as ObjectStoreError where error.code == .noSuchBucket {
            return false
        }
    }

    /// Deletes the configured bucket, which must be empty (see
    /// `deletePrefix("")`). A bucket that does not exist is not an error.
    public func deleteBucket() async throws {
        do {
            _ = try await sendAndCollect(
                S3Request(operation: "DeleteBucket", method: .DELETE, key: nil), limit: 64 << 10)
        } catch let error as ObjectStoreError where error.code == .noSuchBucket {
            return
        }
    }
}
