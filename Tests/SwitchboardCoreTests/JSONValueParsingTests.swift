import Foundation
import Testing

@testable import SwitchboardCore

@Suite(.timeLimit(.minutes(1))) struct JSONValueParsingTests {
    /// What Foundation's decoder makes of `text`, or nil when it refuses it.
    private func foundation(_ bytes: [UInt8]) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }

    @Test func documentsParseAsFoundationDecodesThem() throws {
        let documents = [
            #"{"event":"message.received","data":{"content":"Hi \"there\"\n","n":-12.5e3,"ok":true,"none":null,"list":[1,2,[],{}]}}"#,
            #"  [ 0 , -0 , 1.25 , 1E2 , 2e-3 , 12345678901234567890 , 0.1 ]  "#,
            #""caf\u00e9 \ud83d\ude00 \/ \\ \b\f\n\r\t""#,
            "\"caf\u{E9} \u{1F600} \u{4E2D}\u{6587}\"",
            #"{"a":1,"a":2}"#,
            "true", "false", "null", "0", "-7", "\"\"", "{}", "[]",
            "\r\n\t{\"k\" : [ true , false , null ] }\n",
        ]
        for document in documents {
            let bytes = Array(document.utf8)
            let expected = try #require(foundation(bytes), "Foundation refuses \(document)")
            #expect(try JSONValue(parsing: bytes) == expected, "\(document)")
            #expect(try JSONValue(parsing: document) == expected, "\(document)")
            #expect(try JSONValue(parsing: Data(bytes)) == expected, "\(document)")
        }
    }

    @Test func generatedValuesRoundTrip() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            let value = Self.randomValue(depth: 0, using: &generator)
            let encoded = try JSONEncoder().encode(value)
            let expected = try #require(foundation(Array(encoded)))
            #expect(try JSONValue(parsing: encoded) == expected)
            #expect(try JSONValue(parsing: SwitchboardJSON.encode(value)) == expected)
        }
    }

    @Test func whatFoundationRefusesIsRefused() {
        var documents: [[UInt8]] = [
            "", " ", "{", "}", "01", "-", "-01", "1.", ".5", "1e", "1e+", "+1", "NaN", "Infinity", "tru", "nul",
            #""abc"#, #""a\x""#, #""\u12""#, #""\u12G4""#, #""\ud800""#, #""\udc00x""#, #""\ud800\u0041""#, "[1 2]", #"{"a" 1}"#, "{1:2}",
            "1 2", "1e400", "-1e400", "\"a\u{01}b\"", "\"tab\there\"", "[", "[1", #"{"a":"#, "'a'",
        ].map { Array($0.utf8) }
        documents.append([0x22, 0xFF, 0x22])
        documents.append([0x22, 0xC3, 0x22])
        documents.append([0x22, 0xED, 0xA0, 0x80, 0x22])
        documents.append(Array(String(repeating: "[", count: 600).utf8) + Array(String(repeating: "]", count: 600).utf8))
        for document in documents {
            #expect(foundation(document) == nil, "Foundation accepts \(String(decoding: document, as: UTF8.self))")
            #expect(throws: JSONParseError.self, "\(String(decoding: document, as: UTF8.self))") { try JSONValue(parsing: document) }
        }
    }

    @Test func aTrailingCommaIsRefusedThoughFoundationLetsItThrough() {
        for document in ["[1,]", #"{"a":1,}"#] {
            #expect(foundation(Array(document.utf8)) != nil)
            #expect(throws: JSONParseError.self) { try JSONValue(parsing: document) }
        }
    }

    @Test func errorsSayWhereAndWhy() {
        #expect(throws: JSONParseError(reason: "expected ',' or '}'", offset: 7)) { try JSONValue(parsing: #"{"a":1 "b":2}"#) }
        #expect(throws: JSONParseError(reason: "unexpected text after the value", offset: 5)) { try JSONValue(parsing: "true x") }
    }

    private static func randomValue(depth: Int, using generator: inout SystemRandomNumberGenerator) -> JSONValue {
        switch Int.random(in: 0..<(depth > 4 ? 4 : 6), using: &generator) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &generator))
        case 2:
            let choices: [Double] = [0, -1, 42, 1e-7, 123.456, -9.75e12, Double(Int32.max), 0.1, 1e21]
            return .number(choices.randomElement(using: &generator)!)
        case 3: return .string(randomString(using: &generator))
        case 4: return .array((0..<Int.random(in: 0..<5, using: &generator)).map { _ in randomValue(depth: depth + 1, using: &generator) })
        default:
            var object: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0..<5, using: &generator) {
                object[randomString(using: &generator)] = randomValue(depth: depth + 1, using: &generator)
            }
            return .object(object)
        }
    }

    /// Integers an `Int64` holds are kept exactly, beyond 2^53 too; other numbers are `Double`s, and the
    /// two kinds compare and hash as the numbers they are.
    @Test func integersUpToInt64AreKeptExactly() throws {
        for (text, expected) in [("9223372036854775807", Int64.max), ("-9223372036854775808", Int64.min), ("9007199254740993", 9_007_199_254_740_993)] {
            let value = try JSONValue(parsing: Array(text.utf8))
            #expect(value == .integer(expected) && value.integerValue == expected, "\(text)")
            #expect(try JSONStreamEncoder.encode(value) == Array(text.utf8), "\(text) is written back as it came")
            #expect(String(decoding: try JSONEncoder().encode(value), as: UTF8.self) == text)
        }
        #expect(try JSONValue(parsing: Array("9223372036854775808".utf8)) == .number(9_223_372_036_854_775_808), "past Int64: a Double")
        #expect(try JSONValue(parsing: Array("1.0".utf8)) == .integer(1) && JSONValue.integer(1).hashValue == JSONValue.number(1).hashValue)
        #expect(try JSONValue(parsing: Array("1e2".utf8)) == .integer(100))
        #expect(JSONValue.integer(9_007_199_254_740_993) != .number(9_007_199_254_740_992))
        #expect(try JSONValueDecoder.decode(Int64.self, from: .integer(.max)) == .max)
        #expect(throws: DecodingError.self) { try JSONValueDecoder.decode(Int32.self, from: .integer(.max)) }
    }

    /// Found by the JSON fuzz target (Fuzz/JSON/regressions/underflow-to-zero): a nonzero number too
    /// small for a Double read as 0, where `JSONDecoder` refuses it; zeros with any exponent stay zeros.
    @Test func numbersThatUnderflowAreRefusedLikeThoseThatOverflow() throws {
        for text in ["1e-400", "-2e-324", "123456789e-400", "0." + String(repeating: "0", count: 400) + "1"] {
            #expect(throws: JSONParseError.self, "\(text)") { try JSONValue(parsing: Array(text.utf8)) }
            #expect(throws: (any Error).self, "\(text)") { try JSONDecoder().decode(Double.self, from: Data(text.utf8)) }
        }
        for text in ["0e-400", "-0.0e-999", "0.000e+5"] {
            #expect(try JSONValue(parsing: Array(text.utf8)) == .number(0), "\(text)")
        }
        #expect(try JSONValue(parsing: Array("1e-300".utf8)) == .number(1e-300))
    }

    private static func randomString(using generator: inout SystemRandomNumberGenerator) -> String {
        let pieces = ["a", "Z", "é", "中", "😀", "\"", "\\", "/", "\n", "\t", "\u{01}", "\u{1F}", " ", "\u{7F}", "\u{2028}"]
        return (0..<Int.random(in: 0..<8, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
    }
}
