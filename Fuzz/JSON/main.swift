// libFuzzer target for `JSONValue(parsing:)` (Sources/SwitchboardCore/Support/JSONValue+Parsing.swift).
// Built by scripts/fuzz together with JSONValue.swift, JSONStreamEncoder.swift, JSONRecord.swift and
// SwitchboardJSON.swift into one module, so internal declarations are visible here.
//
// Invariants checked for every input, beyond "does not crash":
//  1. The byte-buffer and the non-contiguous-collection entry points agree (value or error).
//  2. What parses re-encodes through `SwitchboardJSON.encode` (JSONStreamEncoder) to valid JSON that
//     parses back to an equal value, and encoding that value again gives the same bytes.
//  3. What parses also goes through Foundation's `JSONEncoder` (`JSONValue.encode(to:)`) and back.
//  4. Differential against Foundation's `JSONDecoder` (`JSONValue.init(from:)`), as the parser's
//     documentation promises: whatever Foundation refuses is refused, and a document both accept is
//     read to the same value. Foundation's own bug (it refuses `0e1`) is allowed for: see
//     `patchingFoundationQuirks`; so is its lossy integer path (`JSONValue.init(from:)` can only ask
//     it for an `Int64`, which it gives for `1234567890123456789e-1` too, dropping the fraction): see
//     `sameNumbers`.
import Foundation

@inline(never)
func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("invariant broken: \(message())") }
}

func show(_ bytes: some Collection<UInt8>) -> String {
    String(decoding: bytes.prefix(2000), as: UTF8.self).debugDescription
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let buffer = UnsafeBufferPointer(start: data, count: size)
    let parsed = Result { () throws(JSONParseError) in try JSONValue(parsing: buffer) }

    // 1. A collection without contiguous storage goes through the parser's copying path.
    let copied = Result { () throws(JSONParseError) in try JSONValue(parsing: buffer.lazy.map { $0 }) }
    check(parsed == copied, "the contiguous and the copying paths disagree: \(parsed) vs \(copied) for \(show(buffer))")

    guard case .success(let value) = parsed else {
        return 0
    }
    // 4. Foundation's decoder, the reference the parser claims to agree with, asked only about what the
    // parser accepts: on a document whose 513th nested bracket is its last byte it stops the process,
    // the reason no product code hands it outside bytes (`SwitchboardJSON.decode`).
    let foundation = try? JSONDecoder().decode(JSONValue.self, from: Data(buffer))
    if foundation == nil, let patched = patchingFoundationQuirks(buffer) {
        // Foundation refuses a number the parser reads and is allowed to read: compare the two on the
        // text with each such number written as plain `0`.
        let ours = try? JSONValue(parsing: patched)
        let theirs = try? JSONDecoder().decode(JSONValue.self, from: Data(patched))
        check(ours != nil && theirs.map { sameNumbers(ours: ours ?? .null, foundation: $0) } == true, "JSONDecoder reads \(String(describing: theirs)), JSONValue(parsing:) \(String(describing: ours)) from \(show(patched)), patched from \(show(buffer))")
    } else {
        check(foundation != nil, "Foundation's JSONDecoder refuses what JSONValue(parsing:) accepts: \(show(buffer)) → \(value)")
        check(foundation.map { sameNumbers(ours: value, foundation: $0) } == true, "JSONDecoder reads \(String(describing: foundation)), JSONValue(parsing:) reads \(value) from \(show(buffer))")
    }

    // 2. Re-encode with the project's own encoder and re-parse.
    let encoded: [UInt8]
    do {
        encoded = try SwitchboardJSON.encode(value)
    } catch {
        fatalError("SwitchboardJSON.encode throws \(error) for \(value) parsed from \(show(buffer))")
    }
    let reparsed = Result { () throws(JSONParseError) in try JSONValue(parsing: encoded) }
    check(reparsed == .success(value), "\(show(encoded)), encoded from \(value), parses as \(reparsed) (input \(show(buffer)))")
    let encodedAgain = (try? SwitchboardJSON.encode(value)) ?? []
    // Dictionaries of equal contents may iterate in different orders, so compare bytes only when
    // there is no object in the value.
    if !containsObject(value) {
        check(encodedAgain == encoded, "encoding \(value) twice gives \(show(encoded)) and \(show(encodedAgain))")
    }

    // 3. Through Foundation's encoder: exercises `JSONValue.encode(to:)`.
    do {
        let foundationEncoded = try JSONEncoder().encode(value)
        let back = Result { () throws(JSONParseError) in try JSONValue(parsing: foundationEncoded) }
        check(back == .success(value), "JSONEncoder writes \(show(foundationEncoded)) for \(value), which parses as \(back)")
    } catch {
        fatalError("JSONEncoder throws \(error) for \(value) parsed from \(show(buffer))")
    }
    return 0
}

/// Whether Foundation's reading equals ours, but for a number we read as a `Double` (it had a fraction
/// or an exponent) that Foundation, asked for an `Int64` first, gives with its fraction dropped: the two
/// then differ by less than one, or than the `Double`'s last place.
func sameNumbers(ours: JSONValue, foundation: JSONValue) -> Bool {
    switch (ours, foundation) {
    case (.number(let number), .integer(let integer)): abs(Double(integer) - number) <= max(1, number.ulp)
    case (.array(let left), .array(let right)):
        left.count == right.count && zip(left, right).allSatisfy { sameNumbers(ours: $0, foundation: $1) }
    case (.object(let left), .object(let right)):
        left.count == right.count && left.allSatisfy { key, value in right[key].map { sameNumbers(ours: value, foundation: $0) } ?? false }
    default: ours == foundation
    }
}

func containsObject(_ value: JSONValue) -> Bool {
    switch value {
    case .object: true
    case .array(let elements): elements.contains(where: containsObject)
    default: false
    }
}

/// The number tokens of a document the parser accepted (so it is valid JSON): their byte ranges.
func numberTokens(_ bytes: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
    var tokens: [Range<Int>] = []
    var index = 0
    var inString = false
    while index < bytes.count {
        let byte = bytes[index]
        if inString {
            if byte == UInt8(ascii: "\\") { index += 2; continue }
            if byte == UInt8(ascii: "\"") { inString = false }
            index += 1
        } else if byte == UInt8(ascii: "\"") {
            inString = true
            index += 1
        } else if byte == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
            let start = index
            while index < bytes.count, Array("+-.eE0123456789".utf8).contains(bytes[index]) { index += 1 }
            tokens.append(start..<index)
        } else {
            index += 1
        }
    }
    return tokens
}

/// The input with every number that Foundation's `JSONDecoder` refuses though the parser may read it
/// written as `0`, or nil when there is none:
/// - a zero with an exponent, such as `0e1`, `0E1` or `0.00E2` (Foundation refuses some of these forms):
///   RFC 8259 allows them all, so this is Foundation's bug, and each is 0 anyway.
func patchingFoundationQuirks(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
    var out = Array(bytes)
    var patched = false
    for token in numberTokens(bytes).reversed() {
        let text = Array(bytes[token])
        let exponent = text.firstIndex { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
        let zeroExponent = exponent.map { exponent in text[..<exponent].allSatisfy { $0 == UInt8(ascii: "0") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") } } ?? false
        if zeroExponent {
            out.replaceSubrange(token, with: Array("0".utf8))
            patched = true
        }
    }
    return patched ? out : nil
}
