import Foundation
import Model

/// The two renderings of a signing time SigV4 uses, in UTC.
struct SigV4Time {
    /// `yyyyMMdd'T'HHmmss'Z'`
    let amzDate: String
    /// `yyyyMMdd`
    let dateStamp: String

    init(_ date: Date) {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let civil = CivilTime(secondsSince1970: seconds)
        func pad(_ value: Int64, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        dateStamp = pad(civil.year, 4) + pad(civil.month, 2) + pad(civil.day, 2)
        amzDate = dateStamp + "T" + pad(civil.hour, 2) + pad(civil.minute, 2) + pad(civil.second, 2) + "Z"
    }
}

/// Parsers for the two date formats S3 answers with. Hand-written because
/// both formats are fixed, and `DateFormatter` depends on locale and is slow
/// to create.
enum S3Dates {
    /// Parses an HTTP date (RFC 9110), as in `Last-Modified`.
    static func parseHTTPDate(_ text: String) -> Date? {
        HTTPDate.parse(text).map { Date(timeIntervalSince1970: TimeInterval($0)) }
    }

    /// Parses an ISO 8601 UTC timestamp as S3 listings carry it:
    /// `2009-10-12T17:50:30.000Z` (fraction optional).
    static func parseISO8601(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.last == UInt8(ascii: "Z"), bytes[4] == UInt8(ascii: "-"),
            bytes[7] == UInt8(ascii: "-"),
            bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":")
        else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for byte in bytes[range] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
            let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        var fraction: TimeInterval = 0
        if bytes.count > 20 {
            guard bytes[19] == UInt8(ascii: "."), let digits = number(20..<(bytes.count - 1)) else { return nil }
            fraction = TimeInterval(digits) / pow(10, TimeInterval(bytes.count - 21))
        } else {
            guard bytes[19] == UInt8(ascii: "Z") else { return nil }
        }
        let civil = CivilTime(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        return civil.secondsSince1970.map { Date(timeIntervalSince1970: TimeInterval($0) + fraction) }
    }
}
