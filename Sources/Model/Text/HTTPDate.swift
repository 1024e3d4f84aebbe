public import Foundation

/// HTTP dates (RFC 9110 §5.6.7): formatting as IMF-fixdate, parsing the
/// three formats a recipient must accept.
public enum HTTPDate {
    private static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `Sun, 06 Nov 1994 08:49:37 GMT` for the whole second of `date`.
    public static func format(_ date: Date) -> String {
        format(epochSeconds: Int64(date.timeIntervalSince1970.rounded(.down)))
    }

    public static func format(epochSeconds: Int64) -> String {
        let days = floorDivide(epochSeconds, 86_400)
        let civil = CivilTime(secondsSince1970: epochSeconds)
        let weekday = Int((days % 7 + 11) % 7) // 1970-01-01 was a Thursday
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(weekdays[weekday]), \(two(civil.day)) \(months[Int(civil.month) - 1]) \(civil.year) "
            + "\(two(civil.hour)):\(two(civil.minute)):\(two(civil.second)) GMT"
    }

    /// Seconds since the epoch of an IMF-fixdate, RFC 850 or asctime date; nil when it is none of them.
    public static func parse(_ text: String) -> Int64? {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        switch fields.count {
        case 6 where fields[5] == "GMT" && fields[0].hasSuffix(","):
            // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
            guard fields[1].count == 2, let day = Int64(fields[1]), let month = monthNumber(fields[2]),
                fields[3].count == 4, let year = Int64(fields[3])
            else { return nil }
            return epoch(year: year, month: month, day: day, time: fields[4])
        case 4 where fields[3] == "GMT" && fields[0].hasSuffix(","):
            // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
            let parts = fields[1].split(separator: "-").map(String.init)
            guard parts.count == 3, parts[0].count == 2, let day = Int64(parts[0]), let month = monthNumber(parts[1]),
                parts[2].count == 2, let shortYear = Int64(parts[2])
            else { return nil }
            // Two-digit years more than 50 years ahead are in the past century (RFC 9110 §5.6.7).
            let year = shortYear + (shortYear >= 70 ? 1900 : 2000)
            return epoch(year: year, month: month, day: day, time: fields[2])
        case 5:
            // asctime: Sun Nov  6 08:49:37 1994
            guard let month = monthNumber(fields[1]), let day = Int64(fields[2]), fields[4].count == 4,
                let year = Int64(fields[4])
            else { return nil }
            return epoch(year: year, month: month, day: day, time: fields[3])
        default:
            return nil
        }
    }

    private static func monthNumber(_ name: String) -> Int64? {
        months.firstIndex(of: name).map { Int64($0) + 1 }
    }

    private static func epoch(year: Int64, month: Int64, day: Int64, time: String) -> Int64? {
        let parts = time.split(separator: ":")
        guard parts.count == 3, parts.allSatisfy({ $0.count == 2 }), let hour = Int64(parts[0]),
            let minute = Int64(parts[1]), let second = Int64(parts[2])
        else { return nil }
        return CivilTime(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
            .secondsSince1970
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        a >= 0 ? a / b : (a - b + 1) / b
    }
}

/// A Unix time broken into UTC calendar fields (proleptic Gregorian), without
/// Foundation's calendars or formatters (which depend on locale and are slow).
package struct CivilTime: Hashable {
    package var year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64

    package init(year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64) {
        (self.year, self.month, self.day, self.hour, self.minute, self.second) = (
            year, month, day, hour, minute, second
        )
    }

    // Howard Hinnant's days-from-civil / civil-from-days algorithms
    // (https://howardhinnant.github.io/date_algorithms.html).
    package init(secondsSince1970 seconds: Int64) {
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        hour = secondOfDay / 3600
        minute = secondOfDay % 3600 / 60
        second = secondOfDay % 60
    }

    /// Seconds since 1970-01-01T00:00:00Z, or nil for fields out of range.
    package var secondsSince1970: Int64? {
        guard (1...12).contains(month), (1...31).contains(day), (0...23).contains(hour), (0...59).contains(minute),
            (0...60).contains(second)
        else { return nil }
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return days * 86_400 + hour * 3600 + minute * 60 + second
    }
}
