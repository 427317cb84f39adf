import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn`, with the part of Foundation's `Process` Switchboard uses.
///
/// Foundation's `Process.run()` on Linux finds the descriptors to close in the child by reading
/// `/proc/self/fd`, copying each entry's whole 256-byte name field out of `readdir`'s buffer; at the end of
/// that buffer the copy can read past the mapped memory and stop the process with a segmentation fault
/// (seen in CI while many sockets were open). Here the child closes every descriptor from 3 up with
/// glibc's `posix_spawn_file_actions_addclosefrom_np`, after its standard input, output and error are
/// set up: it inherits nothing else.
///
/// - Important: Configure, then `run()` once, from one thread; afterwards the state is behind a lock. A
///   thread of its own waits for the child and runs `terminationHandler`.
package final class SpawnedProcess: @unchecked Sendable {
    // @unchecked: the configuration is written before run() only; the exit state is guarded by `exit`.
    package var executableURL: URL?
    package var arguments: [String] = []
    /// The child's environment; nil: this process's.
    package var environment: [String: String]?
    package var currentDirectoryURL: URL?
    /// A `Pipe`, a `FileHandle`, or nil for /dev/null.
    package var standardInput: Any?
    package var standardOutput: Any?
    package var standardError: Any?
    /// Runs on the waiting thread once the child ended.
    package var terminationHandler: (@Sendable (SpawnedProcess) -> Void)?

    package private(set) var processIdentifier: pid_t = 0

    /// How the child ended.
    package enum TerminationReason: Sendable {
        case exit
        case uncaughtSignal
    }

    private let exit = NSCondition()
    private var status: (reason: TerminationReason, code: Int32)?

    package init() {}

    package var isRunning: Bool {
        exit.lock()
        defer { exit.unlock() }
        return processIdentifier != 0 && status == nil
    }

    /// The exit status, or the signal that ended the child. Only after it ended.
    package var terminationStatus: Int32 {
        exit.lock()
        defer { exit.unlock() }
        return status?.code ?? 0
    }

    package var terminationReason: TerminationReason {
        exit.lock()
        defer { exit.unlock() }
        return status?.reason ?? .exit
    }

    /// Starts the child.
    /// - Throws: `POSIXError` when it cannot be started (no such executable, say).
    package func run() throws {
        guard let path = executableURL?.path else { throw POSIXError(.ENOENT) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard devNull >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(devNull) }
        for (stream, target) in [(standardInput, STDIN_FILENO), (standardOutput, STDOUT_FILENO), (standardError, STDERR_FILENO)] {
            let source = Self.descriptor(of: stream, reading: target == STDIN_FILENO) ?? devNull
            try Self.check(posix_spawn_file_actions_adddup2(&actions, source, target))
        }
        try Self.check(Self.glibc.closeFrom.map { $0(&actions, 3) } ?? ENOSYS)
        if let directory = currentDirectoryURL?.path {
            try Self.check(Self.glibc.changeDirectory.map { $0(&actions, directory) } ?? ENOSYS)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The child starts with no signal blocked and default dispositions, whatever this process set.
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        try Self.check(posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)))

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let environment = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0)=\($1)") } + [nil]
        defer {
            argv.forEach { free($0) }
            environment.forEach { free($0) }
        }
        var pid: pid_t = 0
        try Self.check(posix_spawn(&pid, path, &actions, &attributes, argv, environment))
        exit.lock()
        processIdentifier = pid
        exit.unlock()
        // The child holds its ends of the pipes now; this process keeps only its own.
        if let pipe = standardInput as? Pipe { try? pipe.fileHandleForReading.close() }
        if let pipe = standardOutput as? Pipe { try? pipe.fileHandleForWriting.close() }
        if let pipe = standardError as? Pipe, pipe !== standardOutput as? Pipe { try? pipe.fileHandleForWriting.close() }
        let spawned = pid
        Thread.detachNewThread { [self] in waitForExit(spawned) }
    }

    /// Blocks until the child ended.
    package func waitUntilExit() {
        exit.lock()
        while processIdentifier != 0 && status == nil { exit.wait() }
        exit.unlock()
    }

    /// Sends SIGTERM.
    package func terminate() { signal(SIGTERM) }

    /// Sends SIGINT.
    package func interrupt() { signal(SIGINT) }

    private func signal(_ number: Int32) {
        exit.lock()
        defer { exit.unlock() }
        if processIdentifier != 0, status == nil { kill(processIdentifier, number) }
    }

    private func waitForExit(_ pid: pid_t) {
        var code: Int32 = 0
        while waitpid(pid, &code, 0) == -1 && errno == EINTR {}
        let ended: (TerminationReason, Int32) = (code & 0x7f) == 0 ? (.exit, (code >> 8) & 0xff) : (.uncaughtSignal, code & 0x7f)
        exit.lock()
        status = ended
        exit.broadcast()
        exit.unlock()
        terminationHandler?(self)
    }

    /// The descriptor a child's standard stream comes from: a pipe's end, or a file handle's; nil for
    /// /dev/null (`FileHandle.nullDevice` has no descriptor of its own).
    private static func descriptor(of stream: Any?, reading: Bool) -> Int32? {
        let descriptor: Int32? =
            switch stream {
            case let pipe as Pipe: reading ? pipe.fileHandleForReading.fileDescriptor : pipe.fileHandleForWriting.fileDescriptor
            case let handle as FileHandle: handle.fileDescriptor
            default: nil
            }
        return descriptor.flatMap { $0 >= 0 ? $0 : nil }
    }

    private static func check(_ status: Int32) throws {
        guard status == 0 else { throw POSIXError(POSIXErrorCode(rawValue: status) ?? .EIO) }
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` and `posix_spawn_file_actions_addchdir_np`
    /// (2.34 and 2.29 and later), which Swift's Glibc module does not declare.
    private static let glibc = (
        closeFrom: symbol("posix_spawn_file_actions_addclosefrom_np", as: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self),
        changeDirectory: symbol(
            "posix_spawn_file_actions_addchdir_np", as: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32).self
        )
    )

    private static func symbol<Function>(_ name: String, as type: Function.Type) -> Function? {
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), name).map { unsafeBitCast($0, to: Function.self) }
    }
}
