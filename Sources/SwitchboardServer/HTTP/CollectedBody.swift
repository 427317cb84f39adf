import Crypto
import Foundation
import Hummingbird
import NIOCore
import SwitchboardCore

/// A request body type whose JSON may hold only the fields it names.
package protocol StrictBody: Decodable {
    /// The JSON field names the type accepts.
    static var fields: Set<String> { get }
    /// The fields for which `null` means something (clearing a value); any other field sent as `null`
    /// is refused rather than read as absent.
    static var nullableFields: Set<String> { get }
}

extension StrictBody {
    package static var nullableFields: Set<String> { [] }
}

/// A collected request body, decoded strictly and fingerprinted for idempotency.
struct CollectedBody {
    let bytes: ByteBuffer

    /// Collects the body up to the context's limit.
    /// - Throws: 413 (via `HTTPError`) when the body is larger.
    static func collect(_ request: Request, context: AppRequestContext) async throws -> CollectedBody {
        do {
            return CollectedBody(bytes: try await request.body.collect(upTo: context.maxUploadSize))
        } catch is NIOTooManyBytesError {
            throw HTTPError(.contentTooLarge)
        }
    }

    /// Decodes the body as `Body`.
    /// - Throws: a 400 problem for a missing body or malformed JSON; a 422 problem naming the field
    ///   that is unknown, missing or of the wrong type.
    func decode<Body: StrictBody>(_ type: Body.Type) throws -> Body {
        guard case .object(let members) = try parsed() else { throw Self.invalidJSON }
        try Self.checkFields(of: Body.self, members, prefix: "")
        return try Self.decode(Body.self, from: .object(members))
    }

    /// Decodes the body as one `Body` or a JSON array of up to `limit` of them; a field is named with
    /// its index in the array (`2.status`).
    /// - Throws: like `decode`, and a 422 problem for a longer array.
    func decodeOneOrMany<Body: StrictBody>(_ type: Body.Type, limit: Int) throws -> [Body] {
        switch try parsed() {
        case .object(let members):
            try Self.checkFields(of: Body.self, members, prefix: "")
            return [try Self.decode(Body.self, from: .object(members))]
        case .array(let items):
            guard (1...limit).contains(items.count) else {
                throw Problem(status: .unprocessableContent, code: "invalid_field", detail: "Send from 1 to \(limit) items in one array.")
            }
            for (index, item) in items.enumerated() {
                guard case .object(let members) = item else { throw Self.invalidJSON }
                try Self.checkFields(of: Body.self, members, prefix: "\(index).")
            }
            return try Self.decode([Body].self, from: .array(items))
        default:
            throw Self.invalidJSON
        }
    }

    private func parsed() throws -> JSONValue {
        guard bytes.readableBytes > 0 else {
            throw Problem.badRequest(code: "missing_body", "This request needs a JSON object body.")
        }
        guard let value = try? JSONValue(parsing: bytes.readableBytesView) else { throw Self.invalidJSON }
        return value
    }

    /// Refuses the first unknown field by name, so that the answer does not depend on hashing, then the
    /// first `null` where it means nothing.
    private static func checkFields<Body: StrictBody>(of type: Body.Type, _ members: [String: JSONValue], prefix: String) throws {
        if let unknown = members.keys.filter({ !Body.fields.contains($0) }).min() {
            throw Problem(
                status: .unprocessableContent,
                code: "unknown_field",
                detail: "The field '\(prefix + unknown)' is not accepted here.",
                field: prefix + unknown
            )
        }
        if let null = members.filter({ $0.value == .null && !Body.nullableFields.contains($0.key) }).keys.min() {
            throw Problem(
                status: .unprocessableContent,
                code: "invalid_field",
                detail: "The field '\(prefix + null)' cannot be null; leave it out to keep its value.",
                field: prefix + null
            )
        }
    }

    private static func decode<Value: Decodable>(_ type: Value.Type, from value: JSONValue) throws -> Value {
        do {
            return try JSONValueDecoder.decode(Value.self, from: value)
        } catch let error as DecodingError {
            throw problem(error)
        }
    }

    private static let invalidJSON = Problem.badRequest(code: "invalid_json", "The body is not a valid JSON object.")

    /// A digest of method, path and body: what an `Idempotency-Key` is bound to.
    func fingerprint(of request: Request) -> String {
        var hasher = SHA256()
        hasher.update(data: Array("\(request.method.rawValue) \(request.uri.path)\n".utf8))
        bytes.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
        return Hex.encode(hasher.finalize())
    }

    private static func problem(_ error: DecodingError) -> Problem {
        func path(_ codingPath: [any CodingKey], _ last: (any CodingKey)? = nil) -> String {
            (codingPath + (last.map { [$0] } ?? [])).map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            let field = path(context.codingPath, key)
            return Problem(status: .unprocessableContent, code: "missing_field", detail: "The field '\(field)' is required.", field: field)
        case .typeMismatch(_, let context) where !context.codingPath.isEmpty, .valueNotFound(_, let context):
            let field = path(context.codingPath)
            return Problem(status: .unprocessableContent, code: "invalid_field", detail: "The field '\(field)' has the wrong type.", field: field)
        case .dataCorrupted(let context) where !context.codingPath.isEmpty:
            let field = path(context.codingPath)
            return Problem(status: .unprocessableContent, code: "invalid_field", detail: "The field '\(field)' has an invalid value.", field: field)
        default:
            return invalidJSON
        }
    }
}
