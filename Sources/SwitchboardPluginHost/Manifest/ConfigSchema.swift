import Foundation
import SwitchboardCore

/// A plugin's per-tenant configuration schema: a JSON Schema (draft 2020-12) restricted to the keywords
/// below, so that nothing a plugin author writes is silently ignored.
///
/// Supported: `type`, `properties`, `required`, `additionalProperties`, `enum`, `const`, `minimum`,
/// `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `minLength`, `maxLength`, `pattern`, `items`,
/// `minItems`, `maxItems`, `uniqueItems`, and the annotations `title`, `description`, `default`,
/// `examples`, `format`, `readOnly`, `writeOnly` (marks a secret), `$schema`, `$id`, `$comment`.
public struct ConfigSchema: Sendable {
    /// The schema document.
    public let document: JSONValue
    /// Paths of the secret (`writeOnly`) properties, e.g. `["token"]` or `["auth", "password"]`.
    public let secretPaths: [[String]]

    /// Checks `document` and keeps it.
    /// - Throws: ``ConfigSchemaError`` naming the offending keyword's location.
    public init(_ document: JSONValue) throws {
        try Self.check(document, at: "config_schema")
        guard case .object(let root) = document, root["type"] == .string("object") else {
            throw ConfigSchemaError(message: "config_schema must have \"type\": \"object\"")
        }
        self.document = document
        self.secretPaths = Self.secrets(in: document, prefix: [])
    }

    /// The first violation of `value`, as the dotted path of the failing field and a message; nil when valid.
    public func violation(of value: JSONValue) -> (field: String, message: String)? {
        Self.violation(of: value, schema: document, path: "config")
    }

    // MARK: - Checking the schema itself

    private static let types: Set<String> = ["null", "boolean", "object", "array", "number", "integer", "string"]
    private static let annotations: Set<String> = ["title", "description", "format", "$schema", "$id", "$comment"]

    private static func check(_ schema: JSONValue, at location: String) throws {
        if case .bool = schema { return }
        guard case .object(let keywords) = schema else { throw ConfigSchemaError(message: "\(location) must be an object or a boolean") }
        for (keyword, value) in keywords {
            let here = "\(location).\(keyword)"
            func fail(_ expectation: String) -> ConfigSchemaError { ConfigSchemaError(message: "\(here) must be \(expectation)") }
            switch keyword {
            case "type":
                let names: [JSONValue]
                if case .array(let list) = value, !list.isEmpty { names = list } else { names = [value] }
                for name in names {
                    guard case .string(let type) = name, types.contains(type) else { throw fail("one of \(types.sorted()) or a list of them") }
                }
            case "properties":
                guard case .object(let properties) = value else { throw fail("an object of schemas") }
                for (name, property) in properties { try check(property, at: "\(here).\(name)") }
            case "additionalProperties", "items":
                try check(value, at: here)
            case "required":
                guard case .array(let names) = value, names.allSatisfy({ if case .string = $0 { true } else { false } }) else {
                    throw fail("an array of strings")
                }
            case "enum":
                guard case .array(let options) = value, !options.isEmpty else { throw fail("a non-empty array") }
            case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
                guard value.numberValue != nil else { throw fail("a number") }
            case "minLength", "maxLength", "minItems", "maxItems":
                guard let number = value.numberValue, number >= 0, number.rounded() == number else { throw fail("a non-negative integer") }
            case "pattern":
                guard case .string(let pattern) = value, (try? NSRegularExpression(pattern: pattern)) != nil else {
                    throw fail("a valid regular expression")
                }
            case "uniqueItems", "readOnly", "writeOnly":
                guard case .bool = value else { throw fail("a boolean") }
            case "const", "default", "examples":
                continue
            case _ where annotations.contains(keyword):
                guard case .string = value else { throw fail("a string") }
            default:
                throw ConfigSchemaError(message: "\(here): the keyword '\(keyword)' is not supported by this host")
            }
        }
    }

    private static func secrets(in schema: JSONValue, prefix: [String]) -> [[String]] {
        guard case .object(let keywords) = schema, case .object(let properties)? = keywords["properties"] else { return [] }
        return properties.keys.sorted().flatMap { name -> [[String]] in
            let property = properties[name]!
            if case .object(let inner) = property, inner["writeOnly"] == .bool(true) { return [prefix + [name]] }
            return secrets(in: property, prefix: prefix + [name])
        }
    }

    // MARK: - Validating a value

    private static func violation(of value: JSONValue, schema: JSONValue, path: String) -> (field: String, message: String)? {
        if case .bool(let allowed) = schema { return allowed ? nil : (path, "is not allowed") }
        guard case .object(let keywords) = schema else { return nil }
        if let type = keywords["type"], !matches(value, type: type) { return (path, "must be of type \(describe(type))") }
        if let options = keywords["enum"], case .array(let list) = options, !list.contains(value) {
            return (path, "must be one of the allowed values")
        }
        if let constant = keywords["const"], constant != value { return (path, "must equal the constant value") }
        switch value {
        case .integer, .number:
            let number = value.numberValue ?? 0
            if let bound = keywords["minimum"]?.numberValue, number < bound { return (path, "must be at least \(format(bound))") }
            if let bound = keywords["maximum"]?.numberValue, number > bound { return (path, "must be at most \(format(bound))") }
            if let bound = keywords["exclusiveMinimum"]?.numberValue, number <= bound { return (path, "must be greater than \(format(bound))") }
            if let bound = keywords["exclusiveMaximum"]?.numberValue, number >= bound { return (path, "must be less than \(format(bound))") }
        case .string(let text):
            let length = text.count
            if let bound = keywords["minLength"]?.numberValue, Double(length) < bound { return (path, "must have at least \(format(bound)) characters") }
            if let bound = keywords["maxLength"]?.numberValue, Double(length) > bound { return (path, "must have at most \(format(bound)) characters") }
            if case .string(let pattern)? = keywords["pattern"], let expression = try? NSRegularExpression(pattern: pattern),
                expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) == nil
            {
                return (path, "must match the pattern \(pattern)")
            }
        case .array(let items):
            if let bound = keywords["minItems"]?.numberValue, Double(items.count) < bound { return (path, "must have at least \(format(bound)) items") }
            if let bound = keywords["maxItems"]?.numberValue, Double(items.count) > bound { return (path, "must have at most \(format(bound)) items") }
            if keywords["uniqueItems"] == .bool(true), Set(items).count != items.count { return (path, "must not repeat items") }
            if let itemSchema = keywords["items"] {
                for (index, item) in items.enumerated() {
                    if let found = violation(of: item, schema: itemSchema, path: "\(path).\(index)") { return found }
                }
            }
        case .object(let members):
            if case .array(let required)? = keywords["required"] {
                for case .string(let name) in required where members[name] == nil { return ("\(path).\(name)", "is required") }
            }
            var properties: [String: JSONValue] = [:]
            if case .object(let declared)? = keywords["properties"] { properties = declared }
            for name in members.keys.sorted() {
                let member = members[name]!
                if let propertySchema = properties[name] {
                    if let found = violation(of: member, schema: propertySchema, path: "\(path).\(name)") { return found }
                } else if let additional = keywords["additionalProperties"] {
                    if case .bool(false) = additional { return ("\(path).\(name)", "is not a known field") }
                    if let found = violation(of: member, schema: additional, path: "\(path).\(name)") { return found }
                }
            }
        case .null, .bool:
            break
        }
        return nil
    }

    private static func matches(_ value: JSONValue, type: JSONValue) -> Bool {
        if case .array(let types) = type { return types.contains { matches(value, type: $0) } }
        guard case .string(let name) = type else { return false }
        switch (name, value) {
        case ("null", .null), ("boolean", .bool), ("object", .object), ("array", .array), ("number", .number), ("number", .integer),
            ("string", .string), ("integer", .integer):
            return true
        case ("integer", .number(let number)): return number.rounded() == number
        default: return false
        }
    }

    private static func describe(_ type: JSONValue) -> String {
        switch type {
        case .string(let name): name
        case .array(let names): names.compactMap { if case .string(let name) = $0 { name } else { nil } }.joined(separator: " or ")
        default: "?"
        }
    }

    private static func format(_ number: Double) -> String {
        Int64(exactly: number).map { String($0) } ?? String(number)
    }
}

/// A config schema that this host cannot use.
public struct ConfigSchemaError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
}
