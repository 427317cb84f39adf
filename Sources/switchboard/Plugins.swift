import ArgumentParser
import Foundation
import Logging
import SwitchboardCore
import SwitchboardPluginHost
import SwitchboardServer

struct Plugins: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, inspect and scaffold plugins.",
        subcommands: [List.self, Inspect.self, New.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load every *.so of plugins.dir and show each: file, id, version, ABI, capabilities, loaded or why not."
        )

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let configuration = try options.load()
            var logger = Logger(label: "switchboard")
            logger.logLevel = .error
            let catalog = PluginCatalog.load(directory: configuration.plugins.directory, logger: logger)
            guard !catalog.entries.isEmpty else {
                print("No plugin files (*.so) in \(configuration.plugins.directory).")
                return
            }
            for entry in catalog.entries {
                let file = URL(fileURLWithPath: entry.path).lastPathComponent
                switch entry.outcome {
                case .success(let library):
                    let manifest = library.manifest
                    print(
                        "\(file)\t\(manifest.id)\t\(manifest.version)\tABI \(library.abiMajor).\(library.abiMinor)\t"
                            + "\(manifest.capabilities.map(\.name).joined(separator: ","))\tloaded"
                    )
                case .failure(let rejection):
                    let manifest = entry.manifest
                    print("\(file)\t\(manifest?.id ?? "-")\t\(manifest?.version ?? "-")\t-\t-\trejected: \(rejection.reason)")
                }
            }
        }
    }

    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a plugin file's manifest and config schema, without initializing the plugin."
        )

        @Argument(help: "The plugin shared library.") var file: String

        func run() async throws {
            let manifest: PluginManifest
            // dlopen reads a bare name as a library to search for, not a file here.
            let path = file.contains("/") ? file : "./" + file
            do {
                manifest = try PluginCatalog.readManifest(path: path)
            } catch let rejection as PluginRejection {
                throw ValidationError("\(file) is not a usable plugin: \(rejection.reason).")
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print("\(manifest.id) \(manifest.version) (plugin ABI \(PluginABI.major))")
            print(String(decoding: try encoder.encode(manifest.document), as: UTF8.self))
            let secrets = manifest.configSchema.secretPaths.map { $0.joined(separator: ".") }
            print("Secret config fields: \(secrets.isEmpty ? "none" : secrets.joined(separator: ", "))")
        }
    }

    struct New: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a plugin project that builds as is.")

        @Argument(help: "The plugin id, also the folder created: [a-z0-9_-], starting with a letter.") var name: String
        @Option(help: "c or swift.") var lang: String = "c"
        @Option(help: "The parent folder of the new project.") var output: String = "."

        func run() async throws {
            guard let language = PluginScaffold.Language(named: lang) else { throw ValidationError("--lang must be c or swift.") }
            let directory = (output as NSString).appendingPathComponent(name)
            do {
                let scaffold = try PluginScaffold(id: name, language: language)
                try scaffold.write(to: directory)
                print("Created \(directory). Build it with `\(language == .c ? "make" : "swift build -c release")` there; the plugin is \(scaffold.libraryPath).")
            } catch let error as ManifestError {
                throw ValidationError(error.message)
            }
        }
    }
}
