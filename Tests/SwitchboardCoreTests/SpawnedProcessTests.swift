import Foundation
import SwitchboardCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite(.timeLimit(.minutes(1))) struct SpawnedProcessTests {
    /// The child gets its three standard streams and nothing else, however many descriptors this
    /// process has open (Foundation's `Process` scans /proc/self/fd for them, and crashed doing so).
    @Test func aChildInheritsOnlyItsStandardStreamsAndReportsHowItEnded() throws {
        let open = (0..<2_000).map { _ in socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0) }
        defer { open.forEach { close($0) } }
        #expect(open.allSatisfy { $0 >= 0 })

        let listing = SpawnedProcess()
        listing.executableURL = URL(fileURLWithPath: "/bin/sh")
        listing.arguments = ["-c", "ls /proc/$$/fd; exit 3"]
        let output = Pipe()
        listing.standardOutput = output
        try listing.run()
        let descriptors = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
        listing.waitUntilExit()
        #expect(Set(descriptors) == ["0", "1", "2"], "the child's descriptors: \(descriptors)")
        #expect(listing.terminationReason == .exit && listing.terminationStatus == 3)

        let sleeper = SpawnedProcess()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["60"]
        try sleeper.run()
        #expect(sleeper.isRunning)
        sleeper.terminate()
        sleeper.waitUntilExit()
        #expect(!sleeper.isRunning && sleeper.terminationReason == .uncaughtSignal && sleeper.terminationStatus == SIGTERM)

        let missing = SpawnedProcess()
        missing.executableURL = URL(fileURLWithPath: "/nonexistent/program")
        #expect(throws: POSIXError.self) { try missing.run() }
    }
}
