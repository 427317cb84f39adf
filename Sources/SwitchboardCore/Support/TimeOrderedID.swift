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
        /// Random words fetched in bulk: one system call per 256 ids rather than one or two per id.
        var random: [UInt64] = []

        mutating func nextRandom() -> UInt64 {
            if random.isEmpty {
                random = [UInt64](unsafeUninitializedCapacity: 256) { buffer, count in
                    arc4random_buf(buffer.baseAddress!, buffer.count * MemoryLayout<UInt64>.size)
                    count = buffer.count
                }
            }
            return random.removeLast()
        }
    }

    // Guards the last timestamp and counter so concurrent callers never hand out equal or unordered ids.
    private let state = Mutex(State())

    /// Creates a generator.
    public init() {}

    /// The process-wide generator.
    public static let shared = TimeOrderedIDGenerator()

    /// Returns a new lowercase UUIDv7 string.
    public func make(now: Date = Date()) -> String {
        let (millisecond, counter, random) = state.withLock { state -> (UInt64, UInt16, UInt64) in
            let random = state.nextRandom()
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
                state.counter = UInt16(truncatingIfNeeded: state.nextRandom()) & 0x01FF
            }
            state.millisecond = millisecond
            return (millisecond, state.counter, random)
        }
        // 48 bits of time, version 7 and the 12-bit counter; variant 0b10 and 62 random bits.
        let high = millisecond << 16 | 0x7000 | UInt64(counter)
        let low = 0x8000_0000_0000_0000 | (random & 0x3FFF_FFFF_FFFF_FFFF)
        return String(unsafeUninitializedCapacity: 36) { out in
            var index = 0
            for nibble in 0..<32 {
                if index == 8 || index == 13 || index == 18 || index == 23 {
                    out[index] = UInt8(ascii: "-")
                    index += 1
                }
                let word = nibble < 16 ? high : low
                out[index] = Self.hexDigits[Int(word >> UInt64(60 - 4 * (nibble % 16)) & 0xF)]
                index += 1
            }
            return index
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Whether `text` has the shape of an id this generator makes (any UUID in lowercase canonical form).
    public static func isWellFormed(_ text: String) -> Bool {
        guard text.utf8.count == 36 else { return false }
        for (index, byte) in text.utf8.enumerated() {
            if index == 8 || index == 13 || index == 18 || index == 23 {
                guard byte == UInt8(ascii: "-") else { return false }
            } else {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte) else {
                    return false
                }
            }
        }
        return true
    }
}
