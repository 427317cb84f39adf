import Foundation

/// Encodes `Encodable` values straight into UTF-8 bytes, with the conventions of ``SwitchboardJSON``:
/// keys as each type spells them, dates as RFC 3339 UTC with whole seconds, slashes unescaped.
///
/// Foundation's `JSONEncoder` builds a tree and checks every value's dynamic type; on the request path that
/// was the largest single cost (docs/benchmarks.md). This encoder writes as it goes. Containers are closed
/// when their parent writes its next value or when encoding ends, so a container must not be used again
/// after a sibling value was written, which `Encodable` implementations never do in practice.
public enum JSONStreamEncoder {
    /// `value` as JSON bytes.
    public static func encode(_ value: some Encodable) throws -> [UInt8] {
        let writer = JSONByteWriter()
        try writer.encodeValue(value)
        writer.close(above: 0)
        return writer.bytes
    }
}

/// The output and the stack of open containers.
///
/// Its two arrays are exempt from the runtime's exclusivity checks: every `append` to a class's stored
/// property otherwise records and removes an access in a thread-local set, which took half of an
/// agent's encoding time (docs/benchmarks.md). A writer belongs to one encoding on one thread, and no
/// method touches an array while another access to it is open.
final class JSONByteWriter {
    @exclusivity(unchecked) var bytes: [UInt8] = []
    /// Open containers, outermost first: the closing byte and how many members each holds so far.
    @exclusivity(unchecked) private var open: [(close: UInt8, count: Int)] = []

    init() {
        bytes.reserveCapacity(512)
    }

    var depth: Int { open.count }

    /// Closes every container deeper than `depth`.
    func close(above depth: Int) {
        while open.count > depth {
            bytes.append(open.removeLast().close)
        }
    }

    func openContainer(_ opening: UInt8, _ closing: UInt8) {
        bytes.append(opening)
        open.append((closing, 0))
    }

    /// Prepares the container at `depth` for its next member: closes deeper ones and writes a comma.
    func beginMember(at depth: Int) {
        close(above: depth + 1)
        if open[depth].count > 0 { bytes.append(UInt8(ascii: ",")) }
        open[depth].count += 1
    }

    func writeKey(_ key: String) {
        writeString(key)
        bytes.append(UInt8(ascii: ":"))
    }

    func writeString(_ string: String) {
        bytes.append(UInt8(ascii: "\""))
        // Most strings need no escape and are copied whole.
        if string.utf8.allSatisfy({ $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            bytes.append(contentsOf: string.utf8)
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0..<0x20:
                bytes.append(contentsOf: Array("\\u00".utf8))
                bytes.append(Self.hexDigits[Int(byte >> 4)])
                bytes.append(Self.hexDigits[Int(byte & 0x0F)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    func writeRaw(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    func writeDouble(_ value: Double) throws {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, .init(codingPath: [], debugDescription: "JSON has no \(value)."))
        }
        if value == value.rounded(), abs(value) < 1e15 {
            writeInteger(Int64(value))
        } else {
            writeRaw(value.description)
        }
    }

    /// Writes `value`: dates, free-form JSON and records directly, anything else through its `encode(to:)`.
    func encodeValue<Value: Encodable>(_ value: Value) throws {
        if Value.self == Date.self {
            writeDate(unsafeBitCast(value, to: Date.self))
            return
        }
        if Value.self == JSONValue.self {
            try writeJSON(unsafeBitCast(value, to: JSONValue.self))
            return
        }
        // A check of the type, not a cast of the value: it costs a cached conformance lookup where the
        // cast took 110 ns for every optional field of every other type.
        if let record = Value.self as? any JSONRecord.Type {
            try record.writeJSON(of: value, to: self)
            return
        }
        let start = bytes.count
        let depth = depth
        try value.encode(to: JSONStreamingEncoder(writer: self))
        if bytes.count == start { bytes.append(contentsOf: Array("{}".utf8)) }
        close(above: depth)
    }

    /// Writes free-form JSON as `JSONValue.encode(to:)` would, without going through an `Encoder`.
    func writeJSON(_ value: JSONValue) throws {
        switch value {
        case .null: writeRaw("null")
        case .bool(let value): writeRaw(value ? "true" : "false")
        case .integer(let value): writeInteger(value)
        case .number(let value):
            if value.rounded() == value, abs(value) < JSONValue.maxExactInteger {
                writeInteger(Int64(value))
            } else {
                try writeDouble(value)
            }
        case .string(let value): writeString(value)
        case .array(let values):
            bytes.append(UInt8(ascii: "["))
            for (index, element) in values.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                try writeJSON(element)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            bytes.append(UInt8(ascii: "{"))
            var isFirst = true
            for (key, member) in members {
                if !isFirst { bytes.append(UInt8(ascii: ",")) }
                isFirst = false
                writeKey(key)
                try writeJSON(member)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    /// RFC 3339 in UTC with whole seconds, as `JSONEncoder`'s `.iso8601` writes it.
    func writeDate(_ date: Date) {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        // Howard Hinnant's civil-from-days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        bytes.append(UInt8(ascii: "\""))
        appendDigits(year, 4)
        bytes.append(UInt8(ascii: "-"))
        appendDigits(month, 2)
        bytes.append(UInt8(ascii: "-"))
        appendDigits(day, 2)
        bytes.append(UInt8(ascii: "T"))
        appendDigits(secondOfDay / 3600, 2)
        bytes.append(UInt8(ascii: ":"))
        appendDigits(secondOfDay / 60 % 60, 2)
        bytes.append(UInt8(ascii: ":"))
        appendDigits(secondOfDay % 60, 2)
        bytes.append(contentsOf: [UInt8(ascii: "Z"), UInt8(ascii: "\"")])
    }

    /// Writes `value` (not negative) with leading zeros to `width` digits.
    private func appendDigits(_ value: Int64, _ width: Int) {
        let end = bytes.count + width
        bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width))
        var rest = value
        var index = end - 1
        while index >= end - width {
            bytes[index] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
            index -= 1
        }
    }

    /// Writes an integer in decimal without making a `String`.
    func writeInteger(_ value: some BinaryInteger) {
        guard let small = Int64(exactly: value) else {
            writeRaw(String(value))
            return
        }
        if small < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = small.magnitude
        var digits = 1
        var scale: UInt64 = 1
        while magnitude / scale >= 10 {
            scale *= 10
            digits += 1
        }
        while digits > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(magnitude / scale))
            magnitude %= scale
            scale /= 10
            digits -= 1
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
}

/// Two words, so that passing it as `any Encoder` allocates nothing.
private struct JSONStreamingEncoder: Encoder {
    let writer: JSONByteWriter
    /// The writer's depth when this encoder was made: the depth of the object it opens, so that asking
    /// for a keyed container again (as a type that wraps another's encoding does) adds to the same
    /// object, as Foundation's encoder does.
    private let depth: Int
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(writer: JSONByteWriter) {
        self.writer = writer
        self.depth = writer.depth
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        // Deeper than at the start: this encoder's object is open already.
        if writer.depth == depth { writer.openContainer(UInt8(ascii: "{"), UInt8(ascii: "}")) }
        return KeyedEncodingContainer(KeyedContainer(writer: writer, depth: depth))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let depth = writer.depth
        writer.openContainer(UInt8(ascii: "["), UInt8(ascii: "]"))
        return UnkeyedContainer(writer: writer, depth: depth)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleValueContainer(writer: writer)
    }
}

/// The scalar writes shared by every container kind.
private protocol JSONScalarWriting {
    var writer: JSONByteWriter { get }
}

extension JSONScalarWriting {
    func writeNil() { writer.writeRaw("null") }
    func write(_ value: Bool) { writer.writeRaw(value ? "true" : "false") }
    func write(_ value: String) { writer.writeString(value) }
    func write(_ value: some BinaryInteger) { writer.writeInteger(value) }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol, JSONScalarWriting {
    let writer: JSONByteWriter
    let depth: Int
    var codingPath: [any CodingKey] { [] }

    private func member(_ key: Key) {
        writer.beginMember(at: depth)
        writer.writeKey(key.stringValue)
    }

    mutating func encodeNil(forKey key: Key) throws {
        member(key)
        writeNil()
    }
    mutating func encode(_ value: Bool, forKey key: Key) throws {
        member(key)
        write(value)
    }
    mutating func encode(_ value: String, forKey key: Key) throws {
        member(key)
        write(value)
    }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        member(key)
        try writer.writeDouble(value)
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        member(key)
        try writer.writeDouble(Double(value))
    }
    mutating func encode(_ value: Int, forKey key: Key) throws {
        member(key)
        write(value)
    }
    mutating func encode(_ value: Int64, forKey key: Key) throws {
        member(key)
        write(value)
    }
    mutating func encode(_ value: Int8, forKey key: Key) throws {
        member(key)
        write(value)
    }
    mutating func encode(_ value: Int16, forKey key: Key) throws {
        member(key)
        write(value)
    }
    mutating func encode(_ value: Int32, forKey key: Key) throws {
        member(key)
        write(value)
    }
    mutating func encode(_ value: UInt, forKey key: Key) throws {
        member(key)
        write(value)
    }
    mutating func encode(_ value: UInt8, forKey key: Key) throws {
        member(key)
        write(value)
    }
    mutating func encode(_ value: UInt16, forKey key: Key) throws {
        member(key)
        write(value)
    }
    mutating func encode(_ value: UInt32, forKey key: Key) throws {
        member(key)
        write(value)
    }
    mutating func encode(_ value: UInt64, forKey key: Key) throws {
        member(key)
        write(value)
    }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        member(key)
        try writer.encodeValue(value)
    }
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws {
        guard let value else { return }
        try encode(value, forKey: key)
    }
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
        guard let value else { return }
        try encode(value, forKey: key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        member(key)
        return JSONStreamingEncoder(writer: writer).container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        member(key)
        return JSONStreamingEncoder(writer: writer).unkeyedContainer()
    }
    mutating func superEncoder() -> any Encoder {
        superEncoder(forKey: Key(stringValue: "super")!)
    }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        member(key)
        return JSONStreamingEncoder(writer: writer)
    }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer, JSONScalarWriting {
    let writer: JSONByteWriter
    let depth: Int
    private(set) var count = 0
    var codingPath: [any CodingKey] { [] }

    init(writer: JSONByteWriter, depth: Int) {
        self.writer = writer
        self.depth = depth
    }

    private mutating func element() {
        writer.beginMember(at: depth)
        count += 1
    }

    mutating func encodeNil() throws {
        element()
        writeNil()
    }
    mutating func encode(_ value: Bool) throws {
        element()
        write(value)
    }
    mutating func encode(_ value: String) throws {
        element()
        write(value)
    }
    mutating func encode(_ value: Double) throws {
        element()
        try writer.writeDouble(value)
    }
    mutating func encode(_ value: Int) throws {
        element()
        write(value)
    }
    mutating func encode(_ value: Int8) throws {
        element()
        write(value)
    }
    mutating func encode(_ value: Int16) throws {
        element()
        write(value)
    }
    mutating func encode(_ value: Int32) throws {
        element()
        write(value)
    }
    mutating func encode(_ value: UInt) throws {
        element()
        write(value)
    }
    mutating func encode(_ value: UInt8) throws {
        element()
        write(value)
    }
    mutating func encode(_ value: UInt16) throws {
        element()
        write(value)
    }
    mutating func encode(_ value: UInt32) throws {
        element()
        write(value)
    }
    mutating func encode(_ value: UInt64) throws {
        element()
        write(value)
    }
    mutating func encode(_ value: Int64) throws {
        element()
        write(value)
    }
    mutating func encode(_ value: Float) throws {
        element()
        try writer.writeDouble(Double(value))
    }
    mutating func encode<T: Encodable>(_ value: T) throws {
        element()
        try writer.encodeValue(value)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        element()
        return JSONStreamingEncoder(writer: writer).container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        element()
        return JSONStreamingEncoder(writer: writer).unkeyedContainer()
    }
    mutating func superEncoder() -> any Encoder {
        element()
        return JSONStreamingEncoder(writer: writer)
    }
}

private struct SingleValueContainer: SingleValueEncodingContainer, JSONScalarWriting {
    let writer: JSONByteWriter
    var codingPath: [any CodingKey] { [] }

    mutating func encodeNil() throws { writeNil() }
    mutating func encode(_ value: Bool) throws { write(value) }
    mutating func encode(_ value: String) throws { write(value) }
    mutating func encode(_ value: Double) throws { try writer.writeDouble(value) }
    mutating func encode(_ value: Float) throws { try writer.writeDouble(Double(value)) }
    mutating func encode(_ value: Int) throws { write(value) }
    mutating func encode(_ value: Int64) throws { write(value) }
    mutating func encode(_ value: Int8) throws { write(value) }
    mutating func encode(_ value: Int16) throws { write(value) }
    mutating func encode(_ value: Int32) throws { write(value) }
    mutating func encode(_ value: UInt) throws { write(value) }
    mutating func encode(_ value: UInt8) throws { write(value) }
    mutating func encode(_ value: UInt16) throws { write(value) }
    mutating func encode(_ value: UInt32) throws { write(value) }
    mutating func encode(_ value: UInt64) throws { write(value) }
    mutating func encode<T: Encodable>(_ value: T) throws { try writer.encodeValue(value) }
}
