import Foundation

/// Field rules shared by every input of the core.
enum Validation {
    static let maxNameLength = 200
    static let maxSubjectLength = 500
    static let maxContentBytes = 65_536
    static let maxMaxConcurrent = 1_000
    static let maxExternalIDLength = 255
    /// The Unix seconds a client may give for a time: 1970 to 2100.
    static let unixSeconds: ClosedRange<Int64> = 0...4_102_444_800

    /// Trims `text` and checks it is non-empty and at most `maxLength` characters.
    static func requiredText(_ text: String, field: String, maxLength: Int) throws -> String {
        let trimmed = trimmingWhitespace(text)
        guard !trimmed.isEmpty else { throw SwitchboardError.invalidField(field, "The field '\(field)' must not be empty.") }
        // A character takes at least one UTF-8 byte, so only a text longer in bytes needs counting.
        guard trimmed.utf8.count <= maxLength || trimmed.count <= maxLength else {
            throw SwitchboardError.invalidField(field, "The field '\(field)' is longer than \(maxLength) characters.")
        }
        return trimmed
    }

    /// Whitespace as JSON Schema's `\s` (ECMA-262) has it, so that the document's `"pattern": "\\S"`
    /// says exactly which texts are empty once trimmed.
    static let whitespace = CharacterSet(charactersIn: "\t\n\u{0B}\u{0C}\r \u{A0}\u{1680}\u{2028}\u{2029}\u{202F}\u{205F}\u{3000}\u{FEFF}")
        .union(CharacterSet(charactersIn: "\u{2000}"..."\u{200A}"))

    /// `text` without leading and trailing whitespace and newlines; most texts have none, and are
    /// returned as they are without a scan.
    private static func trimmingWhitespace(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let first = scalars.first, let last = scalars.last else { return text }
        let whitespace = Self.whitespace
        guard whitespace.contains(first) || whitespace.contains(last) else { return text }
        return text.trimmingCharacters(in: whitespace)
    }

    /// Like `requiredText`, but nil stays nil.
    static func optionalText(_ text: String?, field: String, maxLength: Int) throws -> String? {
        try text.map { try requiredText($0, field: field, maxLength: maxLength) }
    }

    static func email(_ email: String?) throws -> String? {
        guard let email else { return nil }
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard email.utf8.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
            !email.contains(where: \.isWhitespace)
        else {
            throw SwitchboardError.invalidField("email", "The field 'email' must be an email address.")
        }
        return email
    }

    static func maxConcurrent(_ value: Int) throws -> Int {
        guard (1...maxMaxConcurrent).contains(value) else {
            throw SwitchboardError.invalidField("max_concurrent", "The field 'max_concurrent' must be between 1 and \(maxMaxConcurrent).")
        }
        return value
    }

    static func channel(_ channel: String) throws -> String {
        let allowed = channel.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
        guard !channel.isEmpty, channel.utf8.count <= 64, allowed else {
            throw SwitchboardError.invalidField("channel", "The field 'channel' must be 1 to 64 characters of a-z, 0-9, '_' or '-'.")
        }
        return channel
    }

    static func id(_ id: String, field: String) throws -> String {
        guard TimeOrderedIDGenerator.isWellFormed(id) else {
            throw SwitchboardError.invalidField(field, "The field '\(field)' must be an id returned by this server.")
        }
        return id
    }
}
