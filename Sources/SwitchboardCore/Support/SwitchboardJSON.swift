import Foundation

/// The JSON conventions of every Switchboard payload: snake_case keys (spelled by each type) and RFC 3339 dates.
public enum SwitchboardJSON {
    /// An encoder that writes dates as RFC 3339 in UTC with whole seconds.
    public static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }

    /// A decoder that reads RFC 3339 dates.
    public static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
