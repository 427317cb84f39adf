import Foundation
import Testing

/// The C plugins' JSON helper (Sources/CSwitchboardPlugin/include/switchboard_json.h): its own C tests
/// (escapes, unicode, nesting limits, malformed input, writing), built with every warning an error.
@Suite(.timeLimit(.minutes(2))) struct JSONHelperTests {
    @Test func theCTestsOfTheHelperPassWithEveryWarningAnError() async throws {
        let root = PluginFixtures.packageRoot.path
        let binary = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-json-test-\(UUID().uuidString)").path
        let build = try await PythonScript.run(
            "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))",
            ["cc", "-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Wconversion", "-Werror", "-I\(root)/Sources/CSwitchboardPlugin/include",
             "\(root)/Tests/Fixtures/json/json_test.c", "-o", binary]
        )
        try #require(build.status == 0, "\(build)")
        let run = try await PythonScript.run("import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))", [binary])
        #expect(run.status == 0 && run.output.contains("ok"), "\(run)")
    }
}
