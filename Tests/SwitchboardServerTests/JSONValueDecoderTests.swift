import Foundation
import SwitchboardCore
import Testing

@testable import SwitchboardServer

/// `JSONValueDecoder` against `JSONDecoder` with `.iso8601` dates: the same values, or the same error
/// case at the same coding path.
@Suite(.timeLimit(.minutes(5))) struct JSONValueDecoderTests {
    enum Color: String, Codable, Equatable { case red, green }

    struct Inner: Codable, Equatable {
        var name: String
        var count: Int?
    }

    /// Tells a field sent as null from a field left out, as the PATCH-like bodies do.
    struct Presence: Decodable, Equatable {
        var limit: Int??

        enum CodingKeys: String, CodingKey { case limit }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            limit = container.contains(.limit) ? .some(try container.decodeIfPresent(Int.self, forKey: .limit)) : .none
        }
    }

    struct Body: Decodable, Equatable {
        var text: String
        var flag: Bool?
        var small: Int8?
        var big: Int64?
        var ratio: Double?
        var tags: [String]?
        var color: Color?
        var at: Date?
        var metadata: JSONValue?
        var items: [Inner]?
        var presence: Presence?
    }

    /// The outcome as something comparable: the value, or the error's case and coding path.
    func outcome(_ decode: () throws -> Body) -> String {
        do {
            return "value \(try decode())"
        } catch let error as DecodingError {
            func path(_ context: DecodingError.Context) -> String {
                context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            }
            switch error {
            case .keyNotFound(let key, let context): return "keyNotFound \(path(context)).\(key.stringValue)"
            case .typeMismatch(_, let context): return "typeMismatch \(path(context))"
            case .valueNotFound(_, let context): return "valueNotFound \(path(context))"
            case .dataCorrupted(let context): return "dataCorrupted \(path(context))"
            @unknown default: return "unknown"
            }
        } catch {
            return "other \(error)"
        }
    }

    @Test(arguments: [
        #"{"text":"a"}"#,
        #"{"text":"a","flag":true,"small":-7,"big":9007199254740991,"ratio":2.5,"tags":["x","y"],"color":"green"}"#,
        #"{"text":"a","at":"2026-11-30T06:00:00Z","metadata":{"k":[1,"two",null,{"n":false}]}}"#,
        #"{"text":"a","items":[{"name":"n"},{"name":"m","count":3}]}"#,
        #"{"text":"a","presence":{}}"#,
        #"{"text":"a","presence":{"limit":null}}"#,
        #"{"text":"a","presence":{"limit":4}}"#,
        #"{"text":"a","flag":null,"tags":null,"metadata":null}"#,
        #"{}"#,
        #"{"text":null}"#,
        #"{"text":5}"#,
        #"{"text":"a","flag":1}"#,
        #"{"text":"a","big":"7"}"#,
        #"{"text":"a","tags":"x"}"#,
        #"{"text":"a","tags":["x",2]}"#,
        #"{"text":"a","color":"blue"}"#,
        #"{"text":"a","items":[{"count":1}]}"#,
        #"{"text":"a","items":[{"name":"n","count":"1"}]}"#,
        #"{"text":"a","presence":{"limit":"4"}}"#,
        #"[]"#,
        #""text""#,
    ])
    func decodesAsJSONDecoderDoes(document: String) throws {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let expected = outcome { try decoder.decode(Body.self, from: Data(document.utf8)) }
        let actual = outcome { try JSONValueDecoder.decode(Body.self, from: JSONValue(parsing: document)) }
        #expect(actual == expected)
    }

    /// `JSONDecoder` reports these with an empty coding path, which the API could only answer as
    /// invalid JSON; this decoder names the field.
    @Test(arguments: [
        (#"{"text":"a","small":300}"#, "dataCorrupted small"),
        (#"{"text":"a","small":1.5}"#, "dataCorrupted small"),
        (#"{"text":"a","at":"yesterday"}"#, "dataCorrupted at"),
        (#"{"text":"a","items":[{"name":"n","count":0.5}]}"#, "dataCorrupted items.0.count"),
        // A whole number past Int64 would lose digits.
        (#"{"text":"a","big":9223372036854775808}"#, "dataCorrupted big"),
    ])
    func aNumberOrDateThatDoesNotFitNamesItsField(document: String, expected: String) throws {
        #expect(outcome { try JSONValueDecoder.decode(Body.self, from: JSONValue(parsing: document)) } == expected)
    }
}
