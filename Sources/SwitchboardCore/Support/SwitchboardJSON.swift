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

    /// A decoder that reads RFC 3339 dates.
    public static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
