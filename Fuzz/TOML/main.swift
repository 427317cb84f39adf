// libFuzzer target for `TOMLDocument(parsing:)` (Sources/SwitchboardServer/Configuration/TOMLDocument.swift),
// built by scripts/fuzz together with that one file.
//
// Invariants checked for every input, beyond "does not crash":
//  1. Every value's line number is a line of the input.
//  2. A parsed document written back as `"full.key" = value` lines (one quoted key per value, strings
//     with the supported escapes) parses to the same values: nothing the reader accepts is lost or
//     changed by its own syntax.
//  3. Line endings do not matter: an input without `\r`, with every `\n` turned into `\r\n`, parses to
//     the same values or fails on the same line. (The reader strips a `\r` before each line's end.)
import Foundation

@inline(never)
func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("invariant broken: \(message())") }
}

/// Values equal as the reader means them: NaN (which `Double("nan(…)")` lets through) equals NaN.
func same(_ a: TOMLDocument.Value, _ b: TOMLDocument.Value) -> Bool {
    switch (a, b) {
    case (.float(let x), .float(let y)): x == y || (x.isNaN && y.isNaN)
    case (.array(let xs), .array(let ys)): xs.count == ys.count && zip(xs, ys).allSatisfy(same)
    default: a == b
    }
}

func same(_ a: TOMLDocument, _ b: TOMLDocument) -> Bool {
    a.values.count == b.values.count
        && a.values.allSatisfy { key, entry in b.values[key].map { same(entry.value, $0.value) } ?? false }
}

func quoted(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

/// A value as the reader reads it back, or nil for one it has no spelling for.
func written(_ value: TOMLDocument.Value) -> String? {
    switch value {
    case .string(let text): return quoted(text)
    case .integer(let number): return String(number)
    case .bool(let flag): return flag ? "true" : "false"
    case .float(let number):
        if number.isNaN { return "nan(0xe)" }  // What `Double(_:)` reads as NaN and contains an `e`.
        if number.isInfinite { return number < 0 ? "-1e999" : "1e999" }
        let text = "\(number)"
        return text.contains(where: { $0 == "." || $0 == "e" }) ? text : text + ".0"
    case .array(let items):
        var parts: [String] = []
        for item in items {
            guard let part = written(item) else { return nil }
            parts.append(part)
        }
        return "[" + parts.joined(separator: ", ") + "]"
    }
}

func parse(_ text: String) -> Result<TOMLDocument, TOMLDocument.ParseError> {
    Result { () throws(TOMLDocument.ParseError) in
        do { return try TOMLDocument(parsing: text) } catch let error as TOMLDocument.ParseError { throw error } catch {
            fatalError("TOMLDocument(parsing:) threw \(error), not a ParseError")
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let result = parse(text)

    // 3. CRLF line endings (Fuzz/TOML/regressions/crlf-line-endings).
    if !text.utf8.contains(UInt8(ascii: "\r")) {
        let crlf = parse(text.replacingOccurrences(of: "\n", with: "\r\n"))
        switch (result, crlf) {
        case (.success(let lf), .success(let withCR)):
            check(same(lf, withCR), "with CRLF line endings \(text.debugDescription) reads differently")
        case (.failure(let lf), .failure(let withCR)):
            check(lf.line == withCR.line, "\(text.debugDescription) fails on line \(lf.line) with LF, \(withCR.line) with CRLF")
        case (.success, .failure(let error)):
            fatalError("invariant broken: \(text.debugDescription) parses with LF line endings but not with CRLF: \(error)")
        case (.failure(let error), .success):
            fatalError("invariant broken: \(text.debugDescription) parses with CRLF line endings but not with LF: \(error)")
        }
    }

    guard case .success(let document) = result else { return 0 }

    // 1. Line numbers.
    let lineCount = text.utf8.reduce(1) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
    for (key, entry) in document.values {
        check((1...lineCount).contains(entry.line), "'\(key)' on line \(entry.line) of \(lineCount) in \(text.debugDescription)")
    }

    // 2. Written back and read again.
    var lines: [String] = []
    for (key, entry) in document.values.sorted(by: { $0.key < $1.key }) {
        guard let value = written(entry.value) else { return 0 }
        lines.append("\(quoted(key)) = \(value)")
    }
    let rewritten = lines.joined(separator: "\n")
    switch parse(rewritten) {
    case .success(let again):
        check(same(document, again), "\(text.debugDescription) reads differently once written back as \(rewritten.debugDescription)")
    case .failure(let error):
        fatalError("invariant broken: \(text.debugDescription), written back as \(rewritten.debugDescription), fails: \(error)")
    }
    return 0
}
