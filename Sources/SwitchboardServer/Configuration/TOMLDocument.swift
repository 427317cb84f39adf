/// A parsed TOML file: the subset Switchboard's configuration uses.
///
/// Supported: comments, `[table]` and `[dotted.table]` headers, `key = value` with bare or quoted
/// keys, basic and literal strings (with the common escapes), integers (with `_`), floats,
/// booleans, and single-line arrays of those. Anything else is an error naming its line.
struct TOMLDocument {
    /// A scalar or array value.
    enum Value: Equatable {
        case string(String)
        case integer(Int)
        case float(Double)
        case bool(Bool)
        case array([Value])
    }

    /// A syntax error with its 1-based line number.
    struct ParseError: Error, CustomStringConvertible {
        let line: Int
        let message: String
        var description: String { "line \(line): \(message)" }
    }

    /// Every value by its full dotted key, e.g. `server.port`, with the line it was set on.
    private(set) var values: [String: (value: Value, line: Int)] = [:]

    /// Parses `text`.
    /// - Throws: `ParseError` for anything outside the supported subset, and for a key set twice.
    init(parsing text: String) throws {
        var table = ""
        // Split on the byte: as Characters, "\r\n" is one grapheme and would never match "\n".
        for (index, rawLine) in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            var scanner = Scanner(Array(rawLine), line: number)
            scanner.skipWhitespace()
            if scanner.isAtEndOfContent { continue }
            if scanner.peek == UInt8(ascii: "[") {
                scanner.advance()
                let key = try scanner.dottedKey()
                try scanner.expect(UInt8(ascii: "]"))
                try scanner.expectEndOfLine()
                table = key
                continue
            }
            let key = try scanner.dottedKey()
            try scanner.expect(UInt8(ascii: "="))
            let value = try scanner.value()
            try scanner.expectEndOfLine()
            let fullKey = table.isEmpty ? key : "\(table).\(key)"
            guard values[fullKey] == nil else { throw ParseError(line: number, message: "the key '\(fullKey)' is set twice") }
            values[fullKey] = (value, number)
        }
    }
}

private struct Scanner {
    let bytes: [UInt8]
    let line: Int
    var offset = 0

    init(_ bytes: [UInt8], line: Int) {
        self.bytes = bytes.last == UInt8(ascii: "\r") ? Array(bytes.dropLast()) : bytes
        self.line = line
    }

    var peek: UInt8? { offset < bytes.count ? bytes[offset] : nil }
    var isAtEndOfContent: Bool { peek == nil || peek == UInt8(ascii: "#") }

    mutating func advance() { offset += 1 }

    mutating func skipWhitespace() {
        while let byte = peek, byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { advance() }
    }

    func error(_ message: String) -> TOMLDocument.ParseError { TOMLDocument.ParseError(line: line, message: message) }

    mutating func expect(_ byte: UInt8) throws {
        skipWhitespace()
        guard peek == byte else { throw error("expected '\(Character(Unicode.Scalar(byte)))'") }
        advance()
        skipWhitespace()
    }

    mutating func expectEndOfLine() throws {
        skipWhitespace()
        guard isAtEndOfContent else { throw error("unexpected text after the value") }
    }

    mutating func dottedKey() throws -> String {
        var parts: [String] = []
        repeat {
            skipWhitespace()
            if peek == UInt8(ascii: ".") { advance(); skipWhitespace() }
            if peek == UInt8(ascii: "\"") || peek == UInt8(ascii: "'") {
                parts.append(try string())
            } else {
                let start = offset
                while let byte = peek, byte.isBareKeyCharacter { advance() }
                guard offset > start else { throw error("expected a key") }
                parts.append(String(decoding: bytes[start..<offset], as: UTF8.self))
            }
            skipWhitespace()
        } while peek == UInt8(ascii: ".")
        return parts.joined(separator: ".")
    }

    /// The deepest nesting of arrays taken: deeper input is refused, not a stack overflow.
    static let maxDepth = 32

    mutating func value(depth: Int = 0) throws -> TOMLDocument.Value {
        skipWhitespace()
        guard let byte = peek else { throw error("expected a value") }
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "'"):
            return .string(try string())
        case UInt8(ascii: "["):
            guard depth < Self.maxDepth else { throw error("arrays nest deeper than \(Self.maxDepth) levels") }
            advance()
            var items: [TOMLDocument.Value] = []
            while true {
                skipWhitespace()
                if peek == UInt8(ascii: "]") { advance(); return .array(items) }
                items.append(try value(depth: depth + 1))
                skipWhitespace()
                if peek == UInt8(ascii: ",") { advance(); continue }
                guard peek == UInt8(ascii: "]") else { throw error("expected ',' or ']' in the array") }
            }
        default:
            let start = offset
            while let next = peek, next != UInt8(ascii: ","), next != UInt8(ascii: "]"), next != UInt8(ascii: "#"),
                next != UInt8(ascii: " "), next != UInt8(ascii: "\t")
            {
                advance()
            }
            let word = String(decoding: bytes[start..<offset], as: UTF8.self)
            if word == "true" { return .bool(true) }
            if word == "false" { return .bool(false) }
            let digits = word.replacingOccurrences(of: "_", with: "")
            if let integer = Int(digits) { return .integer(integer) }
            if let float = Double(digits), digits.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) { return .float(float) }
            throw error("'\(word)' is not a string, number, boolean or array (quote strings)")
        }
    }

    mutating func string() throws -> String {
        let quote = peek!
        advance()
        var out: [UInt8] = []
        while let byte = peek {
            advance()
            if byte == quote { return String(decoding: out, as: UTF8.self) }
            guard quote == UInt8(ascii: "\""), byte == UInt8(ascii: "\\") else {
                out.append(byte)
                continue
            }
            guard let escaped = peek else { break }
            advance()
            switch escaped {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(escaped)
            default: throw error("unsupported escape '\\\(Character(Unicode.Scalar(escaped)))'")
            }
        }
        throw error("unterminated string")
    }
}

extension UInt8 {
    fileprivate var isBareKeyCharacter: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || self == UInt8(ascii: "_") || self == UInt8(ascii: "-")
    }
}
