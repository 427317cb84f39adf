#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// One message between the server and a `plugin-host` child over its stdin and stdout:
/// `u32 length | u8 kind | u64 id | i64 code | u16 part count | (u32 length | bytes)*`, little-endian.
struct PluginFrame: Sendable, Equatable {
    /// What a frame asks or answers.
    struct Kind: RawRepresentable, Hashable, Sendable {
        let rawValue: UInt8
        // Server to child: hooks of the child's one instance, and answers to its service requests.
        static let create = Kind(rawValue: 1)  // parts: tenant, config
        static let reconfigure = Kind(rawValue: 2)  // parts: config
        static let call = Kind(rawValue: 4)  // parts: op, args
        static let health = Kind(rawValue: 5)
        static let destroy = Kind(rawValue: 7)
        static let serviceReply = Kind(rawValue: 8)  // code: status; parts by service
        static let events = Kind(rawValue: 9)  // parts: event envelopes, delivered in order
        // Child to server.
        static let result = Kind(rawValue: 20)  // code: status; parts: body
        static let service = Kind(rawValue: 21)  // code: the service (see ServiceKind); parts by service
        static let progress = Kind(rawValue: 22)  // id: an events frame; code: one event's status
    }

    /// The host service a `.service` frame asks for.
    enum ServiceKind: Int64 {
        case log = 1  // parts: level, message
        case kvGet = 2  // parts: key → reply parts: value, version
        case kvPut = 3  // parts: key, value, expected → reply parts: version
        case kvDelete = 4  // parts: key, expected
        case emit = 5  // parts: name, data
        case http = 6  // parts: method, url, headers, body, timeout → reply parts: code, headers, body
        case metric = 7  // parts: name, value, histogram flag
    }

    var kind: Kind
    var id: UInt64
    var code: Int64 = 0
    var parts: [[UInt8]] = []

    /// The largest frame either side accepts.
    static let maxLength = 8 << 20

    func encoded() -> [UInt8] {
        var body: [UInt8] = [kind.rawValue]
        body.reserveCapacity(19 + parts.reduce(0) { $0 + 4 + $1.count })
        body.append(littleEndian: id)
        body.append(littleEndian: UInt64(bitPattern: code))
        body.append(littleEndian: UInt16(parts.count))
        for part in parts {
            body.append(littleEndian: UInt32(part.count))
            body.append(contentsOf: part)
        }
        var frame: [UInt8] = []
        frame.reserveCapacity(body.count + 4)
        frame.append(littleEndian: UInt32(body.count))
        frame.append(contentsOf: body)
        return frame
    }

    /// Decodes a frame body (without its length prefix); nil when malformed.
    init?(body: [UInt8]) {
        var reader = ByteReader(bytes: body)
        guard let kind = reader.byte(), let id = reader.integer(UInt64.self), let code = reader.integer(UInt64.self),
            let count = reader.integer(UInt16.self)
        else { return nil }
        var parts: [[UInt8]] = []
        for _ in 0..<count {
            guard let length = reader.integer(UInt32.self), let part = reader.bytes(Int(length)) else { return nil }
            parts.append(part)
        }
        guard reader.isAtEnd else { return nil }
        self.init(kind: Kind(rawValue: kind), id: id, code: Int64(bitPattern: code), parts: parts)
    }

    init(kind: Kind, id: UInt64, code: Int64 = 0, parts: [[UInt8]] = []) {
        self.kind = kind
        self.id = id
        self.code = code
        self.parts = parts
    }

    /// Part `index` as text, or empty.
    func text(_ index: Int) -> String { parts.indices.contains(index) ? String(decoding: parts[index], as: UTF8.self) : "" }
    /// Part `index`, or empty.
    func part(_ index: Int) -> [UInt8] { parts.indices.contains(index) ? parts[index] : [] }
    /// Part `index` as a little-endian integer, or 0.
    func number(_ index: Int) -> UInt64 {
        var reader = ByteReader(bytes: part(index))
        return reader.integer(UInt64.self) ?? 0
    }
}

/// Reads and writes frames on a pair of file descriptors.
///
/// - Important: Thread-safe for writing (one frame at a time); read from one thread only.
final class FrameChannel: Sendable {
    let input: Int32
    let output: Int32
    // Serializes writers so frames never interleave; holds no state.
    private let writing = Mutex<Void>(())

    init(input: Int32, output: Int32) {
        self.input = input
        self.output = output
    }

    /// Writes a frame. Returns false when the other side is gone.
    @discardableResult
    func send(_ frame: PluginFrame) -> Bool {
        let bytes = frame.encoded()
        return writing.withLock { _ in
            bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = write(output, buffer.baseAddress! + offset, buffer.count - offset)
                    if written < 0 && errno == EINTR { continue }
                    if written <= 0 { return false }
                    offset += written
                }
                return true
            }
        }
    }

    /// Blocks for the next frame; nil at end of input or on a malformed frame.
    func receive() -> PluginFrame? {
        guard let header = readExactly(4) else { return nil }
        var reader = ByteReader(bytes: header)
        guard let length = reader.integer(UInt32.self), length >= 19, Int(length) <= PluginFrame.maxLength, let body = readExactly(Int(length)) else {
            return nil
        }
        return PluginFrame(body: body)
    }

    private func readExactly(_ count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let got = bytes.withUnsafeMutableBytes { read(input, $0.baseAddress! + offset, count - offset) }
            if got < 0 && errno == EINTR { continue }
            if got <= 0 { return nil }
            offset += got
        }
        return bytes
    }
}

private struct ByteReader {
    let bytes: [UInt8]
    var offset = 0

    var isAtEnd: Bool { offset == bytes.count }

    mutating func byte() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func integer<Value: FixedWidthInteger>(_ type: Value.Type) -> Value? {
        let size = MemoryLayout<Value>.size
        guard offset + size <= bytes.count else { return nil }
        var value: Value = 0
        for index in 0..<size { value |= Value(bytes[offset + index]) << (8 * index) }
        offset += size
        return value
    }

    mutating func bytes(_ count: Int) -> [UInt8]? {
        guard count >= 0, offset + count <= bytes.count else { return nil }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }
}

extension Array where Element == UInt8 {
    mutating func append<Value: FixedWidthInteger>(littleEndian value: Value) {
        for index in 0..<MemoryLayout<Value>.size { append(UInt8(truncatingIfNeeded: value >> (8 * index))) }
    }

    /// The little-endian bytes of `value`.
    init<Value: FixedWidthInteger>(littleEndian value: Value) {
        self = []
        append(littleEndian: value)
    }
}
