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
    /// The seed's form: a wall-clock time in the tenant's zone, as a date and the seconds into it.
    case wallClock(date: LocalDate, seconds: Int64)

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
        case .wallClock(let date, let seconds): date.dayNumber * 86_400 + seconds
        }
    }

    /// `seconds` in the seed's form, `"YYYY-MM-DD HH:MM:SS"`, as a clock in `zone` shows it.
    public static func text(_ seconds: Int64, zone: TimeZone) -> String {
        let local = seconds + Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds))))
        let days = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
        let time = local - days * 86_400
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(LocalDate(dayNumber: days)) \(two(time / 3600)):\(two(time % 3600 / 60)):\(two(time % 60))"
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
        guard bytes.count >= 19, bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
            let date = LocalDate(String(decoding: bytes[0..<10], as: UTF8.self)), (1970...2099).contains(date.components.year),
            let hour = digits(11, 2), let minute = digits(14, 2), let second = digits(17, 2), hour < 24, minute < 60, second < 60
        else { return nil }
        let wallClock = ExternalTime.wallClock(date: date, seconds: Int64(hour * 3600 + minute * 60 + second))
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
}
