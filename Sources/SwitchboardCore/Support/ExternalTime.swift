import Foundation

/// A time as an external system writes it (the seed's `create_time` and `update_time`), checked but
/// not yet placed on the time line: the seed's form `"YYYY-MM-DD HH:MM:SS"` is a wall-clock time in
/// the tenant's zone, which only the store knows.
///
/// Accepted: Unix seconds (an integer), RFC 3339 (`2023-10-26T12:00:00+08:00`, `…Z`, with or without a
/// fraction, which is dropped) and the seed's form. Times are kept as Unix seconds from 1970 to 2100
/// and written back in the seed's form, in the tenant's zone (`ExternalTime.text`).
public enum ExternalTime: Hashable, Sendable {
    /// Unix seconds: given as such, or RFC 3339 with its offset applied.
    case instant(Int64)
    /// The seed's form: a wall-clock time in the tenant's zone.
    case wallClock(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int)

    /// Reads `value`, or throws `invalid_field` naming `field` and the accepted forms.
    public init(_ value: JSONValue, field: String) throws {
        let invalid = SwitchboardError.invalidField(
            field,
            "The field '\(field)' must be a time from 1970 to 2099: \"YYYY-MM-DD HH:MM:SS\" (in the tenant's time zone), RFC 3339 or Unix seconds."
        )
        if value.numberValue != nil {
            guard let seconds = value.integerValue, Validation.unixSeconds.contains(seconds) else { throw invalid }
            self = .instant(seconds)
            return
        }
        guard let text = value.stringValue, let parsed = Self.parse(Array(text.utf8)) else { throw invalid }
        self = parsed
    }

    /// Unix seconds, with a wall-clock time read in `zone` (in a daylight-saving gap or overlap the
    /// earlier offset applies), or throws `invalid_field` naming `field` when that falls outside 1970
    /// to 2100.
    public func seconds(in zone: TimeZone, field: String) throws -> Int64 {
        switch self {
        case .instant(let seconds):
            return seconds
        case .wallClock:
            let local = localSeconds
            // The offset at the local time read as UTC, then at the instant that gives: two steps settle
            // every zone whose offsets differ by less than a day.
            let first = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(local))))
            let seconds = local - Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(local - first))))
            guard Validation.unixSeconds.contains(seconds) else {
                throw SwitchboardError.invalidField(field, "The field '\(field)' is outside 1970 to 2100 in the tenant's time zone.")
            }
            return seconds
        }
    }

    /// The time as if the clock showing it were on UTC.
    private var localSeconds: Int64 {
        switch self {
        case .instant(let seconds): seconds
        case .wallClock(let year, let month, let day, let hour, let minute, let second):
            Self.daysFromCivil(year: year, month: month, day: day) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
        }
    }

    /// `seconds` in the seed's form, `"YYYY-MM-DD HH:MM:SS"`, as a clock in `zone` shows it.
    public static func text(_ seconds: Int64, zone: TimeZone) -> String {
        let local = seconds + Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds))))
        let days = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
        let (year, month, day) = civil(fromDays: days)
        let time = local - days * 86_400
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let yearText = String(repeating: "0", count: max(0, 4 - String(year).count)) + String(year)
        return "\(yearText)-\(two(month))-\(two(day)) \(two(time / 3600)):\(two(time % 3600 / 60)):\(two(time % 60))"
    }

    /// The seed's form or RFC 3339, or nil.
    private static func parse(_ bytes: [UInt8]) -> ExternalTime? {
        func digits(_ start: Int, _ count: Int) -> Int? {
            guard start + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[start..<start + count] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard bytes.count >= 19, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[13] == UInt8(ascii: ":"),
            bytes[16] == UInt8(ascii: ":"), let year = digits(0, 4), let month = digits(5, 2), let day = digits(8, 2),
            let hour = digits(11, 2), let minute = digits(14, 2), let second = digits(17, 2),
            (1970...2099).contains(year), (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
            hour < 24, minute < 60, second < 60
        else { return nil }
        let wallClock = ExternalTime.wallClock(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        if bytes.count == 19 { return bytes[10] == UInt8(ascii: " ") ? wallClock : nil }
        // RFC 3339: 'T' (or 't', or a space, §5.6), an optional fraction, then 'Z' or ±HH:MM.
        guard [UInt8(ascii: "T"), UInt8(ascii: "t"), UInt8(ascii: " ")].contains(bytes[10]) else { return nil }
        var index = 19
        if bytes[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            guard index > start, index - start <= 9 else { return nil }
        }
        let offset: Int
        switch bytes.count - index {
        case 1 where bytes[index] == UInt8(ascii: "Z") || bytes[index] == UInt8(ascii: "z"):
            offset = 0
        case 6 where (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) && bytes[index + 3] == UInt8(ascii: ":"):
            guard let hours = digits(index + 1, 2), let minutes = digits(index + 4, 2), hours < 24, minutes < 60 else { return nil }
            offset = (bytes[index] == UInt8(ascii: "-") ? -1 : 1) * (hours * 3600 + minutes * 60)
        default:
            return nil
        }
        let seconds = wallClock.localSeconds - Int64(offset)
        return Validation.unixSeconds.contains(seconds) ? .instant(seconds) : nil
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = Int64((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1)
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
    private static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
