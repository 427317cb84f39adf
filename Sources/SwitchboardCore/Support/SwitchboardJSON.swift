import Foundation

/// The JSON conventions of every Switchboard payload: snake_case keys (spelled by each type) and RFC 3339 dates.
public enum SwitchboardJSON {
    /// `value` as JSON bytes, with dates as RFC 3339 in UTC with whole seconds.
    public static func encode(_ value: some Encodable) throws -> [UInt8] {
        try JSONStreamEncoder.encode(value)
    }

    /// `value` as JSON text.
    public static func encodeString(_ value: some Encodable) throws -> String {
        String(decoding: try encode(value), as: UTF8.self)
    }

    /// `T` decoded from JSON `bytes`, with RFC 3339 dates: the one way Switchboard reads JSON.
    ///
    /// The bytes are parsed by `JSONValue(parsing:)`, which bounds nesting at 512 levels, and then
    /// decoded by `JSONValueDecoder`. Foundation's `JSONDecoder` is not used on them: it stops the
    /// process (an illegal instruction in its error reporting) on a document whose 513th nested
    /// bracket is its last byte, and any byte may come from a client, a peer or a plugin.
    /// - Throws: `JSONParseError` for text that is not JSON, `DecodingError` for JSON of another shape.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws -> T {
        try JSONValueDecoder.decode(T.self, from: JSONValue(parsing: bytes))
    }

    /// `T` decoded from JSON `text`; see `decode(_:from:)` for bytes.
    public static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try decode(T.self, from: text.utf8)
    }
}
