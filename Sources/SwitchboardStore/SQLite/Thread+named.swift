import Foundation

extension Thread {
    /// Starts a thread named `name` (at most 15 bytes, as the kernel keeps it) that runs `body`.
    static func start(named name: String, _ body: @escaping @Sendable () -> Void) {
        precondition(name.utf8.count <= 15, "the kernel keeps 15 bytes of a thread's name")
        let thread = Thread {
            // Foundation on Linux hands the name to the kernel (`top -H`, `perf`) only when the running
            // thread sets it.
            Thread.current.name = name
            body()
        }
        thread.start()
    }
}
