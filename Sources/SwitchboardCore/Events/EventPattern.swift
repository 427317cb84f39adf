/// A pattern over event types: exact (`message.received`), a prefix (`message.*`) or everything (`*`).
/// Plugin manifests and webhook endpoints subscribe with these.
public struct EventPattern: Hashable, Sendable, CustomStringConvertible {
    public let text: String

    /// The pattern `text`, or nil when it is not one.
    public init?(_ text: String) {
        guard Self.isValid(text) else { return nil }
        self.text = text
    }

    /// Whether `type` matches.
    public func matches(_ type: EventType) -> Bool {
        text == "*" || text == type.name || (text.hasSuffix(".*") && type.name.hasPrefix(text.dropLast()))
    }

    public var description: String { text }

    private static func isValid(_ pattern: String) -> Bool {
        if pattern == "*" { return true }
        let name = pattern.hasSuffix(".*") ? String(pattern.dropLast(2)) : pattern
        return !name.isEmpty && name.count <= 128
            && name.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { part in
                !part.isEmpty && part.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_" || $0 == "-") }
            }
    }
}

extension Sequence where Element == EventPattern {
    /// Whether any pattern matches `type`.
    public func matches(_ type: EventType) -> Bool { contains { $0.matches(type) } }
}
