import Foundation

/// Typed reading of settings, with errors that name the setting and show
/// the accepted forms. Secret values never appear in a message.
struct SettingParser {
    let values: SettingValues

    func text(_ setting: Setting) -> String? {
        guard let raw = values.text(setting)?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
        return raw
    }

    func required(_ setting: Setting, because reason: String) throws(ConfigurationError) -> String {
        guard let value = text(setting) else {
            throw ConfigurationError("\(reason) but \(setting.label) is not set")
        }
        return value
    }

    func url(_ setting: Setting, required reason: String) throws(ConfigurationError) -> String {
        let value = try required(setting, because: reason)
        guard value.hasPrefix("https://") || value.hasPrefix("http://"), URL(string: value)?.host != nil else {
            throw ConfigurationError("\(setting.label): '\(value)' is not an http:// or https:// URL")
        }
        return value
    }

    func bool(_ setting: Setting) throws(ConfigurationError) -> Bool? {
        guard let value = text(setting) else { return nil }
        switch value.lowercased() {
        case "true", "yes", "1", "on": return true
        case "false", "no", "0", "off": return false
        default: throw invalid(setting, value, "use true or false")
        }
    }

    func int(_ setting: Setting, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        guard let value = text(setting) else { return nil }
        guard let number = Int(value), range.contains(number) else {
            throw invalid(setting, value, "use a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    func double(_ setting: Setting, in range: ClosedRange<Double>) throws(ConfigurationError) -> Double? {
        guard let value = text(setting) else { return nil }
        guard let number = Double(value), range.contains(number) else {
            throw invalid(setting, value, "use a number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    /// A `unix://` socket URL (the Docker engine).
    func unixSocket(_ setting: Setting) throws(ConfigurationError) -> String? {
        guard let value = text(setting) else { return nil }
        guard value.hasPrefix("unix:///") else {
            throw invalid(setting, value, "only unix:// sockets are supported, e.g. unix:///var/run/docker.sock")
        }
        return value
    }

    func port(_ setting: Setting) throws(ConfigurationError) -> Int? {
        try int(setting, in: 0...65535)
    }

    /// Bytes: a plain number, or with a unit: `k`/`KiB`, `m`/`MiB`, `g`/`GiB` (powers of 1024).
    func size(_ setting: Setting) throws(ConfigurationError) -> Int? {
        guard let value = text(setting) else { return nil }
        guard let bytes = SettingParser.parseSize(value) else {
            throw invalid(setting, value, "use bytes or a number with a unit, e.g. 512MiB, 2g, 1048576")
        }
        return bytes
    }

    /// A duration: a number of seconds, or with a unit: `ms`, `s`, `m`, `h` (`15m`, `90s`, `1h30m`).
    func duration(_ setting: Setting) throws(ConfigurationError) -> Duration? {
        guard let value = text(setting) else { return nil }
        guard let duration = SettingParser.parseDuration(value), duration > .zero else {
            throw invalid(setting, value, "use a duration such as 30s, 15m or 1h")
        }
        return duration
    }

    /// A duration that may be zero (`0`, `0s`: the feature is off).
    func durationOrZero(_ setting: Setting) throws(ConfigurationError) -> Duration? {
        guard let value = text(setting) else { return nil }
        guard let duration = SettingParser.parseDuration(value), duration >= .zero else {
            throw invalid(setting, value, "use a duration such as 30m or 1h, or 0s for none")
        }
        return duration
    }

    private func invalid(_ setting: Setting, _ value: String, _ hint: String) -> ConfigurationError {
        let shown = setting.secret ? "<redacted>" : "'\(value.prefix(100))'"
        return ConfigurationError("\(setting.label): \(shown) is not valid; \(hint)")
    }

    static func parseSize(_ text: String) -> Int? {
        let lower = text.lowercased().replacingOccurrences(of: " ", with: "")
        let digits = lower.prefix { $0.isNumber }
        guard !digits.isEmpty, let number = Int(digits) else { return nil }
        let multiplier: Int
        switch lower.dropFirst(digits.count) {
        case "", "b": multiplier = 1
        case "k", "kb", "kib": multiplier = 1 << 10
        case "m", "mb", "mib": multiplier = 1 << 20
        case "g", "gb", "gib": multiplier = 1 << 30
        case "t", "tb", "tib": multiplier = 1 << 40
        default: return nil
        }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : bytes
    }

    static func parseDuration(_ text: String) -> Duration? {
        let lower = text.lowercased().replacingOccurrences(of: " ", with: "")
        if let seconds = Int(lower) { return .seconds(seconds) }
        var total = Duration.zero
        var rest = Substring(lower)
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isNumber }
            guard !digits.isEmpty, let number = Int64(digits), number < 1_000_000_000 else { return nil }
            rest = rest.dropFirst(digits.count)
            let unit = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unit.count)
            switch unit {
            case "ms": total += .milliseconds(number)
            case "s": total += .seconds(number)
            case "m": total += .seconds(number * 60)
            case "h": total += .seconds(number * 3600)
            default: return nil
            }
        }
        return total
    }
}
