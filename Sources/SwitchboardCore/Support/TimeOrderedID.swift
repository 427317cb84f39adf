import Foundation
import Synchronization

/// Makes time-ordered identifiers in the UUIDv7 layout (RFC 9562), monotonic within this process.
///
/// The 48-bit millisecond timestamp is followed by a 12-bit counter (RFC 9562 §6.2, method 1) that
/// orders ids made in the same millisecond; the remaining 62 bits are random. Ids made by one
/// generator therefore sort, as strings, in the order they were made.
///
/// - Important: Thread-safe; share one generator per process.
public final class TimeOrderedIDGenerator: Sendable {
    private struct State {
        var millisecond: UInt64 = 0
        var counter: UInt16 = 0
    }

    // Guards the last timestamp and counter so concurrent callers never hand out equal or unordered ids.
    private let state = Mutex(State())

    /// Creates a generator.
    public init() {}

    /// The process-wide generator.
    public static let shared = TimeOrderedIDGenerator()

    /// Returns a new lowercase UUIDv7 string.
    public func make(now: Date = Date()) -> String {
        let (millisecond, counter) = state.withLock { state -> (UInt64, UInt16) in
            var millisecond = UInt64(max(0, now.timeIntervalSince1970 * 1000))
            if millisecond <= state.millisecond {
                millisecond = state.millisecond
                if state.counter == 0x0FFF {
                    millisecond += 1
                    state.counter = 0
                } else {
                    state.counter += 1
                }
            } else {
                state.counter = UInt16.random(in: 0...0x01FF)
            }
            state.millisecond = millisecond
            return (millisecond, state.counter)
        }
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 {
            bytes[index] = UInt8(truncatingIfNeeded: millisecond >> (8 * (5 - index)))
        }
        bytes[6] = 0x70 | UInt8(truncatingIfNeeded: counter >> 8)
        bytes[7] = UInt8(truncatingIfNeeded: counter)
        var random = SystemRandomNumberGenerator()
        let tail = random.next() as UInt64
        for index in 8..<16 {
            bytes[index] = UInt8(truncatingIfNeeded: tail >> (8 * (15 - index)))
        }
        bytes[8] = 0x80 | (bytes[8] & 0x3F)
        return Self.format(bytes)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private static func format(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 { out.append(UInt8(ascii: "-")) }
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether `text` has the shape of an id this generator makes (any UUID in lowercase canonical form).
    public static func isWellFormed(_ text: String) -> Bool {
        let utf8 = Array(text.utf8)
        guard utf8.count == 36 else { return false }
        for (index, byte) in utf8.enumerated() {
            if index == 8 || index == 13 || index == 18 || index == 23 {
                guard byte == UInt8(ascii: "-") else { return false }
            } else if !hexDigits.contains(byte) {
                return false
            }
        }
        return true
    }
}
