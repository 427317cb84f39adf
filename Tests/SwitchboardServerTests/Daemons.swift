import Foundation
import SwitchboardCore
import SwitchboardTestSupport
import Testing

/// Starts a server program for a test.
///
/// The test runner blocks signals in its threads; `SpawnedProcess` starts the child with an empty
/// signal mask and default dispositions, so a server that relies on signals (a prefork master's
/// SIGCHLD, a graceful SIGTERM) gets them.
func startDaemon(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, directory: String? = nil) throws -> SpawnedProcess {
    let process = SpawnedProcess()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    return process
}

/// Waits until `ready` holds, polling every 100 ms for at most `seconds`; a daemon that does not come
/// up ends the test.
func waitForDaemon(_ name: String, seconds: Int, _ ready: () async -> Bool) async throws {
    guard try await eventually(limit: .seconds(seconds), every: .milliseconds(100), { await ready() }) else {
        throw FixtureError(message: "\(name) did not come up within \(seconds) s")
    }
}

/// Stops a daemon started by `startDaemon` with SIGTERM and waits for it.
func stopDaemon(_ process: SpawnedProcess?) {
    guard let process, process.isRunning else { return }
    process.terminate()
    process.waitUntilExit()
}

/// Runs a command to its end; its exit status and everything it printed (standard output and error).
func runCommand(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, directory: String? = nil) throws -> (status: Int32, output: String) {
    let process = SpawnedProcess()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, output)
}

/// Runs a setup tool to its end.
/// - Throws: `FixtureError` with what it printed on standard error when it fails.
func runTool(_ tool: String, _ arguments: [String], environment: [String: String]? = nil) throws {
    let process = SpawnedProcess()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let errors = Pipe()
    process.standardError = errors
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw FixtureError(message: "\(tool) failed: \(text.suffix(2_000))") }
}
