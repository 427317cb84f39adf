import Foundation
import SwitchboardCore

/// The plugin files tests load: the example plugins from the package build and the fault fixtures of
/// Tests/Fixtures/plugins, compiled once per test run against the frozen ABI 1.0 header.
enum PluginFixtures {
    /// Built fixture libraries by name.
    static let built: [String: String] = build()

    /// A new folder holding links to the named plugin files (`echo-c`, `echo-swift`, `stats-file`,
    /// `stats-prometheus`, `ticketing-rt`, `crm-tryton`, `auth-ldap`, `fixture`, `crash`, `wrong-abi`, `bad-manifest`, `bad-schema`, `missing-init`)
    /// and, with `notELF`, a text file named `.so`.
    static func directory(_ names: [String], notELF: Bool = false) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-plugins-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in names {
            guard let path = built[name] else { throw FixtureError(message: "no plugin file named \(name) (did it build? auth-ldap needs libldap-dev)") }
            try FileManager.default.createSymbolicLink(atPath: "\(directory)/\(name).so", withDestinationPath: path)
        }
        if notELF { try "not a library\n".write(toFile: "\(directory)/notes.so", atomically: true, encoding: .utf8) }
        return directory
    }

    /// The `switchboard` executable of this build, for `plugin-host` children.
    static var switchboardExecutable: String { productsDirectory.appendingPathComponent("switchboard").path }

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The folder where SwiftPM put the example plugins of this build.
    private static var productsDirectory: URL {
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for candidate in [runner, runner.deletingLastPathComponent().deletingLastPathComponent(), packageRoot.appendingPathComponent(".build/debug")]
        where FileManager.default.fileExists(atPath: candidate.appendingPathComponent("libecho-c.so").path) {
            return candidate
        }
        return packageRoot.appendingPathComponent(".build/debug")
    }

    private static func build() -> [String: String] {
        var files = [
            "echo-c": productsDirectory.appendingPathComponent("libecho-c.so").path,
            "echo-swift": productsDirectory.appendingPathComponent("libecho-swift.so").path,
            "stats-file": productsDirectory.appendingPathComponent("libstats-file.so").path,
            "stats-prometheus": productsDirectory.appendingPathComponent("libstats-prometheus.so").path,
            "ticketing-rt": productsDirectory.appendingPathComponent("libticketing-rt.so").path,
            "crm-tryton": productsDirectory.appendingPathComponent("libcrm-tryton.so").path,
        ]
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-fixtures-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let variants = ["fixture": nil, "crash": "CRASH", "wrong-abi": "WRONG_ABI", "bad-manifest": "BAD_MANIFEST", "bad-schema": "BAD_SCHEMA", "missing-init": "MISSING_INIT"]
        for (name, macro) in variants {
            let library = "\(output)/\(name).so"
            var arguments = ["-shared", "-fPIC", "-O1", "-I", packageRoot.appendingPathComponent("Tests/Fixtures/abi-v1.0").path, "-o", library]
            if let macro { arguments.append("-D\(macro)") }
            arguments.append(packageRoot.appendingPathComponent("Tests/Fixtures/plugins/fixture.c").path)
            let compiler = SpawnedProcess()
            compiler.executableURL = URL(fileURLWithPath: "/usr/bin/cc")
            compiler.arguments = arguments
            try? compiler.run()
            compiler.waitUntilExit()
            if compiler.terminationStatus == 0 { files[name] = library }
        }
        // "checked" speaks the current ABI (1.1), against the header of this tree.
        let checked = SpawnedProcess()
        checked.executableURL = URL(fileURLWithPath: "/usr/bin/cc")
        checked.arguments = [
            "-shared", "-fPIC", "-O1", "-I", packageRoot.appendingPathComponent("Sources/CSwitchboardPlugin/include").path, "-o", "\(output)/checked.so",
            packageRoot.appendingPathComponent("Tests/Fixtures/plugins/checked.c").path,
        ]
        try? checked.run()
        checked.waitUntilExit()
        if checked.terminationStatus == 0 { files["checked"] = "\(output)/checked.so" }
        // auth-ldap links libldap (libldap-dev), so it is built here rather than by the package.
        let ldap = SpawnedProcess()
        ldap.executableURL = URL(fileURLWithPath: "/usr/bin/make")
        ldap.arguments = ["-s", "-C", packageRoot.appendingPathComponent("Plugins/auth-ldap").path, "OUT=\(output)/auth-ldap.so"]
        try? ldap.run()
        ldap.waitUntilExit()
        if ldap.terminationStatus == 0 { files["auth-ldap"] = "\(output)/auth-ldap.so" }
        return files
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
