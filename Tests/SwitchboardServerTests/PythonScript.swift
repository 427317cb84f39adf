import Foundation
import SwitchboardCore

/// Runs a Python script as a client that is not ours (authlib, PyJWT, http-message-signatures),
/// without blocking a thread of the concurrency pool while it runs.
enum PythonScript {
    struct Outcome: CustomStringConvertible {
        let status: Int32
        /// Standard output only; warnings go to `errors`.
        let output: String
        let errors: String

        var description: String { "exit \(status)\n\(output)\n\(errors)" }
    }

    static func run(_ script: String, _ arguments: [String] = []) async throws -> Outcome {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        return Outcome(
            status: status,
            output: String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self),
            errors: String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        )
    }
}
