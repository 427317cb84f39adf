import Foundation
import HTTPTypes
import SwitchboardCore
import Testing

@testable import SwitchboardServer

/// One catalogue of error codes: the code's `ErrorCatalogue`, the README's table and the codes the
/// sources write are the same set, and the served OpenAPI document carries it.
@Suite(.timeLimit(.minutes(1))) struct ErrorCatalogueTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func theReadmeHoldsTheCatalogue() throws {
        let readme = try String(contentsOf: Self.repository.appendingPathComponent("README.md"), encoding: .utf8)
        let start = try #require(readme.range(of: "<!-- error-codes -->\n"))
        let end = try #require(readme.range(of: "\n<!-- /error-codes -->"))
        #expect(String(readme[start.upperBound..<end.lowerBound]) == ErrorCatalogue.markdownTable, "README.md's table, as it should read:\n\(ErrorCatalogue.markdownTable)")
    }

    @Test func everyCodeTheSourcesWriteIsCataloguedAndEveryEntryIsWritten() throws {
        var written = Set<String>()
        let sources = Self.repository.appendingPathComponent("Sources")
        let files = try #require(FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil))
        for case let file as URL in files where file.pathExtension == "swift" && file.lastPathComponent != "ErrorCatalogue.swift" {
            let text = try String(contentsOf: file, encoding: .utf8)
            for match in text.matches(of: /code: (?:String = )?"([a-z_]+)"/) { written.insert(String(match.output.1)) }
            // `<resource>_not_found`, made by `SwitchboardError.notFound` and `unknownReference`.
            for match in text.matches(of: /(?:notFound\(|resource: )"([a-z_]+)"/) { written.insert("\(match.output.1)_not_found") }
        }
        // `plugin_<status>`: every status a failed plugin call can end with.
        for (status, _) in ErrorCatalogue.pluginStatuses { written.insert("plugin_\(status)") }
        let catalogued = Set(ErrorCatalogue.entries.map(\.code))
        #expect(written.subtracting(catalogued).sorted() == [], "written but not catalogued")
        #expect(catalogued.subtracting(written).sorted() == [], "catalogued but written nowhere")
        #expect(catalogued.count == ErrorCatalogue.entries.count, "one entry per code")
    }

    /// Each code a problem document carries is thrown with a status its entry lists: a
    /// `SwitchboardError`'s kind decides the status (as `Problem` maps it), a `Problem` names it. (Codes
    /// only of the CLI, WebSocket frames or the log have no status.)
    @Test func everyCodeIsThrownWithAStatusItsEntryLists() throws {
        let kinds: [String: SwitchboardError.Kind] = [
            "invalidInput": .invalidInput, "notFound": .notFound, "conflict": .conflict, "preconditionFailed": .preconditionFailed,
            "unauthenticated": .unauthenticated, "forbidden": .forbidden, "unavailable": .unavailable, "insufficientStorage": .insufficientStorage,
        ]
        let statuses: [String: HTTPResponse.Status] = [
            "badRequest": .badRequest, "unauthorized": .unauthorized, "forbidden": .forbidden, "notFound": .notFound,
            "methodNotAllowed": .methodNotAllowed, "conflict": .conflict, "gone": .gone, "preconditionFailed": .preconditionFailed,
            "contentTooLarge": .contentTooLarge, "unsupportedMediaType": .unsupportedMediaType, "unprocessableContent": .unprocessableContent,
            "upgradeRequired": .upgradeRequired, "preconditionRequired": .preconditionRequired, "tooManyRequests": .tooManyRequests,
            "internalServerError": .internalServerError, "badGateway": .badGateway, "serviceUnavailable": .serviceUnavailable,
            "gatewayTimeout": .gatewayTimeout, "notAcceptable": .notAcceptable,
        ]
        let entries = Dictionary(
            ErrorCatalogue.entries.filter(\.isProblem).map { ($0.code, $0.status.split(separator: ", ").map(String.init)) },
            uniquingKeysWith: +
        )
        var checked = 0
        let files = try #require(FileManager.default.enumerator(at: Self.repository.appendingPathComponent("Sources"), includingPropertiesForKeys: nil))
        for case let file as URL in files where file.pathExtension == "swift" {
            let text = try String(contentsOf: file, encoding: .utf8)
            var thrown: [(code: String, status: Int?, source: String)] = []
            for match in text.matches(of: /SwitchboardError\(\s*kind: \.(\w+),\s*code: "([a-z_]+)"/) {
                let status = kinds[String(match.output.1)].map { Problem(SwitchboardError(kind: $0, code: "x", detail: "")).status }
                thrown.append((String(match.output.2), status, "kind .\(match.output.1)"))
            }
            for match in text.matches(of: /Problem\(\s*status: \.(\w+),\s*code: "([a-z_]+)"/) {
                thrown.append((String(match.output.2), statuses[String(match.output.1)]?.code, "status .\(match.output.1)"))
            }
            for match in text.matches(of: /Problem\.badRequest\(code: "([a-z_]+)"/) {
                thrown.append((String(match.output.1), 400, "Problem.badRequest"))
            }
            for match in text.matches(of: /Problem\.rateLimited\([^)]*code: "([a-z_]+)"/) {
                thrown.append((String(match.output.1), 429, "Problem.rateLimited"))
            }
            for (code, status, source) in thrown {
                guard let listed = entries[code] else { continue }
                let status = try #require(status, "unknown \(source) (\(code) in \(file.lastPathComponent))")
                #expect(
                    listed.contains(String(status)) || (listed.contains("4xx") && (400..<500).contains(status)),
                    "\(code) is thrown with \(source) in \(file.lastPathComponent); its entry lists \(listed)"
                )
                checked += 1
            }
        }
        #expect(checked > 50)
    }

    @Test func theServedDocumentCarriesTheCatalogue() throws {
        let document = try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.render(routes: []))) as? [String: Any]
        let listed = try #require(document?["x-error-codes"] as? [[String: String]])
        #expect(listed.map { $0["code"] } == ErrorCatalogue.entries.map(\.code))
        let schemas = (document?["components"] as? [String: Any])?["schemas"] as? [String: Any]
        let code = ((schemas?["Problem"] as? [String: Any])?["properties"] as? [String: Any])?["code"] as? [String: Any]
        let problemCodes = try #require(code?["enum"] as? [String])
        #expect(problemCodes == ErrorCatalogue.entries.filter(\.isProblem).map(\.code))
        #expect(problemCodes.contains("conversation_closed") && !problemCodes.contains("binary_frame") && !problemCodes.contains("invalid_scope"))
    }
}
