import Foundation
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
