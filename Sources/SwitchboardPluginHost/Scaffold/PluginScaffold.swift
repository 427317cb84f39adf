import Foundation

/// The files of a new plugin project that builds as is: `switchboard plugins new NAME --lang c|swift`.
public struct PluginScaffold: Sendable {
    /// A scaffold language.
    public struct Language: Hashable, Sendable {
        public let name: String
        public static let c = Language(name: "c")
        public static let swift = Language(name: "swift")

        /// The language called `name`.
        public init?(named name: String) {
            guard let known = [Language.c, .swift].first(where: { $0.name == name }) else { return nil }
            self = known
        }

        private init(name: String) { self.name = name }
    }

    /// The plugin id, also the project and library name.
    public let id: String
    public let language: Language

    /// A scaffold for plugin `id`.
    /// - Throws: ``ManifestError`` when `id` is not a valid plugin id.
    public init(id: String, language: Language) throws {
        guard PluginManifest.isValidID(id), id.first?.isLetter == true else {
            throw ManifestError(message: "'\(id)' is not a plugin id: 1-64 characters [a-z0-9_-], starting with a letter")
        }
        self.id = id
        self.language = language
    }

    /// Relative paths and contents.
    public var files: [(path: String, contents: String)] {
        language == .c ? cFiles : swiftFiles
    }

    /// Writes the files under `directory`, which must not exist yet.
    public func write(to directory: String) throws {
        guard !FileManager.default.fileExists(atPath: directory) else {
            throw ManifestError(message: "'\(directory)' already exists")
        }
        for file in files {
            let path = (directory as NSString).appendingPathComponent(file.path)
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try file.contents.write(toFile: path, atomically: true, encoding: .utf8)
        }
    }

    /// The library file the build produces, relative to the project.
    public var libraryPath: String {
        language == .c ? "lib\(id).so" : ".build/release/lib\(id).so"
    }

    private var manifest: String {
        #"{"id":"\#(id)","version":"0.1.0","capabilities":["event_listener"],"events":["message.received"],"# + #""services":["log"],"ops":["\#(id).ping"],"config_schema":{"type":"object","properties":{}}}"#
    }

    private var cFiles: [(path: String, contents: String)] {
        [
            ("switchboard_plugin.h", Self.header),
            ("switchboard_json.h", Self.jsonHeader),
            (
                "Makefile",
                "lib\(id).so: plugin.c switchboard_plugin.h switchboard_json.h\n"
                    + "\tcc -std=c99 -Wall -Wextra -Wpedantic -Wconversion -O2 -fvisibility=hidden -shared -fPIC -o $@ plugin.c\n"
            ),
            ("plugin.c", cSource),
            ("README.md", readme(build: "make", output: "lib\(id).so")),
        ]
    }

    private var cSource: String {
        let escaped = manifest.replacingOccurrences(of: "\"", with: "\\\"")
        return """
            /* \(id): a Switchboard plugin. The ABI is switchboard_plugin.h and the JSON helper
             * switchboard_json.h, both vendored next to this file. */
            #include <stdlib.h>
            #include <string.h>

            #include "switchboard_json.h"
            #include "switchboard_plugin.h"

            static const sb_host_api *host;
            static const char manifest[] = "\(escaped)";

            struct sb_instance {
                const sb_host *context;
            };

            static sb_str text(const char *value) {
                sb_str result = {value, strlen(value)};
                return result;
            }

            static sb_status create(const sb_host *context, sb_str tenant, sb_str config, sb_instance **out, sb_str *error) {
                (void)tenant;
                (void)config;
                (void)error;
                struct sb_instance *instance = calloc(1, sizeof *instance);
                if (instance == NULL) return SB_INTERNAL;
                instance->context = context;
                *out = instance;
                return SB_OK;
            }

            static void destroy(sb_instance *instance) { free(instance); }

            /* Events are JSON envelopes: {"seq", "event", "data", ...}. */
            static sb_status on_event(sb_instance *instance, sb_str event) {
                sb_json_token tokens[256];
                sb_json doc;
                char type[128];
                if (sb_json_parse(&doc, event.ptr, event.len, tokens, 256) < 0) return SB_INVALID;
                if (sb_json_string(&doc, sb_json_get(&doc, 0, "event"), type, sizeof type) < 0) return SB_INVALID;
                host->log(instance->context, SB_LOG_INFO, text(type));
                return SB_OK;
            }

            /* \(id).ping answers {"pong": true, "args": <the call's args>}. */
            static sb_status call(sb_instance *instance, sb_call_id id, sb_str op, sb_str args, sb_str *result) {
                (void)instance;
                (void)id;
                if (op.len != strlen("\(id).ping") || memcmp(op.ptr, "\(id).ping", op.len) != 0) return SB_NOT_FOUND;
                size_t size = args.len + 32;
                char *out = host->alloc(size);
                if (out == NULL) return SB_INTERNAL;
                sb_json_writer writer;
                sb_json_writer_init(&writer, out, size);
                sb_json_begin_object(&writer);
                sb_json_key(&writer, "pong");
                sb_json_write_bool(&writer, 1);
                sb_json_key(&writer, "args");
                sb_json_write_raw(&writer, args.ptr, args.len);
                sb_json_end_object(&writer);
                if (sb_json_writer_failed(&writer)) {
                    host->free(out);
                    return SB_INTERNAL;
                }
                result->ptr = out;
                result->len = writer.length;
                return SB_OK;
            }

            SB_EXPORT sb_str sb_plugin_manifest_v1(void) {
                sb_str result = {manifest, sizeof manifest - 1};
                return result;
            }

            SB_EXPORT sb_status sb_plugin_init_v1(const sb_host_api *host_api, sb_plugin_api *plugin) {
                if (host_api->abi_major != SB_ABI_VERSION_MAJOR) return SB_UNSUPPORTED;
                host = host_api;
                sb_plugin_api api;
                memset(&api, 0, sizeof api);
                api.struct_size = (uint32_t)sizeof api;
                api.abi_major = SB_ABI_VERSION_MAJOR;
                api.abi_minor = SB_ABI_VERSION_MINOR;
                api.create = create;
                api.destroy = destroy;
                api.on_event = on_event;
                api.call = call;
                memcpy(plugin, &api, plugin->struct_size < sizeof api ? plugin->struct_size : sizeof api);
                plugin->struct_size = (uint32_t)sizeof api;
                return SB_OK;
            }

            """
    }

    private var moduleName: String {
        id.split(whereSeparator: { $0 == "-" || $0 == "_" }).map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined() + "Plugin"
    }

    private var swiftFiles: [(path: String, contents: String)] {
        [
            ("Package.swift", swiftPackage),
            ("Sources/CSwitchboardPlugin/include/switchboard_plugin.h", Self.header),
            ("Sources/CSwitchboardPlugin/abi.c", "/* The ABI is header-only; this file gives SwiftPM a C target. */\n#include \"switchboard_plugin.h\"\n"),
            ("Sources/\(moduleName)/Plugin.swift", swiftSource),
            ("README.md", readme(build: "swift build -c release", output: libraryPath)),
        ]
    }

    private var swiftPackage: String {
        """
        // swift-tools-version:6.1
        import PackageDescription

        let package = Package(
            name: "\(id)",
            products: [.library(name: "\(id)", type: .dynamic, targets: ["\(moduleName)"])],
            targets: [
                .target(name: "CSwitchboardPlugin"),
                .target(name: "\(moduleName)", dependencies: ["CSwitchboardPlugin"]),
            ]
        )

        """
    }

    private var swiftSource: String {
        #"""
        // \#(id): a Switchboard plugin in Swift. The ABI is Sources/CSwitchboardPlugin/include/switchboard_plugin.h.
        // The host shares its Swift runtime with plugins and never unloads them.
        import CSwitchboardPlugin

        nonisolated(unsafe) private var host: UnsafePointer<sb_host_api>!

        private let manifest: StaticString = #"\#(manifest)"#

        private func borrowed<Result>(_ string: String, _ body: (sb_str) -> Result) -> Result {
            var string = string
            return string.withUTF8 { body(sb_str(ptr: UnsafeRawPointer($0.baseAddress)?.assumingMemoryBound(to: CChar.self), len: $0.count)) }
        }

        /// One tenant's instance: it keeps the host context for host services.
        private final class Instance {
            let context: OpaquePointer
            init(context: OpaquePointer) { self.context = context }
        }

        @_cdecl("sb_plugin_manifest_v1")
        public func manifestEntry() -> sb_str {
            sb_str(ptr: UnsafeRawPointer(manifest.utf8Start).assumingMemoryBound(to: CChar.self), len: manifest.utf8CodeUnitCount)
        }

        @_cdecl("sb_plugin_init_v1")
        public func initEntry(_ hostAPI: UnsafePointer<sb_host_api>, _ plugin: UnsafeMutablePointer<sb_plugin_api>) -> sb_status {
            guard Int(hostAPI.pointee.abi_major) == Int(SB_ABI_VERSION_MAJOR) else { return SB_UNSUPPORTED }
            host = hostAPI
            var api = sb_plugin_api()
            api.struct_size = UInt32(MemoryLayout<sb_plugin_api>.size)
            api.abi_major = UInt16(SB_ABI_VERSION_MAJOR)
            api.abi_minor = UInt16(SB_ABI_VERSION_MINOR)
            api.create = { context, _, _, out, _ in
                out!.pointee = OpaquePointer(Unmanaged.passRetained(Instance(context: context!)).toOpaque())
                return SB_OK
            }
            api.destroy = { pointer in Unmanaged<Instance>.fromOpaque(UnsafeRawPointer(pointer!)).release() }
            api.on_event = { pointer, _ in
                let instance = Unmanaged<Instance>.fromOpaque(UnsafeRawPointer(pointer!)).takeUnretainedValue()
                borrowed("\#(id) received an event") { host.pointee.log(instance.context, SB_LOG_INFO, $0) }
                return SB_OK
            }
            api.call = { _, _, op, _, result in
                let name = op.ptr.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: op.len), as: UTF8.self) } ?? ""
                guard name == "\#(id).ping" else { return SB_NOT_FOUND }
                let answer = Array(#"{"pong":true}"#.utf8)
                let memory = host.pointee.alloc(answer.count)!
                answer.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: answer.count) }
                result!.pointee = sb_str(ptr: memory.assumingMemoryBound(to: CChar.self), len: answer.count)
                return SB_OK
            }
            let size = min(Int(plugin.pointee.struct_size), MemoryLayout<sb_plugin_api>.size)
            withUnsafeBytes(of: &api) { UnsafeMutableRawPointer(plugin).copyMemory(from: $0.baseAddress!, byteCount: size) }
            plugin.pointee.struct_size = api.struct_size
            return SB_OK
        }

        """#
    }

    private func readme(build: String, output: String) -> String {
        """
        # \(id)

        A Switchboard plugin (ABI 1.0). Build it, install it, enable it for a tenant:

            \(build)
            cp \(output) /path/to/switchboard/plugins/\(id).so     # the server's plugins.dir
            # restart the server, then:
            curl -X PUT -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \\
                 -d '{"enabled": true, "config": {}}' http://127.0.0.1:8080/api/v1/integrations/\(id)
            curl -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \\
                 -d '{"op": "\(id).ping"}' http://127.0.0.1:8080/api/v1/integrations/\(id)/call

        `switchboard plugins inspect \(output)` shows the manifest the server will read. See the server's
        docs/plugins.md for the manifest fields, host services and threading rules.

        """
    }
}
