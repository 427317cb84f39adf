import Foundation
import HTTPTypes
import Hummingbird
import SwitchboardCore

/// A list response: `{data, next_cursor, has_more}`.
struct ListBody<Item: Encodable>: Encodable {
    let data: [Item]
    let nextCursor: String?
    let hasMore: Bool

    enum CodingKeys: String, CodingKey {
        case data
        case nextCursor = "next_cursor"
        case hasMore = "has_more"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(data, forKey: .data)
        try container.encode(nextCursor, forKey: .nextCursor)
        try container.encode(hasMore, forKey: .hasMore)
    }
}

extension ListBody where Item: Sendable {
    init(_ page: Page<Item>) {
        self.init(data: page.items, nextCursor: page.nextAfter.map(Cursor.encode), hasMore: page.hasMore)
    }
}

extension Response {
    /// A JSON response with an optional strong `ETag` made from a resource version.
    package static func json(bytes: some Sequence<UInt8>, status: HTTPResponse.Status = .ok, version: Int64? = nil) -> Response {
        json(buffer: ByteBuffer(bytes: bytes), status: status, version: version)
    }

    /// A JSON response whose body is already in a buffer (shared, not copied), with an optional `ETag`.
    static func json(buffer: ByteBuffer, status: HTTPResponse.Status = .ok, version: Int64? = nil) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let version { headers[.eTag] = ETag.make(version) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: buffer))
    }

    /// `value` encoded as JSON.
    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok, version: Int64? = nil) throws -> Response {
        json(bytes: try SwitchboardJSON.encode(value), status: status, version: version)
    }
}

/// Strong entity tags made from resource versions: `"7"`.
enum ETag {
    static func make(_ version: Int64) -> String { "\"\(version)\"" }

    /// The version an `If-Match` header requires: nil when absent or `*`.
    /// - Throws: 412 when the header names no version this server could have made.
    static func expectedVersion(_ request: Request) throws -> Int64? {
        guard let header = request.headers[.ifMatch]?.trimmingCharacters(in: .whitespaces) else { return nil }
        if header == "*" { return nil }
        guard header.count >= 3, header.first == "\"", header.last == "\"", let version = Int64(header.dropFirst().dropLast()) else {
            throw Problem(
                status: .preconditionFailed,
                code: "version_mismatch",
                detail: "If-Match must be the strong ETag of the current resource, e.g. \"3\"."
            )
        }
        return version
    }
}

/// A resource with its new secret (an API key, a webhook signing secret): the only time the secret is shown.
struct WithSecret<Resource: Encodable>: Encodable {
    let resource: Resource
    let secret: String
    /// The member the secret is sent as.
    var field = "secret"

    func encode(to encoder: any Encoder) throws {
        try resource.encode(to: encoder)
        var container = encoder.container(keyedBy: AnyCodingKey.self)
        try container.encode(secret, forKey: AnyCodingKey(field))
    }
}

/// Opaque list cursors: base64url of the last item's id (a server-made id or an external one, such as a
/// customer's). Any base64url text is a position in id order, so a cursor can only move a page.
enum Cursor {
    static func encode(_ id: String) -> String {
        Data(id.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The most characters a cursor has: the base64url of a 255-byte id.
    static let maxLength = 340

    static func decode(_ cursor: String) -> String? {
        guard cursor.utf8.count <= maxLength, cursor.utf8.count % 4 != 1 else { return nil }
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}

extension Request {
    /// The `limit` and `cursor` query parameters as a page request.
    /// - Throws: 400 naming the parameter when either is malformed.
    func pageRequest() throws -> PageRequest {
        var limit = PageRequest.defaultLimit
        if let text = uri.queryParameters["limit"] {
            guard let value = Int(text), (1...PageRequest.maxLimit).contains(value) else {
                throw Problem.invalidParameter("limit", "'limit' must be an integer from 1 to \(PageRequest.maxLimit).")
            }
            limit = value
        }
        var after: String?
        // An empty cursor is no cursor: the first page.
        if let text = uri.queryParameters["cursor"], !text.isEmpty {
            guard let id = Cursor.decode(String(text)) else {
                throw Problem.invalidParameter("cursor", "'cursor' must be a next_cursor value returned by this server.")
            }
            after = id
        }
        return PageRequest(limit: limit, after: after)
    }

    /// A query parameter parsed as one of an enum's raw values.
    /// - Throws: 400 naming the parameter for any other value.
    func enumParameter<Value: RawRepresentable & CaseIterable>(_ name: String, as type: Value.Type) throws -> Value? where Value.RawValue == String {
        guard let text = uri.queryParameters[Substring(name)] else { return nil }
        guard let value = Value(rawValue: String(text)) else {
            let allowed = Value.allCases.map(\.rawValue).joined(separator: ", ")
            throw Problem.invalidParameter(name, "'\(name)' must be one of: \(allowed).")
        }
        return value
    }

    /// A query parameter that must be a resource id.
    /// - Throws: 400 naming the parameter when it is not an id.
    func idParameter(_ name: String) throws -> String? {
        guard let text = uri.queryParameters[Substring(name)] else { return nil }
        guard TimeOrderedIDGenerator.isWellFormed(String(text)) else {
            throw Problem.invalidParameter(name, "'\(name)' must be an id returned by this server.")
        }
        return String(text)
    }
}
