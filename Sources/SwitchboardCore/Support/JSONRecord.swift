import Foundation

/// A record whose JSON object is a fixed list of fields, written once for two encoders: any `Encoder`
/// through ``encodeFields(to:)``, and ``JSONStreamEncoder`` straight into its bytes, without a keyed
/// container, boxed values or a dynamic dispatch per field. The models sent on every request (agents,
/// visitors, conversations, messages) are records; the second path takes a third off their encoding
/// time (docs/benchmarks.md).
protocol JSONRecord: Encodable {
    /// The type's own coding keys, which name its fields.
    associatedtype CodingKeys: CodingKey
    /// Writes every field, in order, as `encode(to:)` would.
    func writeFields(to fields: inout some JSONFieldWriter<CodingKeys>) throws
}

extension JSONRecord {
    /// The record through a keyed container of `encoder`: the body of its `encode(to:)`.
    func encodeFields(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try writeFields(to: &container)
    }

    /// `value`, of this type, as one JSON object at the writer's position.
    static func writeJSON<Value>(of value: Value, to writer: JSONByteWriter) throws {
        precondition(Value.self == Self.self, "\(Value.self) is not \(Self.self)")
        try unsafeBitCast(value, to: Self.self).writeJSON(to: writer)
    }

    /// The record as one JSON object at the writer's position.
    func writeJSON(to writer: JSONByteWriter) throws {
        var fields = DirectFieldWriter<CodingKeys>(writer: writer)
        writer.bytes.append(UInt8(ascii: "{"))
        try writeFields(to: &fields)
        writer.bytes.append(UInt8(ascii: "}"))
    }
}

/// Where a record writes its fields. Optional values are written as `null`, as `encode(_:forKey:)` does.
protocol JSONFieldWriter<Key> {
    associatedtype Key: CodingKey
    mutating func write(_ value: String, for key: Key) throws
    mutating func write(_ value: String?, for key: Key) throws
    mutating func write(_ value: Int, for key: Key) throws
    mutating func write(_ value: Int64, for key: Key) throws
    mutating func write(_ value: Date, for key: Key) throws
    mutating func write(_ value: Date?, for key: Key) throws
    mutating func write(_ value: [String: JSONValue], for key: Key) throws
    mutating func write<Value: RawRepresentable<String> & Encodable>(_ value: Value, for key: Key) throws
}

extension KeyedEncodingContainer: JSONFieldWriter {
    mutating func write(_ value: String, for key: Key) throws { try encode(value, forKey: key) }
    mutating func write(_ value: String?, for key: Key) throws { try encode(value, forKey: key) }
    mutating func write(_ value: Int, for key: Key) throws { try encode(value, forKey: key) }
    mutating func write(_ value: Int64, for key: Key) throws { try encode(value, forKey: key) }
    mutating func write(_ value: Date, for key: Key) throws { try encode(value, forKey: key) }
    mutating func write(_ value: Date?, for key: Key) throws { try encode(value, forKey: key) }
    mutating func write(_ value: [String: JSONValue], for key: Key) throws { try encode(value, forKey: key) }
    mutating func write<Value: RawRepresentable<String> & Encodable>(_ value: Value, for key: Key) throws { try encode(value, forKey: key) }
}

/// A record's fields written into a ``JSONByteWriter`` as the members of the object it opened.
private struct DirectFieldWriter<Key: CodingKey>: JSONFieldWriter {
    let writer: JSONByteWriter
    private var isFirst = true

    init(writer: JSONByteWriter) {
        self.writer = writer
    }

    private mutating func member(_ key: Key) {
        if isFirst { isFirst = false } else { writer.bytes.append(UInt8(ascii: ",")) }
        writer.writeKey(key.stringValue)
    }

    mutating func write(_ value: String, for key: Key) {
        member(key)
        writer.writeString(value)
    }
    mutating func write(_ value: String?, for key: Key) {
        member(key)
        if let value { writer.writeString(value) } else { writer.writeRaw("null") }
    }
    mutating func write(_ value: Int, for key: Key) {
        member(key)
        writer.writeInteger(value)
    }
    mutating func write(_ value: Int64, for key: Key) {
        member(key)
        writer.writeInteger(value)
    }
    mutating func write(_ value: Date, for key: Key) {
        member(key)
        writer.writeDate(value)
    }
    mutating func write(_ value: Date?, for key: Key) {
        member(key)
        if let value { writer.writeDate(value) } else { writer.writeRaw("null") }
    }
    mutating func write(_ value: [String: JSONValue], for key: Key) throws {
        member(key)
        try writer.writeJSON(.object(value))
    }
    mutating func write<Value: RawRepresentable<String> & Encodable>(_ value: Value, for key: Key) {
        member(key)
        writer.writeString(value.rawValue)
    }
}
